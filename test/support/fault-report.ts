// Support for the cross-provider fault suite (test/e2e/faults.test.ts):
//
//  - FaultGate: an HTTP gate in front of an emulator's API, like the load balancer in front of a real
//    service. It adds what the emulators' own fault layer (faults.ts) cannot express:
//      * operation-aware faults on GraphQL: every request to /graphql is matched as `/graphql/<OperationName>`,
//        so a 5xx can go to the queries and the mutations that are safe to repeat, and never to a mutation
//        whose repeat could duplicate something (ION createFileAttachment, Speckle CreateModel);
//      * late answers (`late` rules, action `delay`): the request is forwarded and PROCESSED at once, and only
//        the answer is held back, past the client's request timeout. The emulators' own `delay` fault waits
//        BEFORE processing and drops the request when the client gives up, so it never tests what an
//        idempotency key or a provider's "did it happen?" check is for.
//    Both rule lists are seeded `Faults` instances, so `injected` counts what fired.
//  - FaultTally / FaultFigures: the faults injected per run, by kind, and the figures the suite prints.
import { Agent, createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Faults, applyFault } from '../emulators/faults.js';
import type { InjectedFault } from '../emulators/faults.js';
import { readBody } from '../emulators/server.js';

/** GraphQL operation name of a request body (`operationName`, else the document's first named operation). */
export function graphqlOperation(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { operationName?: unknown; query?: unknown };
    if (typeof parsed.operationName === 'string' && parsed.operationName !== '') return parsed.operationName;
    if (typeof parsed.query === 'string') return /^\s*(?:query|mutation)\s+(\w+)/.exec(parsed.query)?.[1];
  } catch {
    /* not JSON: no operation */
  }
  return undefined;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'proxy-connection', 'upgrade']);

export interface GateLogEntry {
  method: string;
  /** Pathname, with `/<OperationName>` appended for GraphQL. */
  key: string;
  /** Upstream status; 0 when the upstream dropped the connection or the request was not forwarded. */
  status: number;
  fault?: string;
}

export class FaultGate {
  /** Faults applied BEFORE forwarding (status, reset, delay, stall): the service never sees the request. */
  readonly faults: Faults;
  /** `delay` rules applied AFTER forwarding: the service processed the request; its answer comes `ms` late. */
  readonly late: Faults;
  readonly log: GateLogEntry[] = [];
  /**
   * For requests whose key matches `keys`, at most one fault (before or late) per subject (e.g. per fileId):
   * for operations the client survives once but not twice in a row.
   */
  oncePerSubject: { keys: RegExp; subject: (body: Buffer) => string | undefined } | undefined;
  private readonly faultedSubjects = new Set<string>();
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private base = '';

  constructor(
    private readonly upstream: () => string,
    seed: number,
  ) {
    this.faults = new Faults(seed);
    this.late = new Faults(seed ^ 0x1a7e);
  }

  get url(): string {
    if (!this.server) throw new Error('FaultGate: call start() first');
    return this.base;
  }

  async start(): Promise<string> {
    if (this.server) return this.base;
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.base;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.agent.destroy();
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://gate');
    let body: Buffer;
    try {
      body = await readBody(req, 8 * 1024 * 1024);
    } catch {
      res.destroy();
      return;
    }
    const op = url.pathname.endsWith('/graphql') ? graphqlOperation(body) : undefined;
    const key = op ? `${url.pathname}/${op}` : url.pathname;
    const entry: GateLogEntry = { method, key, status: 0 };
    this.log.push(entry);

    const once = this.oncePerSubject;
    const subject = once && (once.keys.lastIndex = 0, once.keys.test(key)) ? `${key}:${once.subject(body) ?? ''}` : undefined;
    const guarded = subject !== undefined && this.faultedSubjects.has(subject);

    const before = guarded ? undefined : this.faults.take(method, key);
    if (before) {
      entry.fault = before.kind;
      if (subject) this.faultedSubjects.add(subject);
      // status / reset / stall answer here; a delay returns false when the client is still there.
      if (await applyFault(before, req, res)) return;
    }
    const late = guarded || before ? undefined : this.late.take(method, key);
    if (late) {
      entry.fault = `late-${late.kind}`;
      if (subject) this.faultedSubjects.add(subject);
    }

    // As a load balancer does: a client that goes away before the answer takes its upstream request with it
    // (so an emulator's own before-processing delay still drops the request instead of processing it late).
    const gone = new AbortController();
    const onClose = () => gone.abort();
    req.socket.once('close', onClose);
    let answer: { status: number; headers: Record<string, string>; body: Buffer } | undefined;
    try {
      answer = await this.forward(method, url, req, body, gone.signal);
    } catch {
      answer = undefined; // the service dropped the connection (e.g. an emulator's lost answer): drop ours too
    } finally {
      req.socket.off('close', onClose);
    }
    if (!answer) {
      res.destroy();
      return;
    }
    entry.status = answer.status;
    if (late && late.kind === 'delay') {
      const stillThere = await waitUnlessClosed(req, late.ms);
      if (!stillThere) return; // processed upstream; the client gave up before the answer came
    }
    if (req.socket.destroyed) return;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
    res.end(answer.body);
  }

  private forward(method: string, url: URL, req: IncomingMessage, body: Buffer, signal: AbortSignal): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const target = new URL(`${url.pathname}${url.search}`, this.upstream());
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const up = httpRequest(target, { method, headers, agent: this.agent, signal }, (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.once('end', () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(upRes.headers)) {
            if (v === undefined || HOP_BY_HOP.has(k)) continue;
            out[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: upRes.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
        });
        upRes.once('error', reject);
        upRes.once('aborted', () => reject(new Error('upstream aborted')));
      });
      up.once('error', reject);
      up.end(body);
    });
  }
}

function waitUnlessClosed(req: IncomingMessage, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = req.socket;
    if (socket.destroyed) return resolve(false);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      socket.off('close', onClose);
      resolve(!socket.destroyed);
    }, ms);
    socket.once('close', onClose);
  });
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

export const FAULT_KINDS = ['5xx', '429', 'reset', 'slow', 'late', 'expired', 'try-again', '401'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultTally = Record<FaultKind, number>;

export function emptyTally(): FaultTally {
  return Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultTally;
}

/** The kind of one injected fault (a 403 at storage is an expired URL; a 409 at an API a "try again"). */
export function kindOf(f: InjectedFault, late = false): FaultKind {
  if (late) return 'late';
  if (f.action === 'reset' || f.action === 'stall') return 'reset';
  if (f.action === 'delay') return 'slow';
  const s = f.status ?? 0;
  if (s === 429) return '429';
  if (s >= 500) return '5xx';
  if (s === 403) return 'expired';
  if (s === 401) return '401';
  return 'try-again';
}

export function tally(into: FaultTally, faults: readonly InjectedFault[], late = false): FaultTally {
  for (const f of faults) into[kindOf(f, late)] += 1;
  return into;
}

export function total(t: FaultTally): number {
  return FAULT_KINDS.reduce((n, k) => n + t[k], 0);
}

export interface RunFigures {
  provider: string;
  node: string;
  files: number;
  injected: FaultTally;
  /** Injected faults of a run in which every file was published intact exactly once. */
  survived: number;
  duplicates: number;
  /**
   * Stored objects no version / attachment / upload refers to: bytes a storage PUT kept although its answer
   * came too late, before the file started again with a new single-use URL. Not a second publication.
   */
  orphans: number;
  lost: number;
  leaks: number;
  /** Files the suite made fail on purpose with an unsafe-to-repeat fault, reported as failed (not lost). */
  unsafeReported: number;
}

export class FaultFigures {
  readonly runs: RunFigures[] = [];

  add(run: RunFigures): void {
    this.runs.push(run);
  }

  private sum(rows: RunFigures[], label: string): string {
    const injected = emptyTally();
    for (const r of rows) for (const k of FAULT_KINDS) injected[k] += r.injected[k];
    const n = (f: (r: RunFigures) => number) => rows.reduce((a, r) => a + f(r), 0);
    const kinds = FAULT_KINDS.filter((k) => injected[k] > 0)
      .map((k) => `${k} ${injected[k]}`)
      .join(', ');
    return (
      `${label.padEnd(11)} runs ${String(rows.length).padStart(2)} | files ${String(n((r) => r.files)).padStart(3)} | ` +
      `faults injected ${String(total(injected)).padStart(4)} (${kinds || 'none'}) | survived ${n((r) => r.survived)} | ` +
      `duplicates ${n((r) => r.duplicates)} | orphaned objects ${n((r) => r.orphans)} | files lost ${n((r) => r.lost)} | secret leaks ${n((r) => r.leaks)} | ` +
      `unsafe-to-retry failures reported ${n((r) => r.unsafeReported)}`
    );
  }

  /** One line per provider, then the total. */
  lines(): string[] {
    const providers = [...new Set(this.runs.map((r) => r.provider))];
    return [...providers.map((p) => this.sum(this.runs.filter((r) => r.provider === p), p)), this.sum(this.runs, 'TOTAL')];
  }

  totals(): { files: number; injected: number; survived: number; duplicates: number; lost: number; leaks: number } {
    const n = (f: (r: RunFigures) => number) => this.runs.reduce((a, r) => a + f(r), 0);
    return {
      files: n((r) => r.files),
      injected: n((r) => total(r.injected)),
      survived: n((r) => r.survived),
      duplicates: n((r) => r.duplicates),
      lost: n((r) => r.lost),
      leaks: n((r) => r.leaks),
    };
  }
}
