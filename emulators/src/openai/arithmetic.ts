/**
 * Finds and evaluates arithmetic in prose, so the emulated model can pass "2^10 + sqrt(144)" to a
 * calculator tool and state the result after it. Prose such as "15% of 240" or "the square root of 144"
 * becomes the calculator's syntax first ("15 / 100 * 240", "sqrt(144)"), so a tool argument always
 * carries the whole expression. A small recursive-descent parser with the grammar of the app's calculator
 * tool (src/agents/calculator.ts): + - * / % ^, parentheses, unary minus below ^ (-2^2 = -4), functions
 * of one or more arguments (round(x, digits), min, max), pi and e; no eval. A library such as mathjs
 * would read "%" and "^" differently from the tool the emulator asks, so it keeps its own small parser.
 */

type Fn = { arity: [min: number, max: number]; apply: (args: number[]) => number };
const one = (f: (x: number) => number): Fn => ({ arity: [1, 1], apply: ([x = NaN]) => f(x) });
const functions: Record<string, Fn> = {
  sqrt: one((x) => (x < 0 ? NaN : Math.sqrt(x))),
  abs: one(Math.abs),
  floor: one(Math.floor),
  ceil: one(Math.ceil),
  exp: one(Math.exp),
  ln: one((x) => (x <= 0 ? NaN : Math.log(x))),
  log10: one((x) => (x <= 0 ? NaN : Math.log10(x))),
  sin: one(Math.sin),
  cos: one(Math.cos),
  tan: one(Math.tan),
  // Half away from zero, to a number of decimal places, as the calculator tool rounds money.
  round: {
    arity: [1, 2],
    apply: ([x = NaN, digits = 0]) => {
      if (!Number.isInteger(digits) || digits < 0 || digits > 15) return NaN;
      return roundTo(x, digits);
    },
  },
  min: { arity: [1, 100], apply: (args) => Math.min(...args) },
  max: { arity: [1, 100], apply: (args) => Math.max(...args) },
  pow: { arity: [2, 2], apply: ([x = NaN, y = NaN]) => x ** y },
};
const isFunctionName = (name: string): boolean => Object.hasOwn(functions, name);

/** x rounded half away from zero to `digits` decimal places, without binary noise (1.005 -> 1.01). */
export function roundTo(x: number, digits: number): number {
  const factor = 10 ** digits;
  const scaled = Number((Math.abs(x) * factor).toPrecision(15));
  return (Math.sign(x) * Math.round(scaled)) / factor;
}

const number = String.raw`\d+(?:\.\d+)?`;
/** "3, 5 and 10" or "3 and 5": the numbers a sum, product or average is taken of. */
const numberList = String.raw`${number}(?:\s*,\s*${number})*\s*,?\s+and\s+${number}`;
const fractions: Record<string, string> = {
  half: '1 / 2',
  third: '1 / 3',
  quarter: '1 / 4',
  fifth: '1 / 5',
  tenth: '1 / 10',
  'two thirds': '2 / 3',
  'three quarters': '3 / 4',
};

/** Prose arithmetic in the calculator's syntax; text that is not arithmetic is left alone. */
export function toCalculatorSyntax(text: string): string {
  let out = text
    // URLs, dates and times are full of digits, slashes and hyphens that are not arithmetic.
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\b\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?\b/g, ' ')
    .replace(/\[\w+\]/g, ' ')
    .replace(/(\d),(\d{3})\b/g, '$1$2')
    .replace(/(\d),(\d{3})\b/g, '$1$2')
    .replace(/\*\*/g, '^')
    .replace(/×/g, '*')
    .replace(/÷/g, '/')
    .replace(/−/g, '-')
    .replace(new RegExp(`√\\s*(${number})`, 'g'), 'sqrt($1)')
    .replace(new RegExp(`\\b(?:the\\s+)?square root of\\s+(${number})`, 'gi'), 'sqrt($1)');
  // "the sum of 3, 5 and 10", "the average of 4 and 8": the list becomes one expression.
  out = out.replace(
    new RegExp(`\\b(?:the\\s+)?(sum|total|product|average|mean)\\s+of\\s+(${numberList})`, 'gi'),
    (_all, what: string, list: string) => {
      const items = list.split(/\s*,\s*(?:and\s+)?|\s+and\s+/).filter((i) => i !== '');
      const kind = what.toLowerCase();
      if (kind === 'product') return `(${items.join(' * ')})`;
      if (kind === 'average' || kind === 'mean') return `((${items.join(' + ')}) / ${items.length})`;
      return `(${items.join(' + ')})`;
    },
  );
  out = out
    .replace(
      new RegExp(`\\b(?:the\\s+)?difference between\\s+(${number})\\s+and\\s+(${number})`, 'gi'),
      'abs($1 - $2)',
    )
    // "what percent of 180 is 45", "45 is what percentage of 180", "45 as a percentage of 180"
    .replace(
      new RegExp(
        `\\bwhat\\s+(?:percent|percentage|%)\\s+of\\s+(${number})\\s+(?:is|are)\\s+(${number})`,
        'gi',
      ),
      '($2 / $1 * 100)',
    )
    .replace(
      new RegExp(
        `(${number})\\s+(?:is\\s+what\\s+(?:percent|percentage|%)|as\\s+an?\\s+(?:percent|percentage))\\s+of\\s+(${number})`,
        'gi',
      ),
      '($1 / $2 * 100)',
    )
    .replace(
      new RegExp(
        `\\bpercent(?:age)?\\s+(?:change|increase|decrease|difference)\\s+from\\s+(${number})\\s+to\\s+(${number})`,
        'gi',
      ),
      '(($2 - $1) / $1 * 100)',
    )
    // "increase 80 by 15%", "80 reduced by 20%", "15% more than 80"
    .replace(
      new RegExp(
        `\\b(increase|raise|grow|decrease|reduce|lower|cut|discount)\\s+(${number})\\s+by\\s+(${number})\\s*(?:%|percent)`,
        'gi',
      ),
      (_all, verb: string, base: string, rate: string) =>
        `(${base} * (1 ${/^(increase|raise|grow)$/i.test(verb) ? '+' : '-'} ${rate} / 100))`,
    )
    .replace(
      new RegExp(
        `(${number})\\s+(increased|raised|grown|decreased|reduced|lowered|cut|discounted)\\s+by\\s+(${number})\\s*(?:%|percent)`,
        'gi',
      ),
      (_all, base: string, verb: string, rate: string) =>
        `(${base} * (1 ${/^(increased|raised|grown)$/i.test(verb) ? '+' : '-'} ${rate} / 100))`,
    )
    .replace(
      new RegExp(`(${number})\\s*(?:%|percent)\\s+(more|less|higher|lower)\\s+than\\s+(${number})`, 'gi'),
      (_all, rate: string, way: string, base: string) =>
        `(${base} * (1 ${/^(more|higher)$/i.test(way) ? '+' : '-'} ${rate} / 100))`,
    )
    .replace(new RegExp(`(${number})\\s*(?:%|percent)\\s+of\\s+(${number})`, 'gi'), '($1 / 100 * $2)')
    // "100 minus 15%", "200 + 10%": a percentage of the number itself, not the bare rate.
    .replace(
      new RegExp(`(${number})\\s*(\\+|-|plus|minus)\\s*(${number})\\s*(?:%|percent\\b)`, 'gi'),
      (_all, base: string, op: string, rate: string) =>
        `(${base} * (1 ${op === '+' || op.toLowerCase() === 'plus' ? '+' : '-'} ${rate} / 100))`,
    );
  for (const [words, fraction] of Object.entries(fractions)) {
    out = out.replace(
      new RegExp(`\\b(?:an?\\s+|one\\s+)?${words}s?\\s+of\\s+(${number})`, 'gi'),
      `(${fraction} * $1)`,
    );
  }
  return out
    .replace(new RegExp(`\\b(?:double|twice)\\s+(${number})`, 'gi'), '(2 * $1)')
    .replace(new RegExp(`\\btriple\\s+(${number})`, 'gi'), '(3 * $1)')
    .replace(new RegExp(`(${number})\\s+to the power of\\s+(-?${number})`, 'gi'), '$1^$2')
    .replace(new RegExp(`(${number})\\s+squared\\b`, 'gi'), '$1^2')
    .replace(new RegExp(`(${number})\\s+cubed\\b`, 'gi'), '$1^3')
    .replace(/(?<=[\d)]\s*)(?:x|times|multiplied by)(?=\s*[\d(])/gi, '*')
    .replace(/(?<=[\d)]\s*)divided by(?=\s*[\d(])/gi, '/')
    .replace(/(?<=[\d)]\s*)plus(?=\s*[\d(])/gi, '+')
    .replace(/(?<=[\d)]\s*)minus(?=\s*[\d(])/gi, '-');
}

const tokenPattern = new RegExp(`${number}|\\.\\d+|[a-z][a-z0-9]*|[-+*/%^(),]|\\s+|.`, 'gi');

/**
 * Every arithmetic expression in the text, in order, each once; each parses and has an operator or a
 * function. A comma outside parentheses separates expressions ("12*7, 15% of 240 and 2^10" holds
 * three); inside them it separates a function's arguments (round(22 / 7, 4)).
 */
export function findExpressions(text: string): string[] {
  const tokens = toCalculatorSyntax(text).match(tokenPattern) ?? [];
  const runs: string[][] = [[]];
  for (const token of tokens) {
    const usable =
      /^\d/.test(token) ||
      /^[-+*/%^(),]$/.test(token) ||
      /^\s+$/.test(token) ||
      isFunctionName(token.toLowerCase()) ||
      token.toLowerCase() === 'pi';
    if (usable) runs.at(-1)?.push(token.toLowerCase());
    else runs.push([]);
  }
  const found: string[] = [];
  for (const run of runs) {
    for (const piece of splitTopLevel(run.join(''))) {
      const expression = tidy(piece);
      if (expression === null || found.includes(expression)) continue;
      found.push(expression);
    }
  }
  return found;
}

/** The text cut at the commas that are outside every parenthesis. */
function splitTopLevel(text: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      pieces.push(text.slice(start, i));
      start = i + 1;
    }
  }
  pieces.push(text.slice(start));
  return pieces;
}

/** The longest arithmetic expression in the text, in the calculator's syntax; or null. */
export function findExpression(text: string): string | null {
  let best: string | null = null;
  for (const expression of findExpressions(text))
    if (!best || expression.length > best.length) best = expression;
  return best;
}

/** A run of arithmetic tokens cut to the expression it holds, or null when it holds none. */
function tidy(raw: string): string | null {
  let text = raw.replace(/\s+/g, ' ').trim();
  // A sentence's trailing operators and unbalanced parentheses are not part of the expression.
  for (let changed = true; changed;) {
    const before = text;
    text = text.replace(/[-+*/%^,(\s]+$/, '').replace(/^[+*/%^,)\s]+/, '');
    while (balance(text) > 0 && text.startsWith('(')) text = text.slice(1).trim();
    while (balance(text) < 0 && text.endsWith(')')) text = text.slice(0, -1).trim();
    changed = text !== before;
  }
  // "(15 / 100 * 240)" reads better without the parentheses that only kept it together in prose.
  while (wrapped(text)) text = text.slice(1, -1).trim();
  const hasFunction = Object.keys(functions).some((name) => text.includes(`${name}(`));
  const operators = text.replace(/^\s*-/, '').match(/\s*[-+*/%^]\s*/g) ?? [];
  // "2-3 weeks" is a range, not a subtraction: a bare hyphen between numbers is not enough.
  const arithmetic = operators.some((op) => op.trim() !== '-' || op.length > 1);
  if (!hasFunction && !arithmetic) return null;
  // "100 / 0" is arithmetic without a value: found, so that the answer can say why it has none.
  if (!/\d/.test(text) || !parses(text)) return null;
  return text;
}

/** Whether the first "(" closes at the very end: "(1 + 2)" yes, "(1 + 2) * (3)" no. */
function wrapped(text: string): boolean {
  if (!text.startsWith('(')) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    depth += text[i] === '(' ? 1 : text[i] === ')' ? -1 : 0;
    if (depth === 0) return i === text.length - 1;
  }
  return false;
}

function balance(text: string): number {
  let depth = 0;
  for (const c of text) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
  return depth;
}

/** Whether the text is an expression in the calculator's syntax, whatever its value. */
export function parses(expression: string): boolean {
  return valueOf(expression) !== 'syntax';
}

/** The value of an expression in the calculator's syntax; null when it is not one, or not finite. */
export function evaluate(expression: string): number | null {
  const value = valueOf(expression);
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const noValue = new Error('no value');
const constants: Record<string, number> = { pi: Math.PI, e: Math.E };

function valueOf(expression: string): number | 'syntax' | 'no value' {
  const tokens = expression.match(/\d+(?:\.\d+)?|\.\d+|[a-z][a-z0-9]*|[-+*/%^(),]|\S/gi) ?? [];
  let position = 0;
  const peek = () => tokens[position];
  const next = () => tokens[position++];

  function primary(): number {
    const token = next()?.toLowerCase();
    if (token === '(') {
      const value = sum();
      if (next() !== ')') throw new Error('unbalanced');
      return value;
    }
    if (token !== undefined && Object.hasOwn(constants, token)) return constants[token] ?? NaN;
    const fn = token !== undefined && isFunctionName(token) ? functions[token] : undefined;
    if (fn) {
      if (next() !== '(') throw new Error('call');
      const args = [sum()];
      while (peek() === ',') {
        next();
        args.push(sum());
      }
      if (next() !== ')') throw new Error('unbalanced');
      if (args.length < fn.arity[0] || args.length > fn.arity[1]) throw new Error('arity');
      const value = fn.apply(args);
      if (Number.isNaN(value)) throw noValue;
      return value;
    }
    if (token !== undefined && /^\.?\d/.test(token)) return Number(token);
    throw new Error('unexpected');
  }
  function power(): number {
    const base = primary();
    if (peek() === '^') {
      next();
      return base ** unary();
    }
    return base;
  }
  function unary(): number {
    if (peek() === '-') {
      next();
      return -unary();
    }
    if (peek() === '+') {
      next();
      return unary();
    }
    return power();
  }
  function product(): number {
    let value = unary();
    for (let op = peek(); op === '*' || op === '/' || op === '%'; op = peek()) {
      next();
      const right = unary();
      if (right === 0 && op !== '*') throw noValue;
      value = op === '*' ? value * right : op === '/' ? value / right : value % right;
    }
    return value;
  }
  function sum(): number {
    let value = product();
    for (let op = peek(); op === '+' || op === '-'; op = peek()) {
      next();
      const right = product();
      value = op === '+' ? value + right : value - right;
    }
    return value;
  }

  try {
    const value = sum();
    if (position !== tokens.length) return 'syntax';
    return Number.isFinite(value) ? value : 'no value';
  } catch (error) {
    return error === noValue ? 'no value' : 'syntax';
  }
}

/** A number as a person would write it: no float noise such as 0.30000000000000004. */
export function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(12));
  return Object.is(rounded, -0) ? '0' : String(rounded);
}
