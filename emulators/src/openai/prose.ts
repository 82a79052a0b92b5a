import { evaluate, findExpressions, formatNumber } from './arithmetic';
import {
  asksForTime,
  intentsOf,
  sentencesOf,
  textOf,
  type ChatMessage,
  type Conversation,
} from './conversation';
import { revise } from './revision';

/**
 * The emulated model's prose: an answer from tool results, a synthesis from subtask findings, or an
 * honest reply to a question it cannot know the answer to. It never pretends to world knowledge, and
 * everything it can work out (arithmetic, what the tools and research returned) it states exactly.
 */

/** Every reply to a question the emulator cannot answer says this, and the synthesis recognises it. */
export const noKnowledge = 'The offline emulator has no world knowledge';

export function composeAnswer(conversation: Conversation, messages: readonly ChatMessage[]): string {
  const draft = conversation.material.find((s) => s.label.split(' ').includes('draft'));
  if (draft && conversation.comment) return revise(draft.text, conversation.comment);

  if (conversation.toolResults.length > 0) return toolResultSentences(conversation).join('\n');

  const findings = conversation.material.filter((s) => !s.label.split(' ').includes('sources'));
  if (findings.length > 0) return synthesize(findings.map((s) => s.text).join('\n'));

  const greeting = /^\s*(say )?(hello|hi|hey|good (morning|afternoon|evening))\b/i.test(conversation.focus);
  if (greeting && conversation.focus.length < 60) return 'Hello! How can I help you today?';

  return answerWithoutTools(conversation.focus, messages);
}

/** What the emulator can say with no tool results: the arithmetic worked out, and honesty for the rest. */
function answerWithoutTools(focus: string, messages: readonly ChatMessage[]): string {
  const lines: string[] = [];
  const asks: string[] = [];
  for (const intent of intentsOf(focus, [])) {
    if (intent.expression) {
      const value = evaluate(intent.expression);
      lines.push(
        value === null
          ? `${intent.expression} has no finite value (a division by zero, or a result too large).`
          : `${intent.expression} = ${formatNumber(value)}.`,
      );
    } else if (intent.time) {
      lines.push(
        `You asked: "${intent.text}" This run offered no time tool, so the offline emulator cannot tell the current time.`,
      );
    } else {
      asks.push(intent.text);
    }
  }
  if (asks.length > 0) lines.push(honestReply(asks, focus, messages));
  return lines.join('\n');
}

function honestReply(asks: readonly string[], focus: string, messages: readonly ChatMessage[]): string {
  const quoted = asks.map((a) => `"${endSentence(a)}"`);
  const asked = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
  const parts = [
    `You asked: ${asked} ${noKnowledge}, so it cannot answer this itself; with Azure OpenAI settings the app answers with a real model.`,
  ];
  if (focus.length > 600) {
    parts.push(
      `It read the ${focus.length.toLocaleString('en-US')} characters of the request but cannot weigh what they describe.`,
    );
  }
  const earlier = earlierFacts(messages, focus);
  if (earlier.length > 0) parts.push(`Earlier in this conversation: ${earlier.join(' ')}`);
  return parts.join(' ');
}

/** "12 * 7 + 5 = 89" from a calculator, the tool's own words otherwise; one sentence per result. */
function toolResultSentences(conversation: Conversation): string[] {
  const sentences: string[] = [];
  for (const { call, result } of conversation.toolResults) {
    const args = parseObject(call.function.arguments);
    const value = resultValue(result);
    const expression = Object.values(args).find(
      (v): v is string => typeof v === 'string' && findExpressions(v)[0] === v.trim(),
    );
    if (expression && value !== null && /^-?[\d.]+(e[-+]?\d+)?$/i.test(value)) {
      sentences.push(`${expression.trim()} = ${value} (from the ${call.function.name} tool).`);
    } else if (/error|invalid|failed|unknown|cannot/i.test(result.slice(0, 80))) {
      sentences.push(
        `The ${call.function.name} tool reported a problem: ${endSentence(shorten(oneLine(result), 300))}`,
      );
    } else if (asksForTime(conversation.focus) || /time|clock|date/i.test(call.function.name)) {
      sentences.push(
        `The current time, from the ${call.function.name} tool: ${endSentence(oneLine(value ?? result))}`,
      );
    } else {
      sentences.push(
        `The ${call.function.name} tool returned: ${endSentence(shorten(oneLine(value ?? result), 400))}`,
      );
    }
  }
  return sentences;
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
      result.push({ title: header[2] ?? '', body: '', sources: [] });
    } else if (source?.[1] && current) {
      current.sources.push(Number(source[1]));
    } else if (line !== '' && !/^sources:?$/i.test(line)) {
      if (current) current.body += current.body === '' ? line : ` ${line}`;
      else result.push({ title: '', body: line, sources: [] });
    }
  }
  return result;
}

/**
 * One answer from the subtasks' findings: what was computed, the time, one honest sentence for the
 * questions the emulator cannot answer, the research with its [n] citations, and what failed.
 */
function synthesize(findings: string): string {
  const computed: string[] = [];
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
    const body = oneLine(block.body);
    if (body === '') continue;
    const cites = block.sources.map((n) => `[${n}]`).join('');
    if (body.includes(noKnowledge)) {
      const asked = body.slice(0, body.indexOf(noKnowledge));
      asks.push(...[...asked.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '').filter((a) => a !== ''));
      computed.push(...sentencesOf(body).filter((s) => /^\S.* = -?[\d.]+/.test(s)));
      continue;
    }
    const toolEquation = /^\w+ returned: (.+ = -?[\d.e+-]+)\s*$/i.exec(body);
    if (toolEquation?.[1]) {
      computed.push(`${toolEquation[1]}.`);
      continue;
    }
    const toolTime = /^(\w+) returned: (.*)$/i.exec(body);
    if (toolTime?.[1] && /time|clock|date/i.test(toolTime[1])) {
      computed.push(`The current time, from the ${toolTime[1]} tool: ${endSentence(toolTime[2] ?? '')}`);
      continue;
    }
    if (/^[^"]* = -?[\d.]+(?: \(from the \w+ tool\))?\.$/.test(sentencesOf(body)[0] ?? '') && cites === '') {
      computed.push(...sentencesOf(body));
      continue;
    }
    if (/^The current time, from the/.test(body) || /^You asked: .* no time tool/.test(body)) {
      computed.push(body);
      continue;
    }
    const fact = firstSentences(body, 2);
    if (fact === '') continue;
    if (cites === '') {
      computed.push(body.length > 600 ? fact : body);
      continue;
    }
    // The facts name their subject; the subtask's title would only repeat the request's words.
    research.push(`- ${fact} ${cites}`);
  }

  const lines: string[] = [...new Set(computed)];
  if (asks.length > 0) {
    const quoted = [...new Set(asks)].map((a) => `"${a}"`);
    const asked = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
    lines.push(
      `You asked: ${asked} ${noKnowledge}, so it cannot answer ${quoted.length === 1 ? 'this' : 'these'} itself; with Azure OpenAI settings the app answers with a real model.`,
    );
  }
  if (research.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(
      'What the emulated web research found (its sources are placeholders, not real pages):',
      ...research,
    );
  }
  if (failed.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...failed);
  }
  if (lines.length === 0) return `${noKnowledge}, and the run's subtasks found nothing to report.`;
  return lines.join('\n').trim();
}

function firstSentences(text: string, count: number): string {
  const clean = oneLine(text.replace(/【[^】]*】/g, ''));
  const sentences = sentencesOf(clean).filter(
    // "Here is what I found" carries no fact; the sentences after it do.
    (s, _index, all) => !(all.length > 1 && /^\s*here (is|are)\b/i.test(s)),
  );
  return shorten(sentences.slice(0, count).join(' ').trim(), 500);
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
  return /[.?!]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3).trimEnd()}...`;
}
