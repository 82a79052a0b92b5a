import {
  duplicateKeyMessage,
  duplicateKeys,
  jsonDepth,
  maxJsonIssues,
  textProblem,
  unsafeValues,
} from '../../src/lib/json';

describe('duplicateKeys', () => {
  it('finds nothing in JSON whose objects name each key once', () => {
    expect(duplicateKeys('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toEqual([]);
  });

  it('names a key given twice at the top level', () => {
    expect(duplicateKeys('{"decision":"approve","decision":"reject"}')).toEqual([
      { path: ['decision'], message: duplicateKeyMessage },
    ]);
  });

  it('names a repeated key inside nested objects and arrays by its full path', () => {
    const text = '{"approval":{"required":true,"required":false},"list":[1,{"x":1,"x":2}]}';
    expect(duplicateKeys(text).map((i) => i.path)).toEqual([
      ['approval', 'required'],
      ['list', 1, 'x'],
    ]);
  });

  it('reports a key given three times once', () => {
    expect(duplicateKeys('{"a":1,"a":2,"a":3}')).toHaveLength(1);
  });

  it('compares keys after unescaping, and is not fooled by quotes, braces or commas inside strings', () => {
    expect(duplicateKeys('{"a":"x\\",\\"a\\":{","\\u0061":2}').map((i) => i.path)).toEqual([['a']]);
    expect(duplicateKeys('{"a":"}","b":"{\\"b\\":1,"}')).toEqual([]);
  });

  it('treats __proto__ like any other key', () => {
    expect(duplicateKeys('{"__proto__":{},"__proto__":{}}').map((i) => i.path)).toEqual([['__proto__']]);
  });

  it('walks 100000 levels of nesting without overflowing the stack', () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    expect(duplicateKeys(deep)).toEqual([]);
  });
});

describe('textProblem', () => {
  it.each(['hello', '', 'emoji 👍 and 👨‍👩‍👧', 'עברית \u200f mixed', 'tab\tnew\nline'])('accepts %j', (text) => {
    expect(textProblem(text)).toBeUndefined();
  });

  it.each([
    ['a lone high surrogate', 'a\ud800b', /unpaired surrogate/],
    ['a lone low surrogate', '\udc00', /unpaired surrogate/],
    ['a high surrogate at the end', 'ab\ud83d', /unpaired surrogate/],
    ['a NUL', 'a\u0000b', /NUL/],
  ])('refuses %s', (_case, text, says) => {
    expect(textProblem(text)).toMatch(says);
  });
});

describe('unsafeValues', () => {
  it('finds nothing in ordinary JSON', () => {
    expect(unsafeValues(JSON.parse('{"a":[1,-0,1e308,"x",null,true],"b":{"c":"d"}}'))).toEqual([]);
  });

  it('names numbers that overflowed to infinity, in document order', () => {
    const issues = unsafeValues(JSON.parse('{"maxTokens":1e309,"list":[1,-1e400]}'));
    expect(issues.map((i) => i.path)).toEqual([['maxTokens'], ['list', 1]]);
    expect(issues[0]?.message).toMatch(/too large/);
  });

  it('names strings and keys that are not valid text', () => {
    const issues = unsafeValues(
      JSON.parse('{"prompt":"\\ud800","approval":{"approvers":["ok","\\u0000"]},"\\udfff":1}'),
    );
    expect(issues.map((i) => i.path)).toEqual([['\udfff'], ['prompt'], ['approval', 'approvers', 1]]);
    expect(issues[0]?.message).toMatch(/^has a name that contains an unpaired surrogate/);
  });

  it('walks deeply nested arrays without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(50_000)}"\\u0000"${']'.repeat(50_000)}`) as unknown;
    expect(unsafeValues(deep)).toHaveLength(1);
  });
});

describe('jsonDepth', () => {
  it('counts the deepest nesting of objects and arrays, skipping brackets inside strings', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a":[{"b":"[[[{{{"}],"c":{}}')).toBe(3);
    expect(jsonDepth('{"a":"\\"{["}')).toBe(1);
  });

  it('reads 30000 levels in one pass', () => {
    expect(jsonDepth(`${'['.repeat(30_000)}${']'.repeat(30_000)}`)).toBe(30_000);
  });
});

describe('unsafeValues on deep and wide values', () => {
  it('reports at most maxJsonIssues problems, with full paths', () => {
    const many = JSON.parse(`[${Array.from({ length: 1000 }, () => '1e999').join(',')}]`) as unknown;
    expect(unsafeValues(many)).toHaveLength(maxJsonIssues);
    const deep = JSON.parse(`${'{"a":'.repeat(5000)}1e999${'}'.repeat(5000)}`) as unknown;
    const [issue] = unsafeValues(deep);
    expect(issue?.path).toHaveLength(5000);
  });
});
