/**
 * Finds and evaluates arithmetic in prose, so the emulated model can pass "12 * 7 + 5" to a calculator
 * tool and state the result after it. A small recursive-descent parser: no eval, no dependencies.
 */

const candidatePattern = /[-(]*\d[\d\s.,+\-*/×÷^%()x]*[\d)]/g;

/** The longest arithmetic expression in the text (with at least one operator), normalised; or null. */
export function findExpression(text: string): string | null {
  // URLs and dates are full of digits and slashes that are not arithmetic.
  const cleaned = text
    .replace(/https?:\/\/\S+/g, ' ')
    .replace(/\b\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?\b/g, ' ')
    .replace(/\[\w+\]/g, ' ');
  let best: string | null = null;
  for (const match of cleaned.matchAll(candidatePattern)) {
    const expression = normalise(match[0]);
    if (!/\d\s*[-+*/^%]\s*[-(]*\s*\d/.test(expression)) continue;
    if (evaluate(expression) === null) continue;
    if (!best || expression.length > best.length) best = expression;
  }
  return best;
}

function normalise(raw: string): string {
  let text = raw
    .replace(/×|(?<=\d\s*)x(?=\s*[\d(])/g, '*')
    .replace(/÷/g, '/')
    .replace(/(\d),(\d{3})\b/g, '$1$2')
    .replace(/\s+/g, ' ')
    .trim();
  // A sentence's trailing "(" or unbalanced ")" is not part of the expression.
  while (balance(text) > 0 && text.startsWith('(')) text = text.slice(1).trim();
  while (balance(text) < 0 && text.endsWith(')')) text = text.slice(0, -1).trim();
  return text;
}

function balance(text: string): number {
  let depth = 0;
  for (const c of text) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
  return depth;
}

/** The value of an expression with + - * / % ^ and parentheses; null when it is not one, or not finite. */
export function evaluate(expression: string): number | null {
  const tokens = expression.match(/\d+(?:\.\d+)?|[-+*/%^()]|\S/g) ?? [];
  let position = 0;
  const peek = () => tokens[position];
  const next = () => tokens[position++];

  function primary(): number {
    const token = next();
    if (token === '(') {
      const value = sum();
      if (next() !== ')') throw new Error('unbalanced');
      return value;
    }
    if (token === '-') return -primary();
    if (token === '+') return primary();
    if (token !== undefined && /^\d/.test(token)) return Number(token);
    throw new Error('unexpected');
  }
  function power(): number {
    const base = primary();
    if (peek() === '^') {
      next();
      return base ** power();
    }
    return base;
  }
  function product(): number {
    let value = power();
    for (let op = peek(); op === '*' || op === '/' || op === '%'; op = peek()) {
      next();
      const right = power();
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
    if (position !== tokens.length || !Number.isFinite(value)) return null;
    return value;
  } catch {
    return null;
  }
}

/** A number as a person would write it: no float noise such as 0.30000000000000004. */
export function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}
