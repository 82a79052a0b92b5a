import { evaluate, findExpression, findExpressions } from './arithmetic';

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

/**
 * "Request: ...", "Findings:\n..." style sections; text before the first label is labelled "". Only the
 * labels this model reads start a section, so "You asked: ..." or "Design A: ..." in a prompt or a
 * finding stays part of its text.
 */
export function sections(text: string): Section[] {
  const result: Section[] = [];
  let current: Section = { label: '', text: '' };
  for (const line of text.split('\n')) {
    const match = labelLine.exec(line);
    const label = match?.[1]?.toLowerCase();
    if (match && label && isKnownLabel(label)) {
      if (current.text.trim() !== '' || current.label !== '') result.push(current);
      current = { label, text: match[2] ?? '' };
    } else {
      current.text += current.text === '' ? line : `\n${line}`;
    }
  }
  if (current.text.trim() !== '' || current.label !== '') result.push(current);
  return result.map((s) => ({ label: s.label, text: s.text.trim() }));
}

function isKnownLabel(label: string): boolean {
  const words = label.split(' ');
  return [...focusLabels, ...materialLabels, ...commentLabels, 'available'].some((name) =>
    words.includes(name),
  );
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
  /\b(research|search|sources?|latest|news|online|recent(?:ly)?|look(?:ing)? up|cite|citations?|up[- ]to[- ]date|on the web|web search)\b/i;

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
  const focus = withoutRepeats(
    (focusSection?.text ?? parts.find((s) => s.label === '')?.text ?? lastUser).trim(),
  );
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

export type IntentKind = 'research' | 'tool' | 'answer';

/** One piece of work the request asks for; a plan has one item per intent. */
export interface Intent {
  kind: IntentKind;
  /** The words of the request this intent covers, as a sentence of its own. */
  text: string;
  expression?: string;
  /** A request for the current date or time, with the IANA zone asked about when one was named. */
  time?: { timezone?: string };
  /** The tool that fits, for a tool intent. */
  toolName?: string;
}

/** Words that join two asks in one sentence: "What is 12 * 7 + 5? Then research ...". */
const connector = /^(?:(?:and|then|also|next|finally|lastly|afterwards|after that|plus|so)[,:]?\s+)+/i;
const askStart =
  /^(?:please\s+)?(?:what|what's|why|how|when|where|who|whom|whose|which|is|are|was|were|can|could|should|would|will|do|does|did|explain|describe|compare|contrast|recommend|give|tell|write|summari[sz]e|suggest|propose|evaluate|choose|pick|define|outline|create|find|analy[sz]e|estimate|calculate|compute|work out|convert|translate|provide|identify|discuss|decide|advise|assess|research|search|look up|weigh|(?:list|name|show|help|check|plan|design|draft|review|rank|say)\s+(?:the|me|my|our|this|these|those|it|us|how|what|why|which|all)\b|i need|i want|i'd like|we need|we want|hello|hi|hey|good (?:morning|afternoon|evening))\b/i;

/** The sentences of a text: split at sentence ends and line breaks, never inside a number like 0.07. */
export function sentencesOf(text: string): string[] {
  return text
    .split(/\n+|(?<=[.?!])\s+(?=["'(A-Z0-9])/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** "then research X" -> "Research X": the ask without the words that joined it to the one before. */
export function asSentence(text: string): string {
  const bare = text.trim().replace(connector, '').trim();
  return bare.charAt(0).toUpperCase() + bare.slice(1);
}

const timeAsk =
  /\b(?:what time|time is it|current (?:local )?(?:time|date)|local time|time (?:right )?now|today'?s date|what(?:'s| is) (?:the )?(?:date|day)(?: today)?\b(?! of\b)|what day is (?:it|today)|date today|what(?:'s| is) (?:the )?time(?=\s*(?:[?.!]|$|now|right now|in |at the moment|there)))/i;
/** A request for the current date or time; "how do durable timers work" or "time complexity" is not. */
export function asksForTime(text: string): boolean {
  return timeAsk.test(text) && !/\btime complexity\b/i.test(text);
}

const zones: Record<string, string> = {
  tokyo: 'Asia/Tokyo',
  japan: 'Asia/Tokyo',
  london: 'Europe/London',
  uk: 'Europe/London',
  paris: 'Europe/Paris',
  france: 'Europe/Paris',
  berlin: 'Europe/Berlin',
  germany: 'Europe/Berlin',
  madrid: 'Europe/Madrid',
  rome: 'Europe/Rome',
  amsterdam: 'Europe/Amsterdam',
  'new york': 'America/New_York',
  'los angeles': 'America/Los_Angeles',
  'san francisco': 'America/Los_Angeles',
  seattle: 'America/Los_Angeles',
  chicago: 'America/Chicago',
  toronto: 'America/Toronto',
  sydney: 'Australia/Sydney',
  singapore: 'Asia/Singapore',
  'hong kong': 'Asia/Hong_Kong',
  mumbai: 'Asia/Kolkata',
  india: 'Asia/Kolkata',
  beijing: 'Asia/Shanghai',
  shanghai: 'Asia/Shanghai',
  dubai: 'Asia/Dubai',
  'são paulo': 'America/Sao_Paulo',
  'sao paulo': 'America/Sao_Paulo',
  utc: 'UTC',
};

/** The time zone a time question names: an IANA name as written, or a well-known city's zone. */
export function zoneOf(text: string): string | undefined {
  const iana = /\b([A-Z][a-z]+\/[A-Z][A-Za-z_]+)\b/.exec(text);
  if (iana?.[1]) return iana[1];
  const lower = text.toLowerCase();
  for (const [place, zone] of Object.entries(zones)) {
    if (new RegExp(`\\b${place}\\b`).test(lower)) return zone;
  }
  return undefined;
}

/** Whether a sentence asks for something (a question or an instruction), rather than giving context. */
function isAsk(sentence: string): boolean {
  return /\?\s*$/.test(sentence) || askStart.test(asSentence(sentence));
}

/**
 * Splits the focus into the work it asks for: each research ask, each arithmetic expression (a tool
 * intent when a calculator-like tool is known), each request for the time, and each other question or
 * instruction as an answer. Sentences that only give context are not asks: a long context paragraph
 * does not hide the request after it, and does not become one.
 */
export function intentsOf(focus: string, knownTools: readonly string[]): Intent[] {
  const calculator = knownTools.find((name) => toolFits(name, '', 'arithmetic'));
  const intents: Intent[] = [];
  for (const sentence of sentencesOf(focus)) {
    for (const clause of clausesOf(sentence)) {
      const text = asSentence(clause);
      const expressions = findExpressions(clause);
      if (expressions.length === 0 && !isAsk(clause)) continue;
      if (researchWords.test(clause) && expressions.length === 0) {
        intents.push({ kind: 'research', text });
      } else if (expressions.length > 0) {
        for (const expression of expressions) {
          const part = expressions.length === 1 ? text : `Compute ${expression}`;
          // An expression without a value is an answer's part, which can say why, not a failing tool step.
          intents.push(
            calculator && evaluate(expression) !== null
              ? { kind: 'tool', text: part, expression, toolName: calculator }
              : { kind: 'answer', text: part, expression },
          );
        }
      } else if (asksForTime(clause)) {
        const timezone = zoneOf(clause);
        const time = timezone ? { timezone } : {};
        // An answer subtask, which calls the clock tool itself (with the zone) when the run offers one.
        intents.push({ kind: 'answer', text, time });
      } else if (isAsk(clause)) {
        intents.push({ kind: 'answer', text });
      }
    }
  }
  if (intents.length === 0) {
    // Only context: the last sentence is the nearest thing to an ask.
    const last = sentencesOf(focus).at(-1) ?? focus;
    intents.push({ kind: 'answer', text: asSentence(last) || 'Answer the request' });
  }
  return intents;
}

/**
 * "What is 12 * 7 + 5, and then research X": a sentence that joins asks of different kinds is split;
 * "compare three designs and recommend one" is one ask and stays whole.
 */
function clausesOf(sentence: string): string[] {
  const parts = sentence
    .split(
      /,?\s+(?=(?:and then|then|and also|and)\s+(?:please\s+)?(?:research|search|look up|find|compute|calculate|work out|tell|what|why|how|when|where|who|which|explain|give|list|recommend|suggest|compare|describe|summari[sz]e|propose|choose|pick|estimate|evaluate|assess|advise)\b)/i,
    )
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const kind = (p: string) =>
    findExpressions(p).length > 0
      ? 'arithmetic'
      : researchWords.test(p)
        ? 'research'
        : asksForTime(p)
          ? 'time'
          : 'answer';
  const kinds = new Set(parts.map(kind));
  return kinds.size > 1 ? parts : [sentence];
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

/** Whether the conversation asks for something the purpose serves. */
export function conversationNeeds(conversation: Conversation, purpose: ToolPurpose): boolean {
  switch (purpose) {
    case 'arithmetic':
      return conversation.expression !== null && evaluate(conversation.expression) !== null;
    case 'time':
      return asksForTime(conversation.focus);
    case 'search':
      return conversation.wantsResearch;
  }
}
