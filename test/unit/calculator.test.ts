import {
  CalculatorError,
  evaluateExpression,
  formatNumber,
  maxExpressionLength,
} from '../../src/agents/calculator';

describe('evaluateExpression', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 / 4', 2.5],
    ['10 % 4', 2],
    ['2 ^ 10', 1024],
    ['2 ** 10', 1024],
    ['2 ^ 3 ^ 2', 512],
    ['-2 ^ 2', -4],
    ['(-2) ^ 2', 4],
    ['2 ^ -1', 0.5],
    ['--3', 3],
    ['-(4 - 6)', 2],
    ['+5', 5],
    ['.5 + 1.25', 1.75],
    ['1.5e3', 1500],
    ['sqrt(16) + abs(-3)', 7],
    ['round(2.5)', 3],
    ['round(-2.5)', -3],
    ['round(3.14159, 2)', 3.14],
    ['min(4, 2, 8) + max(1, 9)', 11],
    ['floor(2.7) + ceil(2.1)', 5],
    ['pow(2, 5)', 32],
    ['log10(1000)', 3],
    ['ln(e)', 1],
    ['cos(0)', 1],
    ['2 * pi', 2 * Math.PI],
    ['SQRT(9)', 3],
    ['  7  ', 7],
  ])('%s = %d', (expression, expected) => {
    expect(evaluateExpression(expression)).toBeCloseTo(expected, 12);
  });

  it.each([
    ['1 / 0', /division by zero at position 3/],
    ['5 % (2 - 2)', /modulo by zero/],
    ['2 +', /ends where a number was expected/],
    ['(1 + 2', /expected "\)" to close the parenthesis/],
    ['1 + 2)', /unexpected "\)" at position 6/],
    ['2 3', /unexpected number 3/],
    ['1 & 2', /unexpected character "&" at position 3/],
    ['foo(2)', /unknown name "foo"/],
    ['sqrt 4', /expected "\(" after sqrt/],
    ['sqrt(-1)', /sqrt of a negative number/],
    ['ln(0)', /ln of a number that is not positive/],
    ['round(1, 2, 3)', /round takes 1 or 2 arguments, got 3/],
    ['pow(2)', /pow takes 2 arguments, got 1/],
    ['(-8) ^ 0.5', /is not a real number/],
    ['10 ^ 400', /not a finite number/],
    ['', /empty/],
    ['process.exit(1)', /unexpected character "\."|unknown name/],
    ['constructor', /unknown name "constructor"/],
  ])('%s is refused with a clear error', (expression, message) => {
    expect(() => evaluateExpression(expression)).toThrow(CalculatorError);
    expect(() => evaluateExpression(expression)).toThrow(message);
  });

  it('refuses expressions longer than the limit, saying what to do', () => {
    const long = '1+'.repeat(maxExpressionLength) + '1';
    expect(() => evaluateExpression(long)).toThrow(
      /characters long; the limit is 500: split the calculation/,
    );
  });

  it('refuses nesting deep enough to threaten the stack', () => {
    expect(() => evaluateExpression('('.repeat(200) + '1' + ')'.repeat(200))).toThrow(/nested more than/);
    expect(() => evaluateExpression('-'.repeat(400) + '1')).toThrow(/nested more than/);
  });
});

describe('formatNumber', () => {
  it('hides binary floating-point noise', () => {
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(1e21)).toBe('1e+21');
    expect(formatNumber(1 / 3)).toBe('0.333333333333333');
  });
});
