import { evaluate, findExpressions } from './arithmetic';
import { toolFits } from './conversation';
import {
  asksForAQuantity,
  isPrecisionOnly,
  precisionIn,
  ProblemReader,
  type ClauseMode,
  type Problem,
} from './wordProblems';

/**
 * What a request asks for, part by part: each question or instruction becomes an intent (research, a
 * calculation, the time, or an answer), in the order written, so that a plan has one subtask per part
 * and an answer covers every part. Context (sentences that only describe, however long) is read for
 * the numbers it sets up but is never an ask of its own; when the person marks the ask ("Main request:",
 * "Question:"), what comes before that label is context.
 */

const researchWords =
  /\b(research|search|sources?|latest|news|online|recent(?:ly)?|look(?:ing)? up|cite|citations?|up[- ]to[- ]date|on the web|web search)\b/i;

export type IntentKind = 'research' | 'tool' | 'answer';

/** One piece of work the request asks for; a plan has one item per intent. */
export interface Intent {
  kind: IntentKind;
  /** The words of the request this intent covers, as a sentence of its own. */
  text: string;
  /** The expression to ask a calculator, for a calculation. */
  expression?: string;
  /** The calculation as the request's words put it, with its steps and the precision asked. */
  problem?: Problem;
  /** A request for the current date or time, with the IANA zone asked about when one was named. */
  time?: { timezone?: string };
  /** The tool that fits, for a tool intent. */
  toolName?: string;
}

/** Words that join two asks in one sentence: "What is 12 * 7 + 5? Then research ...". */
const connector = /^(?:(?:and|then|also|next|finally|lastly|afterwards|after that|plus|so)[,:]?\s+)+/i;
const askStart =
  /^(?:please\s+)?(?:what|what's|why|how|when|where|who|whom|whose|which|is|are|was|were|can|could|should|would|will|do|does|did|explain|describe|compare|contrast|recommend|give|tell|write|summari[sz]e|suggest|propose|evaluate|choose|pick|define|outline|create|find|analy[sz]e|estimate|calculate|compute|work out|convert|translate|provide|identify|discuss|decide|advise|assess|research|search|look up|weigh|(?:list|name|show|help|check|plan|design|draft|review|rank|say)\s+(?:the|me|my|our|this|these|those|it|us|how|what|why|which|all)\b|i need|i want|i'd like|we need|we want|hello|hi|hey|good (?:morning|afternoon|evening))\b/i;

/** "1. ", "- ", "a) ": list markers in front of an ask. */
const listMarker = /^\s*(?:[-*•]|\d{1,2}[.)]|[a-z][.)]|\(\d{1,2}\)|\(?[a-z]\))\s+/i;
/** "Main request:", "Question 2:", "Also:": a label the person put in front of an ask. */
const askLabel =
  /^(?:(?:main|actual|real|my|our|the|final|primary|core|key|first|second|third|last|another|one more)\s+)?(?:request|question|task|ask|goal|query|prompt|q|also|part|follow-up)(?:\s*\d{1,2})?\s*:\s*/i;

/** Abbreviations whose full stop does not end a sentence. */
const abbreviation =
  /(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|excl|mr|mrs|ms|dr|prof|no|fig|cf|al|st)|\b[A-Z])\.$/i;

/** The sentences of a text: split at sentence ends and line breaks, never inside a number like 0.07. */
export function sentencesOf(text: string): string[] {
  const sentences: string[] = [];
  for (const line of text.split(/\n+/)) {
    let current = '';
    for (const piece of line.split(/(?<=[.?!]["')\]]?)\s+(?=["'([$€£A-Z0-9])/)) {
      current = current === '' ? piece : `${current} ${piece}`;
      if (!abbreviation.test(current.trim())) {
        sentences.push(current);
        current = '';
      }
    }
    if (current !== '') sentences.push(current);
  }
  return sentences.map((s) => s.trim()).filter((s) => s !== '' && !/^(?:\d{1,2}[.)]|[-*•])$/.test(s));
}

/** "then research X" -> "Research X": the ask without the words that joined it to the one before. */
export function asSentence(text: string): string {
  let bare = text.trim();
  for (let before = ''; before !== bare;) {
    before = bare;
    bare = bare.replace(listMarker, '').replace(askLabel, '').replace(connector, '').trim();
  }
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
export function isAsk(sentence: string): boolean {
  return (
    /\?\s*["')\]]?\s*$/.test(sentence) ||
    askStart.test(asSentence(sentence)) ||
    askLabel.test(sentence.trim())
  );
}

const subject =
  /^(?:we|i|you|they|he|she|it|our|my|their|his|her|its|the|this|that|these|those|there|a|an|each|every|one|some|all|in|on|at|last|this|next)\b/i;
const verb =
  /\b(?:is|are|was|were|be|been|has|have|had|costs?|budget(?:s|ed)?|pays?|paid|spends?|spent|earns?|earned|makes?|made|buys?|bought|gets?|got|takes?|took|runs?|ran|needs?|needed|wants?|wanted|will|would|can|could|should|uses?|used|owns?|sells?|sold|charges?|charged|adds?|added|orders?|ordered|works?|worked|receives?|received|includes?|included|comes?|came|rose|fell|grew)\b/i;

const computeStart =
  /^(?:please\s+)?(?:what|what's|how|is|are|does|do|did|will|would|can|could|compute|calculate|work out|figure out|estimate|find|give|tell|show|convert|total|add|subtract|multiply|divide|round|increase|decrease|apply|split|i need|we need)\b/i;

/** Whether an ask asks for a number (what, how much, compute...), rather than a summary or a comparison. */
function computes(clause: string): boolean {
  return computeStart.test(asSentence(clause)) || asksForAQuantity(clause);
}

/** How a clause stands: it asks, it is a fragment that states what to work out, or it only describes. */
function modeOf(clause: string): ClauseMode {
  if (isAsk(clause)) return 'ask';
  const bare = asSentence(clause);
  return subject.test(bare) && verb.test(bare) ? 'context' : 'fragment';
}

/**
 * The part of a request that asks: after the last "Main request:" / "Question:" label when the person
 * wrote one after some context, else the whole request.
 */
export function askRegion(request: string): { ask: string; context: string } {
  const label =
    /(?:^|\n|(?<=[.?!])\s+)[ \t]*(?:(?:main|actual|real|my|our|the|final|primary|core|key)\s+)?(?:request|question|task|ask|goal|query|prompt)\s*:[ \t]*/gi;
  let cut: { at: number; end: number } | undefined;
  for (const match of request.matchAll(label)) {
    if (request.slice(0, match.index).trim() !== '')
      cut = { at: match.index, end: match.index + match[0].length };
  }
  if (!cut) return { ask: request, context: '' };
  const ask = request.slice(cut.end).trim();
  return ask === '' ? { ask: request, context: '' } : { ask, context: request.slice(0, cut.at).trim() };
}

/**
 * Splits what is asked into the work it asks for: each research ask, each calculation (a tool intent
 * when a calculator-like tool is known), each request for the time, and each other question or
 * instruction as an answer. Sentences that only give context are not asks: a long context paragraph
 * does not hide the request after it, and does not become one. `request` is the whole request when the
 * focus is one part of it: a precision it asks for everywhere ("Round everything to cents.") applies.
 */
export function intentsOf(focus: string, knownTools: readonly string[], request: string = focus): Intent[] {
  const calculator = knownTools.find((name) => toolFits(name, '', 'arithmetic'));
  const { ask } = askRegion(focus);
  const everywhere = sentencesOf(request === focus ? ask : `${request}\n${ask}`)
    .filter(isPrecisionOnly)
    .map((s) => precisionIn(s).precision)
    .find((p) => p !== undefined);
  const reader = new ProblemReader(everywhere);
  const found: { order: number; intent: Intent }[] = [];
  sentencesOf(ask).forEach((sentence, sentenceIndex) => {
    if (isPrecisionOnly(sentence)) return;
    clausesOf(sentence).forEach((clause, clauseIndex) => {
      const order = sentenceIndex * 100 + clauseIndex;
      const mode = modeOf(clause);
      // "Summarize our budget: $1,500 a month and 7% tax" asks for a summary, not for a sum: the numbers
      // of an ask that does not compute are context, and the ask keeps its own part.
      const computing = mode !== 'ask' || computes(clause);
      const { touched } = reader.read(clause, computing ? mode : 'context', order);
      if ((touched && computing) || mode !== 'ask') return;
      const text = asSentence(clause);
      if (researchWords.test(clause)) {
        found.push({ order, intent: { kind: 'research', text } });
      } else if (asksForTime(clause)) {
        const timezone = zoneOf(clause);
        const time = timezone ? { timezone } : {};
        // An answer subtask, which calls the clock tool itself (with the zone) when the run offers one.
        found.push({ order, intent: { kind: 'answer', text, time } });
      } else {
        found.push({ order, intent: { kind: 'answer', text } });
      }
    });
  });
  const seen = new Set<string>();
  for (const { order, problem } of reader.finish(found.length === 0)) {
    if (seen.has(problem.expression)) continue;
    seen.add(problem.expression);
    const text = problemText(problem);
    // A calculation without a value is an answer's part, which can say why, not a failing tool step.
    const intent: Intent =
      calculator && evaluate(problem.expression) !== null
        ? { kind: 'tool', text, expression: problem.expression, problem, toolName: calculator }
        : { kind: 'answer', text, expression: problem.expression, problem };
    found.push({ order, intent });
  }
  const intents = found.sort((a, b) => a.order - b.order).map((f) => f.intent);
  if (intents.length === 0) {
    // Only context: the last sentence is the nearest thing to an ask.
    const last = sentencesOf(ask).at(-1) ?? ask;
    intents.push({ kind: 'answer', text: asSentence(last) || 'Answer the request' });
  }
  return intents;
}

/** The words of a calculation as an ask of its own, so a subtask given them reads the same one. */
function problemText(problem: Problem): string {
  let words = asSentence(problem.text);
  if (problem.precision) words += `, ${problem.precision.words}`;
  if (!askStart.test(words)) {
    words = problem.steps.length === 0 && problem.base.explicit ? `Compute ${words}` : `Work out: ${words}`;
  }
  const question = /^(?:what|how|which|is|are)\b/i.test(words);
  words = `${words.replace(/[.?!:;,]+$/, '')}${question ? '?' : '.'}`;
  const asked = problem.question ? asSentence(problem.question).replace(/[.?!]*$/, '?') : undefined;
  const key = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  return asked && !key(words).includes(key(asked).slice(0, -1)) ? `${words} ${asked}` : words;
}

/**
 * "What is 12 * 7 + 5, and then research X": a sentence that joins asks of different kinds is split;
 * "compare three designs and recommend one" is one ask and stays whole.
 */
function clausesOf(sentence: string): string[] {
  const parts = sentence
    .split(
      /,?\s+(?=(?:and then|then|and also|and)\s+(?:please\s+)?(?:research|search|look up|find|compute|calculate|work out|tell|what|why|how|when|where|who|which|explain|give|list|recommend|suggest|compare|describe|summari[sz]e|propose|choose|pick|estimate|evaluate|assess|advise)\b)|,\s+(?=(?:what|why|how|when|where|who|which)\b)/i,
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
