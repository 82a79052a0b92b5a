import { createHash } from 'node:crypto';
import { evaluate, findExpression, formatNumber } from './arithmetic';
import {
  conversationNeeds,
  intentsOf,
  readConversation,
  textOf,
  toolFits,
  type ChatMessage,
  type ChatToolCall,
  type Conversation,
  type FunctionTool,
  type Intent,
  type ToolPurpose,
} from './conversation';
import { generateFromSchema, type FillContext } from './schema';

/**
 * The emulated model: a deterministic function of the request. It calls a fitting tool when tools are
 * offered and none was called since the last user message, answers from tool results and the material
 * it was given, and writes JSON valid against a response format's schema.
 */

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> };

export interface ModelRequest {
  messages: ChatMessage[];
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  /** A hash of the whole request: the only source of variety, so equal requests get equal answers. */
  seed: string;
}

export interface ModelReply {
  content: string | null;
  toolCalls: ChatToolCall[];
}

export function reply(request: ModelRequest): ModelReply {
  const conversation = readConversation(request.messages);
  if (request.tools.length > 0 && request.toolChoice !== 'none' && conversation.toolResults.length === 0) {
    const toolCalls = chooseToolCalls(conversation, request);
    if (toolCalls.length > 0) return { content: null, toolCalls };
  }
  const answer = () => composeAnswer(conversation, request);
  const format = request.responseFormat;
  if (format.type === 'json_schema') {
    return {
      content: JSON.stringify(generateFromSchema(format.schema, fillContext(conversation, request, answer))),
      toolCalls: [],
    };
  }
  if (format.type === 'json_object') {
    return { content: JSON.stringify({ answer: answer() }), toolCalls: [] };
  }
  return { content: answer(), toolCalls: [] };
}

function fillContext(conversation: Conversation, request: ModelRequest, answer: () => string): FillContext {
  const toolNames = [...request.tools.map((t) => t.name), ...enumStrings(request.responseFormat)];
  return {
    focus: conversation.focus,
    intents: intentsOf(conversation.focus, toolNames),
    answer,
    toolNames: request.tools.map((t) => t.name),
    seed: request.seed,
  };
}

/** Strings offered in enums of the response schema: a planner's toolName enum names the tools. */
function enumStrings(format: ResponseFormat): string[] {
  if (format.type !== 'json_schema') return [];
  const found: string[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'enum' && Array.isArray(value))
          found.push(...value.filter((v): v is string => typeof v === 'string'));
        else visit(value);
      }
    }
  };
  visit(format.schema);
  return found;
}

function chooseToolCalls(conversation: Conversation, request: ModelRequest): ChatToolCall[] {
  const { tools, toolChoice } = request;
  const forced = typeof toolChoice === 'object' ? tools.find((t) => t.name === toolChoice.name) : undefined;
  const purposes: ToolPurpose[] = ['arithmetic', 'time', 'search'];
  const calls: { tool: FunctionTool; intent: Intent }[] = [];

  for (const tool of forced ? [forced] : tools) {
    const description = tool.description ?? '';
    const purpose = purposes.find(
      (p) => toolFits(tool.name, description, p) && conversationNeeds(conversation, p),
    );
    if (purpose === 'arithmetic') {
      // One call per expression the request asks about, as a model with parallel tool calls does.
      const expressions = intentsOf(conversation.focus, [tool.name])
        .map((i) => i.expression)
        .filter((e): e is string => e !== undefined);
      const distinct = [...new Set(expressions.length > 0 ? expressions : [conversation.expression ?? ''])];
      for (const expression of distinct.filter((e) => e !== '').slice(0, 4)) {
        calls.push({ tool, intent: { kind: 'tool', text: expression, expression, toolName: tool.name } });
      }
    } else if (purpose || forced || mentions(conversation.focus, tool.name)) {
      calls.push({ tool, intent: { kind: 'tool', text: conversation.focus, toolName: tool.name } });
    }
  }
  if (calls.length === 0 && toolChoice === 'required' && tools[0]) {
    calls.push({
      tool: tools[0],
      intent: { kind: 'tool', text: conversation.focus, toolName: tools[0].name },
    });
  }

  const chosen = request.parallelToolCalls ? calls : calls.slice(0, 1);
  return chosen.map(({ tool, intent }, index) => {
    const parameters = tool.parameters ?? { type: 'object', properties: {} };
    const args = generateFromSchema(parameters, {
      focus: intent.text,
      intents: [intent],
      answer: () => intent.text,
      toolNames: [tool.name],
      seed: request.seed,
    });
    return {
      id: `call_${shortHash(`${request.seed}:${index}`, 24)}`,
      type: 'function' as const,
      function: { name: tool.name, arguments: JSON.stringify(args) },
    };
  });
}

/** Whether the request names the tool ("use the weather tool", "get_weather"). */
function mentions(focus: string, toolName: string): boolean {
  const text = focus.toLowerCase();
  const words = toolName
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length >= 4 && !['tool', 'function', 'get', 'current'].includes(w));
  return text.includes(toolName.toLowerCase()) || (words.length > 0 && words.every((w) => text.includes(w)));
}

export function shortHash(text: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}

// ---- prose -------------------------------------------------------------------------------------------

function composeAnswer(conversation: Conversation, request: ModelRequest): string {
  const draft = conversation.material.find((s) => s.label.split(' ').includes('draft'));
  if (draft && conversation.comment) return revise(draft.text, conversation.comment);

  const lines: string[] = [];
  const fromTools = toolResultSentences(conversation);
  lines.push(...fromTools);
  if (fromTools.length === 0 && conversation.expression) {
    const value = evaluate(conversation.expression);
    if (value !== null) lines.push(`${conversation.expression} = ${formatNumber(value)}.`);
  }

  const findings = materialBullets(conversation);
  if (findings.length > 0) {
    if (lines.length === 0)
      lines.push(`Here is what I found for "${shorten(oneLine(conversation.focus), 160)}":`);
    lines.push('', ...findings);
  }
  if (lines.length > 0) return lines.join('\n').trim();

  const greeting = /^\s*(say )?(hello|hi|hey|good (morning|afternoon|evening))\b/i.test(conversation.focus);
  if (greeting) return 'Hello! How can I help you today?';

  const earlier = earlierFacts(request.messages, conversation.focus);
  const openers = ['Here is a concise answer', 'In short', 'Briefly'];
  const opener =
    openers[(request.seed.charCodeAt(0) + request.seed.charCodeAt(1)) % openers.length] ?? openers[0];
  const topic = shorten(oneLine(conversation.focus).replace(/[?.!]+$/, ''), 200);
  const parts = [
    `${opener}: on "${topic}", the main points are what the request itself establishes and what is known from this conversation.`,
  ];
  if (earlier.length > 0) parts.push(`From earlier in the conversation: ${earlier.join(' ')}`);
  parts.push('For current facts with sources, a web-grounded research step would add them.');
  return parts.join(' ');
}

function revise(draft: string, comment: string): string {
  const request = oneLine(comment).replace(/[.!]+$/, '');
  return `${draft.trim()}\n\nRevised as the reviewer asked: ${request.charAt(0).toLowerCase()}${request.slice(1)}. The points above still stand, and this revision addresses that comment directly.`;
}

/** A sentence per tool result: "12 * 7 + 5 = 89" for a calculator, the tool's words otherwise. */
function toolResultSentences(conversation: Conversation): string[] {
  const sentences: string[] = [];
  const numbers: string[] = [];
  for (const { call, result } of conversation.toolResults) {
    const args = parseObject(call.function.arguments);
    const value = resultValue(result);
    const expression = Object.values(args).find(
      (v): v is string => typeof v === 'string' && findExpression(v) === v.trim(),
    );
    if (expression && value !== null && /^-?[\d.]+(e[-+]?\d+)?$/i.test(value)) {
      sentences.push(`Using the ${call.function.name} tool: ${expression.trim()} = ${value}.`);
      numbers.push(value);
    } else if (/error|invalid|failed|unknown/i.test(result.slice(0, 80))) {
      sentences.push(`The ${call.function.name} tool reported a problem: ${shorten(oneLine(result), 300)}`);
    } else {
      sentences.push(`The ${call.function.name} tool returned: ${shorten(oneLine(value ?? result), 400)}`);
    }
  }
  if (numbers.length === 1) sentences.push(`The answer is ${numbers[0]}.`);
  else if (numbers.length > 1) sentences.push(`The results are ${numbers.join(', ')}.`);
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

/**
 * Bullets from the findings, drafts or notes the message carries: one per block, with its first
 * sentences (numbers and all) and the [n] of the sources listed under it.
 */
function materialBullets(conversation: Conversation): string[] {
  const bullets: string[] = [];
  for (const section of conversation.material) {
    if (section.label.split(' ').includes('sources')) continue;
    for (const block of blocks(section.text)) {
      const fact = firstSentences(block.body, 2);
      const cites = block.sources.map((n) => `[${n}]`).join('');
      const lead = block.title ? `${block.title.replace(/:$/, '')}: ` : '';
      const text = `${lead}${fact || ''}`.trim();
      if (text !== '') bullets.push(`- ${text}${cites ? ` ${cites}` : ''}`);
    }
  }
  return bullets;
}

interface Block {
  title: string;
  body: string;
  sources: number[];
}

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

function firstSentences(text: string, count: number): string {
  const clean = oneLine(text.replace(/【[^】]*】/g, ''));
  const sentences = (clean.match(/[^.!?]+[.!?]+(\s|$)|[^.!?]+$/g) ?? []).filter(
    // "Here is what I found" carries no fact; the sentences after it do.
    (s, _index, all) => !(all.length > 1 && /^\s*here (is|are)\b/i.test(s)),
  );
  return shorten(sentences.slice(0, count).join('').trim(), 500);
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
    for (const sentence of oneLine(textOf(message.content)).match(/[^.!?]+[.!?]*/g) ?? []) {
      const words = significantWords(sentence);
      const score = words.filter((w) => focusWords.has(w)).length + (/\d/.test(sentence) ? 0.5 : 0);
      if (score >= 1) scored.push({ sentence: sentence.trim(), score });
    }
  });
  return scored
    .sort((a, b) => b.score - a.score)
    .slice(0, 2)
    .map((s) => (/[.!?]$/.test(s.sentence) ? s.sentence : `${s.sentence}.`));
}

function significantWords(text: string): string[] {
  return (text.toLowerCase().match(/[a-z0-9]{4,}/g) ?? []).filter(
    (w) =>
      !['what', 'with', 'that', 'this', 'from', 'have', 'your', 'about', 'which', 'there', 'their'].includes(
        w,
      ),
  );
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3).trimEnd()}...`;
}
