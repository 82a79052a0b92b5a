import { evaluate, findExpression } from './arithmetic';

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
  label: string;
  text: string;
}

const labelLine = /^([A-Z][A-Za-z]*(?: [A-Za-z]+){0,3}):[ \t]*(.*)$/;

/** "Request: ...", "Findings:\n..." style sections; text before the first label is labelled "". */
export function sections(text: string): Section[] {
  const result: Section[] = [];
  let current: Section = { label: '', text: '' };
  for (const line of text.split('\n')) {
    const match = labelLine.exec(line);
    if (match?.[1] && !/^https?$/i.test(match[1])) {
      if (current.text.trim() !== '' || current.label !== '') result.push(current);
      current = { label: match[1].toLowerCase(), text: match[2] ?? '' };
    } else {
      current.text += current.text === '' ? line : `\n${line}`;
    }
  }
  if (current.text.trim() !== '' || current.label !== '') result.push(current);
  return result.map((s) => ({ label: s.label, text: s.text.trim() }));
}

/** Labels that name what is asked, most specific first: a subtask's part wins over the whole request. */
const focusLabels = ['part', 'subtask', 'task', 'question', 'query', 'request', 'prompt', 'goal'];
/** Labels whose text is material to work from rather than the question. */
const materialLabels = [
  'findings',
  'context',
  'draft',
  'notes',
  'results',
  'documents',
  'facts',
  'sources',
  'data',
];
const commentLabels = ['comment', 'feedback', 'review'];

export interface Conversation {
  /** What the last user message asks, without the material around it. */
  focus: string;
  /** The last user message as sent. */
  lastUser: string;
  /** Labelled material in the last user message (findings, draft...). */
  material: Section[];
  /** A reviewer's comment to address, when the message carries one. */
  comment: string | null;
  /** The assistant's tool calls since the last user message, each with its result. */
  toolResults: { call: ChatToolCall; result: string }[];
  /** The first arithmetic expression of the focus (or of the last user message). */
  expression: string | null;
  wantsResearch: boolean;
}

const researchWords =
  /\b(research|search|sources?|latest|news|web|internet|online|recent|look(?:ing)? up|cite|citations?|up[- ]to[- ]date)\b/i;

export function readConversation(messages: readonly ChatMessage[]): Conversation {
  let lastUserIndex = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUserIndex = i;
  });
  const lastUser = lastUserIndex >= 0 ? textOf(messages[lastUserIndex]?.content).trim() : '';
  const parts = sections(lastUser);
  const labelled = (names: readonly string[]) => {
    for (const name of names) {
      const found = parts.find((s) => s.label.split(' ').includes(name) && s.text !== '');
      if (found) return found;
    }
    return undefined;
  };
  const focusSection = labelled(focusLabels);
  const focus = (focusSection?.text ?? parts.find((s) => s.label === '')?.text ?? lastUser).trim();
  const material = parts.filter((s) => materialLabels.some((name) => s.label.split(' ').includes(name)));
  const comment = labelled(commentLabels)?.text ?? null;

  // Tool results answer the calls of the assistant messages after the last user message.
  const toolResults: Conversation['toolResults'] = [];
  const calls = new Map<string, ChatToolCall>();
  for (const message of messages.slice(lastUserIndex + 1)) {
    for (const call of message.tool_calls ?? []) calls.set(call.id, call);
    if (message.role === 'tool' && message.tool_call_id) {
      const call = calls.get(message.tool_call_id);
      if (call) toolResults.push({ call, result: textOf(message.content) });
    }
  }

  return {
    focus,
    lastUser,
    material,
    comment,
    toolResults,
    expression: findExpression(focus) ?? (material.length === 0 ? findExpression(lastUser) : null),
    wantsResearch: researchWords.test(focus),
  };
}

export type IntentKind = 'research' | 'tool' | 'answer';

/** One piece of work the request asks for; a plan has one item per intent. */
export interface Intent {
  kind: IntentKind;
  /** The words of the request this intent covers. */
  text: string;
  expression?: string;
  /** The tool that fits, for a tool intent. */
  toolName?: string;
}

/**
 * Splits the focus into the work it asks for: research clauses, each arithmetic expression (a tool
 * intent when a calculator-like tool is known, otherwise an answer), or one plain answer.
 */
export function intentsOf(focus: string, knownTools: readonly string[]): Intent[] {
  const clauses = focus
    .split(/(?<=[.?!;])\s+|\s+(?:and then|and|then)\s+/i)
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const calculator = knownTools.find((name) => toolFits(name, '', 'arithmetic'));
  const research: string[] = [];
  const intents: Intent[] = [];
  for (const clause of clauses) {
    const expression = findExpression(clause);
    if (expression) {
      intents.push(
        calculator
          ? { kind: 'tool', text: clause, expression, toolName: calculator }
          : { kind: 'answer', text: clause, expression },
      );
    } else if (researchWords.test(clause)) {
      research.push(clause);
    }
  }
  if (research.length > 0) intents.unshift({ kind: 'research', text: research.join(' ') });
  if (intents.length === 0) {
    const expression = findExpression(focus);
    intents.push({ kind: 'answer', text: focus, ...(expression ? { expression } : {}) });
  }
  return intents;
}

export type ToolPurpose = 'arithmetic' | 'time' | 'search';

const purposeWords: Record<ToolPurpose, RegExp> = {
  arithmetic: /calc|math|arith|evaluat|comput|expression|sum/i,
  time: /time|date|clock|now/i,
  search: /search|web|bing|lookup|browse|research/i,
};

export function toolFits(name: string, description: string, purpose: ToolPurpose): boolean {
  return purposeWords[purpose].test(name) || purposeWords[purpose].test(description.slice(0, 120));
}

/** Whether the conversation asks for something the purpose serves. */
export function conversationNeeds(conversation: Conversation, purpose: ToolPurpose): boolean {
  switch (purpose) {
    case 'arithmetic':
      return conversation.expression !== null && evaluate(conversation.expression) !== null;
    case 'time':
      return /\b(time|date|today|now|clock|day of the week|what day)\b/i.test(conversation.focus);
    case 'search':
      return conversation.wantsResearch;
  }
}
