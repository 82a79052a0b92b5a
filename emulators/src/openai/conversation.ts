/**
 * Reads a chat conversation the way the emulated model needs it: what is being asked (the focus), the
 * material it was given (findings, drafts, tool results), and what kind of work the request is.
 */

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: unknown;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

export interface FunctionTool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

/** The text of a message's content, whether a string or an array of parts. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return (content as unknown[])
      .map((part) => {
        if (typeof part === 'string') return part;
        const text = part && typeof part === 'object' ? (part as { text?: unknown }).text : undefined;
        return typeof text === 'string' ? text : '';
      })
      .join('\n');
  }
  return '';
}

export interface Section {
  /** The label in lower case ("reviewer comment"); "" for text before the first label. */
  label: string;
  /** The label as written ("Reviewer comment"). */
  heading: string;
  text: string;
}

const labelLine = /^([A-Z][A-Za-z]*(?: [A-Za-z]+){0,3}):[ \t]*(.*)$/;

/** Labels that name what is asked; a subtask's part is narrower than the whole request. */
const focusLabels = ['part', 'subtask', 'task', 'question', 'query', 'request', 'prompt', 'goal'];
/** Labels whose text is material to work from (findings, a draft and its sources), after the request. */
const materialLabels = ['findings', 'draft', 'notes', 'results', 'facts', 'sources'];
const commentLabels = ['comment', 'feedback', 'review'];
/** What a caller appends after the request: material, a comment, the tools on offer, the part to do. */
const envelopeLabels = [...materialLabels, ...commentLabels, 'available', 'part', 'subtask'];

const hasLabel = (label: string, names: readonly string[]) => label.split(' ').some((w) => names.includes(w));

/**
 * "Request: ...", "Findings:\n..." style sections; text before the first label is labelled "". Only the
 * labels this model reads start a section, so "You asked: ..." or "Design A: ..." in a prompt or a
 * finding stays part of its text.
 */
export function sections(text: string): Section[] {
  const result: Section[] = [];
  let current: Section = { label: '', heading: '', text: '' };
  for (const line of text.split('\n')) {
    const match = labelLine.exec(line);
    const label = match?.[1]?.toLowerCase();
    if (match?.[1] && label && hasLabel(label, [...focusLabels, ...envelopeLabels])) {
      if (current.text.trim() !== '' || current.label !== '') result.push(current);
      current = { label, heading: match[1], text: match[2] ?? '' };
    } else {
      current.text += current.text === '' ? line : `\n${line}`;
    }
  }
  if (current.text.trim() !== '' || current.label !== '') result.push(current);
  return result.map((s) => ({ ...s, text: s.text.trim() }));
}

export interface Conversation {
  /** What is asked now: the part of the request given to this call, or else the whole request. */
  focus: string;
  /** The whole request, however long, with any labels inside it ("Main request:", "Context:"). */
  request: string;
  /** Material after the request (findings, a draft, its sources). */
  material: Section[];
  /** A reviewer's comment to address, when the message carries one. */
  comment: string | null;
  /** The assistant's tool calls since the request, each with its result. */
  toolResults: { call: ChatToolCall; result: string }[];
}

/**
 * Reads the request out of the conversation. The message that asks is the last user message, unless
 * that one only continues a tool loop ("Answer now with what you have", earlier tool results), which
 * keeps the request of the message before it. In that message, the sections at the end whose labels
 * are a caller's (Findings, Draft, Sources, Reviewer comment, Tools available, Your part) are set
 * apart; everything before them is the request, whole, whatever its length and whatever labels the
 * person used inside it.
 */
export function readConversation(messages: readonly ChatMessage[]): Conversation {
  const userIndexes = messages.flatMap((m, i) => (m.role === 'user' ? [i] : []));
  let askIndex = userIndexes.at(-1) ?? -1;
  for (const index of [...userIndexes].reverse()) {
    askIndex = index;
    const afterTools = messages.slice(0, index).some((m) => m.role === 'tool');
    const onlyMaterial = sections(textOf(messages[index]?.content)).every((s) =>
      hasLabel(s.label, materialLabels),
    );
    if (!afterTools && !onlyMaterial) break;
    if (!userIndexes.some((i) => i < index)) break;
  }
  const asked = askIndex >= 0 ? textOf(messages[askIndex]?.content).trim() : '';
  const parts = sections(asked);

  // The caller's sections at the end; the request is what comes before them.
  let firstEnvelope = parts.length;
  while (firstEnvelope > 0 && hasLabel(parts[firstEnvelope - 1]?.label ?? '', envelopeLabels))
    firstEnvelope--;
  const envelope = parts.slice(firstEnvelope);
  const request = requestOf(parts.slice(0, firstEnvelope));
  const part = envelope.find((s) => hasLabel(s.label, ['part', 'subtask']) && s.text !== '');
  const focus = withoutRepeats(part?.text ?? (request || asked));
  const material = [
    ...envelope.filter((s) => hasLabel(s.label, materialLabels)),
    // Material sent in later messages of a tool loop ("Tool results from earlier turns: ...").
    ...userIndexes
      .filter((i) => i > askIndex)
      .flatMap((i) =>
        sections(textOf(messages[i]?.content)).filter((s) => hasLabel(s.label, materialLabels)),
      ),
  ];
  const comment = envelope.find((s) => hasLabel(s.label, commentLabels) && s.text !== '')?.text ?? null;

  // Tool results answer the calls of the assistant messages after the request.
  const toolResults: Conversation['toolResults'] = [];
  const calls = new Map<string, ChatToolCall>();
  for (const message of messages.slice(askIndex + 1)) {
    for (const call of message.tool_calls ?? []) calls.set(call.id, call);
    if (message.role === 'tool' && message.tool_call_id) {
      const call = calls.get(message.tool_call_id);
      if (call) toolResults.push({ call, result: textOf(message.content) });
    }
  }

  return { focus, request: request || focus, material, comment, toolResults };
}

/**
 * The request as the person wrote it: the sections before the caller's own, with the labels the person
 * used, but without the caller's label in front ("Request:", "The whole request:").
 */
function requestOf(leading: readonly Section[]): string {
  return leading
    .map((s, i) =>
      s.label === '' || (i === 0 && hasLabel(s.label, focusLabels)) ? s.text : `${s.heading}: ${s.text}`,
    )
    .join('\n\n')
    .trim();
}

/** "Compute 2^10\nCompute 2^10." (a subtask's title, then its instructions) says it once. */
function withoutRepeats(text: string): string {
  const lines = text.split('\n');
  const key = (line: string) =>
    line
      .trim()
      .replace(/[.?!:]+$/, '')
      .toLowerCase();
  return lines
    .filter((line, i) => {
      const next = lines[i + 1];
      return next === undefined || key(line) === '' || !key(next).startsWith(key(line));
    })
    .join('\n');
}

export type ToolPurpose = 'arithmetic' | 'time' | 'search';

const purposeWords: Record<ToolPurpose, RegExp> = {
  arithmetic:
    /\b(calc\w*|math\w*|arithmetic\w*|expressions?|equations?|evaluat\w+ (?:an? )?(?:arithmetic|math\w*)|compute (?:an? )?(?:sum|number|arithmetic))\b/i,
  time: /\b(clock|current (?:date|time)|(?:date|time) now|what time|today'?s date|current_time|time ?zone|get_?time|now)\b/i,
  search: /\b(search\w*|web|bing|browse\w*|research\w*|look ?up)\b/i,
};

/** Words of a tool name: "current_time" -> "current time", "getWeather" -> "get weather". */
export function nameWords(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase();
}

/** Whether a tool serves the purpose, judged by what its name and description say it does. */
export function toolFits(name: string, description: string, purpose: ToolPurpose): boolean {
  const words = nameWords(name);
  if (purpose === 'time') {
    return /\b(time|clock|date|now)\b/.test(words) || purposeWords.time.test(description.slice(0, 200));
  }
  return purposeWords[purpose].test(words) || purposeWords[purpose].test(description.slice(0, 200));
}
