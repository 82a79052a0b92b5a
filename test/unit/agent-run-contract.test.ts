import { approvalBodySchema, startAgentRunBodySchema } from '../../src/contracts/agentRun';
import { setQuotaLimitBodySchema } from '../../src/contracts/quota';
import { fieldErrors } from '../../src/lib/http';

const schema = startAgentRunBodySchema({ maxPromptChars: 500, maxRunTokens: 1_000_000 });

/** The field errors a body gets, as the API would list them; [] when it is accepted. */
function errorsOf(body: unknown, against: Parameters<typeof fieldErrors>[1] = schema) {
  const parsed = (against ?? schema).safeParse(body);
  return parsed.success ? [] : fieldErrors(parsed.error, against);
}

describe('POST /api/agent-runs body', () => {
  it.each([
    ['a plain prompt', { prompt: 'What is 2 + 2?' }],
    ['a prompt in a right-to-left script with its marks', { prompt: 'מה השעה?\u200f' }],
    [
      'emoji in an approver name, joiners included',
      { prompt: 'hi', approval: { required: true, approvers: ['Zoë 👩‍💻'] } },
    ],
    ['approval not required and nothing else', { prompt: 'hi', approval: { required: false } }],
    ['no tools at all', { prompt: 'hi', tools: [] }],
    [
      'escalation without a timeout (the default timeout applies)',
      { prompt: 'hi', approval: { required: true, escalateTo: ['boss'] } },
    ],
  ])('accepts %s', (_case, body) => {
    expect(errorsOf(body)).toEqual([]);
  });

  it.each([
    ['a prompt of zero-width spaces', { prompt: '\u200b\u200b' }, 'prompt', /visible text/],
    [
      'a prompt of a BOM and a no-break space',
      { prompt: '\ufeff\u00a0' },
      'prompt',
      /must not be empty|visible/,
    ],
    ['a null prompt, which is present but not a string', { prompt: null }, 'prompt', /^must be a string$/],
    [
      'approvers when approval is not required',
      { prompt: 'hi', approval: { required: false, approvers: ['a'] } },
      'approval.approvers',
      /only when approval.required is true/,
    ],
    [
      'a timeout when approval is not required',
      { prompt: 'hi', approval: { required: false, timeoutMinutes: 5 } },
      'approval.timeoutMinutes',
      /only when/,
    ],
    [
      'escalation when approval is not required',
      { prompt: 'hi', approval: { required: false, escalateTo: ['boss'] } },
      'approval.escalateTo',
      /only when/,
    ],
    [
      'an approver listed twice in different case',
      { prompt: 'hi', approval: { required: true, approvers: ['Bob@Example.com', 'bob@example.com'] } },
      'approval.approvers[1]',
      /repeats "bob@example.com"; list each once \(names match ignoring case\)/,
    ],
    [
      'an approver listed twice with spaces around one',
      { prompt: 'hi', approval: { required: true, approvers: ['boss', ' boss '] } },
      'approval.approvers[1]',
      /repeats/,
    ],
    [
      'an escalation target listed twice',
      { prompt: 'hi', approval: { required: true, escalateTo: ['boss', 'BOSS'] } },
      'approval.escalateTo[1]',
      /repeats/,
    ],
    [
      'an approver name with a right-to-left override',
      { prompt: 'hi', approval: { required: true, approvers: ['\u202emoc.elpmaxe@bob'] } },
      'approval.approvers[0]',
      /invisible formatting/,
    ],
    [
      'an approver name with a zero-width space',
      { prompt: 'hi', approval: { required: true, approvers: ['bo\u200bb'] } },
      'approval.approvers[0]',
      /invisible/,
    ],
    [
      'an approver name with a newline inside',
      { prompt: 'hi', approval: { required: true, approvers: ['bob\nalice'] } },
      'approval.approvers[0]',
      /control/,
    ],
    ['approval as a bare true', { prompt: 'hi', approval: true }, 'approval', /must be an object/],
    [
      'approvers as one string',
      { prompt: 'hi', approval: { required: true, approvers: 'bob' } },
      'approval.approvers',
      /must be a list of approvers/,
    ],
    [
      'a tool listed twice',
      { prompt: 'hi', tools: ['calculator', 'calculator'] },
      'tools[1]',
      /repeats "calculator"; list each once/,
    ],
    [
      'tools as one string',
      { prompt: 'hi', tools: 'calculator' },
      'tools',
      /must be a list of tool names \(calculator, current_time\)/,
    ],
  ])('refuses %s, naming the field', (_case, body, field, says) => {
    const errors = errorsOf(body);
    expect(errors).toEqual([{ field, message: expect.stringMatching(says) as string }]);
  });

  it('refuses research: true where research is not available, and accepts false there', () => {
    const withoutResearch = startAgentRunBodySchema({
      maxPromptChars: 500,
      maxRunTokens: 1_000_000,
      researchAvailable: false,
    });
    expect(errorsOf({ prompt: 'hi', research: true }, withoutResearch)).toEqual([
      { field: 'research', message: expect.stringMatching(/not available on this deployment/) as string },
    ]);
    expect(errorsOf({ prompt: 'hi', research: false }, withoutResearch)).toEqual([]);
    expect(errorsOf({ prompt: 'hi', research: true })).toEqual([]);
  });
});

describe('POST /api/agent-runs/{id}/approval body', () => {
  it('says a null comment must be a string', () => {
    expect(errorsOf({ decision: 'approve', round: 0, comment: null }, approvalBodySchema)).toEqual([
      { field: 'comment', message: 'must be a string' },
    ]);
  });

  it('requires the round of the draft decided, so no decision can apply to a draft its maker did not see', () => {
    expect(errorsOf({ decision: 'approve' }, approvalBodySchema)).toEqual([
      {
        field: 'round',
        message: expect.stringMatching(/^is required: the round of the draft you decide/) as string,
      },
    ]);
    expect(errorsOf({ decision: 'approve', round: -1 }, approvalBodySchema)).toEqual([
      { field: 'round', message: expect.stringMatching(/must be 0 or more/) as string },
    ]);
    expect(errorsOf({ decision: 'approve', round: '0' }, approvalBodySchema)).toEqual([
      { field: 'round', message: 'must be a whole number: the round of the draft you decide' },
    ]);
    expect(errorsOf({ decision: 'approve', round: 0, draftId: 'X' }, approvalBodySchema)).toEqual([
      { field: 'draftId', message: expect.stringMatching(/16 hex digits/) as string },
    ]);
    expect(
      errorsOf({ decision: 'approve', round: 2, draftId: '0123456789abcdef' }, approvalBodySchema),
    ).toEqual([]);
  });
});

describe('PUT /api/quota/{userId} body', () => {
  it('says a missing limit is required, and a null one is the wrong type', () => {
    expect(errorsOf({}, setQuotaLimitBodySchema)).toEqual([
      { field: 'monthlyTokenLimit', message: 'is required and must be a whole number of tokens' },
    ]);
    expect(errorsOf({ monthlyTokenLimit: null }, setQuotaLimitBodySchema)).toEqual([
      { field: 'monthlyTokenLimit', message: 'must be a whole number of tokens' },
    ]);
  });
});

describe('list lengths', () => {
  it('refuses more than 20 approvers with one message for the list', () => {
    const approvers = Array.from({ length: 21 }, (_, i) => `person-${i}`);
    expect(errorsOf({ prompt: 'hi', approval: { required: true, approvers } })).toEqual([
      { field: 'approval.approvers', message: 'must list at most 20 approvers' },
    ]);
  });

  it('says only that the type is wrong when a long string is sent instead of a list', () => {
    expect(errorsOf({ prompt: 'hi', tools: 'calculator, current_time' })).toHaveLength(1);
  });
});
