// Rate limits as a signal. A server that answers 429 is telling the whole run, not one request, to slow down:
// every request to that server then goes through one RateLimiter, which paces them (additive increase,
// multiplicative decrease of the request rate, as TCP does with its window) and, while the server keeps
// refusing, holds them all back and lets a single probe through at a time, so a full window costs one 429 per
// probe instead of one per file. A server's Retry-After is the hold, when it gives one.
//
// A rate, not a concurrency: one request at a time with 25 ms of latency already sends 40 a second, four times
// ARCNM's 600 a minute, so only pacing the starts can bring a run under such a limit.
//
// The clock is injected, so the unit tests drive it in virtual time (test/unit/limiter.test.ts).

import { whenAborted } from './abort.js';

export interface Clock {
  now(): number;
  /** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface RateLimiterOptions {
  clock: Clock;
  /** The least first hold after a 429 without Retry-After (else two turns); each refused probe doubles it, up to maxHoldMs. */
  firstHoldMs?: number;
  maxHoldMs?: number;
  /**
   * Multiplicative decrease: the first 429 of a run of them slows the rate to `gentle` of what it was (a
   * passing refusal, or a rate just over the limit); a refused probe after it, to `decrease` (a full window).
   */
  gentle?: number;
  decrease?: number;
  /** Additive increase: each second of answers raises the rate by this share of the rate last found safe. */
  increase?: number;
  /** The longest Retry-After honoured as a hold (the run's time for waiting); the client does not wait longer. */
  maxRetryAfterMs?: number;
  /** Told when the limiter starts or ends holding, for a log line. */
  onChange?: (event: { kind: 'limited'; ratePerSec: number; holdMs: number } | { kind: 'resumed'; ratePerSec: number }) => void;
}

/** One request's permission to start; say how it went with `done`. */
export interface Ticket {
  /** `limited`: the server answered 429 (with its Retry-After, if any); `ok`: any other answer; `failed`: no answer. */
  done(outcome: 'ok' | 'limited' | 'failed', retryAfterMs?: number): void;
}

const RECENT = 64;
const GENTLE_EVERY_MS = 5_000;
/** Refused for this long: the server's window is full, and what it let through is its rate. */
const FULL_WINDOW_MS = 5_000;

export class RateLimiter {
  /** Milliseconds between request starts; 0 while no 429 was ever seen (unpaced). */
  private gapMs = 0;
  private nextAt = 0;
  /** No request starts before this while the server refuses (a hold); one probe starts at its end. */
  private holdUntil = 0;
  private holdMs = 0;
  /** 429s in a row since the last answer that was not one; while above 0, one request (the probe) at a time. */
  private refusals = 0;
  private probeOut = false;
  /** Counts the 429s that changed something: a 429 to a request sent before the last change says nothing new. */
  private epoch = 0;
  /** The rate last found safe (set when a hold ends): the additive increase is a share of it. */
  private baseRate = 0;
  /** Answers since the last hold ended, and when it ended: the rate the server actually allowed. */
  private cycleStart: number;
  private cycleAnswers = 0;
  private readonly starts: number[] = [];
  /** Answers per second over the last minute, in a ring (the floor of a decrease). */
  private lastDecreaseAt = -Infinity;
  private refusingSince = 0;
  private readonly perSecond = Array.from({ length: 60 }, () => ({ second: -1, count: 0 }));
  private waiters: (() => void)[] = [];
  private readonly firstHoldMs: number;
  private readonly maxHoldMs: number;
  private readonly decrease: number;
  private readonly gentle: number;
  private readonly increase: number;
  /** The longest hold a Retry-After may set. */
  readonly maxRetryAfterMs: number;
  /** Figures for the bench and the tests. */
  readonly stats = { started: 0, limited: 0, holds: 0 };

  constructor(private readonly options: RateLimiterOptions) {
    this.firstHoldMs = options.firstHoldMs ?? 250;
    this.maxHoldMs = options.maxHoldMs ?? 5_000;
    this.decrease = options.decrease ?? 0.5;
    this.gentle = options.gentle ?? 0.85;
    this.increase = options.increase ?? 0.02;
    this.cycleStart = options.clock.now();
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 300_000;
  }

  /** Requests per second now allowed (Infinity while unpaced). */
  get ratePerSec(): number {
    return this.gapMs > 0 ? 1000 / this.gapMs : Infinity;
  }

  /** Wait until a request may start. Rejects with the signal's reason when it aborts first. */
  async acquire(signal?: AbortSignal): Promise<Ticket> {
    const clock = this.options.clock;
    for (;;) {
      signal?.throwIfAborted();
      if (this.refusals > 0 && this.probeOut) {
        await this.changed(signal);
        continue;
      }
      const now = clock.now();
      const at = Math.max(now, this.nextAt, this.holdUntil);
      const epoch = this.epoch;
      const probe = this.refusals > 0;
      if (probe) this.probeOut = true;
      this.nextAt = at + this.gapMs;
      if (at > now) {
        try {
          await clock.sleep(at - now, signal);
        } catch (err) {
          // A cancelled probe gives its turn back (while refusing, no other request holds a turn after it).
          if (probe) {
            this.nextAt = Math.min(this.nextAt, at);
            this.releaseProbe();
          }
          throw err;
        }
        // A 429 arrived while this request waited its turn: the turn is void, take a new one.
        if (this.epoch !== epoch) {
          if (probe) this.releaseProbe();
          continue;
        }
      }
      return this.ticket(epoch, probe);
    }
  }

  private ticket(epoch: number, probe: boolean): Ticket {
    const now = this.options.clock.now();
    this.stats.started++;
    this.starts.push(now);
    if (this.starts.length > RECENT) this.starts.shift();
    let settled = false;
    return {
      done: (outcome, retryAfterMs) => {
        if (settled) return;
        settled = true;
        if (probe) this.probeOut = false;
        if (outcome === 'limited') this.limited(epoch, retryAfterMs);
        else if (outcome === 'ok') this.answered(epoch);
        this.wake();
      },
    };
  }

  private limited(epoch: number, retryAfterMs: number | undefined): void {
    const now = this.options.clock.now();
    this.stats.limited++;
    if (retryAfterMs !== undefined) retryAfterMs = Math.min(retryAfterMs, this.maxRetryAfterMs);
    // Sent before the last change: it was on its way when the server first refused, and says nothing new.
    if (epoch !== this.epoch) return;
    this.epoch++;
    this.refusals++;
    const rate = this.gapMs > 0 ? this.ratePerSec : this.recentRate(now);
    if (this.refusals === 1) {
      this.refusingSince = now;
      // A new run of refusals: the rate was a little too high, or this was a passing refusal. Slow down a
      // little; the next turn is the probe.
      this.stats.holds++;
      // At most one such step in a few seconds: refusals at random come several a second.
      if (now - this.lastDecreaseAt >= GENTLE_EVERY_MS) this.setRate(now, rate * this.gentle);
      else if (this.gapMs === 0) this.setRate(now, rate);
      this.holdMs = retryAfterMs ?? this.gapMs;
    } else {
      // The probe was refused too: the server's window is full. Slow down for real, once, and wait longer
      // before each next probe.
      if (this.refusals === 2) this.setRate(now, (rate * this.decrease) / this.gentle);
      this.holdMs = retryAfterMs ?? Math.min(this.maxHoldMs, Math.max(this.firstHoldMs, this.holdMs * 2));
    }
    this.holdUntil = now + this.holdMs;
    // Every turn given out before is void (the requests holding them take new ones): the probe goes first.
    this.nextAt = this.holdUntil;
    this.options.onChange?.({ kind: 'limited', ratePerSec: this.ratePerSec, holdMs: this.holdMs });
  }

  /**
   * Pace at `rate`, but never below half the best rate the server answered over ten seconds within the last
   * minute: refusals that come at random, not from a limit, slow a run down without bringing it to a halt (the
   * rate at most halves in a minute). A full window sets the rate by what it let through (`answered`).
   */
  private setRate(now: number, rate: number): void {
    this.lastDecreaseAt = now;
    this.gapMs = 1000 / Math.max(rate, this.bestTenSeconds(now) / 10 / 2);
  }

  /** The most answers (not 429s) in any ten seconds of the last minute. */
  private bestTenSeconds(now: number): number {
    const second = Math.floor(now / 1000);
    const counts = new Array<number>(60).fill(0);
    for (const slot of this.perSecond) if (slot.second > second - 60) counts[second - slot.second] = slot.count;
    let best = 0;
    let sum = 0;
    for (let i = 0; i < 60; i++) {
      sum += counts[i]! - (i >= 10 ? counts[i - 10]! : 0);
      best = Math.max(best, sum);
    }
    return best;
  }

  private countAnswer(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = this.perSecond[second % 60]!;
    if (slot.second !== second) [slot.second, slot.count] = [second, 0];
    slot.count++;
  }

  private answered(epoch: number): void {
    const now = this.options.clock.now();
    this.cycleAnswers++;
    this.countAnswer(now);
    if (this.refusals > 0) {
      if (epoch !== this.epoch) return; // an answer to a request sent before the refusals began
      // The hold is over. After a full window (refused again and again for seconds), what the server let through
      // since the last hold ended, over that time (the hold included), is a rate it allows: never resume faster.
      // (After a short hold, answers over time say more about how often the run asked than what the server allows.)
      if (this.refusals > 1 && now - this.refusingSince >= FULL_WINDOW_MS) {
        const allowed = (this.cycleAnswers * 1000) / Math.max(1, now - this.cycleStart);
        if (allowed < this.ratePerSec) this.setRate(now, allowed);
      }
      this.refusals = 0;
      this.baseRate = this.ratePerSec;
      this.cycleStart = now;
      this.cycleAnswers = 0;
      this.options.onChange?.({ kind: 'resumed', ratePerSec: this.ratePerSec });
      return;
    }
    if (this.gapMs > 0) {
      // Additive increase: answers come `rate` a second, so the rate rises by `increase` · baseRate each second.
      const rate = this.ratePerSec;
      this.gapMs = 1000 / (rate + (this.increase * this.baseRate) / rate);
    }
  }

  /** Requests started per second over the recent starts (a guess of 10 a second when there are too few). */
  private recentRate(now: number): number {
    const recent = this.starts.filter((t) => now - t <= 5_000);
    if (recent.length < 2) return 10;
    const span = Math.max(1, now - recent[0]!);
    return (recent.length * 1000) / span;
  }

  private releaseProbe(): void {
    this.probeOut = false;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let stopListening = () => {};
      const done = () => {
        stopListening();
        resolve();
      };
      this.waiters.push(done);
      if (signal)
        stopListening = whenAborted(signal, () => {
          this.waiters = this.waiters.filter((w) => w !== done);
          reject(signal.reason);
        });
    });
  }
}
