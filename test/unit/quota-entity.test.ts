import type { EntityContext } from 'durable-functions';
import type { QuotaSnapshot, ReserveResult } from '../../src/contracts/quota';
import {
  applyQuotaOperation,
  createTokenQuotaEntity,
  maxClosedRuns,
  quotaSnapshot,
  tokenQuotaEntityId,
  type TokenQuotaState,
} from '../../src/entities/tokenQuota';

const defaultMonthlyTokens = 10_000;

/**
 * The entity as the durable runtime drives it: state, input and result each cross as JSON, and an
 * operation that throws leaves the stored state as it was.
 */
function entity(userId = 'alice', defaults = defaultMonthlyTokens) {
  const handler = createTokenQuotaEntity({ defaultMonthlyTokens: defaults });
  let stored: string | undefined;
  return {
    call<T = unknown>(operationName: string, input?: unknown): T {
      let returned: string | undefined;
      let pending: string | undefined;
      const context = {
        df: {
          entityName: 'tokenQuota',
          entityKey: userId,
          entityId: tokenQuotaEntityId(userId),
          operationName,
          isNewlyConstructed: stored === undefined,
          getState: () => (stored === undefined ? undefined : (JSON.parse(stored) as TokenQuotaState)),
          setState: (state: TokenQuotaState) => {
            pending = JSON.stringify(state);
          },
          getInput: () => (input === undefined ? undefined : (JSON.parse(JSON.stringify(input)) as unknown)),
          return: (result: unknown) => {
            returned = JSON.stringify(result);
          },
          destructOnExit: () => undefined,
          signalEntity: () => undefined,
        },
      } as unknown as EntityContext<TokenQuotaState>;
      handler(context);
      if (pending !== undefined) stored = pending;
      return (returned === undefined ? undefined : JSON.parse(returned)) as T;
    },
    state: () => (stored === undefined ? undefined : (JSON.parse(stored) as TokenQuotaState)),
  };
}

const march = '2026-03-10T12:00:00.000Z';
const april = '2026-04-02T00:00:00.000Z';

describe('tokenQuota entity', () => {
  it('starts each user at the configured default for the UTC month of the caller clock', () => {
    const e = entity('alice');
    expect(e.call<QuotaSnapshot>('get', { now: march })).toEqual({
      userId: 'alice',
      monthlyTokenLimit: defaultMonthlyTokens,
      used: 0,
      reserved: 0,
      remaining: defaultMonthlyTokens,
      periodStart: '2026-03-01T00:00:00.000Z',
      periodEnd: '2026-04-01T00:00:00.000Z',
    });
  });

  it('grants a reservation that fits and refuses one that does not, without changing anything', () => {
    const e = entity();
    const first = e.call<ReserveResult>('reserve', { runId: 'run-1', tokens: 6000, now: march });
    expect(first).toMatchObject({ granted: true, quota: { reserved: 6000, remaining: 4000 } });
    const second = e.call<ReserveResult>('reserve', { runId: 'run-2', tokens: 4001, now: march });
    expect(second).toMatchObject({
      granted: false,
      reason: 'insufficient',
      quota: { reserved: 6000, remaining: 4000 },
    });
    const exact = e.call<ReserveResult>('reserve', { runId: 'run-3', tokens: 4000, now: march });
    expect(exact).toMatchObject({ granted: true, quota: { reserved: 10_000, remaining: 0 } });
  });

  it('answers a repeated reserve for the same run with the existing grant, reserving once', () => {
    const e = entity();
    e.call('reserve', { runId: 'run-1', tokens: 6000, now: march });
    const again = e.call<ReserveResult>('reserve', { runId: 'run-1', tokens: 6000, now: march });
    expect(again).toMatchObject({ granted: true, quota: { reserved: 6000 } });
  });

  it('commits real usage once, releasing the rest of the reservation, however often the commit arrives', () => {
    const e = entity();
    e.call('reserve', { runId: 'run-1', tokens: 6000, now: march });
    const committed = e.call<QuotaSnapshot>('commit', { runId: 'run-1', tokensUsed: 1500, now: march });
    expect(committed).toMatchObject({ used: 1500, reserved: 0, remaining: 8500 });
    const repeated = e.call<QuotaSnapshot>('commit', { runId: 'run-1', tokensUsed: 1500, now: march });
    expect(repeated).toMatchObject({ used: 1500, reserved: 0, remaining: 8500 });
  });

  it('records usage beyond the reservation, because spent tokens were spent, and then grants nothing more', () => {
    const e = entity();
    e.call('reserve', { runId: 'run-1', tokens: 9000, now: march });
    expect(e.call('commit', { runId: 'run-1', tokensUsed: 11_000, now: march })).toMatchObject({
      used: 11_000,
      remaining: 0,
    });
    expect(e.call('reserve', { runId: 'run-2', tokens: 1, now: march })).toMatchObject({ granted: false });
  });

  it('records a commit that arrives without a reservation', () => {
    const e = entity();
    expect(e.call('commit', { runId: 'run-1', tokensUsed: 700, now: march })).toMatchObject({ used: 700 });
  });

  it('refuses a late duplicate reserve for a run already committed or released, so no reservation leaks', () => {
    const e = entity();
    e.call('reserve', { runId: 'run-1', tokens: 1000, now: march });
    e.call('commit', { runId: 'run-1', tokensUsed: 100, now: march });
    expect(e.call('reserve', { runId: 'run-1', tokens: 1000, now: march })).toMatchObject({
      granted: false,
      reason: 'closed',
      quota: { reserved: 0 },
    });
    e.call('reserve', { runId: 'run-2', tokens: 1000, now: march });
    e.call('release', { runId: 'run-2', now: march });
    expect(e.call('reserve', { runId: 'run-2', tokens: 1000, now: march })).toMatchObject({
      granted: false,
      reason: 'closed',
    });
  });

  it('releases a reservation without usage, and a commit after the release still counts', () => {
    const e = entity();
    e.call('reserve', { runId: 'run-1', tokens: 3000, now: march });
    expect(e.call('release', { runId: 'run-1', now: march })).toMatchObject({ used: 0, reserved: 0 });
    expect(e.call('release', { runId: 'run-1', now: march })).toMatchObject({ used: 0, reserved: 0 });
    expect(e.call('commit', { runId: 'run-1', tokensUsed: 200, now: march })).toMatchObject({ used: 200 });
    expect(e.call('commit', { runId: 'run-1', tokensUsed: 200, now: march })).toMatchObject({ used: 200 });
  });

  it('uses the admin override instead of the default, and still reports usage above a lowered limit', () => {
    const e = entity();
    e.call('commit', { runId: 'run-1', tokensUsed: 4000, now: march });
    expect(e.call('setLimit', { monthlyTokenLimit: 50_000, now: march })).toMatchObject({
      monthlyTokenLimit: 50_000,
      remaining: 46_000,
    });
    expect(e.call('setLimit', { monthlyTokenLimit: 3000, now: march })).toMatchObject({
      monthlyTokenLimit: 3000,
      used: 4000,
      remaining: 0,
    });
  });

  it('records who changed the limit under which request id', () => {
    const e = entity();
    e.call('setLimit', { monthlyTokenLimit: 500, now: march, requestId: 'req-1', setBy: 'admin-1' });
    expect(e.state()?.lastLimitChange).toEqual({
      requestId: 'req-1',
      setBy: 'admin-1',
      monthlyTokenLimit: 500,
      at: march,
    });
  });

  describe('period roll-over by the caller clock', () => {
    it('starts the next UTC month at zero usage, keeping the override and carrying open reservations', () => {
      const e = entity();
      e.call('setLimit', { monthlyTokenLimit: 8000, now: march });
      e.call('reserve', { runId: 'done', tokens: 2000, now: march });
      e.call('commit', { runId: 'done', tokensUsed: 2000, now: march });
      e.call('reserve', { runId: 'still-running', tokens: 3000, now: '2026-03-31T23:59:59.999Z' });
      expect(e.call('get', { now: april })).toEqual({
        userId: 'alice',
        monthlyTokenLimit: 8000,
        used: 0,
        reserved: 3000,
        remaining: 5000,
        periodStart: '2026-04-01T00:00:00.000Z',
        periodEnd: '2026-05-01T00:00:00.000Z',
      });
      // The run that straddled the month commits into the month it finished in.
      expect(e.call('commit', { runId: 'still-running', tokensUsed: 2500, now: april })).toMatchObject({
        used: 2500,
        reserved: 0,
      });
    });

    it('counts a commit repeated after the roll-over once', () => {
      const e = entity();
      e.call('reserve', { runId: 'run-1', tokens: 2000, now: march });
      e.call('commit', { runId: 'run-1', tokensUsed: 1200, now: march });
      expect(e.call('commit', { runId: 'run-1', tokensUsed: 1200, now: april })).toMatchObject({ used: 0 });
    });

    it('never rolls back when a caller clock is older than the current period', () => {
      const e = entity();
      e.call('commit', { runId: 'run-1', tokensUsed: 100, now: april });
      expect(e.call('commit', { runId: 'run-2', tokensUsed: 50, now: march })).toMatchObject({
        used: 150,
        periodStart: '2026-04-01T00:00:00.000Z',
      });
    });

    it('ignores the wall clock: an entity far behind real time still answers for the caller month', () => {
      const e = entity();
      expect(e.call('get', { now: '2020-02-29T23:00:00Z' })).toMatchObject({
        periodStart: '2020-02-01T00:00:00.000Z',
        periodEnd: '2020-03-01T00:00:00.000Z',
      });
    });

    it('rolls over December into January of the next year', () => {
      expect(quotaSnapshot(undefined, 'bob', new Date('2026-12-31T23:59:59Z'), 10)).toMatchObject({
        periodStart: '2026-12-01T00:00:00.000Z',
        periodEnd: '2027-01-01T00:00:00.000Z',
      });
    });

    it('drops reservations made before the previous period, whose runs are long gone', () => {
      const e = entity();
      e.call('reserve', { runId: 'abandoned', tokens: 4000, now: '2026-01-15T00:00:00Z' });
      expect(e.call('get', { now: '2026-02-15T00:00:00Z' })).toMatchObject({ reserved: 4000 });
      expect(e.call('get', { now: '2026-03-01T00:00:00Z' })).toMatchObject({ reserved: 0 });
    });
  });

  describe('invalid operations', () => {
    it.each([
      ['reserve', { runId: 'run-1', tokens: 0, now: march }, /tokens must be at least 1/],
      ['reserve', { runId: 'run-1', tokens: 1.5, now: march }, /tokens must be a whole number/],
      ['reserve', { runId: '', tokens: 10, now: march }, /runId must not be empty/],
      ['reserve', { runId: 'run-1', tokens: 10 }, /now must be an ISO 8601 time/],
      ['reserve', { runId: 'run-1', tokens: 10, now: 'yesterday' }, /now must be an ISO 8601 time/],
      ['commit', { runId: 'run-1', tokensUsed: -1, now: march }, /tokensUsed must be at least 0/],
      ['commit', undefined, /tokenQuota.commit got invalid input/],
      ['setLimit', { monthlyTokenLimit: 0, now: march }, /monthlyTokenLimit must be at least 1/],
      [
        'refill',
        { now: march },
        /tokenQuota has no operation "refill"; use one of reserve, spend, settle, commit, release, get, setLimit/,
      ],
    ])('%s with %j throws a message that names the problem', (operation, input, message) => {
      const e = entity();
      e.call('commit', { runId: 'before', tokensUsed: 10, now: march });
      const before = e.state();
      expect(() => e.call(operation, input)).toThrow(message);
      expect(e.state()).toEqual(before);
    });

    it('serialises its error to the message, which is what an awaiting orchestrator receives', () => {
      let thrown: unknown;
      try {
        applyQuotaOperation(undefined, 'refill', {}, { userId: 'alice', defaultMonthlyTokens });
      } catch (error) {
        thrown = error;
      }
      expect(JSON.parse(JSON.stringify(thrown))).toMatch(
        /^QuotaOperationError: tokenQuota has no operation "refill"/,
      );
    });
  });

  it('keeps at most maxClosedRuns closed run ids', () => {
    let state: TokenQuotaState | undefined;
    for (let i = 0; i < maxClosedRuns + 10; i++) {
      state = applyQuotaOperation(
        state,
        'commit',
        { runId: `run-${i}`, tokensUsed: 0, now: march },
        { userId: 'alice', defaultMonthlyTokens },
      ).state;
    }
    expect(state?.closed).toHaveLength(maxClosedRuns);
    expect(state?.closed[0]?.runId).toBe('run-10');
  });

  it('round-trips its state through JSON unchanged, as the durable store does', () => {
    const e = entity();
    e.call('setLimit', { monthlyTokenLimit: 9000, now: march, requestId: 'r' });
    e.call('reserve', { runId: 'run-1', tokens: 1000, now: march });
    e.call('commit', { runId: 'run-2', tokensUsed: 10, now: march });
    e.call('release', { runId: 'run-3', now: march });
    const state = e.state();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it('treats a run id such as __proto__ as an ordinary key', () => {
    const e = entity();
    expect(e.call('reserve', { runId: '__proto__', tokens: 10, now: march })).toMatchObject({
      granted: true,
    });
    expect(e.call('commit', { runId: '__proto__', tokensUsed: 5, now: march })).toMatchObject({
      used: 5,
      reserved: 0,
    });
  });
});

describe('quotaSnapshot', () => {
  it('shows a user without an entity the default for the month of now', () => {
    expect(quotaSnapshot(undefined, 'carol', new Date(march), 500)).toEqual({
      userId: 'carol',
      monthlyTokenLimit: 500,
      used: 0,
      reserved: 0,
      remaining: 500,
      periodStart: '2026-03-01T00:00:00.000Z',
      periodEnd: '2026-04-01T00:00:00.000Z',
    });
  });

  it('shows a stored state as rolled over when now is in a later month, without changing it', () => {
    const { state } = applyQuotaOperation(
      undefined,
      'commit',
      { runId: 'r', tokensUsed: 300, now: march },
      { userId: 'alice', defaultMonthlyTokens: 1000 },
    );
    const copy = JSON.parse(JSON.stringify(state)) as TokenQuotaState;
    expect(quotaSnapshot(copy, 'alice', new Date(march), 1000)).toMatchObject({ used: 300, remaining: 700 });
    expect(quotaSnapshot(copy, 'alice', new Date(april), 1000)).toMatchObject({ used: 0, remaining: 1000 });
    expect(copy).toEqual(state);
  });

  it('survives a state it cannot read by starting the period afresh, keeping the limit override', () => {
    const damaged = { version: 7, limitOverride: 42 } as unknown as TokenQuotaState;
    expect(quotaSnapshot(damaged, 'alice', new Date(march), 1000)).toMatchObject({
      monthlyTokenLimit: 42,
      used: 0,
    });
  });
});

/** A small seeded PRNG (mulberry32): the same seed gives the same interleaving on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

describe('under a random interleaving of runs with repeated deliveries', () => {
  it.each([1, 2, 3, 42, 2026])(
    'never grants beyond the limit and counts each commit once (seed %i)',
    (seed) => {
      const random = prng(seed);
      const e = entity('alice', 20_000);
      let clock = Date.parse('2026-01-20T00:00:00Z');
      const sent: { operation: string; input: Record<string, unknown> }[] = [];
      // The reference: what each run committed first, and in which period.
      const firstCommit = new Map<string, { tokens: number; period: string }>();
      let runs = 0;
      // Runs holding a grant, as their orchestrations would see them.
      const open: { runId: string; tokens: number }[] = [];
      const outcomes = { granted: 0, refused: 0 };

      for (let step = 0; step < 1000; step++) {
        // The orchestration clock moves forward, with skew between callers of up to an hour back.
        clock += random.int(0, 12 * 3600_000);
        const now = new Date(clock - random.int(0, 3600_000)).toISOString();
        const roll = random.next();
        let operation: string;
        let input: Record<string, unknown>;
        if (roll < 0.15 && sent.length > 0) {
          // A repeated delivery of a recent operation, exactly as first sent.
          const original = sent[Math.max(0, sent.length - random.int(1, 20))];
          if (!original) throw new Error('unreachable');
          ({ operation, input } = original);
        } else if (roll < 0.5 || open.length === 0) {
          const runId = `run-${runs++}`;
          operation = 'reserve';
          input = { runId, tokens: random.int(1, 5000), now };
        } else if (roll < 0.8) {
          const run = open.splice(random.int(0, open.length - 1), 1)[0] ?? { runId: 'none', tokens: 0 };
          operation = 'commit';
          // Mostly under the budget; sometimes the model overshoots it.
          input = { runId: run.runId, tokensUsed: random.int(0, Math.ceil(run.tokens * 1.1)), now };
        } else if (roll < 0.95) {
          const run = open.splice(random.int(0, open.length - 1), 1)[0] ?? { runId: 'none', tokens: 0 };
          operation = 'release';
          input = { runId: run.runId, now };
        } else {
          operation = 'setLimit';
          input = { monthlyTokenLimit: random.int(5000, 30_000), now };
        }
        sent.push({ operation, input });

        const before = e.state();
        const result = e.call<ReserveResult | QuotaSnapshot>(operation, input);
        const after = e.state();
        if (!after) throw new Error('the entity has no state after an operation');
        const snapshot = 'granted' in result ? result.quota : result;
        const effectiveLimit = after.limitOverride ?? 20_000;

        if ('granted' in result) outcomes[result.granted ? 'granted' : 'refused']++;
        if (operation === 'reserve' && 'granted' in result && result.granted) {
          const runId = String(input.runId);
          const wasOpen = before?.reservations.some((r) => r.runId === runId) ?? false;
          if (!wasOpen) {
            open.push({ runId, tokens: Number(input.tokens) });
            // A new grant happens only when everything held fits under the limit.
            expect(snapshot.used + snapshot.reserved).toBeLessThanOrEqual(effectiveLimit);
          }
        }
        if (operation === 'commit') {
          const runId = String(input.runId);
          if (!firstCommit.has(runId)) {
            firstCommit.set(runId, { tokens: Number(input.tokensUsed), period: after.periodStart });
          }
        }

        // The books add up: used is the sum of first commits recorded in this period, reserved the open grants.
        const expectedUsed = [...firstCommit.values()]
          .filter((c) => c.period === after.periodStart)
          .reduce((sum, c) => sum + c.tokens, 0);
        expect(after.used).toBe(expectedUsed);
        expect(snapshot.reserved).toBe(after.reservations.reduce((sum, r) => sum + r.tokens, 0));
        expect(new Set(after.reservations.map((r) => r.runId)).size).toBe(after.reservations.length);
        expect(snapshot.remaining).toBe(Math.max(0, effectiveLimit - after.used - snapshot.reserved));
        // No run is both open and closed.
        const closed = new Set(after.closed.map((c) => c.runId));
        expect(after.reservations.filter((r) => closed.has(r.runId))).toEqual([]);
        expect(JSON.parse(JSON.stringify(after))).toEqual(after);
      }
      expect(runs).toBeGreaterThan(300);
      expect(outcomes.granted).toBeGreaterThan(100);
      // The loop really pressed against the limit.
      expect(outcomes.granted).toBeGreaterThan(50);
      expect(outcomes.refused).toBeGreaterThan(20);
    },
  );
  describe('spend and settle', () => {
    it('moves each call from the reservation to used once, and settle gives back only the rest', () => {
      const e = entity('alice');
      e.call('setLimit', { monthlyTokenLimit: 1000, now: march });
      e.call('reserve', { runId: 'r1', tokens: 600, now: march });
      e.call('spend', { runId: 'r1', key: 'r1:call-1', tokens: 150, now: march });
      e.call('spend', { runId: 'r1', key: 'r1:call-1', tokens: 150, now: march });
      e.call('reserve', { runId: 'r1:revision-1', tokens: 100, now: march });
      e.call('spend', { runId: 'r1:revision-1', key: 'r1:revision-1:call-1', tokens: 40, now: march });
      expect(e.call<QuotaSnapshot>('get', { now: march })).toMatchObject({ used: 190, reserved: 510 });
      const settled = e.call<QuotaSnapshot>('settle', { runId: 'r1', now: march });
      expect(settled).toMatchObject({ used: 190, reserved: 0, remaining: 810 });
      expect(e.call<QuotaSnapshot>('settle', { runId: 'r1', now: march })).toEqual(settled);
      // A call that returns after the run was stopped and settled is not counted against a released grant.
      e.call('spend', { runId: 'r1', key: 'r1:call-2', tokens: 99, now: march });
      expect(e.call<QuotaSnapshot>('get', { now: march })).toMatchObject({ used: 190, reserved: 0 });
      expect(e.state()?.closed).toEqual(
        expect.arrayContaining([
          { runId: 'r1', tokensUsed: 150, at: march },
          { runId: 'r1:revision-1', tokensUsed: 40, at: march },
        ]),
      );
    });

    it('does not count twice when a commit follows the spends of the same run', () => {
      const e = entity('bob');
      e.call('reserve', { runId: 'r2', tokens: 500, now: march });
      e.call('spend', { runId: 'r2', key: 'k1', tokens: 120, now: march });
      expect(e.call<QuotaSnapshot>('commit', { runId: 'r2', tokensUsed: 200, now: march })).toMatchObject({
        used: 200,
        reserved: 0,
      });
    });
  });
});
