// The shared waiting and recovery of src/core/waiting.ts, without a network: rounds until done, the deadline
// for waiting, cancellation between rounds, and the look-up before repeating something that must happen once.
import { describe, expect, it, vi } from 'vitest';
import { NetworkError, OutcomeUnknownError, PublishError, WaitTimeoutError } from '../../src/core/errors.js';
import { SharedRounds, happenOnce, pauseWithin, pollUntil, verdictUnlessCancelled, type Once, type RoundWaiter } from '../../src/core/waiting.js';
import type { Logger } from '../../src/core/types.js';

const quiet = (): Logger & { lines: string[] } => {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), debug: () => {} };
};
const ctx = (over: { waitDeadline?: number; stop?: AbortSignal } = {}) => ({
  signal: new AbortController().signal,
  waitDeadline: Date.now() + 60_000,
  log: quiet(),
  ...over,
});

describe('pollUntil', () => {
  it('asks again until an answer is final, logging each pause', async () => {
    const c = ctx();
    const seen: number[] = [];
    const value = await pollUntil(c, () => 'too long', async (n) => {
      seen.push(n);
      return n < 3 ? { againInMs: 1, note: `round ${n}` } : { done: 'v' };
    });
    expect(value).toBe('v');
    expect(seen).toEqual([1, 2, 3]);
    expect(c.log.lines).toEqual(['round 1', 'round 2']);
  });

  it('keeps a final undefined as the answer', async () => {
    expect(await pollUntil(ctx(), () => 'too long', async () => ({ done: undefined }))).toBeUndefined();
  });

  it('fails with code timeout, and no pause, when the next pause would pass the deadline', async () => {
    const c = ctx({ waitDeadline: Date.now() + 1_000 });
    const started = Date.now();
    const err = await pollUntil(c, () => 'still busy after wait-timeout-minutes', async () => ({ againInMs: 60_000, note: 'never logged' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ code: 'timeout', message: 'still busy after wait-timeout-minutes' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(c.log.lines).toEqual([]);
  });

  it('ends a pause at once when the run is cancelled (its first signal)', async () => {
    const stop = new AbortController();
    const c = ctx({ stop: stop.signal });
    const rounds: number[] = [];
    const waiting = pollUntil(c, () => 'too long', async (n) => {
      rounds.push(n);
      if (n === 1) setImmediate(() => stop.abort(new Error('cancelled by the runner')));
      return { againInMs: 50_000 };
    });
    await expect(waiting).rejects.toThrow('cancelled by the runner');
    expect(rounds).toEqual([1]);
  });

  it("ends with the round's own error", async () => {
    await expect(pollUntil(ctx(), () => 'too long', async () => Promise.reject(new PublishError('refused', 'rejected_by_provider')))).rejects.toMatchObject({ code: 'rejected_by_provider' });
  });
});

describe('pauseWithin', () => {
  it('fails at once when the pause would pass the deadline', async () => {
    await expect(pauseWithin(10_000, ctx({ waitDeadline: Date.now() + 100 }), () => 'late')).rejects.toBeInstanceOf(WaitTimeoutError);
  });
});

describe('verdictUnlessCancelled', () => {
  it('answers undefined when the run was cancelled while waiting, and rethrows otherwise', async () => {
    const stop = new AbortController();
    stop.abort();
    const c = { ...ctx(), stop: stop.signal };
    expect(await verdictUnlessCancelled(c, 'a.step', () => Promise.reject(new Error('aborted')))).toBeUndefined();
    expect(c.log.lines).toEqual(['a.step: the run was cancelled while waiting for the verdict; reported as submitted']);
    await expect(verdictUnlessCancelled(ctx(), 'a.step', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

describe('happenOnce', () => {
  const dropped = () => new NetworkError('the connection dropped');
  const base = (over: Partial<Once<string>>) => ({
    what: 'start the ingestion',
    who: 'Vendor',
    firstError: dropped(),
    find: async () => undefined,
    start: async () => 'started',
    ambiguous: (err: unknown) => err instanceof NetworkError,
    rounds: 3,
    checkHint: 'check the project before re-running',
    log: quiet(),
    ...over,
  });

  it('follows what the look-up finds, without repeating it', async () => {
    let starts = 0;
    expect(await happenOnce(base({ find: async () => 'found', start: async () => `${++starts}` }))).toBe('found');
    expect(starts).toBe(0);
  });

  it('repeats it when the look-up finds nothing', async () => {
    const log = quiet();
    expect(await happenOnce(base({ log }))).toBe('started');
    expect(log.lines).toEqual(['Vendor: start the ingestion did not happen (the connection dropped); doing it again']);
  });

  it('fails as outcome_unknown after the last round, never starting it that often', async () => {
    let starts = 0;
    const err = await happenOnce(
      base({
        start: async () => {
          starts++;
          throw dropped();
        },
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect(err).toMatchObject({ code: 'outcome_unknown', message: expect.stringMatching(/may or may not have happened.*check the project before re-running/) });
    expect(starts).toBe(2);
  });

  it('when the server says it already happened, looks once more and never starts it again', async () => {
    let finds = 0;
    let starts = 0;
    const err = await happenOnce(
      base({
        find: async () => (finds++, undefined),
        start: async () => {
          starts++;
          throw new PublishError('already registered', 'rejected_by_provider');
        },
        alreadyDone: (e) => (e instanceof PublishError && e.message === 'already registered' ? 'the file was already registered' : undefined),
        lookedUpWhere: 'on the model',
      }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'outcome_unknown', message: expect.stringMatching(/Vendor says the file was already registered .* could not be found on the model/) });
    expect([finds, starts]).toEqual([2, 1]);
  });

  it('rethrows a failure that is not ambiguous', async () => {
    await expect(happenOnce(base({ start: async () => Promise.reject(new PublishError('no', 'permission_denied')) }))).rejects.toMatchObject({ code: 'permission_denied' });
  });
});

describe('SharedRounds', () => {
  type W = RoundWaiter<string>;
  const waiterCtx = () => ({ signal: new AbortController().signal, waitDeadline: Date.now() + 10_000 });

  it('holds rounds apart as `earliest` says, and a waiter due sooner than that does not restart the pause', async () => {
    const started = Date.now();
    const roundsAt: number[] = [];
    const rounds = new SharedRounds<string, W>(
      new AbortController().signal,
      async (now, waiting) => {
        roundsAt.push(now - started);
        for (const w of waiting) w.settle(undefined, `seen ${w.round}`);
      },
      () => started + 1_000,
    );
    const any = vi.spyOn(AbortSignal, 'any');
    try {
      const answers: Promise<string>[] = [];
      for (let i = 0; i < 20; i++) {
        answers.push(rounds.wait(`k${i}`, { dueAt: Date.now() + 20, round: i }, waiterCtx(), () => new Error('timed out')));
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(await Promise.all(answers)).toEqual(Array.from({ length: 20 }, (_, i) => `seen ${i}`));
      expect(roundsAt).toHaveLength(1); // one round answered all twenty
      expect(roundsAt[0]).toBeGreaterThanOrEqual(995);
      expect(any.mock.calls.length).toBeLessThanOrEqual(2); // one pause, not one per waiter
    } finally {
      any.mockRestore();
    }
  });

  it('without `earliest`, a waiter due sooner than the pause brings the round forward', async () => {
    const started = Date.now();
    const roundsAt: number[] = [];
    const rounds = new SharedRounds<string, W>(new AbortController().signal, async (now, waiting) => {
      roundsAt.push(now - started);
      for (const w of waiting) if (w.dueAt <= now) w.settle(undefined, 'done');
    });
    const late = rounds.wait('late', { dueAt: started + 1_000, round: 0 }, waiterCtx(), () => new Error('timed out'));
    await new Promise((r) => setTimeout(r, 10));
    await rounds.wait('soon', { dueAt: Date.now() + 20, round: 0 }, waiterCtx(), () => new Error('timed out'));
    expect(roundsAt[0]).toBeLessThan(500);
    await late;
    expect(roundsAt.at(-1)).toBeGreaterThanOrEqual(995);
  });
});
