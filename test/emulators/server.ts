/**
 * Tiny shared HTTP plumbing for the vendor emulators (blob store, ARCNM, Speckle, ION, Coldstream).
 *
 * Usage:
 *
 *   const requests: RequestLogEntry[] = [];
 *   const srv = await startServer(async (req, res, ctx) => {
 *     if (ctx.url.pathname === '/ping') return sendJson(res, 200, { ok: true });
 *     const body = await readBody(req, 1024 * 1024);
 *     ...
 *   }, { faults, name: 'my-vendor', requests });
 *   srv.url   // "http://127.0.0.1:54321"
 *   await srv.close();
 *
 * What `startServer` does for every request, in this order:
 *   1. appends a {@link RequestLogEntry} to `requests` (status is filled in when the response ends;
 *      0 when the connection died without an answer),
 *   2. asks `faults.take(method, pathname)` and applies the fault (see faults.ts); a status/reset/stall
 *      fault answers the request without calling the handler, a delay fault waits and then continues,
 *   3. calls the handler; an exception becomes a 500 `{"error":"emulator_internal_error"}` (and is
 *      printed, since it is a bug in the emulator), unless the client already went away
 *      ({@link BodyAbortedError}) in which case the socket is simply dropped.
 *
 * It listens on 127.0.0.1 with port 0 (random free port) and `close()` also drops keep-alive sockets
 * (`server.closeAllConnections()`), so tests never hang on a pooled connection.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Faults, applyFault } from './faults.js';
import type { FaultAction } from './faults.js';

export interface RequestLogEntry {
  method: string;
  /** Pathname only, as sent (still percent-encoded). */
  path: string;
  /** Query string as an object (last value wins for repeated names). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Response status; 0 until answered, and stays 0 when the connection was reset without an answer. */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
  /** Set when a fault was injected on this request. */
  fault?: FaultAction['kind'];
  /** The client's port: one per connection on loopback, so distinct values count the connections opened. */
  connection?: number;
}

export interface HandlerContext {
  /** Parsed request URL (base http://127.0.0.1:PORT). */
  url: URL;
  /** This request's log entry (handlers may annotate it). */
  log: RequestLogEntry;
  /** Server name given to startServer (for messages). */
  name: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: HandlerContext) => void | Promise<void>;

export interface StartServerOptions {
  faults?: Faults;
  /** Used in error messages and logs. */
  name?: string;
  /** Log array to append to (pass the emulator's own `requests` array); a new one when absent. */
  requests?: RequestLogEntry[];
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  requests: RequestLogEntry[];
  close(): Promise<void>;
}

/**
 * An emulator's own server: started on first use (start is idempotent), closed once, and its URL only while it
 * runs. Each emulator holds one (ION two) instead of repeating this. The options are read at start(), so a
 * field initialiser may refer to what the emulator's constructor sets.
 */
export class Listener {
  private server: RunningServer | undefined;
  constructor(
    private readonly handler: Handler,
    private readonly options: () => StartServerOptions & { name: string },
  ) {}

  async start(): Promise<string> {
    this.server ??= await startServer(this.handler, this.options());
    return this.server.url;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.close();
  }

  get started(): boolean {
    return this.server !== undefined;
  }

  /** The base URL http://127.0.0.1:PORT; throws before start(). */
  get url(): string {
    if (!this.server) throw new Error(`${this.options().name}: call start() first`);
    return this.server.url;
  }
}

/** Thrown by readBody when the request body exceeds maxBytes (the rest of the body is drained). */
export class BodyTooLargeError extends Error {
  constructor(
    readonly observedBytes: number,
    readonly limitBytes: number,
  ) {
    super(`request body exceeds ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** Thrown by readBody when the client aborted / the connection closed before the body was complete. */
export class BodyAbortedError extends Error {
  constructor() {
    super('request body aborted before completion');
    this.name = 'BodyAbortedError';
  }
}

export async function startServer(handler: Handler, opts: StartServerOptions = {}): Promise<RunningServer> {
  const faults = opts.faults ?? new Faults();
  const name = opts.name ?? 'emulator';
  const requests = opts.requests ?? [];
  let base = 'http://127.0.0.1';

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const log: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      status: 0,
      at: Date.now(),
      connection: req.socket.remotePort,
    };
    requests.push(log);
    res.once('finish', () => {
      log.status = res.statusCode;
    });

    void (async () => {
      try {
        const fault = faults.take(log.method, url.pathname);
        if (fault) {
          log.fault = fault.kind;
          if (await applyFault(fault, req, res)) return;
        }
        await handler(req, res, { url, log, name });
      } catch (err) {
        if (err instanceof BodyAbortedError || req.socket.destroyed) {
          res.destroy();
          return;
        }
        console.error(`[${name}] handler error on ${log.method} ${log.path}:`, err);
        if (!res.headersSent) {
          sendJson(res, 500, { error: 'emulator_internal_error', message: String(err) });
        } else {
          res.destroy();
        }
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  return {
    url: base,
    port,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Read the whole request body (`onChunk` sees each piece as it arrives, e.g. to hash it). Rejects with BodyTooLargeError once more than `maxBytes` arrived
 * (the remainder is drained so a response can still be sent), and with BodyAbortedError when the
 * connection closes before the body is complete (nothing should be stored then).
 */
export function readBody(req: IncomingMessage, maxBytes = Infinity, onChunk?: (chunk: Buffer) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        fail(new BodyTooLargeError(size, maxBytes));
        req.resume(); // keep draining so the answer can be delivered
        return;
      }
      chunks.push(chunk);
      onChunk?.(chunk);
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (): void => fail(new BodyAbortedError());
    const onClose = (): void => {
      if (!req.complete) fail(new BodyAbortedError());
    };
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/** Send a JSON answer with Content-Type and Content-Length. */
export function sendJson(res: ServerResponse, status: number, obj: unknown, headers: Record<string, string> = {}): void {
  const body = obj === undefined ? '' : JSON.stringify(obj);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}
