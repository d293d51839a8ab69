// One keep-alive HTTP client for every request the action makes (APIs and storage alike): undici with a
// dispatcher that honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY, a per-request timeout, and the retry
// policy. It knows HTTP, not vendors: callers say whether a request is safe to repeat.
import type { Readable } from 'node:stream';
import { EnvHttpProxyAgent, request as undiciRequest, type Dispatcher } from './undici.js';
import { whenAborted } from '../core/abort.js';
import { HttpError, NetworkError, PublishError } from '../core/errors.js';
import { RateLimiter } from '../core/limiter.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, sleep, withRetry, type RetryDecision, type RetryPolicy } from '../core/retry.js';
import type { Logger } from '../core/types.js';
import { monotonicMs } from '../core/units.js';
import { ERROR_BODY_CAP, SUCCESS_BODY_CAP, consume, readCapped } from './bounded.js';
import { JsonArrayError, JsonArrayReader } from './json-array.js';
import { closeWithin, untilAborted } from './deadline.js';

export interface HttpSettings {
  policy: RetryPolicy;
  /** Limit for a whole API request (not for uploads, which use the stall timeout). */
  requestTimeoutMs: number;
  /** An upload whose body stops moving (or whose answer does not come) for this long is aborted. */
  stallTimeoutMs: number;
  userAgent: string;
  log: Logger;
  /**
   * The most connections kept to one server: the files sending requests at once (`concurrency`) and a few for
   * what the run sends beside them. Without a bound, a request sent while the connection that just answered is
   * not yet free opens another, and a run at concurrency 32 opened up to twice as many (a TLS handshake each).
   */
  connectionsPerServer?: number;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A JSON body (sent with `Content-Type: application/json`). */
  json?: unknown;
  /** A raw body. */
  body?: string | Buffer;
  /**
   * Whether repeating the request is harmless. Idempotent requests are retried on 429, 5xx and dropped
   * connections; others only on 429, which a server sends before doing any work. Callers say why.
   */
  idempotent: boolean;
  signal?: AbortSignal;
  /** What the request does, for log lines: e.g. `presign tower.step`. */
  label: string;
}

export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: Record<string, string>;
  text: string;
  /** Parses the body as JSON; throws an HttpError naming the endpoint when it is not JSON (e.g. HTML). */
  json<T = unknown>(): T;
}

/** Origin and path only: presigned query strings (signatures) never reach a message or a log. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}

export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** A dropped connection, a reset or a timeout: the request may or may not have been processed. */
export function isNetworkFailure(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  if (code && NETWORK_CODES.has(code)) return true;
  return err.name === 'TimeoutError' || err.name === 'SocketError';
}

/** 429 and 5xx (but 501, which will not change) are worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/**
 * What undici threw, as our error: a proxy that refused the tunnel (407 and friends) is final and says where
 * to look; anything else is a network failure, retryable where the request is safe to repeat.
 */
export function transportError(err: unknown, label: string, where: string): PublishError {
  const proxy = err instanceof Error ? err.message.match(/Proxy response \((\d+)\)/) : null;
  if (proxy) {
    const status = proxy[1];
    const hint = status === '407' ? 'check the user:password in HTTPS_PROXY/HTTP_PROXY' : 'check HTTPS_PROXY/HTTP_PROXY, or list the host in NO_PROXY';
    return new PublishError(`${label}: the proxy answered ${status} to ${where}; ${hint}`, 'proxy_error');
  }
  return new NetworkError(`${label}: ${where} failed: ${describeNetworkFailure(err)}`, { cause: err });
}

export function describeNetworkFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  if (err.name === 'TimeoutError') return 'request timed out';
  return code ? `${code}: ${err.message}` : err.message;
}

export class Http {
  readonly dispatcher: Dispatcher;
  /** One rate limiter per server (origin): a 429 slows every request of the run to that server. */
  private readonly limiters = new Map<string, RateLimiter>();
  private readonly byPrefix = new Map<string, RateLimiter>();

  constructor(
    readonly settings: HttpSettings,
    dispatcher?: Dispatcher,
  ) {
    // EnvHttpProxyAgent reads HTTP_PROXY / HTTPS_PROXY / NO_PROXY (either case) and keeps connections alive. It
    // reads the proxies once, but NO_PROXY from the environment on every request (twice), unless given: read it
    // once here too, in the same order (a run's environment does not change under it).
    this.dispatcher =
      dispatcher ?? new EnvHttpProxyAgent({ keepAliveTimeout: 10_000, connections: settings.connectionsPerServer ?? 64, noProxy: process.env['no_proxy'] ?? process.env['NO_PROXY'] ?? '' });
  }

  /** The run's rate limiter for the server of `url`. */
  limiterFor(url: string): RateLimiter {
    // Looked up by the URL up to its path (no parse per request); keyed by origin.
    const end = url.indexOf('/', url.indexOf('//') + 2);
    const prefix = end < 0 ? url : url.slice(0, end);
    const known = this.byPrefix.get(prefix);
    if (known) return known;
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      origin = '';
    }
    let limiter = this.limiters.get(origin);
    if (!limiter) {
      const log = this.settings.log;
      const maxHold = Math.min(this.settings.policy.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS);
      limiter = new RateLimiter({
        clock: { now: monotonicMs, sleep },
        maxRetryAfterMs: maxHold,
        onChange: (e) =>
          log.info(
            e.kind === 'limited'
              ? `${origin}: rate limited (HTTP 429): ${Number.isFinite(e.ratePerSec) ? `pacing requests to ${e.ratePerSec.toFixed(1)}/s, ` : ''}next request in ${(e.holdMs / 1000).toFixed(1)}s`
              : `${origin}: accepting requests again; pacing them to ${e.ratePerSec.toFixed(1)}/s`,
          ),
      });
      this.limiters.set(origin, limiter);
    }
    this.byPrefix.set(prefix, limiter);
    return limiter;
  }

  /** Retry classification shared by API requests and uploads. */
  classify(idempotent: boolean, outcome: { value?: { status: number; headers: Record<string, string> }; error?: unknown }): RetryDecision {
    if (outcome.error !== undefined) {
      // A dropped connection may have been processed: repeat only what is safe to repeat.
      if (isNetworkFailure(outcome.error)) return { retry: idempotent, reason: describeNetworkFailure(outcome.error) };
      return { retry: false, reason: String(outcome.error) };
    }
    const res = outcome.value!;
    if (!isRetryableStatus(res.status)) return { retry: false, reason: `HTTP ${res.status}` };
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    // 429 means the server refused before doing any work, so even a non-idempotent request may be repeated; the
    // server's limiter (limiterFor) says when.
    if (res.status === 429) return { retry: true, paced: true, retryAfterMs, reason: 'HTTP 429' };
    return { retry: idempotent, retryAfterMs, reason: `HTTP ${res.status}` };
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    return this.send(req, async (status, headers, body, where) => {
      // Bounded: an error body to a few KiB (the message), a success to a cap no real answer reaches.
      const ok = status >= 200 && status < 300;
      const { text, truncated } = await readCapped(body, ok ? SUCCESS_BODY_CAP : ERROR_BODY_CAP);
      if (ok && truncated) {
        throw new HttpError(`${req.label}: ${where} answered more than ${SUCCESS_BODY_CAP / 1024 / 1024} MiB; no answer of this API is that large`, status, '', { code: 'invalid_response' });
      }
      return makeResponse(status, headers, text, where);
    });
  }

  /**
   * A GET of a list: a successful answer must be one JSON array, read element by element as it arrives
   * (JsonArrayReader), of which only the elements `keep` accepts are held. However long the list, the run holds
   * one element and what it keeps. Any other answer is read as `request` reads it (`text` holds an error body).
   * `parseMs`: the time spent reading the list's elements (not waiting for them).
   */
  requestList(req: HttpRequest, keep: (element: unknown) => boolean): Promise<HttpResponse & { kept: unknown[]; parseMs: number }> {
    return this.send(req, async (status, headers, body, where) => {
      if (status < 200 || status >= 300) {
        const { text } = await readCapped(body, ERROR_BODY_CAP);
        return Object.assign(makeResponse(status, headers, text, where), { kept: [], parseMs: 0 });
      }
      // A new reader each attempt: a retried list is read again from its start.
      const kept: unknown[] = [];
      const reader = new JsonArrayReader((element) => {
        if (keep(element)) kept.push(element);
      });
      let parseMs = 0;
      /** The answer's first bytes, for the message when it is not a list. */
      let head = '';
      try {
        await consume(body, (chunk) => {
          if (head.length < 80) head += chunk.toString('utf8', 0, 80 - head.length);
          const started = monotonicMs();
          reader.push(chunk);
          parseMs += monotonicMs() - started;
        });
        reader.end();
      } catch (err) {
        if (!(err instanceof JsonArrayError)) throw err;
        // An HTML page (a wrong server-url, a login page) is said as such, as `json()` says it.
        const what = /^\s*</.test(head) ? `HTML or XML where a JSON list was expected; check that server-url points at the API (first bytes: ${JSON.stringify(head)})` : `something other than a JSON list: ${err.message}`;
        throw new HttpError(`${req.label}: ${where} answered HTTP ${status} with ${what}`, status, head, { code: 'invalid_response' });
      }
      return Object.assign(makeResponse(status, headers, '', where), { kept, parseMs });
    });
  }

  /**
   * One request with the run's retry policy, rate limiter and per-request deadline; `read` reads the answer's body
   * within the deadline. A body lost on the way is a network failure (retried where the request is safe to repeat).
   */
  private send<R extends { status: number; headers: Record<string, string> }>(
    req: HttpRequest,
    read: (status: number, headers: Record<string, string>, body: Readable, where: string) => Promise<R>,
  ): Promise<R> {
    const headers: Record<string, string> = { 'user-agent': this.settings.userAgent, ...lower(req.headers ?? {}) };
    let body: string | Buffer | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    }
    headers['accept'] ??= 'application/json';
    const where = `${req.method} ${redactUrl(req.url)}`;
    const limiter = this.limiterFor(req.url);
    return withRetry(
      async () => {
        const ticket = await limiter.acquire(req.signal);
        const deadline = requestDeadline(req.signal, this.settings.requestTimeoutMs);
        try {
          const signal = deadline.signal;
          let res: Dispatcher.ResponseData;
          try {
            // Raced against the signal too: a proxy that never answers the CONNECT would otherwise hang (deadline.ts).
            res = await untilAborted(undiciRequest(req.url, { method: req.method, headers, body, dispatcher: this.dispatcher, signal }), signal, (late) => late.body.destroy());
          } catch (err) {
            ticket.done('failed');
            if (req.signal?.aborted) throw err;
            throw transportError(err, req.label, where);
          }
          const answerHeaders = flattenHeaders(res.headers);
          if (res.statusCode === 429) {
            // A wait longer than the run allows is not waited out (withRetry lets the answer stand): no hold for it.
            const retryAfterMs = parseRetryAfter(answerHeaders['retry-after']);
            ticket.done(retryAfterMs !== undefined && retryAfterMs > limiter.maxRetryAfterMs ? 'failed' : 'limited', retryAfterMs);
          } else ticket.done('ok');
          return await read(res.statusCode, answerHeaders, res.body, where).catch((err: unknown) => {
            if (req.signal?.aborted || err instanceof HttpError) throw err;
            throw new NetworkError(`${req.label}: ${where}: response body lost: ${describeNetworkFailure(err)}`, { cause: err });
          });
        } finally {
          deadline.done();
        }
      },
      (outcome) => this.classify(req.idempotent, outcome),
      {
        policy: this.settings.policy,
        signal: req.signal,
        onRetry: ({ attempt, delayMs, reason }) =>
          this.settings.log.info(`${req.label}: ${reason}, retry ${attempt + 1}/${this.settings.policy.maxAttempts} in ${(delayMs / 1000).toFixed(1)}s`),
        onPaced: ({ attempt, reason, retryAfterMs }) =>
          this.settings.log.info(`${req.label}: ${reason}, retry ${attempt + 1} when the server allows${retryAfterMs !== undefined ? ` (Retry-After ${(retryAfterMs / 1000).toFixed(1)}s)` : ''}`),
        onWaitRefused: ({ retryAfterMs, limitMs, reason }) =>
          this.settings.log.info(`${req.label}: ${reason}, and the server asks to wait ${Math.round(retryAfterMs / 1000)}s, more than the ${Math.round(limitMs / 1000)}s this run allows: not retried`),
      },
    );
  }

  async close(): Promise<void> {
    await closeWithin(this.dispatcher);
  }
}

export function makeResponse(status: number, headers: Record<string, string>, text: string, where: string): HttpResponse {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers,
    text,
    json<T>() {
      try {
        return JSON.parse(text) as T;
      } catch {
        const kind = /^\s*</.test(text) ? 'HTML or XML' : 'text that is not JSON';
        throw new HttpError(
          `${where} answered HTTP ${status} with ${kind} where JSON was expected; check that server-url points at the API (first bytes: ${JSON.stringify(text.slice(0, 80))})`,
          status,
          text.slice(0, 500),
          { code: 'invalid_response' },
        );
      }
    },
  };
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * A signal for one request: aborted by `parent`, or with a TimeoutError (as AbortSignal.timeout) after `ms`.
 * `done()` clears the timer and the listener at once: thousands of requests leave no timer and no signal tied to
 * the run's own behind them (AbortSignal.timeout's timer would live for the whole timeout, and AbortSignal.any
 * keeps every composite it made in its parent until a garbage collection).
 */
export function requestDeadline(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; done(): void } {
  const controller = new AbortController();
  if (parent?.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, done: () => {} };
  }
  const stopListening = parent ? whenAborted(parent, () => controller.abort(parent.reason)) : () => {};
  const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
  timer.unref();
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      stopListening();
    },
  };
}
