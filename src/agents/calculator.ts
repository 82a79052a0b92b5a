/**
 * A small arithmetic evaluator for the `calculator` tool. The expression comes from a model, so it is
 * parsed by hand (recursive descent) and never reaches eval or new Function: only numbers, the operators
 * + - * / % ^ (or **), parentheses, the constants pi and e, and the functions listed in `functions`.
 *
 * Precedence, lowest first: + -, then * / %, then unary minus, then ^ (right-associative), so
 * -2^2 = -4 and 2^3^2 = 512, as in mathematics.
 */

export const maxExpressionLength = 500;
/** Nesting deeper than this is not arithmetic a person wrote; it only risks the stack. */
const maxDepth = 64;

export class CalculatorError extends Error {
  override readonly name = 'CalculatorError';
  constructor(
    message: string,
    /** 0-based character offset in the expression, when the problem has one. */
    readonly position?: number,
  ) {
    super(position === undefined ? message : `${message} at position ${position + 1}`);
  }
}

type Fn = { arity: [min: number, max: number]; apply: (args: number[], at: number) => number };

const unary = (f: (x: number) => number): Fn => ({ arity: [1, 1], apply: ([x]) => f(x ?? NaN) });

const functions: Readonly<Record<string, Fn>> = {
  sqrt: {
    arity: [1, 1],
    apply: ([x = NaN], at) => {
      if (x < 0) throw new CalculatorError(`sqrt of a negative number (${x})`, at);
      return Math.sqrt(x);
    },
  },
  abs: unary(Math.abs),
  floor: unary(Math.floor),
  ceil: unary(Math.ceil),
  exp: unary(Math.exp),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tan: unary(Math.tan),
  ln: {
    arity: [1, 1],
    apply: ([x = NaN], at) => {
      if (x <= 0) throw new CalculatorError(`ln of a number that is not positive (${x})`, at);
      return Math.log(x);
    },
  },
  log10: {
    arity: [1, 1],
    apply: ([x = NaN], at) => {
      if (x <= 0) throw new CalculatorError(`log10 of a number that is not positive (${x})`, at);
      return Math.log10(x);
    },
  },
  round: {
    // round(x) or round(x, digits); half away from zero, as people expect for money.
    arity: [1, 2],
    apply: ([x = NaN, digits = 0], at) => {
      if (!Number.isInteger(digits) || digits < 0 || digits > 15) {
        throw new CalculatorError(`round digits must be a whole number from 0 to 15 (got ${digits})`, at);
      }
      const factor = 10 ** digits;
      return (Math.sign(x) * Math.round(Math.abs(x) * factor)) / factor;
    },
  },
  min: { arity: [1, 100], apply: (args) => Math.min(...args) },
  max: { arity: [1, 100], apply: (args) => Math.max(...args) },
  pow: { arity: [2, 2], apply: ([x = NaN, y = NaN]) => x ** y },
};

const constants: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E };

export const calculatorFunctionNames: readonly string[] = Object.keys(functions);

type Token =
  | { kind: 'number'; value: number; at: number }
  | { kind: 'name'; value: string; at: number }
  | { kind: 'op'; value: '+' | '-' | '*' | '/' | '%' | '^' | '(' | ')' | ','; at: number }
  | { kind: 'end'; at: number };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] ?? '';
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const number = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (number) {
      tokens.push({ kind: 'number', value: Number(number[0]), at: i });
      i += number[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
    if (name) {
      tokens.push({ kind: 'name', value: name[0].toLowerCase(), at: i });
      i += name[0].length;
      continue;
    }
    if (ch === '*' && source[i + 1] === '*') {
      tokens.push({ kind: 'op', value: '^', at: i });
      i += 2;
      continue;
    }
    if ('+-*/%^(),'.includes(ch)) {
      tokens.push({ kind: 'op', value: ch as '+', at: i });
      i++;
      continue;
    }
    throw new CalculatorError(`unexpected character "${ch}"`, i);
  }
  tokens.push({ kind: 'end', at: source.length });
  return tokens;
}

class Parser {
  private index = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    const value = this.expression();
    const next = this.peek();
    if (next.kind !== 'end') throw new CalculatorError(`unexpected ${describe(next)}`, next.at);
    return value;
  }

  private peek(): Token {
    // The token list always ends with 'end', and the parser never reads past it.
    return this.tokens[this.index] ?? { kind: 'end', at: 0 };
  }

  private take(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private isOp(value: string): boolean {
    const token = this.peek();
    return token.kind === 'op' && token.value === value;
  }

  private expect(value: string, context: string): void {
    const token = this.take();
    if (token.kind !== 'op' || token.value !== value) {
      throw new CalculatorError(`expected "${value}" ${context} but found ${describe(token)}`, token.at);
    }
  }

  private nested<T>(at: number, parse: () => T): T {
    if (++this.depth > maxDepth)
      throw new CalculatorError(`expression nested more than ${maxDepth} deep`, at);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private expression(): number {
    let value = this.term();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.take();
      const right = this.term();
      value = op.kind === 'op' && op.value === '+' ? value + right : value - right;
    }
    return value;
  }

  private term(): number {
    let value = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = this.take();
      const right = this.unary();
      if (op.kind !== 'op') break;
      if (op.value === '*') value *= right;
      else if (right === 0)
        throw new CalculatorError(op.value === '/' ? 'division by zero' : 'modulo by zero', op.at);
      else value = op.value === '/' ? value / right : value % right;
    }
    return value;
  }

  private unary(): number {
    const token = this.peek();
    if (this.isOp('-') || this.isOp('+')) {
      this.take();
      const value = this.nested(token.at, () => this.unary());
      return token.kind === 'op' && token.value === '-' ? -value : value;
    }
    return this.power();
  }

  private power(): number {
    const base = this.primary();
    if (!this.isOp('^')) return base;
    const op = this.take();
    // The exponent may carry its own sign (2^-1) and is right-associative (2^3^2 = 2^9).
    const exponent = this.nested(op.at, () => this.unary());
    const value = base ** exponent;
    if (Number.isNaN(value)) throw new CalculatorError(`${base}^${exponent} is not a real number`, op.at);
    return value;
  }

  private primary(): number {
    const token = this.take();
    if (token.kind === 'number') return token.value;
    if (token.kind === 'op' && token.value === '(') {
      const value = this.nested(token.at, () => this.expression());
      this.expect(')', 'to close the parenthesis');
      return value;
    }
    if (token.kind === 'name') {
      // Own properties only: a name like "constructor" must not reach Object.prototype.
      const fn = Object.hasOwn(functions, token.value) ? functions[token.value] : undefined;
      if (fn) return this.call(token.value, fn, token.at);
      const constant = Object.hasOwn(constants, token.value) ? constants[token.value] : undefined;
      if (constant !== undefined) return constant;
      throw new CalculatorError(
        `unknown name "${token.value}"; use numbers, pi, e and the functions ${calculatorFunctionNames.join(', ')}`,
        token.at,
      );
    }
    throw new CalculatorError(
      token.kind === 'end'
        ? 'the expression ends where a number was expected'
        : `unexpected ${describe(token)}`,
      token.at,
    );
  }

  private call(name: string, fn: Fn, at: number): number {
    this.expect('(', `after ${name}`);
    const args: number[] = [];
    if (!this.isOp(')')) {
      for (;;) {
        args.push(this.nested(at, () => this.expression()));
        if (!this.isOp(',')) break;
        this.take();
      }
    }
    this.expect(')', `to close ${name}(`);
    const [min, max] = fn.arity;
    if (args.length < min || args.length > max) {
      const expected = min === max ? `${min}` : max >= 100 ? `at least ${min}` : `${min} or ${max}`;
      throw new CalculatorError(
        `${name} takes ${expected} argument${max === 1 ? '' : 's'}, got ${args.length}`,
        at,
      );
    }
    return fn.apply(args, at);
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the expression';
    case 'number':
      return `number ${token.value}`;
    case 'name':
      return `"${token.value}"`;
    case 'op':
      return `"${token.value}"`;
  }
}

/** Evaluates an arithmetic expression; throws `CalculatorError` naming the problem and where it is. */
export function evaluateExpression(expression: string): number {
  if (expression.length > maxExpressionLength) {
    throw new CalculatorError(
      `expression is ${expression.length} characters long; the limit is ${maxExpressionLength}: split the calculation into steps`,
    );
  }
  if (expression.trim() === '') throw new CalculatorError('expression is empty');
  const value = new Parser(tokenize(expression)).parse();
  if (!Number.isFinite(value)) throw new CalculatorError(`the result is not a finite number (${value})`);
  return value;
}

/** Prints a result without binary floating-point noise: 0.1 + 0.2 gives "0.3", not "0.30000000000000004". */
export function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(15));
  return Object.is(rounded, -0) ? '0' : String(rounded);
}
