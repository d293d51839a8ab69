import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, withRetry, type RetryPolicy } from '../../src/core/retry.js';

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('retry policy', () => {
  it('draws full jitter below an exponentially growing ceiling, capped', () => {
    expect(backoffDelay(1, policy, undefined, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, undefined, () => 0.999)).toBe(199);
    expect(backoffDelay(3, policy, undefined, () => 0.5)).toBe(200);
    expect(backoffDelay(10, policy, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(3, policy, undefined, () => 0)).toBe(0);
  });

  it('honours Retry-After as it is, beyond the backoff ceiling, up to five minutes', () => {
    expect(backoffDelay(1, policy, 350)).toBe(350);
    expect(backoffDelay(1, policy, 60_000)).toBe(60_000);
    expect(backoffDelay(1, policy, 3_600_000)).toBe(300_000);
  });

  it('parses Retry-After as seconds (fractional too) or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.35')).toBe(350);
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('ignores negative, list and loose-date Retry-After values instead of reading them as dates', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    for (const value of ['-1', '-5', '1, 2', '5, 10', '1e9', 'Infinity', '12:00', '2026-11-23T12:00:05Z', 'Mon, 23 Nov 2026 12:00:05 GMT, 3']) {
      expect(parseRetryAfter(value, now), value).toBeUndefined();
    }
  });

  it('does not wait out a Retry-After longer than the run allows: the answer stands', async () => {
    let calls = 0;
    const refused: number[] = [];
    const limited = { ...policy, baseDelayMs: 1, maxRetryAfterMs: 10_000 };
    const started = Date.now();
    const value = await withRetry(async () => ++calls, () => ({ retry: true, retryAfterMs: 999_999_000, reason: 'HTTP 503' }), {
      policy: limited,
      onWaitRefused: ({ retryAfterMs }) => refused.push(retryAfterMs),
    });
    expect(value).toBe(1);
    expect(calls).toBe(1);
    expect(refused).toEqual([999_999_000]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('retries until success or the attempts run out, and stops on a final answer', async () => {
    let calls = 0;
    const fast = { ...policy, baseDelayMs: 1 };
    const value = await withRetry(async () => ++calls, (o) => ({ retry: (o.value ?? 0) < 3, reason: 'not yet' }), { policy: fast });
    expect(value).toBe(3);

    calls = 0;
    await expect(
      withRetry(async () => { calls++; throw new Error('boom'); }, () => ({ retry: true, reason: 'boom' }), { policy: fast }),
    ).rejects.toThrow('boom');
    expect(calls).toBe(4);

    calls = 0;
    await expect(withRetry(async () => { calls++; throw new Error('final'); }, () => ({ retry: false, reason: 'final' }), { policy: fast })).rejects.toThrow('final');
    expect(calls).toBe(1);
  });

  it('a paced 429 (the rate limiter says when) uses no attempt and no backoff, until the time the run allows has passed', async () => {
    let now = 0;
    let calls = 0;
    const paced: number[] = [];
    const limited = { ...policy, maxRetryAfterMs: 10_000 };
    // Ten 429s, then an answer: more than maxAttempts (4), all sent again at once (the limiter paces them).
    const value = await withRetry(async () => ++calls, (o) => (o.value! <= 10 ? { retry: true, paced: true, reason: 'HTTP 429' } : { retry: false, reason: 'ok' }), {
      policy: limited,
      now: () => (now += 500),
      onPaced: ({ attempt }) => paced.push(attempt),
    });
    expect(value).toBe(11);
    expect(paced).toEqual(new Array(10).fill(1));
    // 429s for longer than the run allows: the last answer stands.
    calls = 0;
    now = 0;
    const stood = await withRetry(async () => ++calls, () => ({ retry: true, paced: true, reason: 'HTTP 429' }), { policy: limited, now: () => (now += 1_000) });
    expect(stood).toBe(11 + 4); // 10 s of paced 429s (11 at one a second), then the policy's 4 attempts with backoff
  });
});
