import { randomUUID } from 'node:crypto';
import { isValidRunId, isValidUserId } from '../../src/lib/ids';

describe('isValidRunId', () => {
  it.each([randomUUID(), randomUUID().replace(/-/g, ''), 'abcd1234', 'A'.repeat(64)])('accepts %s', (id) => {
    expect(isValidRunId(id)).toBe(true);
  });

  it.each([
    '',
    'short',
    'A'.repeat(65),
    'run id with spaces',
    '../../etc',
    'abc/defgh',
    'abcdefgh\n',
    '@tokenQuota@x',
    'é'.repeat(10),
  ])('refuses %j', (id) => {
    expect(isValidRunId(id)).toBe(false);
  });
});

describe('isValidUserId', () => {
  it.each(['local-user', randomUUID(), '1234567890', 'sub.abc_DEF-9', 'a'])('accepts %s', (id) => {
    expect(isValidUserId(id)).toBe(true);
  });

  it.each(['', '-leading', '.hidden', 'a'.repeat(129), 'alice@contoso.com', 'a b', 'a/b', 'a\u0000b', '..'])(
    'refuses %j',
    (id) => {
      expect(isValidUserId(id)).toBe(false);
    },
  );
});
