/**
 * Fault injection shared by every emulator.
 *
 * A test adds {@link FaultRule}s to an emulator's `faults`; `startServer` (server.ts) asks
 * `faults.take(method, pathname)` before routing each request and applies the returned action
 * with {@link applyFault}. Faults therefore act "in front of" the vendor logic, like a load
 * balancer or a flaky network would: a faulted request never reaches the emulated service, so
 * it changes no state (no upload created, no idempotency key taken).
 *
 * Probabilistic rules draw from a seeded PRNG (mulberry32), so a run with the same seed and the
 * same request sequence injects the same faults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type FaultAction =
  /** Answer this instead of handling (the request body is drained first so the client sees the status). */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Read this many request-body bytes (default 0), then destroy the socket (connection reset mid-body). */
  | { kind: 'reset'; afterBytes?: number }
  /** Wait, then handle normally (use for "slower than the client's request timeout"). */
  | { kind: 'delay'; ms: number }
  /** Stop reading the request body after N bytes for `ms`, then destroy the socket. */
  | { kind: 'stall'; afterBytes: number; ms: number };

export interface FaultRule {
  /** Match this HTTP method (case-insensitive); any when absent. */
  method?: string;
  /** Match the pathname: string = exact, or a prefix when it ends with '*'; RegExp = test(); any when absent. */
  path?: string | RegExp;
  action: FaultAction;
  /** How many matching requests it hits (default 1; Infinity allowed). */
  times?: number;
  /** 0..1 chance per matching request (default 1), drawn from the seeded PRNG. */
  probability?: number;
}

export interface InjectedFault {
  method: string;
  path: string;
  action: FaultAction['kind'];
  status?: number;
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** mulberry32: tiny, fast, good enough for reproducible fault schedules. Returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pathMatches(pattern: string | RegExp | undefined, pathname: string): boolean {
  if (pattern === undefined) return true;
  if (pattern instanceof RegExp) {
    pattern.lastIndex = 0; // a /g or /y regex is stateful; make every test start fresh
    return pattern.test(pathname);
  }
  if (pattern.endsWith('*')) return pathname.startsWith(pattern.slice(0, -1));
  return pathname === pattern;
}

export class Faults {
  /** Every fault actually injected, in order. */
  readonly injected: InjectedFault[] = [];
  private rules: ActiveRule[] = [];
  private random: () => number;

  constructor(seed = 0x5eed) {
    this.random = mulberry32(seed);
  }

  /** Add a rule; rules are tried in insertion order and the first one that fires wins. */
  add(rule: FaultRule): this {
    const times = rule.times ?? 1;
    if (!(times > 0)) throw new Error(`FaultRule.times must be > 0 (got ${times})`);
    const p = rule.probability ?? 1;
    if (!(p >= 0 && p <= 1)) throw new Error(`FaultRule.probability must be within 0..1 (got ${p})`);
    this.rules.push({ rule, remaining: times });
    return this;
  }

  /** Drop all rules (the `injected` history is kept; reset it with `injected.length = 0`). */
  clear(): void {
    this.rules = [];
  }

  /** Rules that can still fire. */
  get pending(): number {
    return this.rules.length;
  }

  /** Called by servers per request: the action to apply, or undefined. Counts injections. */
  take(method: string, pathname: string): FaultAction | undefined {
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (!pathMatches(rule.path, pathname)) continue;
      // Only draw when the rule is probabilistic, so adding a p=1 rule does not shift the sequence.
      const p = rule.probability ?? 1;
      if (p < 1 && !(this.random() < p)) continue;
      active.remaining -= 1;
      if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
      const action = rule.action;
      this.injected.push({
        method,
        path: pathname,
        action: action.kind,
        ...(action.kind === 'status' ? { status: action.status } : {}),
      });
      return action;
    }
    return undefined;
  }
}

/** Resolve after `ms`, or early (false) when the client's socket closes. */
function sleepUnlessClosed(req: IncomingMessage, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = req.socket;
    if (socket.destroyed) return resolve(false);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      socket.off('close', onClose);
      resolve(true);
    }, ms);
    socket.once('close', onClose);
  });
}

/** Consume request-body bytes until at least `n` were read (or the body ended). Leaves the stream paused. */
function readAtLeast(req: IncomingMessage, n: number): Promise<void> {
  return new Promise((resolve) => {
    if (n <= 0 || req.complete) return resolve();
    let seen = 0;
    const done = (): void => {
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      req.off('close', done);
      req.pause();
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen >= n) done();
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
  });
}

/** Read and discard the whole request body (so the client finishes sending and then sees our answer). */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.complete || req.readableEnded) return resolve();
    req.once('end', () => resolve());
    req.once('error', () => resolve());
    req.once('close', () => resolve());
    req.resume();
  });
}

function guessContentType(body: string): string {
  const t = body.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) return 'application/json';
  if (t.startsWith('<')) return 'application/xml';
  return 'text/plain; charset=utf-8';
}

/**
 * Apply a fault to a node:http request/response.
 * Returns true when the fault fully handled the request (status/reset/stall, or the client went away
 * during a delay); false when the handler should continue (after a delay).
 *
 * Byte counts are honoured at chunk granularity: "afterBytes: 1000" reads the chunk that crosses 1000.
 */
export async function applyFault(action: FaultAction, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  switch (action.kind) {
    case 'status': {
      await drain(req);
      if (res.destroyed) return true;
      const body = action.body ?? '';
      const headers: Record<string, string> = { ...(action.headers ?? {}) };
      const hasHeader = (name: string): boolean => Object.keys(headers).some((h) => h.toLowerCase() === name);
      if (body && !hasHeader('content-type')) headers['Content-Type'] = guessContentType(body);
      if (!hasHeader('content-length')) headers['Content-Length'] = String(Buffer.byteLength(body));
      res.writeHead(action.status, headers);
      res.end(body);
      return true;
    }
    case 'reset': {
      await readAtLeast(req, action.afterBytes ?? 0);
      req.socket.destroy();
      return true;
    }
    case 'stall': {
      await readAtLeast(req, action.afterBytes);
      req.pause();
      await sleepUnlessClosed(req, action.ms);
      req.socket.destroy();
      return true;
    }
    case 'delay': {
      const stillThere = await sleepUnlessClosed(req, action.ms);
      return !stillThere; // the client gave up: nobody to answer
    }
  }
}
