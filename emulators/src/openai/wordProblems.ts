import { evaluate, findExpressions, formatNumber, parses, roundTo } from './arithmetic';

/**
 * Arithmetic spread over the parts of a request, combined the way the words say: "$18.50 pizza, 20% off,
 * 8.25% tax, split 3 ways" is one calculation (18.50 * (1 - 20 / 100) * (1 + 8.25 / 100) / 3), "15% of
 * 240, plus 3^4" is one (15 / 100 * 240 + 3^4), and "12*7, 15% of 240, and 2^10" is three. A request is
 * read part by part (the segments between commas, "and", "then", "with", "after"): a number or an
 * expression starts a calculation, and the parts after it that say what to do with it (plus, minus,
 * times, divided by, % off, % tax or tip, split N ways, per hour for N hours, doubled...) change it, in
 * the order written. Precision requests ("to 4 decimal places", "rounded to cents", "to the nearest whole
 * number", "to 3 significant figures") round the result, in the expression asked of the calculator where
 * it can ("round(22 / 7, 4)") and in the prose.
 */

export interface Precision {
  mode: 'round' | 'up' | 'down';
  /** Decimal places (0 for a whole number). */
  decimals?: number;
  significant?: number;
  /** Round to a multiple of this: 10, 100, 1000. */
  multiple?: number;
  /** How the request said it, for the answer: "to 4 decimal places". */
  words: string;
}

export interface Step {
  /** What this step does, in the request's words: "20% off", "plus 3^4", "split 3 ways". */
  words: string;
  /** The whole calculation up to and including this step. */
  expression: string;
}

export interface Problem {
  /** The words of the request this calculation covers. */
  text: string;
  /** The question asked after the numbers, when there was one: "How much does each of us pay?" */
  question?: string;
  /** The calculation, exact, in the calculator's syntax. */
  exact: string;
  /** What the calculator is asked: the exact calculation, rounded where the request asks. */
  expression: string;
  /** The first number or expression, then each step applied to it; no steps for a lone expression. */
  base: { words: string; expression: string; explicit: boolean };
  steps: Step[];
  /** The currency symbol when the amounts are money. */
  money?: string;
  /** Split between people: the result is each one's share. */
  each?: boolean;
  /** The result is a percentage ("what percent of 180 is 45"). */
  percent?: boolean;
  precision?: Precision;
}

// ---- numbers and words --------------------------------------------------------------------------

const smallNumbers: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  twenty: 20,
  'a dozen': 12,
  dozen: 12,
  'a couple of': 2,
  both: 2,
};
const countWords = Object.keys(smallNumbers).join('|');
/** A count written as digits or words: "3", "three", "a dozen". */
const count = `(\\d+|${countWords})`;
const decimal = String.raw`\d+(?:\.\d+)?`;
const percentPattern = new RegExp(`(${decimal})\\s*(?:%|percent\\b|per\\s*cent\\b)`, 'i');

function countValue(text: string): number | undefined {
  const word = text.toLowerCase();
  if (/^\d+$/.test(word)) return Number(word);
  return smallNumbers[word];
}

const currencyWords: Record<string, string> = {
  dollar: '$',
  dollars: '$',
  usd: '$',
  euro: '€',
  euros: '€',
  eur: '€',
  pound: '£',
  pounds: '£',
  gbp: '£',
};

/** The currency a segment's amount is in: "$18.50", "18.50 EUR", "40 dollars". */
function currencyOf(text: string): string | undefined {
  const symbol = /([$€£])\s*\d/.exec(text);
  if (symbol?.[1]) return symbol[1];
  const word = /\d\s*(dollars?|usd|euros?|eur|pounds?|gbp)\b/i.exec(text);
  return word?.[1] ? currencyWords[word[1].toLowerCase()] : undefined;
}

/** "1,500" is fifteen hundred, not two numbers; "$18.50" keeps its number. */
function normalise(text: string): string {
  return text.replace(/(\d),(\d{3})\b/g, '$1$2').replace(/(\d),(\d{3})\b/g, '$1$2');
}

// ---- precision ----------------------------------------------------------------------------------

const places: Record<string, number> = { tenth: 1, hundredth: 2, thousandth: 3 };
const multiples: Record<string, number> = { ten: 10, hundred: 100, thousand: 1000 };

/** The precision a piece of text asks for, and the text without the words that asked. */
export function precisionIn(text: string): { precision?: Precision; rest: string } {
  const mode = (words: string): Precision['mode'] =>
    /\bup\b/i.test(words) ? 'up' : /\bdown\b/i.test(words) ? 'down' : 'round';
  const lead = String.raw`(?:(?:,\s*)?(?:and\s+)?(?:(?:please\s+)?(?:round(?:ed|ing)?|give|show|express|correct|accurate|exact)\s+)?(?:(?:up|down)\s+)?(?:it\s+|them\s+|that\s+|everything\s+|the\s+(?:answers?|results?|values?|numbers?|totals?)\s+|all\s+(?:answers|results|values|numbers)\s+)?)`;
  const patterns: [RegExp, (m: RegExpExecArray) => Omit<Precision, 'words' | 'mode'>][] = [
    [
      new RegExp(
        `${lead}(?:to|with|at|in)\\s+${count}\\s+(?:decimal\\s+places?|decimals?|dp\\b|d\\.p\\.|places?(?:\\s+after\\s+the\\s+(?:decimal\\s+)?point)?)`,
        'i',
      ),
      (m) => ({ decimals: countValue(m[1] ?? '') ?? 2 }),
    ],
    [
      new RegExp(`${lead}${count}\\s+decimal\\s+places?`, 'i'),
      (m) => ({ decimals: countValue(m[1] ?? '') ?? 2 }),
    ],
    [
      new RegExp(
        `${lead}(?:to|in)\\s+${count}\\s+(?:significant\\s+(?:figures?|digits?)|sig\\.?\\s*figs?|s\\.f\\.?)`,
        'i',
      ),
      (m) => ({ significant: countValue(m[1] ?? '') ?? 3 }),
    ],
    [
      new RegExp(
        `${lead}(?:to\\s+)?(?:the\\s+)?nearest\\s+(cent|penny|tenth|hundredth|thousandth)s?\\b`,
        'i',
      ),
      (m) => ({ decimals: places[(m[1] ?? '').toLowerCase()] ?? 2 }),
    ],
    [new RegExp(`${lead}to\\s+(?:whole\\s+)?cents\\b`, 'i'), () => ({ decimals: 2 })],
    [
      new RegExp(`${lead}(?:to\\s+)?(?:the\\s+)?nearest\\s+(ten|hundred|thousand)\\b`, 'i'),
      (m) => ({ multiple: multiples[(m[1] ?? '').toLowerCase()] ?? 10 }),
    ],
    [
      new RegExp(
        `${lead}(?:to\\s+)?(?:the\\s+)?(?:nearest\\s+)?(?:an?\\s+)?(?:whole\\s+number|integer|whole\\s+(?:dollar|euro|pound)s?|(?<=nearest\\s+)(?:dollar|euro|pound|unit))\\b`,
        'i',
      ),
      () => ({ decimals: 0 }),
    ],
    [/(?:,\s*)?(?:and\s+)?\bround(?:ed)?\s+(up|down)\b/i, () => ({ decimals: 0 })],
  ];
  for (const [pattern, read] of patterns) {
    const match = pattern.exec(text);
    if (!match) continue;
    const words = match[0].replace(/^[,\s]+|\s+$/g, '').replace(/^and\s+/i, '');
    const rest = `${text.slice(0, match.index)} ${text.slice(match.index + match[0].length)}`
      .replace(/\s+([,.?!])/g, '$1')
      .replace(/\s+/g, ' ')
      .trim();
    return { precision: { mode: mode(words), ...read(match), words: describePrecision(words) }, rest };
  }
  return { rest: text };
}

/** "rounded to 4 decimal places" -> "to 4 decimal places": the words as a note after a number. */
function describePrecision(words: string): string {
  const trimmed = words
    .replace(/^(?:please\s+)?(?:give|show|express)\s+(?:it\s+|them\s+|that\s+|everything\s+)?/i, '')
    .replace(/^(?:the\s+)?(?:answers?|results?|values?|numbers?|totals?)\s+/i, '')
    .replace(/^(?:all\s+(?:answers|results|values|numbers)\s+)/i, '')
    .trim();
  return /^(?:round|correct|accurate|exact|to\b|in\b|with\b|at\b)/i.test(trimmed) ? trimmed : `to ${trimmed}`;
}

/** Whether a sentence only sets the precision of the request's numbers: "Round everything to cents." */
export function isPrecisionOnly(sentence: string): boolean {
  const { precision, rest } = precisionIn(sentence);
  if (!precision) return false;
  const left = rest
    .replace(
      /\b(?:please|all|every|each|the|answers?|results?|values?|numbers?|amounts?|totals?|them|it|everything|give|show|round(?:ed)?|and|use|keep)\b/gi,
      '',
    )
    .replace(/[^a-z0-9]/gi, '');
  return left === '';
}

/** The expression to ask the calculator, rounded as the precision says (significant figures: in prose). */
export function roundedExpression(exact: string, precision: Precision | undefined): string {
  if (!precision) return exact;
  const fn = precision.mode === 'up' ? 'ceil' : precision.mode === 'down' ? 'floor' : 'round';
  if (precision.multiple !== undefined)
    return `${fn}(${exact} / ${precision.multiple}) * ${precision.multiple}`;
  if (precision.decimals === undefined) return exact;
  if (precision.decimals === 0) return `${fn}(${exact})`;
  if (fn === 'round') return `round(${exact}, ${precision.decimals})`;
  const factor = 10 ** precision.decimals;
  return `${fn}(${exact} * ${factor}) / ${factor}`;
}

// ---- segments -----------------------------------------------------------------------------------

const separator = new RegExp(
  `\\s*[,;]\\s*(?:(?:and then|and also|and|then|but)\\s+)?|\\s+(?:and then|and also|and|then|with|after|before)\\s+|\\s+(?=for\\s+(?:\\d|(?:${countWords})\\b))`,
  'gi',
);
/** Phrases whose commas and "and" belong to them: "the sum of 3, 5 and 10", "between 5 and 10". */
const unbreakable = new RegExp(
  `\\b(?:(?:sum|total|product|average|mean)\\s+of\\s+${decimal}(?:\\s*,\\s*${decimal})*\\s*,?\\s+and\\s+${decimal}|between\\s+${decimal}\\s+and\\s+${decimal})`,
  'gi',
);

/** The parts of a clause, cut at commas and joining words outside parentheses and list phrases. */
export function segmentsOf(clause: string): string[] {
  const kept = [...clause.matchAll(unbreakable)].map((m) => [m.index, m.index + m[0].length] as const);
  const segments: string[] = [];
  let start = 0;
  for (const match of clause.matchAll(separator)) {
    const at = match.index;
    if (depthAt(clause, at) > 0 || kept.some(([from, to]) => at > from && at < to)) continue;
    segments.push(clause.slice(start, at));
    start = at + match[0].length;
  }
  segments.push(clause.slice(start));
  return segments.map((s) => s.trim()).filter((s) => s !== '');
}

function depthAt(text: string, index: number): number {
  let depth = 0;
  for (let i = 0; i < index; i++) depth += text[i] === '(' ? 1 : text[i] === ')' ? -1 : 0;
  return depth;
}

// ---- what each segment says -----------------------------------------------------------------------

type BinaryOperator = '+' | '-' | '*' | '/' | '^';

type Operation =
  | { kind: 'percent'; rate: string; up: boolean; words: string }
  | { kind: 'fraction'; rate: string; words: string }
  | { kind: 'split'; ways: number; words: string }
  | { kind: 'operator'; op: BinaryOperator; operand: string; words: string }
  | { kind: 'rate'; times: number; per?: string; words: string };

interface Base {
  kind: 'base';
  expression: string;
  /** An expression as written ("15% of 240"), rather than a bare amount ("$18.50 pizza"). */
  explicit: boolean;
  words: string;
  money?: string;
  /** The unit a rate is per: "$12 per hour" gives "hour". */
  per?: string;
  percent?: boolean;
  /** A change stated in the same segment: "a $120 jacket at 25% off". */
  then?: Operation;
}

type Item = Base | { kind: 'change'; operation: Operation } | { kind: 'group'; size: number };

/** "We are 4 friends", "a party of six", "for 3 people": how many share, said before anyone splits. */
const groupPattern = new RegExp(
  `\\b(?:we\\s+are|we're|there\\s+are|there're)\\s+${count}\\b|\\bparty\\s+of\\s+${count}\\b|\\b(?:for\\s+)?${count}\\s+(?:of\\s+us|people|persons|friends|guests|colleagues|roommates)\\b`,
  'i',
);

// Words that say what to do with an amount. Verbs that tell what happened ("revenue grew 12%", "costs
// fell 3%") describe; they change no calculation.
const decreaseWords =
  /^(?:off|discount(?:ed)?|coupons?|markdown|marked|rebate|reduction|reduced|less|cheaper|minus|savings?|sale|deduct(?:ed|ion)?)$/i;
const increaseWords =
  /^(?:tax(?:es)?|vat|gst|hst|tip|gratuity|service|surcharge|fees?|markup|mark-up|interest|more|plus|add(?:ed)?|commission)$/i;
const nouns =
  /^(?:tax|vat|gst|hst|tip|gratuity|service|surcharge|fee|markup|mark-up|interest|commission|premium|discount|coupon|markdown|rebate)$/i;

const wordsOf = (text: string) =>
  text
    .toLowerCase()
    .split(/[^a-z-]+/)
    .filter((w) => w !== '');

/** What a percentage in a segment does, from the words around it: "20% off", "tax is 8.25%". */
function percentChange(segment: string): Operation | null {
  const match = percentPattern.exec(segment);
  if (!match?.[1]) return null;
  const rate = match[1];
  const afterText = segment.slice(match.index + match[0].length);
  if (/^\s*of\s+(?:that|it|this|the\s+(?:result|total|amount|sum))\b/i.test(afterText)) {
    return { kind: 'fraction', rate, words: `${rate}% of that` };
  }
  const before = wordsOf(segment.slice(0, match.index)).slice(-4).reverse();
  const after = wordsOf(afterText).slice(0, 3);
  const decide = (words: string[]): boolean | undefined => {
    for (const word of words) {
      if (decreaseWords.test(word)) return false;
      if (increaseWords.test(word)) return true;
    }
    return undefined;
  };
  const up = decide(after) ?? decide(before);
  if (up === undefined) return null;
  const noun = [...after, ...before].find((w) => nouns.test(w))?.replace(/^vat$/, 'VAT');
  let words: string;
  if (!up) words = noun === 'discount' || noun === 'coupon' ? `minus a ${rate}% ${noun}` : `${rate}% off`;
  else
    words =
      noun && !/^(?:discount|coupon|markdown|rebate)$/.test(noun) ? `plus ${rate}% ${noun}` : `plus ${rate}%`;
  return { kind: 'percent', rate, up, words };
}

const people = '(?:of us|people|persons|friends|guests|colleagues|roommates|players|ways)';

/** "split 3 ways", "shared among four people", "three of us split it", "divided between 2". */
function splitOf(segment: string): Operation | null {
  const patterns = [
    new RegExp(
      `\\b(?:split|splitting|shared?|sharing|divided|divide)\\b(?:\\s+(?:it|that|this|the\\s+[a-z]+|equally|evenly))*\\s+(?:${count}\\s+ways|(?:between|among|amongst|by)\\s+(?:the\\s+)?${count}\\b)`,
      'i',
    ),
    new RegExp(`\\b${count}\\s+ways\\b`, 'i'),
    new RegExp(`\\b${count}\\s+${people}\\s+(?:split|share|divide)`, 'i'),
    new RegExp(`\\b(?:between|among|amongst)\\s+(?:the\\s+)?${count}\\s+${people}`, 'i'),
  ];
  for (const pattern of patterns) {
    const raw = pattern.exec(segment)?.[1];
    const ways = raw === undefined ? undefined : countValue(raw);
    if (ways !== undefined && ways > 0) return { kind: 'split', ways, words: `split ${ways} ways` };
  }
  return null;
}

const operatorWords: [RegExp, BinaryOperator][] = [
  [/^(?:plus|add(?:ed)?|\+)\s+/i, '+'],
  [/^(?:minus|less|subtract(?:ed)?|take away|take off|-)\s+/i, '-'],
  [/^(?:times|multiplied by|multiply (?:it |that |this )?by|x|\*)\s+/i, '*'],
  [/^(?:divided by|divide (?:it |that |this )?by|over|\/)\s+/i, '/'],
];
const operatorNames: Record<BinaryOperator, string> = {
  '+': 'plus',
  '-': 'minus',
  '*': 'times',
  '/': 'divided by',
  '^': 'to the power',
};

/** "plus 3^4", "minus 5", "times 4", "divided by 2", "minus 10%": an operator word and its operand. */
function spokenOperator(segment: string): Operation | null {
  for (const [pattern, op] of operatorWords) {
    const match = pattern.exec(segment);
    if (!match) continue;
    const rest = segment.slice(match[0].length).trim();
    const percent = percentPattern.exec(rest);
    if (percent?.[1] && percent.index === 0 && (op === '+' || op === '-')) {
      const rate = percent[1];
      return { kind: 'percent', rate, up: op === '+', words: op === '+' ? `plus ${rate}%` : `${rate}% off` };
    }
    const found = operandOf(rest);
    if (!found) return null;
    return { kind: 'operator', op, operand: found.expression, words: `${operatorNames[op]} ${found.words}` };
  }
  return null;
}

/** "double it", "halved", "squared": a change that names no number. */
function spokenChange(segment: string): Operation | null {
  const lower = segment.toLowerCase();
  if (/\d/.test(lower)) return null;
  if (/\b(?:double[ds]?|twice)\b/.test(lower))
    return { kind: 'operator', op: '*', operand: '2', words: 'doubled' };
  if (/\btriple[ds]?\b/.test(lower)) return { kind: 'operator', op: '*', operand: '3', words: 'tripled' };
  if (/\b(?:halve[ds]?|half of (?:it|that|this))\b/.test(lower))
    return { kind: 'operator', op: '/', operand: '2', words: 'halved' };
  if (/\b(?:square (?:it|that|this)|squared)\b/.test(lower))
    return { kind: 'operator', op: '^', operand: '2', words: 'squared' };
  if (/\b(?:cube (?:it|that|this)|cubed)\b/.test(lower))
    return { kind: 'operator', op: '^', operand: '3', words: 'cubed' };
  return null;
}

/** The number or expression an operator word applies to: "3^4 to it" gives 3^4. */
function operandOf(text: string): { expression: string; words: string } | null {
  const words = text
    .replace(/\s+(?:to|from|by|of|into)\s+(?:it|that|this|the\s+[a-z]+)\s*$/i, '')
    .replace(/[.?!]+$/, '')
    .trim();
  const startsWithNumber =
    /^[$€£]?\s*[\d(.]|^(?:the\s+)?(?:square root|sum|product|average|mean|half|double|twice|sqrt|abs|round)\b/i;
  if (startsWithNumber.test(words)) {
    const expression = findExpressions(words)[0];
    if (expression !== undefined) return { expression, words };
    const number = /^[$€£]?\s*(\d+(?:\.\d+)?)/.exec(words);
    if (number?.[1]) return { expression: number[1], words };
  }
  const word = new RegExp(`^${count}\\b`, 'i').exec(words);
  const value = word?.[1] ? countValue(word[1]) : undefined;
  return value === undefined ? null : { expression: String(value), words };
}

/** "$12 per hour", "$12/hour", "$12 an hour": the unit a rate is per. */
function perUnitOf(text: string): string | undefined {
  const unit = /\d\s*(?:[a-z]+\s+)?(?:per\s+|\/\s*|an?\s+|each\s+|every\s+)([a-z]+)\b/i.exec(text)?.[1];
  if (!unit || /^(?:person|piece|item|one|few|lot|bit|couple)$/i.test(unit)) return undefined;
  return singular(unit);
}

function plural(word: string): string {
  const lower = word.toLowerCase();
  return /s$/.test(lower) ? lower : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
}

function singular(word: string): string {
  const lower = word.toLowerCase();
  if (/(?:ss|us|is)$/.test(lower)) return lower;
  if (/ies$/.test(lower)) return `${lower.slice(0, -3)}y`;
  if (/(?:ches|shes|xes)$/.test(lower)) return lower.slice(0, -2);
  return lower.replace(/s$/, '');
}

/** Identifiers and years are numbers that nobody means to compute with. */
function isIdentifierNumber(segment: string, index: number, value: string): boolean {
  const before = segment.slice(0, index).toLowerCase();
  if (
    /\b(?:step|version|v|design|option|phase|part|item|no\.?|number|page|chapter|section|room|level|tier|q|question)\s*$|#\s*$/.test(
      before,
    )
  )
    return true;
  return /^(?:19|20)\d\d$/.test(value) && !/[$€£]\s*$/.test(before);
}

/** The one amount in a segment that is not a percentage, an identifier or a year. */
function amountIn(segment: string): string | null {
  const found: string[] = [];
  for (const match of segment.matchAll(
    /(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])(?!\s*(?:%|percent\b|per\s*cent\b))/gi,
  )) {
    const value = match[1] ?? '';
    if (!isIdentifierNumber(segment, match.index, value)) found.push(value);
  }
  return found.length === 1 ? (found[0] ?? null) : null;
}

const percentResult =
  /\bwhat\s+(?:percent|percentage)\b|\bas\s+an?\s+(?:percent|percentage)\b|\bpercent(?:age)?\s+(?:change|increase|decrease|difference)\b/i;

/** What one segment says: numbers or expressions to start from, a change to the one before, or nothing. */
function itemsOf(rawSegment: string, per: string | undefined): Item[] {
  const segment = rawSegment
    .trim()
    .replace(/^(?:(?:and|then|also|so|next|finally|after that|afterwards|please|now)\b[,:]?\s*)+/i, '')
    .replace(/[.?!:]+$/, '');
  if (segment === '') return [];
  const money = currencyOf(segment);
  const withMoney = money ? { money } : {};

  const spoken = spokenOperator(segment);
  if (spoken) return [{ kind: 'change', operation: spoken }];

  // "3 coffees at $4.50 each", "4 kg at $3.50 per kg": a quantity times a unit price.
  const priced = new RegExp(
    `(?:^|\\s)${count}\\s+([a-z]+(?:\\s+[a-z]+)?)\\s+(?:at|for|@)\\s+[$€£]?\\s*(${decimal})\\b`,
    'i',
  ).exec(segment);
  const quantity = priced?.[1] ? countValue(priced[1]) : undefined;
  if (priced?.[3] && quantity !== undefined) {
    return [
      {
        kind: 'base',
        expression: `${quantity} * ${priced[3]}`,
        explicit: true,
        words: segment,
        ...withMoney,
      },
    ];
  }

  const expressions = findExpressions(segment);
  if (expressions.length > 0) {
    const percent = percentResult.test(segment) ? { percent: true } : {};
    return expressions.map((expression) => ({
      kind: 'base',
      expression,
      explicit: true,
      words: expressions.length === 1 ? segment : expression,
      ...withMoney,
      ...percent,
    }));
  }

  const change = percentChange(segment) ?? splitOf(segment) ?? spokenChange(segment);
  if (change) {
    // "a $120 jacket at 25% off": the amount starts the calculation, the percentage changes it.
    const amount = change.kind === 'percent' ? amountIn(segment) : null;
    if (amount !== null) {
      const words = `${money ?? ''}${amount}`;
      return [{ kind: 'base', expression: amount, explicit: false, words, ...withMoney, then: change }];
    }
    return [{ kind: 'change', operation: change }];
  }

  const group = groupPattern.exec(segment);
  const size = group?.slice(1).find((g) => g !== undefined);
  if (size !== undefined && amountIn(segment.replace(group?.[0] ?? '', ' ')) === null) {
    const value = countValue(size);
    if (value !== undefined && value > 0) return [{ kind: 'group', size: value }];
  }

  // "40 hours a week" after "$12 per hour": the rate times the quantity, now per the next unit.
  if (per) {
    const match = new RegExp(`(?:^|\\s)(?:for\\s+|in\\s+an?\\s+)?${count}[\\s-]+([a-z]+)\\b`, 'i').exec(
      segment,
    );
    const times = match?.[1] ? countValue(match[1]) : undefined;
    if (times !== undefined && match?.[2] && singular(match[2]) === per) {
      const after = segment.slice(match.index + match[0].length);
      const next = /^\s*(?:a|an|per|each|every)\s+([a-z]+)\b/i.exec(after)?.[1];
      const operation: Operation = {
        kind: 'rate',
        times,
        ...(next ? { per: singular(next) } : {}),
        words: `for ${times} ${times === 1 ? singular(match[2]) : plural(match[2])}`,
      };
      return [{ kind: 'change', operation }];
    }
  }

  const amount = amountIn(segment);
  if (amount === null) return [];
  const unit = perUnitOf(segment);
  return [
    {
      kind: 'base',
      expression: amount,
      explicit: false,
      words: segment,
      ...withMoney,
      ...(unit ? { per: unit } : {}),
    },
  ];
}

// ---- building the calculations --------------------------------------------------------------------

const precedence: Record<string, number> = { '+': 0, '-': 0, '*': 1, '/': 1, '%': 1, '^': 2 };

/** The loosest binary operator outside parentheses: 0 for + -, 1 for * / %, 2 for ^, 3 for none. */
function loosest(expression: string): number {
  const tokens = expression.match(/\d+(?:\.\d+)?|\.\d+|[a-z][a-z0-9]*|[-+*/%^(),]|\S/gi) ?? [];
  let depth = 0;
  let result = 3;
  let operand = false;
  for (const token of tokens) {
    if (token === '(') {
      depth++;
      operand = false;
    } else if (token === ')') {
      depth--;
      operand = true;
    } else if (token in precedence) {
      // A sign is not a binary operator: "-2", "3 * -1".
      if (operand && depth === 0) result = Math.min(result, precedence[token] ?? 3);
      operand = false;
    } else {
      operand = true;
    }
  }
  return result;
}

/** The operand in parentheses when the operator would otherwise bind part of it. */
function grouped(expression: string, op: BinaryOperator, side: 'left' | 'right'): string {
  const inner = loosest(expression);
  const outer = precedence[op] ?? 0;
  const signed = /^\s*-/.test(expression);
  const wrap =
    op === '^'
      ? inner < 3 || (side === 'left' && signed)
      : inner < outer || (side === 'right' && inner === outer && (op === '-' || op === '/'));
  return wrap ? `(${expression})` : expression;
}

function apply(expression: string, operation: Operation): string {
  switch (operation.kind) {
    case 'percent':
      return `${grouped(expression, '*', 'left')} * (1 ${operation.up ? '+' : '-'} ${operation.rate} / 100)`;
    case 'fraction':
      return `${operation.rate} / 100 * ${grouped(expression, '*', 'right')}`;
    case 'split':
      return `${grouped(expression, '/', 'left')} / ${operation.ways}`;
    case 'rate':
      return `${grouped(expression, '*', 'left')} * ${operation.times}`;
    case 'operator':
      return `${grouped(expression, operation.op, 'left')} ${operation.op} ${grouped(operation.operand, operation.op, 'right')}`;
  }
}

interface Chain {
  order: number;
  base: { words: string; expression: string; explicit: boolean };
  words: string[];
  steps: Step[];
  money?: string;
  each: boolean;
  percent: boolean;
  per?: string;
  precision?: Precision;
  /** A question or instruction asked for it (not only context that mentions the numbers). */
  asked: boolean;
  /** The question that asked for it, when it came after the numbers: "How much does each of us pay?" */
  question?: string;
}

export type ClauseMode = 'ask' | 'fragment' | 'context';

/**
 * Reads the clauses of a request in order and gives the calculations they ask for. A calculation with
 * an expression is always worked out; one that starts from a bare amount ("A pizza costs $18.50.") is
 * worked out when a question or a fragment changes it ("20% off, split 3 ways") or asks for it ("How
 * much does each of us pay?"), never from context alone.
 */
export class ProblemReader {
  private open: Chain | null = null;
  private readonly done: { order: number; problem: Problem }[] = [];
  private readonly unasked: Chain[] = [];
  private groupSize: number | undefined;

  constructor(private readonly defaultPrecision?: Precision) {}

  /** Reads one clause; `order` sorts its calculations among the request's other parts. */
  read(clause: string, mode: ClauseMode, order: number): { touched: boolean; quantityQuestion: boolean } {
    const { precision, rest } = precisionIn(normalise(clause));
    const touched: Chain[] = [];
    let position = 0;
    const start = (base: Omit<Base, 'kind' | 'then'>, words: string): Chain => {
      this.close();
      const chain: Chain = {
        order: order + position++ / 100,
        base: { words: base.words, expression: base.expression, explicit: base.explicit },
        words: [words],
        steps: [],
        ...(base.money ? { money: base.money } : {}),
        each: false,
        percent: base.percent === true,
        ...(base.per ? { per: base.per } : {}),
        asked: mode !== 'context',
      };
      this.open = chain;
      return chain;
    };
    for (const segment of segmentsOf(rest)) {
      for (const item of itemsOf(segment, this.open?.per)) {
        if (item.kind === 'group') {
          this.groupSize = item.size;
        } else if (item.kind === 'base') {
          const chain = start(item, item.then ? segment : item.words);
          if (item.then) this.change(chain, item.then);
          touched.push(chain);
        } else if (this.open) {
          this.open.words.push(segment);
          this.change(this.open, item.operation);
          if (mode !== 'context') this.open.asked = true;
          touched.push(this.open);
        } else if (item.operation.kind === 'operator' && item.operation.operand !== '') {
          // "plus 3^4" with nothing before it: the operand is the calculation.
          const words = segment.replace(/^\S+(?:\s+by)?\s+/, '');
          touched.push(start({ expression: item.operation.operand, explicit: true, words }, words));
        }
      }
    }
    const quantityQuestion =
      touched.length === 0 && mode === 'ask' && asksForAQuantity(rest) && this.open !== null;
    // "What do I earn in a 4-week month?" after the rate: the question the calculation answers.
    const open = this.open;
    if (open && touched.includes(open) && mode === 'ask' && /\?\s*$/.test(rest) && open.order < order) {
      open.question = rest.trim();
    }
    if (quantityQuestion && this.open) {
      this.open.asked = true;
      this.open.question = rest.trim();
      // "How much does each of us pay?" after "We are 4 friends": the total is shared.
      if (
        !this.open.each &&
        this.groupSize &&
        /\b(?:each|per person|apiece|every(?:one| one)|a head)\b/i.test(rest)
      ) {
        this.change(this.open, {
          kind: 'split',
          ways: this.groupSize,
          words: `split ${this.groupSize} ways`,
        });
      }
      touched.push(this.open);
    }
    const target = touched.length > 0 ? touched : this.open && precision ? [this.open] : [];
    if (precision) for (const chain of target) chain.precision = precision;
    return { touched: touched.length > 0, quantityQuestion };
  }

  /**
   * Every calculation the request asks for, in the order of the words. `askedForAll`: the request asks
   * nothing else, so a calculation its context sets up ("A $40 dinner with a 15% tip.") is what it wants.
   */
  finish(askedForAll = false): { order: number; problem: Problem }[] {
    this.close();
    if (askedForAll) for (const chain of this.unasked) this.emit(chain);
    return [...this.done].sort((a, b) => a.order - b.order);
  }

  private change(chain: Chain, operation: Operation): void {
    const before = chain.steps.at(-1)?.expression ?? chain.base.expression;
    chain.steps.push({ words: operation.words, expression: apply(before, operation) });
    if (operation.kind === 'split') chain.each = true;
    if (operation.kind === 'rate') {
      if (operation.per) chain.per = operation.per;
      else delete chain.per;
    }
  }

  private close(): void {
    const chain = this.open;
    this.open = null;
    if (!chain) return;
    // A bare amount is worked out when something changes it, or rounds it, as a question asks.
    const changed = chain.steps.length > 0 || chain.precision !== undefined;
    if (chain.base.explicit || (chain.asked && changed)) this.emit(chain);
    else if (changed) this.unasked.push(chain);
  }

  private emit(chain: Chain): void {
    const exact = chain.steps.at(-1)?.expression ?? chain.base.expression;
    const precision = chain.precision ?? this.defaultPrecision;
    const problem: Problem = {
      text: joinWords(chain.words),
      ...(chain.question ? { question: chain.question } : {}),
      exact,
      expression: roundedExpression(exact, precision),
      base: chain.base,
      steps: chain.steps,
      ...(chain.money ? { money: chain.money } : {}),
      ...(chain.each ? { each: true } : {}),
      ...(chain.percent ? { percent: true } : {}),
      ...(precision ? { precision } : {}),
    };
    if (parses(problem.expression)) this.done.push({ order: chain.order, problem });
  }
}

function joinWords(words: readonly string[]): string {
  return words
    .map((w) => w.trim().replace(/[.?!:;,]+$/, ''))
    .map((w, i) => (i > 0 && /^[A-Z][a-z]/.test(w) ? w.charAt(0).toLowerCase() + w.slice(1) : w))
    .join(', ');
}

const quantityQuestion = new RegExp(
  [
    String.raw`\bhow much\b`,
    String.raw`\bhow many\b`,
    String.raw`\bwhat(?:'s| is| are| will be| would be| does (?:it|that|this) come to)?\s+(?:the\s+|our\s+|my\s+)?(?:total|cost|price|bill|amount|sum|result|answer|share|final\s+\w+)\b`,
    String.raw`\bwhat (?:do|does|will|would|should|did) (?:i|we|you|they|he|she|each(?: \w+)?|everyone) (?:pay|owe|spend|get|earn|save|make|end up with|have)\b`,
    String.raw`\b(?:each|everyone|every one|per person|apiece)\b[^?]*\b(?:pay|owes?|gets?|spends?|costs?)\b`,
    String.raw`\b(?:pay|owe)s?\b[^?]*\b(?:each|per person|apiece)\b`,
    String.raw`\bcomes? to\b`,
    String.raw`^\s*(?:and\s+)?(?:the\s+)?(?:total|sum|result|answer|final (?:price|amount|cost|total)|each|per person|grand total)\s*\??\s*$`,
  ].join('|'),
  'i',
);

/** "How much does each of us pay?": a question for the number that the context before it sets up. */
export function asksForAQuantity(clause: string): boolean {
  return quantityQuestion.test(clause) && !/\d/.test(clause);
}

// ---- the answer ---------------------------------------------------------------------------------

/** A value as the problem asks to see it: money with its symbol, a percentage, the precision asked. */
export function displayValue(
  value: number,
  problem: Pick<Problem, 'money' | 'percent' | 'precision'>,
): string {
  const { precision } = problem;
  let text: string;
  if (precision?.significant !== undefined) {
    const sig = value.toPrecision(precision.significant);
    text = /e/i.test(sig) ? formatNumber(Number(sig)) : sig;
  } else if (precision?.decimals !== undefined) {
    text = roundTo(value, precision.decimals).toFixed(precision.decimals);
  } else if (precision?.multiple !== undefined) {
    text = formatNumber(value);
  } else if (problem.money) {
    text = roundTo(value, 2).toFixed(2);
  } else {
    text = formatNumber(value);
  }
  if (problem.money) {
    const [whole = '0', fraction] = text.replace(/^-/, '').split('.');
    const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${value < 0 ? '-' : ''}${problem.money}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
  }
  return problem.percent ? `${text}%` : text;
}

/**
 * The answer for one calculation: "22/7 = 3.1429 (to 4 decimal places)." for a lone expression; for
 * one with steps, the result first and then each step with its value and the whole expression.
 */
export function describeProblem(problem: Problem, value: number | null, tool?: string): string {
  if (value === null) {
    return `${problem.exact} has no finite value (a division by zero, or a result too large).`;
  }
  const from = tool ? `from the ${tool} tool` : undefined;
  const shown = displayValue(value, problem);
  if (problem.steps.length === 0) {
    const words = wordsFor(problem);
    const notes = [
      words === problem.exact ? undefined : problem.exact,
      problem.precision?.words,
      from,
    ].filter((n): n is string => n !== undefined);
    return `${words === problem.exact ? words : capitalise(words)} = ${shown}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}.`;
  }
  const lead = capitalise(
    problem.text.replace(
      /^(?:what(?:'s| is| are| would be| will be)|compute|calculate|work out|how much is|find|evaluate|tell me)\s+/i,
      '',
    ),
  );
  const step = (expression: string) =>
    displayValue(evaluate(expression) ?? NaN, { ...problem, precision: undefined });
  const base = problem.base.explicit
    ? `${problem.base.words} = ${step(problem.base.expression)}`
    : problem.base.words;
  const steps = problem.steps.map((s) => `${s.words} → ${step(s.expression)}`);
  const exactValue = evaluate(problem.exact);
  const raw = exactValue === null ? formatNumber(value) : formatNumber(exactValue);
  const notes = [problem.precision?.words, from].filter((n): n is string => n !== undefined);
  const answer = `${shown}${problem.each ? ' each' : ''}`;
  return (
    (problem.question ? `${endQuestion(problem.question)} ${answer}. ` : `${lead}: ${answer}. `) +
    `Step by step: ${[cleanBaseWords(base), ...steps].join(', ')}; ${problem.exact} = ${raw}` +
    `${notes.length > 0 ? ` (${notes.join(', ')})` : ''}.`
  );
}

/**
 * A lone calculation as the request put it ("15% of 240", "the square root of 81 plus 7 times 3"), or
 * its expression when the words add nothing or say more than the calculation.
 */
export function wordsFor(problem: Pick<Problem, 'exact' | 'base'>): string {
  const words = cleanBaseWords(problem.base.words)
    .replace(/[.?!:;,]+$/, '')
    .trim();
  const same = (a: string) => a.toLowerCase().replace(/[\s()]/g, '');
  if (!problem.base.explicit || words.length > 60 || same(words) === same(problem.exact))
    return problem.exact;
  if (!/\d/.test(words) || /[=]/.test(words)) return problem.exact;
  return words;
}

function cleanBaseWords(words: string): string {
  return words.replace(
    /^(?:what(?:'s| is| are| would be| will be)|compute|calculate|work out|how much is|find|evaluate|tell me)\s+/i,
    '',
  );
}

function endQuestion(text: string): string {
  const trimmed = capitalise(text.trim().replace(/[.?!]+$/, ''));
  return `${trimmed}?`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
