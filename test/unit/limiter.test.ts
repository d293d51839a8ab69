// The rate limiter in virtual time: a clock that jumps from timer to timer, a server model that limits like
// ARCNM (a sliding window, no Retry-After) or like a token bucket, and runs of thousands of requests that take
// milliseconds of real time. No real timer is raced: every figure is exact and the same on every machine.
import { describe, expect, it } from 'vitest';
import { RateLimiter, type Clock } from '../../src/core/limiter.js';

class VirtualClock implements Clock {
  t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fire: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fire: () => resolve() };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** Run until `work` settles: let every microtask run, then jump to the next timer. */
  async run<T>(work: Promise<T>): Promise<T> {
    let finished = false;
    const result = work.finally(() => (finished = true));
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (finished) return result;
      if (this.timers.length === 0) throw new Error('deadlock: nothing left to wait for and the work is not done');
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
  }
}

type Server = (t: number) => { ok: true } | { ok: false; retryAfterMs?: number };

/** ARCNM's per-caller limiter: at most `limit` accepted requests in any `windowMs`; refused ones do not count. */
function slidingWindow(limit: number, windowMs: number, retryAfter = false): Server {
  const accepted: number[] = [];
  let head = 0;
  return (t) => {
    while (head < accepted.length && accepted[head]! <= t - windowMs) head++;
    if (accepted.length - head < limit) {
      accepted.push(t);
      return { ok: true };
    }
    return retryAfter ? { ok: false, retryAfterMs: accepted[head]! + windowMs - t } : { ok: false };
  };
}

function tokenBucket(perSec: number, burst: number): Server {
  let tokens = burst;
  let last = 0;
  return (t) => {
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSec);
    last = t;
    if (tokens >= 1) {
      tokens -= 1;
      return { ok: true };
    }
    return { ok: false };
  };
}

interface Figures {
  requests: number;
  limited: number;
  secs: number;
  gaveUp: number;
}

/**
 * `files` files, `concurrency` at a time, each making `perFile` API requests of `latencyMs` in turn; a refused
 * request is sent again once the limiter lets it (as the Http client does).
 */
async function simulate(server: Server, o: { files: number; concurrency: number; perFile: number; latencyMs: number; limiter?: boolean; maxTries?: number }): Promise<Figures> {
  const clock = new VirtualClock();
  const limiter = o.limiter === false ? undefined : new RateLimiter({ clock, onChange: process.env['LIMITER_TRACE'] ? (e) => console.log((clock.now()/1000).toFixed(2), JSON.stringify(e)) : undefined });
  const f: Figures = { requests: 0, limited: 0, secs: 0, gaveUp: 0 };
  const request = async () => {
    for (let attempt = 1; ; attempt++) {
      const ticket = await limiter?.acquire();
      await clock.sleep(o.latencyMs / 2);
      f.requests++;
      const answer = server(clock.now());
      await clock.sleep(o.latencyMs / 2);
      if (answer.ok) return ticket?.done('ok');
      f.limited++;
      ticket?.done('limited', answer.retryAfterMs);
      // With the limiter, a 429 uses no attempt (the Http client bounds those waits by time instead).
      if (!limiter && attempt >= (o.maxTries ?? Infinity)) return void f.gaveUp++;
      // Without the limiter: the per-request backoff it replaces (full jitter, deterministic here: its mean).
      if (!limiter) await clock.sleep(Math.min(30_000, 500 * 2 ** (attempt - 1)) / 2);
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < o.files) {
      next++;
      for (let i = 0; i < o.perFile; i++) await request();
    }
  };
  await clock.run(Promise.all(Array.from({ length: o.concurrency }, worker)));
  f.secs = clock.now() / 1000;
  return f;
}

describe('RateLimiter (virtual time)', () => {
  it('leaves a run alone until a server refuses: no pacing, no waiting', async () => {
    const f = await simulate(() => ({ ok: true }), { files: 1000, concurrency: 8, perFile: 2, latencyMs: 25 });
    expect(f.limited).toBe(0);
    // 2,000 requests, 8 at a time, 25 ms each: exactly the latency floor.
    expect(f.secs).toBeCloseTo((2000 * 0.025) / 8, 5);
  });

  it("against ARCNM's 600 a minute (sliding window, no Retry-After): 2,000 files within 1.1x of the limit's time, under 5 % refused", async () => {
    const f = await simulate(slidingWindow(600, 60_000), { files: 2000, concurrency: 32, perFile: 2, latencyMs: 25 });
    if (process.env['LIMITER_FIGURES']) console.log('sliding window', f);
    const limitSecs = (f.requests - f.limited) / 10; // what 600 a minute allows for the requests that went through
    const extraRefusals = (f.limited - 1) / f.requests;
    expect(extraRefusals).toBeLessThanOrEqual(0.05);
    expect(f.secs / limitSecs).toBeLessThanOrEqual(1.1);
    expect(f.requests - f.limited).toBe(4000);
  });

  it('without it, the same run (five tries per request, backoff between) sends most of its requests into 429s (78 %) and gives up on 1,600 of them', async () => {
    const f = await simulate(slidingWindow(600, 60_000), { files: 2000, concurrency: 32, perFile: 2, latencyMs: 25, limiter: false, maxTries: 5 });
    if (process.env['LIMITER_FIGURES']) console.log('without', f);
    expect(f.limited / f.requests).toBeGreaterThan(0.5);
    expect(f.gaveUp).toBeGreaterThan(0);
    const adapted = await simulate(slidingWindow(600, 60_000), { files: 2000, concurrency: 32, perFile: 2, latencyMs: 25, maxTries: 5 });
    expect(adapted.gaveUp).toBe(0);
  });

  it("honours Retry-After: a hold lasts what the server says, and few requests are refused", async () => {
    const f = await simulate(slidingWindow(600, 60_000, true), { files: 2000, concurrency: 32, perFile: 2, latencyMs: 25 });
    if (process.env['LIMITER_FIGURES']) console.log('retry-after', f);
    expect((f.limited - 1) / f.requests).toBeLessThanOrEqual(0.05);
    expect(f.secs / ((f.requests - f.limited) / 10)).toBeLessThanOrEqual(1.1);
  });

  it('a server that refuses one request in ten at random (not a limit) slows the run down, but does not bring it to a halt', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const flaky: Server = () => (random() < 0.1 ? { ok: false } : { ok: true });
    const f = await simulate(flaky, { files: 500, concurrency: 8, perFile: 2, latencyMs: 25 });
    if (process.env['LIMITER_FIGURES']) console.log('flaky', f, (f.requests * 0.025) / 8);
    // Unlimited it takes 3.5 s (320 requests a second); the rate may halve each minute at most, never stop.
    expect(f.secs).toBeLessThan(300);
    expect(f.gaveUp).toBe(0);
  });

  it('against a token bucket (10 a second, bursts of 50) it keeps to the bucket rate, with more refusals than a window (short holds)', async () => {
    const f = await simulate(tokenBucket(10, 50), { files: 1000, concurrency: 16, perFile: 2, latencyMs: 25 });
    if (process.env['LIMITER_FIGURES']) console.log('token bucket', f);
    expect((f.limited - 1) / f.requests).toBeLessThanOrEqual(0.1);
    expect(f.secs / ((2000 - 50) / 10)).toBeLessThanOrEqual(1.1);
  });

  it('lets one probe at a time through while the server refuses, and a 429 to a request already on its way changes nothing', async () => {
    const clock = new VirtualClock();
    const changes: string[] = [];
    const limiter = new RateLimiter({ clock, firstHoldMs: 1000, maxHoldMs: 4000, onChange: (e) => changes.push(e.kind === 'limited' ? `limited hold ${Math.round(e.holdMs)}` : 'resumed') });
    // Three requests on their way before the first refusal (one every 100 ms: 10 a second).
    const early = [];
    for (let i = 0; i < 3; i++) {
      early.push(await clock.run(limiter.acquire()));
      await clock.run(clock.sleep(100));
    }
    early[0]!.done('limited'); // 10 a second slowed to 8.5: the next turn (118 ms) is the probe
    early[1]!.done('limited'); // sent before the server first refused: no second decrease
    early[2]!.done('ok'); // ditto: does not end the hold
    expect(limiter.stats.holds).toBe(1);
    expect(changes).toEqual(['limited hold 118']);
    const t0 = clock.now();
    const p = await clock.run(limiter.acquire());
    expect(Math.round(clock.now() - t0)).toBe(118);
    // While refusing, a second request waits for the probe's answer, not merely for the hold.
    let secondStarted = false;
    const second = limiter.acquire().then((t) => ((secondStarted = true), t));
    await clock.run(clock.sleep(500));
    expect(secondStarted).toBe(false);
    p.done('limited'); // refused again: a full window; the hold is the first hold, then doubles
    expect(changes.at(-1)).toBe('limited hold 1000');
    const s = await clock.run(second);
    expect(Math.round(clock.now() - t0)).toBe(118 + 500 + 1000);
    s.done('limited');
    expect(changes.at(-1)).toBe('limited hold 2000');
    const third = await clock.run(limiter.acquire());
    third.done('ok');
    expect(changes.at(-1)).toBe('resumed');
    expect(limiter.ratePerSec).toBeLessThan(10);
  });

  it('a Retry-After sets the hold', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock });
    const t = await clock.run(limiter.acquire());
    t.done('limited', 7_500);
    const next = await clock.run(limiter.acquire());
    expect(clock.now()).toBe(7_500);
    next.done('ok');
  });

  it('a cancelled wait rejects with the signal and gives the probe to the next request', async () => {
    const clock = new VirtualClock();
    const limiter = new RateLimiter({ clock });
    (await clock.run(limiter.acquire())).done('limited');
    const stop = new AbortController();
    const cancelled = limiter.acquire(stop.signal);
    let otherAt = -1;
    const other = limiter.acquire().then((t) => ((otherAt = clock.now()), t));
    stop.abort(new Error('cancelled'));
    await expect(cancelled).rejects.toThrow('cancelled');
    const t = await clock.run(other);
    // The cancelled probe's turn went to the other request: it started at that turn, not one later.
    expect(otherAt).toBeLessThan(1000 / limiter.ratePerSec + 1);
    t.done('ok');
  });
});
