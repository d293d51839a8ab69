// The engine and the run against a fake provider and a small storage server on loopback: the chain's order,
// retries and the restart from presign, cancellation at each stage, the pool's bound, dry runs and refusals.
// No vendor, no bundle: what the end-to-end files check through a real provider, checked here on its own.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { HttpError, PublishError } from '../../src/core/errors.js';
import type { Confirmed, FilePlan, LocalFile, ProviderSession, StepContext, UploadReceipt } from '../../src/core/types.js';
import { publishAll, type EngineOptions } from '../../src/engine/engine.js';
import { Http } from '../../src/http/client.js';
import type { ConfiguredProvider, OpenContext, RunFailure } from '../../src/providers/types.js';
import { publish } from '../../src/run.js';
import { makeWorkspace } from '../support/action.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const quiet = () => {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(m), warn: (m: string) => lines.push(`warning: ${m}`), debug: () => {} };
};
const newHttp = () => new Http({ policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, requestTimeoutMs: 10_000, stallTimeoutMs: 10_000, userAgent: 'test', log: quiet() });

/** What storage does with one PUT: store it (the default), or answer something else. */
type StorageAction = 'store' | 'expired' | 'unavailable' | ((req: IncomingMessage, res: ServerResponse) => void);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A loopback store for presigned PUTs: answers the MD5 as ETag, or what the next queued action says. */
async function storage() {
  const queue: StorageAction[] = [];
  const stored = new Map<string, Buffer>();
  const puts: string[] = [];
  const server = createServer(async (req, res) => {
    const action = queue.shift() ?? 'store';
    if (typeof action === 'function') return action(req, res);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    puts.push(req.url!);
    if (action === 'expired') return void res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
    if (action === 'unavailable') return void res.writeHead(503).end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    stored.set(req.url!, body);
    res.writeHead(200, { etag: `"${md5(body)}"` }).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, queue, stored, puts };
}

async function filesOf(contents: Record<string, string>): Promise<{ ws: string; files: LocalFile[] }> {
  const ws = await makeWorkspace(contents);
  const files = Object.entries(contents).map(([p, c]) => ({ absolutePath: path.join(ws, p), path: p, name: path.basename(p), ext: p.split('.').pop()!, bytes: Buffer.byteLength(c) }));
  return { ws, files };
}

interface Pending {
  key: string;
}

/**
 * A provider that records each step. `hooks` let a test act at a stage (cancel the run, fail, hold a file).
 * presign hands out `${storage}/${path}?n=${round}`.
 */
function fakeSession(storageUrl: string, hooks: Partial<{ presign: (file: LocalFile, n: number) => Promise<void> | void; confirm: (file: LocalFile, ctx: StepContext) => Promise<Confirmed | void> | Confirmed | void; plan: (file: LocalFile) => FilePlan }> = {}) {
  const events: string[] = [];
  const presigns = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const session: ProviderSession<Pending> & { events: string[]; maxInFlight: () => number } = {
    displayName: 'Fake',
    events,
    maxInFlight: () => maxInFlight,
    plan: (file) => hooks.plan?.(file) ?? { destination: `fake bucket, key ${file.path}` },
    async presign(file) {
      const n = (presigns.get(file.path) ?? 0) + 1;
      presigns.set(file.path, n);
      if (n === 1) maxInFlight = Math.max(maxInFlight, ++inFlight);
      events.push(`presign ${file.path} ${n}`);
      await hooks.presign?.(file, n);
      return { target: { method: 'PUT', url: `${storageUrl}/${file.path}?n=${n}&X-Amz-Signature=sig${n}`, headers: { 'content-type': 'application/octet-stream' } }, pending: { key: file.path } };
    },
    async confirm(file, pending, receipt: UploadReceipt, ctx) {
      events.push(`confirm ${file.path} ${receipt.md5Hex.slice(0, 6)}`);
      try {
        const own = (await hooks.confirm?.(file, ctx)) as Confirmed | undefined;
        return own ?? { ids: { id: `id-${pending.key}`, fileKey: pending.key }, outcome: 'accepted', evidence: ['content-md5'] };
      } finally {
        inFlight--;
      }
    },
    async abandon(file) {
      events.push(`abandon ${file.path}`);
    },
  };
  return session;
}

function options(over: Partial<EngineOptions> = {}): EngineOptions & { log: ReturnType<typeof quiet>; masked: string[] } {
  const masked: string[] = [];
  return { concurrency: 2, wait: true, waitTimeoutMs: 60_000, signal: new AbortController().signal, log: quiet(), mask: (s) => masked.push(s), masked, ...over } as EngineOptions & {
    log: ReturnType<typeof quiet>;
    masked: string[];
  };
}

describe('the engine', () => {
  it('runs presign → upload → confirm for each file, in that order, and reports what verified it', async () => {
    const store = await storage();
    const { files } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
    const session = fakeSession(store.url);
    const opts = options({ concurrency: 1 });
    const results = await publishAll(files, session, newHttp(), opts);
    expect(session.events).toEqual([`presign a.step 1`, `confirm a.step ${md5(Buffer.from('alpha')).slice(0, 6)}`, `presign b.step 1`, `confirm b.step ${md5(Buffer.from('bravo')).slice(0, 6)}`]);
    expect(store.stored.get('/a.step?n=1&X-Amz-Signature=sig1')?.toString()).toBe('alpha');
    expect(results.map((r) => [r.path, r.status, r.ids?.id, r.verifiedBy])).toEqual([
      ['a.step', 'succeeded', 'id-a.step', ['etag-md5', 'content-md5']],
      ['b.step', 'succeeded', 'id-b.step', ['etag-md5', 'content-md5']],
    ]);
    expect(results[0]!.sha256).toBe(createHash('sha256').update('alpha').digest('hex'));
    // Each presigned signature is masked before anything could print it; the rest of the query grants nothing.
    expect(opts.masked).toEqual(['sig1', 'sig1']);
  });

  it('retries storage answers worth retrying (503) within the same presign', async () => {
    const store = await storage();
    store.queue.push('unavailable');
    const { files } = await filesOf({ 'a.step': 'alpha' });
    const session = fakeSession(store.url);
    const [result] = await publishAll(files, session, newHttp(), options());
    expect(result).toMatchObject({ status: 'succeeded' });
    expect(store.puts).toEqual(['/a.step?n=1&X-Amz-Signature=sig1', '/a.step?n=1&X-Amz-Signature=sig1']);
    expect(session.events.filter((e) => e.startsWith('presign'))).toEqual(['presign a.step 1']);
  });

  it('starts a file again from presign when its upload URL expired, and gives up after maxPresigns', async () => {
    const store = await storage();
    store.queue.push('expired');
    const { files } = await filesOf({ 'a.step': 'alpha' });
    const session = fakeSession(store.url);
    const opts = options();
    const [result] = await publishAll(files, session, newHttp(), opts);
    expect(result).toMatchObject({ status: 'succeeded' });
    expect(session.events).toEqual(['presign a.step 1', 'abandon a.step', 'presign a.step 2', `confirm a.step ${md5(Buffer.from('alpha')).slice(0, 6)}`]);
    expect(opts.log.lines.some((l) => /a\.step: .*expired.*starting again from presign/.test(l))).toBe(true);

    store.queue.push('expired', 'expired');
    const again = fakeSession(store.url);
    const [failed] = await publishAll(files, again, newHttp(), options({ maxPresigns: 2 }));
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'upload_url_expired' } });
    expect(again.events).toEqual(['presign a.step 1', 'abandon a.step', 'presign a.step 2', 'abandon a.step']);
  });

  it("reports a provider's failure with its code and providerCode, and tells the run", async () => {
    const store = await storage();
    const { files } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
    const told: string[] = [];
    const session = fakeSession(store.url, {
      confirm: (file) => {
        if (file.path === 'a.step') throw new PublishError(`${file.path}: the vendor refused it`, 'invalid_content', { providerCode: 'upload_rejected' });
      },
    });
    const results = await publishAll(files, session, newHttp(), options({ onFailure: (file) => told.push(file.path) }));
    // The message says the path once (the engine strips a leading one).
    expect(results[0]).toMatchObject({ status: 'failed', error: { message: 'the vendor refused it', code: 'invalid_content', providerCode: 'upload_rejected' } });
    expect(results[1]).toMatchObject({ status: 'succeeded' });
    expect(told).toEqual(['a.step']);
    const [unexpected] = await publishAll(files.slice(0, 1), fakeSession(store.url, { confirm: () => Promise.reject(new TypeError('bug')) }), newHttp(), options());
    expect(unexpected!.error).toEqual({ message: 'bug', code: 'unexpected' });
  });

  it('keeps at most `concurrency` files in flight, and uses that many', async () => {
    const store = await storage();
    const { files } = await filesOf(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`f${i}.step`, `file ${i}`])));
    const session = fakeSession(store.url, { presign: () => new Promise((r) => setTimeout(r, 5)) });
    const results = await publishAll(files, session, newHttp(), options({ concurrency: 3 }));
    expect(results.map((r) => r.status)).toEqual(Array(7).fill('succeeded'));
    expect(results.map((r) => r.path)).toEqual(files.map((f) => f.path));
    expect(session.maxInFlight()).toBe(3);
  });

  describe('cancellation', () => {
    it('before a file starts: skipped, nothing asked', async () => {
      const store = await storage();
      const { files } = await filesOf({ 'a.step': 'alpha' });
      const stop = new AbortController();
      stop.abort(new Error('cancelled by the runner'));
      const session = fakeSession(store.url);
      const [result] = await publishAll(files, session, newHttp(), options({ stop: stop.signal }));
      expect(result).toMatchObject({ status: 'skipped', error: { code: 'cancelled' } });
      expect(session.events).toEqual([]);
    });

    it('during presign: no upload starts, the pending upload is abandoned', async () => {
      const store = await storage();
      const { files } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
      const stop = new AbortController();
      const session = fakeSession(store.url, { presign: () => stop.abort(new Error('cancelled by the runner')) });
      const results = await publishAll(files, session, newHttp(), options({ stop: stop.signal, concurrency: 1 }));
      expect(results.map((r) => [r.status, r.error?.code])).toEqual([
        ['failed', 'cancelled'],
        ['skipped', 'cancelled'],
      ]);
      expect(store.puts).toEqual([]);
      expect(session.events).toEqual(['presign a.step 1', 'abandon a.step']);
    });

    it('during the upload: the upload is aborted and no confirm starts', async () => {
      const store = await storage();
      const stop = new AbortController();
      // Storage holds the request until the run is cancelled, and never answers it.
      store.queue.push(() => stop.abort(new Error('cancelled by the runner')));
      const { files } = await filesOf({ 'a.step': 'alpha' });
      const session = fakeSession(store.url);
      const [result] = await publishAll(files, session, newHttp(), options({ stop: stop.signal }));
      expect(result).toMatchObject({ status: 'failed', error: { code: 'cancelled', message: expect.stringContaining('cancelled by the runner') } });
      expect(session.events).toEqual(['presign a.step 1', 'abandon a.step']);
    });

    it("while the provider confirms: the provider's answer stands (an API call in flight finishes)", async () => {
      const store = await storage();
      const stop = new AbortController();
      const { files } = await filesOf({ 'a.step': 'alpha' });
      const session = fakeSession(store.url, {
        confirm: (file, ctx) => {
          stop.abort(new Error('cancelled by the runner'));
          // What a provider does when its verdict wait is cut short: the file was handed over.
          return ctx.stop?.aborted ? { ids: { id: `sub-${file.path}` }, outcome: 'submitted' } : undefined;
        },
      });
      const [result] = await publishAll(files, session, newHttp(), options({ stop: stop.signal }));
      expect(result).toMatchObject({ status: 'submitted', ids: { id: 'sub-a.step' } });
    });

    it('the hard signal aborts a confirm in flight', async () => {
      const store = await storage();
      const hard = new AbortController();
      const { files } = await filesOf({ 'a.step': 'alpha' });
      const session = fakeSession(store.url, {
        confirm: (_file, ctx) =>
          new Promise<never>((_, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
            hard.abort(new Error('aborted by SIGTERM'));
          }),
      });
      const [result] = await publishAll(files, session, newHttp(), options({ signal: hard.signal }));
      expect(result).toMatchObject({ status: 'failed', error: { code: 'cancelled', message: expect.stringContaining('aborted by SIGTERM') } });
    });
  });
});

/** A provider configured for a run, around a fake session; `fail` makes opening or a file fail as the run's. */
function fakeProvider(session: ProviderSession<Pending>, over: Partial<ConfiguredProvider> = {}): ConfiguredProvider & { opened: OpenContext[] } {
  const opened: OpenContext[] = [];
  return {
    id: 'fake',
    displayName: 'Fake',
    tokenEnv: 'FAKE_TOKEN',
    defaultServerUrl: 'https://fake.example',
    inputs: [],
    idOutputs: [],
    secrets: [],
    target: 'a fake bucket',
    refuse: (file) => (file.ext === 'txt' ? 'Fake does not take .txt' : undefined),
    open: async (ctx) => {
      opened.push(ctx);
      return session;
    },
    runFailure: () => undefined,
    opened,
    ...over,
  };
}

function configFor(ws: string, provider: ConfiguredProvider, run: Partial<Config['run']> = {}): Config {
  return {
    run: {
      patterns: ['**'],
      workspace: ws,
      concurrency: 2,
      wait: true,
      waitTimeoutMs: 60_000,
      ifNoFilesFound: 'error',
      failOnError: true,
      dryRun: false,
      maxAttempts: 3,
      includeHiddenFiles: false,
      requestTimeoutMs: 10_000,
      validate: false,
      skipUnchanged: true,
      ...run,
    },
    common: { token: 't', serverUrl: 'https://fake.example', serverUrlGiven: false },
    provider,
    secrets: [],
  };
}

function hooks() {
  const log = quiet();
  const warnings: string[] = [];
  return { log, warnings, mask: () => {}, signal: new AbortController().signal, warnNoFiles: (m: string) => warnings.push(m) };
}

describe('a run', () => {
  it("plans every file first: local refusals, the provider's, and the session's plan; the rest publish, in path order", async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.txt': 'text', 'c.step': '', 'd.step': 'too large for this server', 'e.step': 'echo' });
    const session = fakeSession(store.url, { plan: (file) => (file.path === 'd.step' ? { destination: 'x', refusal: 'over the server limit' } : { destination: `key ${file.path}` }) });
    const h = hooks();
    const report = await publish(configFor(ws, fakeProvider(session)), h);
    expect(report.results.map((r) => [r.path, r.status, r.error?.code, r.error?.message])).toEqual([
      ['a.step', 'succeeded', undefined, undefined],
      ['b.txt', 'failed', 'refused', 'Fake does not take .txt'],
      ['c.step', 'failed', 'refused', 'the file is empty (0 bytes); an empty export is almost always a failed one'],
      ['d.step', 'failed', 'refused', 'over the server limit'],
      ['e.step', 'succeeded', undefined, undefined],
    ]);
    expect(session.events.filter((e) => e.startsWith('presign'))).toEqual(['presign a.step 1', 'presign e.step 1']);
  });

  it('in a dry run opens the provider read-only, says where each file would go, and sends nothing', async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.txt': 'text' });
    const session = fakeSession(store.url);
    const provider = fakeProvider(session);
    const h = hooks();
    const report = await publish(configFor(ws, provider, { dryRun: true }), h);
    expect(provider.opened.map((c) => c.dryRun)).toEqual([true]);
    expect(report.results.map((r) => [r.path, r.status])).toEqual([
      ['a.step', 'skipped'],
      ['b.txt', 'failed'],
    ]);
    expect(h.log.lines).toContain('dry-run: would publish a.step (5 B) to fake bucket, key a.step');
    expect(session.events).toEqual([]);
    expect(store.puts).toEqual([]);
  });

  it('does not open the provider when every file is refused', async () => {
    const { ws } = await filesOf({ 'b.txt': 'text' });
    const provider = fakeProvider(fakeSession('http://127.0.0.1:9'));
    const report = await publish(configFor(ws, provider), hooks());
    expect(provider.opened).toEqual([]);
    expect(report.results.map((r) => r.status)).toEqual(['failed']);
  });

  it('sizes each file when it plans it: a refusal by size sees the real size, and only files that share a name are sized before', async () => {
    const { ws } = await filesOf({ 'a/x.step': 'small', 'b/x.step': 'twenty bytes of text', 'c/y.step': 'also larger than ten' });
    const sized: string[] = [];
    const over = {
      refuse: (file: LocalFile) => {
        sized.push(`${file.path} ${file.bytes}`);
        return file.bytes > 10 ? `over 10 bytes: ${file.bytes}` : undefined;
      },
      fileName: (file: { name: string }) => file.name,
    };
    // b/x.step is refused by its size, so it does not clash with a/x.step: nothing is refused as a pair.
    const h = hooks();
    const report = await publish(configFor(ws, fakeProvider(fakeSession('http://127.0.0.1:9'), over), { dryRun: true }), h);
    expect(report.results.map((r) => [r.path, r.bytes, r.status, r.error?.message])).toEqual([
      ['a/x.step', 5, 'skipped', undefined],
      ['b/x.step', 20, 'failed', 'over 10 bytes: 20'],
      ['c/y.step', 20, 'failed', 'over 10 bytes: 20'],
    ]);
    // The name check sized the two x.step (c/y.step's name is its own); planning then sized every file once.
    expect(sized).toEqual(['a/x.step 5', 'b/x.step 20', 'a/x.step 5', 'b/x.step 20', 'c/y.step 20']);
    await writeFile(path.join(ws, 'b/x.step'), 'small');
    await expect(publish(configFor(ws, fakeProvider(fakeSession('http://127.0.0.1:9'), over)), hooks())).rejects.toThrow(/^Input 'name': a\/x\.step and b\/x\.step would both be named "x\.step"/);
  });

  it('a file gone between the walk and its planning fails alone as unreadable; the others publish', async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo', 'c.step': 'charlie' });
    // The name check runs between the walk and the planning: the file goes there.
    const over = { fileName: (file: { path: string }) => (file.path === 'c.step' ? (rmSync(path.join(ws, 'b.step')), file.path) : file.path) };
    const report = await publish(configFor(ws, fakeProvider(fakeSession(store.url), over)), hooks());
    expect(report.results.map((r) => [r.path, r.status, r.error?.code, r.error?.message])).toEqual([
      ['a.step', 'succeeded', undefined, undefined],
      ['b.step', 'failed', 'unreadable', 'the file cannot be read: ENOENT'],
      ['c.step', 'succeeded', undefined, undefined],
    ]);
  });

  it("stops at the first file whose failure is the run's: the others never start and fail with its reason", async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo', 'c.step': 'charlie' });
    const session = fakeSession(store.url, {
      confirm: () => {
        throw new HttpError('Fake refused the token', 401, '');
      },
    });
    const failure: RunFailure = { input: 'token', message: 'Fake refused the token', fix: 'pass a current token', code: 'auth_rejected' };
    const provider = fakeProvider(session, { runFailure: (err) => (err instanceof HttpError && err.status === 401 ? failure : undefined) });
    const report = await publish(configFor(ws, provider, { concurrency: 1 }), hooks());
    // The vendor's own code (here the bare status) goes with the run's failure.
    expect(report.failure).toEqual({ ...failure, providerCode: 'http_401' });
    expect(report.results.map((r) => [r.path, r.status, r.error?.code, r.error?.message])).toEqual([
      ['a.step', 'failed', 'auth_rejected', 'Fake refused the token'],
      ['b.step', 'failed', 'auth_rejected', 'Fake refused the token'],
      ['c.step', 'failed', 'auth_rejected', 'Fake refused the token'],
    ]);
    expect(session.events.filter((e) => e.startsWith('presign'))).toEqual(['presign a.step 1']);
  });

  it("a failure opening the provider is the run's: nothing is sent for any file", async () => {
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
    const session = fakeSession('http://127.0.0.1:9');
    const provider = fakeProvider(session, { open: () => Promise.reject(new PublishError('the project does not exist', 'not_found')) });
    const report = await publish(configFor(ws, provider), hooks());
    expect(report.failure).toMatchObject({ input: 'server-url', code: 'not_found', message: 'Fake could not be opened for this run: the project does not exist' });
    expect(report.results.map((r) => [r.status, r.error?.code])).toEqual([
      ['failed', 'not_found'],
      ['failed', 'not_found'],
    ]);
    expect(session.events).toEqual([]);
  });

  it('if-no-files-found: error is bad input naming path; warn warns; ignore says it in the log', async () => {
    const { ws } = await filesOf({ 'a.step': 'alpha' });
    const provider = fakeProvider(fakeSession('http://127.0.0.1:9'));
    const none = { patterns: ['nothing/**'] };
    await expect(publish(configFor(ws, provider, none), hooks())).rejects.toThrow(/^Input 'path': no files matched "nothing\/\*\*"/);
    const warned = hooks();
    expect((await publish(configFor(ws, provider, { ...none, ifNoFilesFound: 'warn' }), warned)).results).toEqual([]);
    expect(warned.warnings).toEqual([expect.stringMatching(/^no files matched "nothing\/\*\*"/)]);
    const ignored = hooks();
    expect((await publish(configFor(ws, provider, { ...none, ifNoFilesFound: 'ignore' }), ignored)).results).toEqual([]);
    expect([ignored.warnings, ignored.log.lines.some((l) => l.startsWith('no files matched'))]).toEqual([[], true]);
    expect(provider.opened).toEqual([]);
  });
});

describe('skip-unchanged in a run', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');

  it("asks the session's lookup once with every planned file's SHA-256; held files are skipped with their IDs after keep, the rest publish", async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo', 'c.txt': 'refused' });
    const session = fakeSession(store.url);
    const asked: [string, string][][] = [];
    const kept: string[] = [];
    Object.assign(session, {
      lookup: async (files: { file: LocalFile; sha256: string }[]) => {
        asked.push(files.map((f) => [f.file.path, f.sha256]));
        const a = files.find((f) => f.file.path === 'a.step')!;
        return new Map([[a.file, { ids: { id: 'v-old', versionId: 'v-old' }, held: 'version v-old', toDo: 'tag it' }]]);
      },
      keep: async (file: LocalFile, held: { ids: Record<string, string> }) => {
        kept.push(file.path);
        return { ...held.ids, tagged: 'yes' };
      },
    });
    const report = await publish(configFor(ws, fakeProvider(session, { idOutputs: [{ output: 'version-ids', field: 'versionId' }] })), hooks());
    expect(asked).toEqual([[['a.step', sha('alpha')], ['b.step', sha('bravo')]]]);
    expect(kept).toEqual(['a.step']);
    expect(report.results.map((r) => [r.path, r.status, r.reason, r.ids?.id, r.sha256])).toEqual([
      ['a.step', 'skipped', 'unchanged', 'v-old', sha('alpha')],
      ['b.step', 'succeeded', undefined, 'id-b.step', sha('bravo')],
      ['c.txt', 'failed', undefined, undefined, undefined],
    ]);
    expect(report.results[0]!.ids).toMatchObject({ tagged: 'yes' });
    expect(session.events.filter((e) => e.startsWith('presign'))).toEqual(['presign b.step 1']);
  });

  it('with skip-unchanged false, or in a dry run, asks and keeps accordingly: no lookup when off; lookup but no keep in a dry run', async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
    let lookups = 0;
    let keeps = 0;
    const withLookup = () =>
      Object.assign(fakeSession(store.url), {
        lookup: async (files: { file: LocalFile }[]) => {
          lookups++;
          return new Map([[files[0]!.file, { ids: { id: 'v-old' }, held: 'version v-old' }]]);
        },
        keep: async () => {
          keeps++;
          return { id: 'v-old' };
        },
      });
    const off = await publish(configFor(ws, fakeProvider(withLookup()), { skipUnchanged: false }), hooks());
    expect(off.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(lookups).toBe(0);
    const puts = store.puts.length;
    const h = hooks();
    const dry = await publish(configFor(ws, fakeProvider(withLookup()), { dryRun: true }), h);
    expect(dry.results.map((r) => [r.status, r.reason, r.ids?.id])).toEqual([
      ['skipped', 'unchanged', 'v-old'],
      ['skipped', 'dry-run', undefined],
    ]);
    expect([lookups, keeps]).toEqual([1, 0]);
    expect(h.log.lines).toContain('dry-run: would skip a.step (5 B): unchanged, version v-old');
    expect(store.puts).toHaveLength(puts);
  });

  it('a lookup that fails for a reason of its own is a warning and every file publishes; a failing keep fails only its file', async () => {
    const store = await storage();
    const { ws } = await filesOf({ 'a.step': 'alpha', 'b.step': 'bravo' });
    const broken = Object.assign(fakeSession(store.url), { lookup: async () => Promise.reject(new PublishError('HTTP 502', 'network')) });
    const h = hooks();
    const report = await publish(configFor(ws, fakeProvider(broken)), h);
    expect(report.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    expect(h.log.lines.some((l) => /^warning: skip-unchanged: could not ask Fake what it already holds \(HTTP 502\); publishing every file/.test(l))).toBe(true);

    const failingKeep = Object.assign(fakeSession(store.url), {
      lookup: async (files: { file: LocalFile }[]) => new Map([[files[0]!.file, { ids: { id: 'u-1' }, held: 'upload u-1', toDo: 'attach it' }]]),
      keep: async () => Promise.reject(new PublishError('part not found', 'not_found')),
    });
    const second = await publish(configFor(ws, fakeProvider(failingKeep)), hooks());
    expect(second.results.map((r) => [r.status, r.error?.code, r.error?.message])).toEqual([
      ['failed', 'not_found', 'unchanged (upload u-1), but attach it failed: part not found'],
      ['succeeded', undefined, undefined],
    ]);
  });
});
