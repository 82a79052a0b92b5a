import { evaluate, formatNumber, parses } from './arithmetic';
import { textOf, type ChatMessage, type Conversation } from './conversation';
import { asksForTime, intentsOf, sentencesOf, type Intent } from './intents';
import { revise } from './revision';
import { describeProblem, type Problem } from './wordProblems';

/**
 * The emulated model's prose: an answer from tool results, a synthesis from subtask findings, or an
 * honest reply to a question it cannot know the answer to. It never pretends to world knowledge, and
 * everything it can work out (arithmetic, what the tools and research returned) it states exactly.
 * Every part of the request gets its line, in the order the request asks them.
 */

/** Every reply to a question the emulator cannot answer says this, and the synthesis recognises it. */
export const noKnowledge = 'The offline emulator has no world knowledge';

export function composeAnswer(conversation: Conversation, messages: readonly ChatMessage[]): string {
  const draft = conversation.material.find((s) => s.label.split(' ').includes('draft'));
  if (draft && conversation.comment) return revise(draft.text, conversation.comment);

  const findings = conversation.material.filter((s) => !/\b(?:sources|draft)\b/.test(s.label));
  if (findings.length > 0 && conversation.toolResults.length === 0) {
    return synthesize(findings.map((s) => s.text).join('\n'), conversation);
  }

  const greeting = /^\s*(say )?(hello|hi|hey|good (morning|afternoon|evening))\b/i.test(conversation.focus);
  if (greeting && conversation.focus.length < 60 && conversation.toolResults.length === 0) {
    return 'Hello! How can I help you today?';
  }
  return answerParts(conversation, messages);
}

interface ToolOutcome {
  tool: string;
  /** The calculation's expression, for a calculator call. */
  expression?: string;
  /** The bare value of the result: "89", or the text a tool returned. */
  value: string | null;
  result: string;
  failed: boolean;
  used: boolean;
}

/** The tool calls since the request, each with what it returned. */
function toolOutcomes(conversation: Conversation): ToolOutcome[] {
  return conversation.toolResults.map(({ call, result }) => {
    const args = parseObject(call.function.arguments);
    const expression = Object.values(args).find(
      (v): v is string => typeof v === 'string' && /\d/.test(v) && parses(v.trim()),
    );
    return {
      tool: call.function.name,
      ...(expression ? { expression: expression.trim() } : {}),
      value: resultValue(result),
      result,
      failed: /\b(?:error|invalid|failed|unknown|cannot)\b/i.test(result.slice(0, 80)),
      used: false,
    };
  });
}

/**
 * One line per part of what is asked: each calculation (from the calculator's result when it was
 * called, worked out here otherwise), the time (from the clock tool, or why there is none), then one
 * honest sentence for the questions the emulator cannot answer.
 */
function answerParts(conversation: Conversation, messages: readonly ChatMessage[]): string {
  const outcomes = toolOutcomes(conversation);
  const lines: string[] = [];
  const asks: string[] = [];
  for (const intent of intentsOf(conversation.focus, [], conversation.request)) {
    if (intent.problem) {
      lines.push(calculationLine(intent.problem, outcomes));
    } else if (intent.time) {
      const clock = outcomes.find((o) => !o.used && !o.expression && isClock(o.tool));
      if (clock) {
        clock.used = true;
        lines.push(toolSentence(clock, conversation));
      } else {
        lines.push(
          `You asked: "${intent.text}" This run offered no time tool, so the offline emulator cannot tell the current time.`,
        );
      }
    } else if (!calledFor(intent, outcomes)) {
      asks.push(intent.text);
    }
  }
  // Calls the request named without a part of its own ("use the weather tool"), and any left over.
  for (const outcome of outcomes.filter((o) => !o.used)) lines.push(toolSentence(outcome, conversation));
  if (asks.length > 0) {
    lines.push(honestReply(asks, conversation, messages));
  }
  return lines.join('\n');
}

/** A part that a tool the request named answers ("Use the lookup tool for X"): its result is the answer. */
function calledFor(intent: Intent, outcomes: readonly ToolOutcome[]): boolean {
  return outcomes.some(
    (o) =>
      !o.used && !o.expression && !isClock(o.tool) && new RegExp(`\\b${o.tool}\\b`, 'i').test(intent.text),
  );
}

function isClock(tool: string): boolean {
  return /time|clock|date/i.test(tool);
}

/** A calculation's line: from the calculator when it answered for this expression, else worked out here. */
function calculationLine(problem: Problem, outcomes: ToolOutcome[]): string {
  const outcome = outcomes.find((o) => !o.used && o.expression === problem.expression);
  if (outcome) {
    outcome.used = true;
    if (outcome.failed) {
      return `The ${outcome.tool} tool reported a problem with ${problem.expression}: ${endSentence(clip(oneLine(outcome.result), 300))}`;
    }
    const value = outcome.value === null ? null : Number(outcome.value);
    if (value !== null && Number.isFinite(value)) return describeProblem(problem, value, outcome.tool);
  }
  return describeProblem(problem, evaluate(problem.expression));
}

/** "12 * 7 + 5 = 89 (from the calculator tool)", the time, or the tool's own words; one sentence. */
function toolSentence(outcome: ToolOutcome, conversation: Conversation): string {
  outcome.used = true;
  const { tool, value, result } = outcome;
  if (outcome.failed)
    return `The ${tool} tool reported a problem: ${endSentence(clip(oneLine(result), 300))}`;
  if (outcome.expression && value !== null && /^-?[\d.]+(e[-+]?\d+)?$/i.test(value)) {
    return `${outcome.expression} = ${value} (from the ${tool} tool).`;
  }
  if (asksForTime(conversation.focus) || isClock(tool)) {
    return `The current time, from the ${tool} tool: ${endSentence(oneLine(value ?? result))}`;
  }
  return `The ${tool} tool returned: ${endSentence(clip(oneLine(value ?? result), 400))}`;
}

function honestReply(
  asks: readonly string[],
  conversation: Conversation,
  messages: readonly ChatMessage[],
): string {
  const parts = [
    `You asked: ${quoteAll(asks)} ${noKnowledge}, so it cannot answer ${asks.length === 1 ? 'this' : 'these'} itself; with Azure OpenAI settings the app answers with a real model.`,
  ];
  const length = conversation.request.length;
  if (length > 600) {
    parts.push(
      `It read the ${length.toLocaleString('en-US')} characters of the request but cannot weigh what they describe.`,
    );
  }
  const earlier = earlierFacts(messages, conversation.focus);
  if (earlier.length > 0) parts.push(`Earlier in this conversation: ${earlier.join(' ')}`);
  return parts.join(' ');
}

function quoteAll(asks: readonly string[]): string {
  const quoted = [...new Set(asks)].map((a) => `"${endSentence(a)}"`);
  return quoted.length === 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The useful part of a tool's answer: a bare value, or the result/value/answer field of a JSON object. */
function resultValue(result: string): string | null {
  const trimmed = result.trim();
  try {
    const parsed: unknown = JSON.parse(trimmed);
    if (typeof parsed === 'number') return formatNumber(parsed);
    if (typeof parsed === 'string') return parsed;
    if (parsed && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      for (const key of ['result', 'value', 'answer', 'output', 'time', 'now', 'text']) {
        const field = record[key];
        if (typeof field === 'number') return formatNumber(field);
        if (typeof field === 'string') return field;
      }
    }
  } catch {
    // not JSON: the text itself
  }
  // A calculator that answers "12 * 7 + 5 = 89" gives its value after the last "=".
  const equation = /=\s*(-?\d[\d.,]*(?:e[-+]?\d+)?)\s*$/i.exec(trimmed);
  if (equation?.[1]) return equation[1].replace(/,/g, '');
  return trimmed === '' ? null : trimmed;
}

// ---- synthesis ------------------------------------------------------------------------------------

interface Block {
  title: string;
  body: string;
  sources: number[];
}

/** "[s1] Title:\ntext\n  Sources:\n  [1] ..." blocks, as the run writes its findings. */
function blocks(text: string): Block[] {
  const result: Block[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^\[([A-Za-z][^\]]*)\]\s*(.*)$/.exec(line);
    const source = /^\[(\d+)\]\s+\S/.exec(line);
    const current = result.at(-1);
    if (header) {
      // "[s1] Title:" then the text on the lines after it; or "[s1] Title: text" on one line.
      const line = header[2] ?? '';
      const inline = /:\s*$/.test(line) ? null : /^([^:]*):\s+(\S.*)$/.exec(line);
      const failed = /could not be done/i.test(line);
      result.push(
        inline && !failed
          ? { title: inline[1] ?? '', body: inline[2] ?? '', sources: [] }
          : { title: header[2] ?? '', body: '', sources: [] },
      );
    } else if (source?.[1] && current && /^\s/.test(raw)) {
      current.sources.push(Number(source[1]));
    } else if (line !== '' && !/^sources:?$/i.test(line)) {
      if (current) current.body += current.body === '' ? line : `\n${line}`;
      else result.push({ title: '', body: line, sources: [] });
    }
  }
  return result;
}

/**
 * One answer from the subtasks' findings, covering every part of the request: each calculation (the
 * calculator's result, or worked out here when no subtask did it), what the other subtasks found, one
 * honest sentence for the questions the emulator cannot answer, the research with a [n] marker on each
 * sentence that cites a source (and on no other), and what failed.
 */
function synthesize(findings: string, conversation: Conversation): string {
  const calculated = new Map<string, { value: string; tool: string }>();
  const stated: string[] = [];
  const asks: string[] = [];
  const research: string[] = [];
  const failed: string[] = [];
  for (const block of blocks(findings)) {
    const title = block.title.replace(/:$/, '').trim();
    const failure = /^(.*?):\s*could not be done\s*\((.*)\)\s*$/i.exec(title);
    if (failure) {
      failed.push(
        `The part "${failure[1] ?? ''}" could not be done: ${endSentence(failure[2] ?? 'unknown error')}`,
      );
      continue;
    }
    const body = block.body.trim();
    if (body === '') continue;
    const toolEquation = /^(\w+) returned: (.+?) = (-?[\d.]+(?:e[-+]?\d+)?)\s*$/i.exec(oneLine(body));
    if (toolEquation?.[1] && toolEquation[2] && toolEquation[3]) {
      calculated.set(toolEquation[2].trim(), { value: toolEquation[3], tool: toolEquation[1] });
      continue;
    }
    const toolReturn = /^(\w+) returned: (.*)$/is.exec(oneLine(body));
    if (toolReturn?.[1]) {
      stated.push(
        isClock(toolReturn[1])
          ? `The current time, from the ${toolReturn[1]} tool: ${endSentence(toolReturn[2] ?? '')}`
          : `The ${toolReturn[1]} tool returned: ${endSentence(clip(toolReturn[2] ?? '', 400))}`,
      );
      continue;
    }
    if (block.sources.length > 0) {
      research.push(...researchBullets(body, block.sources));
      continue;
    }
    for (const line of body
      .split('\n')
      .map(oneLine)
      .filter((l) => l !== '')) {
      if (line.includes(noKnowledge)) {
        const asked = line.slice(0, line.indexOf(noKnowledge));
        asks.push(...[...asked.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '').filter((a) => a !== ''));
      } else {
        stated.push(line);
      }
    }
  }

  // Every calculation of the request, in its order: as the calculator answered it, as a subtask stated
  // it, or worked out here when no subtask did (so no part of the request is left out).
  const lines: string[] = [];
  for (const intent of intentsOf(conversation.request, [])) {
    const problem = intent.problem;
    if (!problem) continue;
    const fromTool = calculated.get(problem.expression);
    if (fromTool) {
      calculated.delete(problem.expression);
      lines.push(describeProblem(problem, Number(fromTool.value), fromTool.tool));
    } else if (!stated.some((s) => s.includes(problem.exact))) {
      lines.push(describeProblem(problem, evaluate(problem.expression)));
    }
  }
  for (const [expression, { value, tool }] of calculated)
    lines.push(`${expression} = ${value} (from the ${tool} tool).`);
  lines.push(...stated);

  const unique = [...new Set(lines)];
  if (asks.length > 0) {
    unique.push(
      `You asked: ${quoteAll(asks)} ${noKnowledge}, so it cannot answer ${new Set(asks).size === 1 ? 'this' : 'these'} itself; with Azure OpenAI settings the app answers with a real model.`,
    );
  }
  if (research.length > 0) {
    if (unique.length > 0) unique.push('');
    unique.push(
      'What the emulated web research found (its sources are placeholders, not real pages):',
      ...research,
    );
  }
  if (failed.length > 0) {
    if (unique.length > 0) unique.push('');
    unique.push(...failed);
  }
  if (unique.length === 0) return `${noKnowledge}, and the run's subtasks found nothing to report.`;
  return unique.join('\n').trim();
}

/**
 * The research as bullets: each sentence that cites a source, with its [n] marker after its words.
 * A finding whose sources no sentence marks is cited once, at its end, with those sources.
 */
function researchBullets(body: string, sources: readonly number[]): string[] {
  const text = oneLine(body.replace(/【[^】]*】/g, ''))
    // "recommends[1]." -> "recommends [1].": a marker is a word of its own.
    .replace(/(\S)((?:\[\d+\])+)/g, '$1 $2')
    .replace(/((?:\[\d+\])+)(?=\w)/g, '$1 ');
  const sentences = sentencesOf(text).filter(
    // "Here is what I found" carries no fact; the sentences after it do.
    (s, _index, all) => !(all.length > 1 && /^\s*here (is|are)\b/i.test(s)),
  );
  const cited = sentences.filter((s) => /\[\d+\]/.test(s));
  if (cited.length > 0) return [`- ${cited.join(' ')}`];
  const fact = sentences.slice(0, 2).join(' ');
  if (fact === '') return [];
  return [`- ${fact.replace(/[.?!]?$/, '')} ${sources.map((n) => `[${n}]`).join('')}.`];
}

/** Sentences from before the last user message that share words with the question. */
function earlierFacts(messages: readonly ChatMessage[], focus: string): string[] {
  const focusWords = new Set(significantWords(focus));
  let lastUser = -1;
  messages.forEach((m, i) => {
    if (m.role === 'user') lastUser = i;
  });
  const scored: { sentence: string; score: number }[] = [];
  messages.slice(0, Math.max(0, lastUser)).forEach((message) => {
    if (message.role === 'system' || message.role === 'developer') return;
    for (const sentence of sentencesOf(oneLine(textOf(message.content)))) {
      const words = significantWords(sentence);
      const score = words.filter((w) => focusWords.has(w)).length + (/\d/.test(sentence) ? 0.5 : 0);
      if (score >= 1) scored.push({ sentence: sentence.trim(), score });
    }
  });
  return scored
    .sort((a, b) => b.score - a.score)
    .slice(0, 2)
    .map((s) => endSentence(s.sentence));
}

export function significantWords(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]{4,}/g) ?? []).filter(
    (w) =>
      !['what', 'with', 'that', 'this', 'from', 'have', 'your', 'about', 'which', 'there', 'their'].includes(
        w,
      ),
  );
}

export function endSentence(text: string): string {
  const trimmed = text.trim().replace(/[,:;]+$/, '');
  return /[.?!]["')\]]?$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** At most `max` characters, cut at a word boundary (never inside a word), with "..." when cut. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = text.slice(0, max - 3);
  const space = room.search(/\s\S*$/);
  const cut = (space > 0 ? room.slice(0, space) : room).replace(/[\s,;:]+$/, '');
  return `${cut}...`;
}
