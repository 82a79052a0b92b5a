/**
 * Finds and evaluates arithmetic in prose, so the emulated model can pass "2^10 + sqrt(144)" to a
 * calculator tool and state the result after it. Prose such as "15% of 240" or "the square root of 144"
 * becomes the calculator's syntax first ("15 / 100 * 240", "sqrt(144)"), so a tool argument always
 * carries the whole expression. A small recursive-descent parser with the calculator tool's grammar:
 * + - * / % ^, parentheses, unary minus below ^ (-2^2 = -4), a few functions and pi; no eval.
 */

const functionNames = ['sqrt', 'abs', 'floor', 'ceil', 'exp', 'ln', 'log10', 'round'] as const;
type FunctionName = (typeof functionNames)[number];
const functions: Record<FunctionName, (x: number) => number> = {
  sqrt: (x) => (x < 0 ? NaN : Math.sqrt(x)),
  abs: Math.abs,
  floor: Math.floor,
  ceil: Math.ceil,
  exp: Math.exp,
  ln: (x) => (x <= 0 ? NaN : Math.log(x)),
  log10: (x) => (x <= 0 ? NaN : Math.log10(x)),
  round: (x) => Math.sign(x) * Math.round(Math.abs(x)),
};
const isFunctionName = (name: string): name is FunctionName =>
  (functionNames as readonly string[]).includes(name);

const number = String.raw`\d+(?:\.\d+)?`;

/** Prose arithmetic in the calculator's syntax; text that is not arithmetic is left alone. */
export function toCalculatorSyntax(text: string): string {
  return (
    text
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
      .replace(new RegExp(`\\b(?:the\\s+)?square root of\\s+(${number})`, 'gi'), 'sqrt($1)')
      .replace(new RegExp(`(${number})\\s*(?:%|percent)\\s+of\\s+(${number})`, 'gi'), '($1 / 100 * $2)')
      .replace(new RegExp(`(${number})\\s+to the power of\\s+(-?${number})`, 'gi'), '$1^$2')
      .replace(new RegExp(`(${number})\\s+squared\\b`, 'gi'), '$1^2')
      .replace(new RegExp(`(${number})\\s+cubed\\b`, 'gi'), '$1^3')
      .replace(/(?<=[\d)]\s*)(?:x|times|multiplied by)(?=\s*[\d(])/gi, '*')
      .replace(/(?<=[\d)]\s*)divided by(?=\s*[\d(])/gi, '/')
      .replace(/(?<=[\d)]\s*)plus(?=\s*[\d(])/gi, '+')
      .replace(/(?<=[\d)]\s*)minus(?=\s*[\d(])/gi, '-')
  );
}

const tokenPattern = new RegExp(`${number}|\\.\\d+|[a-z][a-z0-9]*|[-+*/%^(),]|\\s+|.`, 'gi');

/** Every arithmetic expression in the text, in order, each once; each evaluates and has an operator. */
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
    const expression = tidy(run.join(''));
    if (expression === null || found.includes(expression)) continue;
    found.push(expression);
  }
  return found;
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
  // A sentence's commas, trailing operators and unbalanced parentheses are not part of the expression.
  text = text.replace(/^[,\s]+|[,\s]+$/g, '');
  for (let changed = true; changed;) {
    const before = text;
    text = text.replace(/[-+*/%^,(\s]+$/, '').replace(/^[+*/%^,)\s]+/, '');
    while (balance(text) > 0 && text.startsWith('(')) text = text.slice(1).trim();
    while (balance(text) < 0 && text.endsWith(')')) text = text.slice(0, -1).trim();
    changed = text !== before;
  }
  if (text.includes(',')) return null;
  // "(15 / 100 * 240)" reads better without the parentheses that only kept it together in prose.
  while (wrapped(text)) text = text.slice(1, -1).trim();
  const hasFunction = functionNames.some((name) => text.includes(`${name}(`));
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
    if (token === 'pi') return Math.PI;
    if (token !== undefined && isFunctionName(token)) {
      if (next() !== '(') throw new Error('call');
      const value = functions[token](sum());
      if (next() !== ')') throw new Error('unbalanced');
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
