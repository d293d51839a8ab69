// Retry policy: exponential backoff with full jitter, honouring Retry-After. Pure functions plus one loop,
// so the policy is unit-tested without a clock or a network.
import { whenAborted } from './abort.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (`max-attempts`). */
  maxAttempts: number;
  /** First backoff ceiling; doubles each attempt. */
  baseDelayMs: number;
  /** Highest backoff ceiling. */
  maxDelayMs: number;
  /**
   * The longest Retry-After honoured (at most MAX_RETRY_AFTER_MS; the run sets it to no more than the time it
   * allows, `wait-timeout-minutes`). A server asking for longer gets no retry: its answer stands.
   */
  maxRetryAfterMs?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** The longest Retry-After we wait out; a server asking for more is treated as asking for this. */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * Full jitter (a random wait between 0 and min(cap, base · 2^(attempt-1))), as AWS describes and ARCNM asks
 * for; a server's Retry-After, when given, is honoured as it is (up to MAX_RETRY_AFTER_MS and the policy's
 * maxRetryAfterMs: providers that pace their own polling with it stay within the run's limit too).
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS, policy.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * Retry-After is either delta-seconds (Speckle sends fractions, e.g. `0.35`) or an HTTP date (IMF-fixdate).
 * Anything else (negative, a list, a loose date string) is ignored, never guessed at with Date.parse.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  if (trimmed === '' || trimmed.length > 64) return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const ms = Math.round(Number(trimmed) * 1000);
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (!IMF_FIXDATE.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

export interface RetryDecision {
  retry: boolean;
  retryAfterMs?: number;
  /** Shown in the retry log line, e.g. `HTTP 503` or `connection reset`. */
  reason: string;
  /**
   * A 429 under a run-wide rate limiter (limiter.ts): the limiter decides when the request goes again, so it
   * is sent again without a backoff of its own and uses no attempt; such waits end after the time the run
   * allows (`maxRetryAfterMs`).
   */
  paced?: boolean;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let stopListening = () => {};
    const timer = setTimeout(() => {
      stopListening();
      resolve();
    }, ms);
    if (signal)
      stopListening = whenAborted(signal, () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
  });
}

/**
 * Run `attempt` until it succeeds, `classify` says stop, or the attempts are used up. `classify` sees both
 * thrown errors and returned values (so an HTTP 503 answer can be retried without throwing).
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  classify: (outcome: { value?: T; error?: unknown }) => RetryDecision,
  options: {
    policy: RetryPolicy;
    signal?: AbortSignal;
    onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
    /** The server asked to wait longer than the run allows: no retry, its answer stands. */
    onWaitRefused?: (info: { retryAfterMs: number; limitMs: number; reason: string }) => void;
    random?: () => number;
    /** A paced 429 is to be sent again (the limiter will say when). */
    onPaced?: (info: { attempt: number; reason: string; retryAfterMs?: number }) => void;
    now?: () => number;
  },
): Promise<T> {
  let pacedSince: number | undefined;
  for (let n = 1; ; n++) {
    let outcome: { value?: T; error?: unknown };
    try {
      outcome = { value: await attempt(n) };
    } catch (error) {
      if (options.signal?.aborted) throw error;
      outcome = { error };
    }
    const decision = classify(outcome);
    const limitMs = Math.min(options.policy.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS);
    if (decision.retry && decision.paced && !(decision.retryAfterMs !== undefined && decision.retryAfterMs > limitMs)) {
      const now = (options.now ?? Date.now)();
      pacedSince ??= now;
      if (now - pacedSince <= limitMs) {
        options.onPaced?.({ attempt: n, reason: decision.reason, ...(decision.retryAfterMs !== undefined ? { retryAfterMs: decision.retryAfterMs } : {}) });
        n--; // the same attempt again, when the limiter lets it go
        continue;
      }
    }
    if (!decision.retry || n >= options.policy.maxAttempts) {
      if ('error' in outcome) throw outcome.error;
      return outcome.value as T;
    }
    if (decision.retryAfterMs !== undefined && decision.retryAfterMs > limitMs) {
      options.onWaitRefused?.({ retryAfterMs: decision.retryAfterMs, limitMs, reason: decision.reason });
      if ('error' in outcome) throw outcome.error;
      return outcome.value as T;
    }
    const delayMs = backoffDelay(n, options.policy, decision.retryAfterMs, options.random);
    options.onRetry?.({ attempt: n, delayMs, reason: decision.reason });
    await sleep(delayMs, options.signal);
  }
}
