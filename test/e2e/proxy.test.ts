// The ARCNM chain end to end behind a real HTTP proxy (the `proxy` package from the npm registry, by
// TooTallNate), run in this process. The committed bundle gets HTTP_PROXY / HTTPS_PROXY / NO_PROXY through
// its environment only (runAction does not inherit ours), as a runner behind a corporate proxy would.
//
// What is observed, and by whom:
// - The proxy: every CONNECT tunnel it opened (undici's ProxyAgent tunnels plain http:// too) and, by
//   reading the client's bytes inside each tunnel with a small HTTP/1.1 framing parser, every request
//   (method + path) that went through it. Requests in absolute form (`GET http://…`) are recorded too.
// - The emulators' own request logs (method + path of every request they received).
// - The kernel's view, through node:diagnostics_channel in this process: the TCP peer (address:port) of
//   every request the emulators' HTTP servers started, and the local address:port of every socket this
//   process opened to an emulator. The action runs in a child process, so the only sockets this process
//   opens to the emulators are the proxy's upstream connections; a request whose peer is not one of them
//   came straight from the action: it bypassed the proxy.
import { createHash } from 'node:crypto';
import dc from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { createProxy } from 'proxy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectArcnmHolds } from '../support/arcnm.js';
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { NODES, findLeaks, makeWorkspace, runAction } from '../support/action.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_9f3c1e7d5b2a4f60a1b2c3d4';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// What the proxy saw
// ---------------------------------------------------------------------------------------------

interface SeenRequest {
  /** `host:port` the request was for. */
  target: string;
  method: string;
  /** Pathname only (no query string: presigned signatures stay out of assertion messages). */
  path: string;
}

/**
 * Splits the client → server bytes of one tunnel into HTTP/1.1 requests: a head up to the blank line, then
 * a body framed by Content-Length or chunked Transfer-Encoding, then the next request on the kept-alive
 * connection. Only the heads are kept.
 */
class RequestStream {
  private buf: Buffer = Buffer.alloc(0);
  private skip = 0;
  private state: 'head' | 'chunk-size' | 'trailer' = 'head';
  private afterSkip: 'head' | 'chunk-size' = 'head';

  constructor(
    private readonly target: string,
    private readonly seen: SeenRequest[],
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf.length);
        this.skip -= n;
        this.buf = this.buf.subarray(n);
        if (this.skip > 0) return;
        this.state = this.afterSkip;
      }
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      if (this.state === 'chunk-size') {
        const size = Number.parseInt(this.buf.subarray(0, eol).toString('latin1').split(';')[0]!, 16);
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) this.state = 'trailer';
        else [this.skip, this.afterSkip] = [size + 2, 'chunk-size'];
        continue;
      }
      if (this.state === 'trailer') {
        this.buf = this.buf.subarray(eol + 2);
        if (eol === 0) this.state = 'head';
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [line = '', ...fields] = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      const [method = '', requestTarget = ''] = line.split(' ');
      this.seen.push({ target: this.target, method, path: new URL(requestTarget, 'http://x').pathname });
      const header = (name: string) => fields.find((f) => f.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      if (/chunked/i.test(header('transfer-encoding') ?? '')) this.state = 'chunk-size';
      else [this.skip, this.afterSkip] = [Number(header('content-length') ?? 0), 'head'];
    }
  }
}

interface ProxyRecord {
  url: string;
  /** Proxy-Authorization values refused with 407 (when the proxy requires credentials). */
  refused: string[];
  /** `host:port` of every CONNECT. */
  tunnels: string[];
  /** Every request that went through the proxy, tunnelled or forwarded. */
  requests: SeenRequest[];
  close(): Promise<void>;
}

async function startProxy(credentials?: string): Promise<ProxyRecord> {
  const tunnels: string[] = [];
  const requests: SeenRequest[] = [];
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createProxy(createServer());
  if (credentials) {
    const expected = `Basic ${Buffer.from(credentials).toString('base64')}`;
    server.authenticate = (req) => {
      const given = req.headers['proxy-authorization'] ?? '';
      if (given !== expected) refused.push(given);
      return given === expected;
    };
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // Registered after the proxy's own listener, which pauses the socket before its first await: adding a
  // 'data' listener to a paused socket does not start the flow, so the proxy's pipe still gets every byte.
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    if (credentials && req.headers['proxy-authorization'] !== `Basic ${Buffer.from(credentials).toString('base64')}`) return;
    const target = req.url ?? '';
    tunnels.push(target);
    const stream = new RequestStream(target, requests);
    socket.on('data', (chunk: Buffer) => stream.push(chunk));
  });
  server.on('request', (req: IncomingMessage) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push({ target: u.host, method: req.method ?? '', path: u.pathname });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    tunnels,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// What the emulators' TCP connections show
// ---------------------------------------------------------------------------------------------

interface Arrival {
  /** The emulator's port. */
  port: number;
  method: string;
  path: string;
  /** `address:port` of the client end of the connection the request came on. */
  peer: string;
}

class Wiretap {
  /** Every request an HTTP server in this process started on one of `ports`. */
  readonly arrivals: Arrival[] = [];
  /** `address:port` of every socket this process opened to one of `ports` (the proxy's upstreams). */
  readonly upstreams = new Set<string>();
  ports = new Set<number>();

  private readonly onRequest = (message: unknown) => {
    const { request, socket } = message as { request: IncomingMessage; socket: Socket };
    if (!this.ports.has(socket.localPort ?? -1)) return;
    this.arrivals.push({
      port: socket.localPort!,
      method: request.method ?? '',
      path: new URL(request.url ?? '/', 'http://x').pathname,
      peer: `${socket.remoteAddress}:${socket.remotePort}`,
    });
  };

  private readonly onClientSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    socket.once('connect', () => {
      if (this.ports.has(socket.remotePort ?? -1)) this.upstreams.add(`${socket.localAddress}:${socket.localPort}`);
    });
  };

  start(): void {
    dc.subscribe('http.server.request.start', this.onRequest);
    dc.subscribe('net.client.socket', this.onClientSocket);
  }

  stop(): void {
    dc.unsubscribe('http.server.request.start', this.onRequest);
    dc.unsubscribe('net.client.socket', this.onClientSocket);
  }

  through(port: number): Arrival[] {
    return this.arrivals.filter((a) => a.port === port && this.upstreams.has(a.peer));
  }

  /** Requests that reached the emulator on `port` over a connection the proxy did not open. */
  direct(port: number): Arrival[] {
    return this.arrivals.filter((a) => a.port === port && !this.upstreams.has(a.peer));
  }
}

// ---------------------------------------------------------------------------------------------

let blob: BlobStore;
let arcnm: ArcnmEmulator;
let proxy: ProxyRecord;
let tap: Wiretap;

beforeEach(async () => {
  tap = new Wiretap();
  tap.start();
  blob = new BlobStore();
  await blob.start();
  arcnm = new ArcnmEmulator({ blob, apiKey: API_KEY });
  await arcnm.start();
  proxy = await startProxy();
  tap.ports = new Set([port(arcnm.url), port(blob.url)]);
});

afterEach(async () => {
  tap?.stop();
  await proxy?.close();
  await arcnm?.close();
  await blob?.close();
});

const port = (url: string) => Number(new URL(url).port);
const host = (url: string) => new URL(url).host;

const files = () => ({
  'cad/brackets/bracket.step': samples.step('bracket.step'),
  'cad/housing.stp': samples.step('housing.stp'),
  'cad/meshes/cube.stl': samples.stlBinary(),
  'drawings/GA-100.pdf': samples.pdf('GA-100 general arrangement'),
});

function inputs(extra: Record<string, string> = {}) {
  return { provider: 'arcnm', path: 'cad/**\ndrawings/*.pdf', 'server-url': arcnm.url, token: API_KEY, ...extra };
}

const proxyEnv = () => ({ HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url });

/** `METHOD /path` lines, sorted, for comparing multisets. */
const lines = (rs: { method: string; path: string }[]) => rs.map((r) => `${r.method} ${r.path}`).sort();
const seenFor = (url: string) => proxy.requests.filter((r) => r.target === host(url));

async function expectStoredIntact(ws: string, run: { results: Record<string, any>[] }) {
  await expectArcnmHolds({ arcnm, blob }, ws, run.results);
  for (const rel of Object.keys(files())) {
    const local = await readFile(path.join(ws, rel));
    const uploads = [...arcnm.uploads.values()].filter((u) => u.name === path.basename(rel) && u.status === 'confirmed');
    expect(uploads, `${rel}: exactly one confirmed upload`).toHaveLength(1);
    expect(blob.get(uploads[0]!.key)?.bytes.equals(local), `${rel}: stored bytes equal the file`).toBe(true);
    expect(uploads[0]!.sha256).toBe(sha256(local));
  }
}

/** The proxy saw exactly the requests `emulator` logged: same method + path, same count. */
function expectAllThroughProxy(url: string, log: { method: string; path: string }[]) {
  expect(log.length, `${url} received requests`).toBeGreaterThan(0);
  expect(lines(seenFor(url)), `what the proxy carried to ${url} = what it logged`).toEqual(lines(log));
  expect(tap.direct(port(url)).map((a) => `${a.method} ${a.path} from ${a.peer}`), `requests that reached ${url} without the proxy`).toEqual([]);
  expect(lines(tap.through(port(url)))).toEqual(lines(log));
}

describe.each(NODES)('through an HTTP proxy ($name)', ({ bin }) => {
  it('with HTTP_PROXY and HTTPS_PROXY set, every API and storage request goes through the proxy', async () => {
    const ws = await makeWorkspace(files());
    const run = await runAction(inputs(), { workspace: ws, node: bin, env: proxyEnv() });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs['succeeded-count']).toBe('4');
    await expectStoredIntact(ws, run);

    expectAllThroughProxy(arcnm.url, arcnm.requests);
    expectAllThroughProxy(blob.url, blob.requests);
    expect(lines(proxy.requests)).toEqual(lines([...arcnm.requests, ...blob.requests]));
    expect(new Set(proxy.tunnels)).toEqual(new Set([host(arcnm.url), host(blob.url)]));
    expect(arcnm.requests.filter((r) => r.path === '/api/v1/uploads/presign')).toHaveLength(4);
    expect(blob.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
    expect(findLeaks(run, [API_KEY])).toEqual([]);
  });

  it('NO_PROXY naming the storage host:port: storage is reached directly, the API still through the proxy', async () => {
    const ws = await makeWorkspace(files());
    const run = await runAction(inputs(), { workspace: ws, node: bin, env: { ...proxyEnv(), NO_PROXY: `example.com,${host(blob.url)}` } });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectStoredIntact(ws, run);

    expectAllThroughProxy(arcnm.url, arcnm.requests);
    expect(seenFor(blob.url), 'the proxy carried nothing to storage').toEqual([]);
    expect(proxy.tunnels.filter((t) => t === host(blob.url))).toEqual([]);
    expect(blob.requests.filter((r) => r.method === 'PUT')).toHaveLength(4);
    expect(lines(tap.direct(port(blob.url))), 'every storage request came straight from the action').toEqual(lines(blob.requests));
  });

  it('no_proxy (lower case) naming the API host:port: the API is reached directly, storage through the proxy', async () => {
    const ws = await makeWorkspace(files());
    const run = await runAction(inputs(), { workspace: ws, node: bin, env: { http_proxy: proxy.url, https_proxy: proxy.url, no_proxy: host(arcnm.url) } });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectStoredIntact(ws, run);

    expectAllThroughProxy(blob.url, blob.requests);
    expect(seenFor(arcnm.url), 'the proxy carried nothing to the API').toEqual([]);
    expect(lines(tap.direct(port(arcnm.url)))).toEqual(lines(arcnm.requests));
  });

  it('a proxy that requires credentials: the user:password in HTTPS_PROXY is sent to it and shown nowhere', async () => {
    await proxy.close();
    const password = 'pr0xy-s3cret-7d1f';
    proxy = await startProxy(`ci-bot:${password}`);
    const withCredentials = proxy.url.replace('http://', `http://ci-bot:${password}@`);
    const ws = await makeWorkspace(files());
    const run = await runAction(inputs(), { workspace: ws, node: bin, env: { HTTP_PROXY: withCredentials, HTTPS_PROXY: withCredentials } });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(proxy.refused).toEqual([]);
    await expectStoredIntact(ws, run);
    expectAllThroughProxy(arcnm.url, arcnm.requests);
    expectAllThroughProxy(blob.url, blob.requests);
    // The credentials are for the proxy alone: they never reach the servers behind it, nor the logs.
    const forwarded = JSON.stringify([...arcnm.requests, ...blob.requests].map((r) => r.headers));
    expect(forwarded).not.toContain(Buffer.from(`ci-bot:${password}`).toString('base64'));
    expect(findLeaks(run, [password, API_KEY])).toEqual([]);
  });

  it('a proxy that refuses the credentials: nothing reaches the servers and the run fails with the 407 the proxy answered', async () => {
    await proxy.close();
    proxy = await startProxy('ci-bot:right-password');
    const wrong = proxy.url.replace('http://', 'http://ci-bot:wrong-password@');
    const ws = await makeWorkspace({ 'cad/part.step': samples.step('part.step') });
    const run = await runAction(inputs(), { workspace: ws, node: bin, env: { HTTP_PROXY: wrong, HTTPS_PROXY: wrong } });
    expect(run.exitCode).toBe(1);
    // Each request refused once, not retried: a wrong password will not get better. Two requests: skip-unchanged's
    // read of the upload list (its failure is a warning), then the presign.
    expect(proxy.refused.length).toBe(2);
    expect(run.stdout).toMatch(/the proxy answered 407 .*check the user:password in HTTPS_PROXY\/HTTP_PROXY/);
    expect(arcnm.requests).toEqual([]);
    expect(blob.requests).toEqual([]);
    expect(run.stdout).toMatch(/407/);
    expect(findLeaks(run, ['wrong-password'])).toEqual([]);
  });

  it('no request bypasses the proxy, on retries and new connections too: every connection the servers accepted was opened by the proxy', async () => {
    // Faults make the action drop connections and open new ones (a reset mid-upload, 503s, a 500), with
    // four uploads at once; a NO_PROXY that matches neither server must change nothing.
    arcnm.faults.add({ method: 'POST', path: '/api/v1/uploads/presign', action: { kind: 'status', status: 503, body: '{"error":{"code":"unavailable","message":"try again"}}' }, times: 2 });
    blob.faults.add({ method: 'PUT', action: { kind: 'reset', afterBytes: 100 }, times: 2 }).add({ method: 'PUT', action: { kind: 'status', status: 500 }, times: 1 });
    const ws = await makeWorkspace(files());
    const decoy = 'localhost,.example.com,127.0.0.1:1,127.0.0.2';
    const run = await runAction(inputs({ concurrency: '4' }), { workspace: ws, node: bin, env: { ...proxyEnv(), NO_PROXY: decoy } });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(arcnm.faults.injected.length + blob.faults.injected.length).toBe(5);
    await expectStoredIntact(ws, run);

    // Every request either server received, faulted ones included, came over a connection the proxy
    // opened, and the proxy carried exactly those requests.
    const all = [...arcnm.requests, ...blob.requests];
    expect(tap.arrivals).toHaveLength(all.length);
    expect(tap.arrivals.filter((a) => !tap.upstreams.has(a.peer))).toEqual([]);
    expect(lines(proxy.requests)).toEqual(lines(all));
    // One upstream connection per tunnel: the resets forced new ones, and each was a new CONNECT.
    expect(tap.upstreams.size).toBe(proxy.tunnels.length);
    expect(proxy.tunnels.length).toBeGreaterThan(2);
    expect(new Set(tap.arrivals.map((a) => a.peer)).size).toBeLessThanOrEqual(tap.upstreams.size);
    console.log(
      `proxy: ${proxy.requests.length} requests through ${proxy.tunnels.length} tunnels, ${all.length} received by the servers, ` +
        `${arcnm.faults.injected.length + blob.faults.injected.length} faults survived, ${tap.direct(port(arcnm.url)).length + tap.direct(port(blob.url)).length} bypassed`,
    );
  });
});

describe('the bypass detector itself', () => {
  it('without proxy variables, sees every request arrive directly and the proxy carry none', async () => {
    const ws = await makeWorkspace(files());
    const run = await runAction(inputs(), { workspace: ws });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.requests).toEqual([]);
    expect(tap.upstreams.size).toBe(0);
    expect(lines(tap.direct(port(arcnm.url)))).toEqual(lines(arcnm.requests));
    expect(lines(tap.direct(port(blob.url)))).toEqual(lines(blob.requests));
    expect(arcnm.requests.length + blob.requests.length).toBeGreaterThan(8);
  });
});
