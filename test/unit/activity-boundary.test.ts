import type { InvocationContext } from '@azure/functions';
import { atActivityBoundary } from '../../src/activities/boundary';

function fakeContext() {
  const errors: unknown[][] = [];
  const context = { error: (...args: unknown[]) => errors.push(args) } as unknown as InvocationContext;
  return { context, errors };
}

describe('the activity boundary', () => {
  it('passes results through', async () => {
    const { context } = fakeContext();
    await expect(atActivityBoundary('ok', (n: number) => n + 1)(1, context)).resolves.toBe(2);
  });

  it('lets only a path-free first line of the message out, and logs the whole error', async () => {
    const original = new Error(
      "EACCES: permission denied, open '/home/site/wwwroot/dist/src/activities/x.js'\nmore detail",
    );
    const { context, errors } = fakeContext();
    const thrown = await atActivityBoundary('saveResult', () => {
      throw original;
    })(undefined, context).catch((error: unknown) => error as Error);
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown.message).toBe("EACCES: permission denied, open '<path>'");
    expect(thrown.stack).toBe("Error: EACCES: permission denied, open '<path>'");
    expect(`${thrown.message}${thrown.stack}`).not.toMatch(/wwwroot|\.js:\d+| at /);
    expect(errors).toEqual([['Activity saveResult failed:', original]]);
  });
});
