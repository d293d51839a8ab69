// The red team: the committed bundle, run as the runner runs it, against loopback servers that attack it
// with everything a pull request, a server or a network can throw: command-shaped and multi-line file names on
// every provider, a server that echoes the fetched token and presigned signatures back, Markdown and HTML
// injected through names and messages, the comment marker in someone else's comment, a 2 GiB and an endless
// error body, proxies and servers that drop, ignore or trickle, extreme Retry-After values, and the runner's
// cancellation signals. Each attack asserts the safe outcome; the figures are printed at the end.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { BlobStore } from '../emulators/blob.js';
import { IonEmulator } from '../emulators/ion.js';
import { SpeckleEmulator } from '../emulators/speckle.js';
import { startArcnm } from '../support/arcnm.js';
import { NODES, ROOT, findLeaks, makeWorkspace, runAction, type ActionRun, type RunOptions } from '../support/action.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_redteam0000000000000';
const SPECKLE_TOKEN = 'spk_redteam_4b1d9c0e7a3f5b2d8c6e1a9f';
const ION_TOKEN = 'ion_user_token_redteam_5f1e9a7c';
const CS_TOKEN = 'cs_live_redteam_3b8e0f4a6c2d4e1f';

// ------------------------------------------------------------------------------------------------
// Figures
// ------------------------------------------------------------------------------------------------

const figures = { tried: 0, held: 0, peakRssKiB: 0, baselineRssKiB: 0, bodyBytesSent: 0, longestDeadlineRunMs: 0, longestRetryAfterRunMs: 0, signalExitMs: 0 };

/** One attack: counted as tried, and as held when every assertion in it passed. */
async function attack(name: string, body: () => Promise<void>): Promise<void> {
  figures.tried++;
  await body();
  figures.held++;
}

afterAll(() => {
  console.log(
    [
      'red team figures',
      `  attacks tried: ${figures.tried}, held: ${figures.held}`,
      `  peak RSS of the action under the 2 GiB / endless error bodies: ${(figures.peakRssKiB / 1024).toFixed(1)} MiB (the same run without them: ${(figures.baselineRssKiB / 1024).toFixed(1)} MiB; the servers sent ${(figures.bodyBytesSent / 1024 / 1024).toFixed(1)} MiB before the action hung up)`,
      `  longest run against a dropping/silent/trickling proxy or server: ${(figures.longestDeadlineRunMs / 1000).toFixed(1)} s`,
      `  longest run against an extreme Retry-After: ${(figures.longestRetryAfterRunMs / 1000).toFixed(1)} s`,
      `  SIGINT → SIGTERM → exit: ${figures.signalExitMs} ms after SIGTERM`,
    ].join('\n'),
  );
});

// ------------------------------------------------------------------------------------------------
// What "safe" means in a log
// ------------------------------------------------------------------------------------------------

/** The workflow commands the action itself issues; any other command on a line start is forged. */
const OUR_COMMANDS = /^::(add-mask|debug|warning|error|notice|group|endgroup)( [^:]*)?::/;

/** No stdout/stderr line can be read by the runner as a command the action did not issue itself. */
function expectNoForgedCommands(expect: ExpectStatic, run: ActionRun) {
  for (const [where, text] of [['stdout', run.stdout], ['stderr', run.stderr]] as const) {
    expect(text, `${where}: an ESC character reached the log`).not.toContain('\u001b');
    expect(text, `${where}: the old ##[ command form`).not.toContain('##[');
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (!t.startsWith('::')) continue;
      expect(t, `${where}: a line is a command the action did not issue`).toMatch(OUR_COMMANDS);
      // Our own command whose data starts with what the attacker wrote: the name never starts a line.
      expect(t.replace(OUR_COMMANDS, ''), `${where}: attacker text starts a command's data`).not.toMatch(new RegExp(`^\\s*::`));
    }
  }
  expect(run.stdout).not.toMatch(/^\s*::stop-commands::/m);
}

/** Rendered safely: no element, link, image, heading, table or mention the action did not write. */
function expectInertMarkup(expect: ExpectStatic, html: string, allowedHref = /^http:\/\/127\.0\.0\.1:\d+\//) {
  expect(html).not.toMatch(/<img|<script|<iframe|<[a-z][^>]*onerror/i);
  expect(html).not.toMatch(/\]\(/);
  expect(html).not.toMatch(/\n\s*#+ /);
  expect(html).not.toMatch(/\|/);
  expect(html).not.toMatch(/@octocat/);
  expect(html).not.toMatch(/https?:\/\/evil/);
  for (const m of html.matchAll(/<a [^>]*href="([^"]*)"/g)) expect(m[1]).toMatch(allowedHref);
}

// ------------------------------------------------------------------------------------------------
// Hostile servers
// ------------------------------------------------------------------------------------------------

async function listen(server: Server | TcpServer): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
});

function track<T extends Server | TcpServer>(server: T): T {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return server;
}

/** A server in front of an emulator: forwards every request, unless `intercept` answers it itself. */
async function front(
  target: string,
  intercept: (req: IncomingMessage, body: Buffer, res: ServerResponse) => boolean,
  rewrite: (body: Buffer) => Buffer = (b) => b,
): Promise<string> {
  const server = track(
    createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = rewrite(Buffer.concat(chunks));
      if (intercept(req, body, res)) return;
      const headers = { ...req.headers, host: new URL(target).host, ...(req.headers['content-length'] ? { 'content-length': String(body.length) } : {}) };
      const up = httpRequest(`${target}${req.url}`, { method: req.method, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    }),
  );
  return listen(server);
}

/**
 * An error body of `bytes` (Infinity: endless, chunked), generated as it is sent and never held: 64 KiB of
 * the same buffer again and again, waiting for the socket to drain. Counts what actually left.
 */
function streamHugeError(res: ServerResponse, status: number, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, 'A');
  res.writeHead(status, { 'content-type': 'application/json', ...(Number.isFinite(bytes) ? { 'content-length': String(bytes) } : {}) });
  res.write('{"error":{"code":"boom","message":"');
  let left = bytes;
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = () => {
    while (!closed && left > 0) {
      const n = Math.min(chunk.length, left);
      left -= n;
      figures.bodyBytesSent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump);
    }
    if (!closed) res.end();
  };
  pump();
}

// ------------------------------------------------------------------------------------------------
// The attacks
// ------------------------------------------------------------------------------------------------

/** File names that try to talk to the runner: a stop-commands token, a newline before a command, ANSI. */
const HOSTILE_NAMES = ['::stop-commands::x.step', 'a\n::warning::forged.step', 'esc\u001b[31m##[error]forged.step', '%0A::error::forged.step'];

describe.each(NODES)('red team ($name)', ({ bin }) => {
  const run = (inputs: Record<string, string>, options: RunOptions) => runAction(inputs, { node: bin, timeoutMs: 60_000, ...options });

  describe.concurrent('command-shaped and multi-line file names, on every provider', () => {
    const files = () => Object.fromEntries(HOSTILE_NAMES.map((n, i) => [`cad/${n}`, samples.step(`part${i}.step`)]));

    const expectNamesHeld = (expect: ExpectStatic, r: ActionRun) => {
      expectNoForgedCommands(expect, r);
      // Every file is reported under its exact name: none dropped, none renamed.
      expect(r.results.map((x) => x['path']).sort()).toEqual(HOSTILE_NAMES.map((n) => `cad/${n}`).sort());
      expectInertMarkup(expect, r.summary);
    };

    it('ARCNM', async ({ expect }) => {
      await attack('names: ARCNM', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const r = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY }, { workspace: await makeWorkspace(files()) });
        expect(r.exitCode, r.stdout).toBe(0);
        expect(r.results.every((x) => x['status'] === 'succeeded')).toBe(true);
        expectNamesHeld(expect, r);
      });
    });

    it('ION (client credentials: the fetched token is masked before any name is printed)', async ({ expect }) => {
      await attack('names: ION', async () => {
        const ion = new IonEmulator({ tokens: [ION_TOKEN] });
        await ion.start();
        closers.push(() => ion.close());
        const r = await run(
          { provider: 'ion', path: 'cad/*', 'server-url': ion.url, 'client-id': ion.clientId, 'client-secret': ion.clientSecret, 'auth-url': ion.tokenUrl, 'attach-to': 'runStep:101' },
          { workspace: await makeWorkspace(files()) },
        );
        expect(r.exitCode, r.stdout).toBe(0);
        expectNamesHeld(expect, r);
        expect(findLeaks(r, [ion.clientSecret, ...ion.tokensIssued])).toEqual([]);
        const firstMask = r.stdout.split('\n').findIndex((l) => l === `::add-mask::${ion.tokensIssued[0]}`);
        const firstName = r.stdout.split('\n').findIndex((l) => l.includes('stop-commands'));
        expect(firstMask).toBeGreaterThanOrEqual(0);
        expect(firstMask).toBeLessThan(firstName);
      });
    });

    it('Speckle', async ({ expect }) => {
      await attack('names: Speckle', async () => {
        const blob = new BlobStore();
        await blob.start();
        const speckle = new SpeckleEmulator({ blob, mode: 'live', tokens: { [SPECKLE_TOKEN]: {} }, queuedMs: 10, processingMs: 20 });
        await speckle.start();
        closers.push(async () => {
          await speckle.close();
          await blob.close();
        });
        const ws = await makeWorkspace(Object.fromEntries(HOSTILE_NAMES.map((n, i) => [`cad/${n.replace('.step', '.ifc')}`, samples.ifc(`m${i}.ifc`, 'IFC4')])));
        const r = await run({ provider: 'speckle', path: 'cad/*', 'server-url': speckle.url, token: SPECKLE_TOKEN, 'project-id': 'p0ject1d', 'fail-on-error': 'false' }, { workspace: ws });
        expect(r.exitCode, r.stdout).toBe(0);
        expectNoForgedCommands(expect, r);
        expect(r.results.map((x) => x['path']).sort()).toEqual(HOSTILE_NAMES.map((n) => `cad/${n.replace('.step', '.ifc')}`).sort());
        expectInertMarkup(expect, r.summary);
      });
    });

    it('Coldstream', async ({ expect }) => {
      await attack('names: Coldstream', async () => {
        const cs = new ColdstreamEmulator({ token: CS_TOKEN, cases: { '1001': ['2001'] } });
        await cs.start();
        closers.push(() => cs.close());
        const r = await run({ provider: 'coldstream', path: 'cad/*', 'server-url': cs.url, 'case-id': '1001' }, { workspace: await makeWorkspace(files()), env: { COLDSTREAM_TOKEN: CS_TOKEN } });
        expect(r.exitCode, r.stdout).toBe(0);
        expectNamesHeld(expect, r);
      });
    });
  });

  it('odd but legal files: a name that is not UTF-8, ..data/, dangling and looping links', async ({ expect }) => {
    await attack('odd files', async () => {
      const fx = await startArcnm(API_KEY);
      closers.push(() => fx.close());
      const ws = await makeWorkspace({ 'cad/ok.step': samples.step('ok.step'), '..data/m.step': samples.step('m.step') });
      await writeFile(Buffer.concat([Buffer.from(`${ws}/cad/bad`), Buffer.from([0xff]), Buffer.from('.step')]), samples.step('bad.step'));
      await symlink(path.join(ws, 'cad/nowhere.step'), path.join(ws, 'cad/dangling.step'));
      await symlink(path.join(ws, 'cad/loop.step'), path.join(ws, 'cad/loop.step'));
      const r = await run({ provider: 'arcnm', path: 'cad/*\n..data/*', 'server-url': fx.arcnm.url, token: API_KEY }, { workspace: ws });
      expect(r.exitCode).toBe(1);
      const byName = Object.fromEntries(r.results.map((x) => [x['path'], x]));
      expect(Object.keys(byName).sort()).toEqual(['..data/m.step', 'cad/bad\uFFFD.step', 'cad/dangling.step', 'cad/loop.step', 'cad/ok.step']);
      expect(byName['cad/ok.step']!['status']).toBe('succeeded');
      expect(byName['..data/m.step']!['status']).toBe('succeeded');
      expect(byName['cad/bad\uFFFD.step']!['error']).toMatchObject({ code: 'unreadable', message: expect.stringMatching(/not valid UTF-8/) });
      expect(byName['cad/dangling.step']!['error']).toMatchObject({ code: 'unreadable', message: expect.stringMatching(/dangling/) });
      expect(byName['cad/loop.step']!['error']).toMatchObject({ code: 'unreadable', message: expect.stringMatching(/loops/) });
      expect(r.outputs['failed-count']).toBe('3');
    });
  });

  it('hostile results files for merge-results: commands and markup in every text, a huge file, a FIFO, a link for results-file', async ({ expect }) => {
    await attack('hostile results files', async () => {
      const fx = await startArcnm(API_KEY);
      closers.push(() => fx.close());
      // A real shard's file, then every text in it made hostile.
      const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
      const shard = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'results-file': 'out/real.json' }, { workspace: ws });
      expect(shard.exitCode, shard.stdout).toBe(0);
      const doc = JSON.parse(await readFile(path.join(ws, 'out/real.json'), 'utf8'));
      const evil = (i: number) => `${HOSTILE_NAMES[i % HOSTILE_NAMES.length]} <img src=x onerror=alert(1)> [x](https://evil.example) | @octocat\n# heading`;
      doc.target = evil(0);
      doc.results = HOSTILE_NAMES.map((n, i) => ({ path: `cad/${n}`, bytes: 1, status: 'failed', error: { message: evil(i), code: 'refused', providerCode: evil(i + 1) }, durationMs: 0 }));
      doc.matched = doc.results.length;
      const mergeWs = await makeWorkspace({ 'in/hostile.json': JSON.stringify(doc), 'in/huge.json': '' });
      // Past the 64 MiB limit: refused by its size, never read whole.
      await writeFile(path.join(mergeWs, 'in/huge.json'), Buffer.alloc(65 * 1024 * 1024, 0x20));
      // A FIFO nobody writes to: refused, the merge does not hang on it.
      await new Promise<void>((resolve, reject) => spawn('mkfifo', [path.join(mergeWs, 'in/fifo.json')]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`mkfifo ${c}`)))));
      const r = await run({ 'merge-results': 'in/*.json' }, { workspace: mergeWs });
      expect(r.exitCode).toBe(1);
      expectNoForgedCommands(expect, r);
      expectInertMarkup(expect, r.summary);
      expect(r.results.map((x) => x['path']).sort()).toEqual(HOSTILE_NAMES.map((n) => `cad/${n}`).sort());
      expect(r.stdout).toMatch(/in\/huge\.json: is 65 MiB, over the limit of 64 MiB for a results file/);
      // The walk takes regular files only: the FIFO is never opened (the run above ended), never merged.
      expect(r.stdout).not.toMatch(/in\/fifo\.json: completed/);
      // results-file through a link the pull request added: the link is replaced, its target untouched.
      const outside = await makeWorkspace({ 'victim.txt': 'keep me' });
      await symlink(path.join(outside, 'victim.txt'), path.join(ws, 'planted.json'));
      const planted = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'results-file': 'planted.json' }, { workspace: ws });
      expect(planted.exitCode, planted.stdout).toBe(0);
      expect(await readFile(path.join(outside, 'victim.txt'), 'utf8')).toBe('keep me');
      expect(JSON.parse(await readFile(path.join(ws, 'planted.json'), 'utf8')).format).toBe('model-publisher-results');
    });
  });

  describe.concurrent('servers that answer with what they should not', () => {
    it('echoes the fetched ION token and a presigned signature in its errors: scrubbed everywhere', async ({ expect }) => {
      await attack('echoed tokens', async () => {
        const ion = new IonEmulator({ tokens: [ION_TOKEN] });
        await ion.start();
        closers.push(() => ion.close());
        // The API goes through the echoing server; the token request through a plain one that puts the
        // audience back to the API's own URL, as the auth server checks it.
        const frontUrl = await front(ion.url, (req, body, res) => {
          if (!body.includes('createFileAttachment')) return false;
          res.writeHead(200, { 'content-type': 'application/json' });
          const echo = `token ${String(req.headers.authorization)} rejected; upload was https://s3.example/b/k?X-Amz-Signature=0123456789abcdef&x=1 ${JSON.stringify(String(req.headers.authorization))}`;
          res.end(JSON.stringify({ data: null, errors: [{ message: echo, extensions: { code: 'FORBIDDEN' } }] }));
          return true;
        });
        const authFront = await front(ion.authUrl, () => false, (body) => Buffer.from(body.toString().split(encodeURIComponent(frontUrl)).join(encodeURIComponent(ion.url))));
        const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
        const r = await run(
          { provider: 'ion', path: 'cad/*', 'server-url': frontUrl, 'client-id': ion.clientId, 'client-secret': ion.clientSecret, 'auth-url': ion.tokenUrl.replace(ion.authUrl, authFront), 'attach-to': 'runStep:101' },
          { workspace: ws },
        );
        expect(r.exitCode).toBe(1);
        expect(ion.tokensIssued.length, r.stdout).toBeGreaterThan(0);
        expect(findLeaks(r, [ion.clientSecret, ...ion.tokensIssued])).toEqual([]);
        expect(String(r.results[0]!['error']?.message)).toMatch(/token Bearer \*\*\* rejected/);
        expect(JSON.stringify(r.outputs)).not.toContain('0123456789abcdef');

        // The command line, same attack: results JSON and every line it prints are scrubbed and neutral.
        const files = await makeWorkspace({ 'cad/::stop-commands::b.step': samples.step('b.step') });
        const cli = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(bin, [path.join(ROOT, 'dist/cli/index.js'), '--provider', 'ion', '--path', 'cad/*', '--server-url', frontUrl, '--client-id', ion.clientId, '--client-secret', ion.clientSecret, '--auth-url', ion.tokenUrl.replace(ion.authUrl, authFront), '--attach-to', 'runStep:101'], {
            cwd: files,
            env: { PATH: process.env['PATH']! },
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (err += d));
          child.on('close', (code) => resolve({ code, out, err }));
        });
        expect(cli.code, cli.err).toBe(1);
        const cliRun: ActionRun = { exitCode: cli.code, signal: null, stdout: cli.out, stderr: cli.err, outputs: {}, summary: '', results: JSON.parse(cli.out) };
        expect(ion.tokensIssued.length).toBeGreaterThan(1);
        expect(findLeaks(cliRun, [ion.clientSecret, ...ion.tokensIssued])).toEqual([]);
        expect(cli.err).toMatch(/token Bearer \*\*\* rejected/);
        expect(cli.err).not.toMatch(/^\s*::/m);
      });
    });

    it('injects Markdown and HTML through names and messages, and quotes our marker in another user\'s comment', async ({ expect }) => {
      await attack('injected Markdown + foreign marker', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const evil = '# Pwned\n\n| a | b |\n|---|---|\n![x](https://evil.example/x.png) <img src=x onerror=alert(1)> [click](https://evil.example) @octocat';
        fx.arcnm.faults.add({
          method: 'POST',
          path: '/api/v1/uploads/presign',
          action: { kind: 'status', status: 422, body: JSON.stringify({ error: { code: 'validation_error', message: evil }, request_id: 'req_1' }), headers: { 'content-type': 'application/json' } },
        });
        const comments: { id: number; body: string; user: { login: string } }[] = [
          { id: 1, body: '<!-- model-publisher:arcnm -->\nplease ignore, I am not the bot', user: { login: 'mallory' } },
          { id: 2, body: 'see <!-- model-publisher:arcnm --> there', user: { login: 'github-actions[bot]' } },
        ];
        const gh = track(
          createServer(async (req, res) => {
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            const u = new URL(req.url!, 'http://x');
            const send = (status: number, obj: unknown) => {
              res.writeHead(status, { 'content-type': 'application/json' });
              res.end(JSON.stringify(obj));
            };
            if (u.pathname === '/repos/acme/models/issues/7/comments' && req.method === 'GET') return send(200, comments);
            if (u.pathname === '/repos/acme/models/issues/7/comments' && req.method === 'POST') {
              const c = { id: 100 + comments.length, body: JSON.parse(Buffer.concat(chunks).toString()).body as string, user: { login: 'github-actions[bot]' } };
              comments.push(c);
              return send(201, c);
            }
            const one = u.pathname.match(/^\/repos\/acme\/models\/issues\/comments\/(\d+)$/);
            if (one && req.method === 'PATCH') {
              const c = comments.find((x) => x.id === Number(one[1]))!;
              c.body = JSON.parse(Buffer.concat(chunks).toString()).body;
              return send(200, c);
            }
            send(404, { message: 'Not Found' });
          }),
        );
        const ghUrl = await listen(gh);
        const ws = await makeWorkspace({
          'cad/[click](https:evil.example) @octocat.step': samples.step('a.step'),
          'cad/<img src=x onerror=alert(1)>.step': samples.step('b.step'),
          'cad/| x | y |.step': samples.step('c.step'),
          'cad/ok.step': samples.step('ok.step'),
        });
        const event = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-event-')), 'event.json');
        await writeFile(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }));
        const env = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: ghUrl };
        const inputs = { provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'comment-on-pr': 'true', concurrency: '1' };

        const first = await run(inputs, { workspace: ws, env });
        expect(first.exitCode).toBe(1);
        expect(first.results.filter((x) => x['status'] === 'failed')).toHaveLength(1);
        expectNoForgedCommands(expect, first);
        expectInertMarkup(expect, first.summary);
        expect(comments[0]!.body).toBe('<!-- model-publisher:arcnm -->\nplease ignore, I am not the bot');
        expect(comments[1]!.body).toBe('see <!-- model-publisher:arcnm --> there');
        const ours = comments.filter((c) => c.id >= 100);
        expect(ours).toHaveLength(1);
        expectInertMarkup(expect, ours[0]!.body);

        const second = await run(inputs, { workspace: ws, env });
        expect(second.stdout).toMatch(new RegExp(`updated comment ${ours[0]!.id} on pull request #7`));
        expect(comments).toHaveLength(3);
        expect(comments[0]!.body).toBe('<!-- model-publisher:arcnm -->\nplease ignore, I am not the bot');
      });
    });

    it('with a personal token, only the token owner\'s comment is updated (found through GET /user)', async ({ expect }) => {
      await attack('comment author behind a personal token', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const comments = [
          { id: 1, body: '<!-- model-publisher:arcnm -->\nold results', user: { login: 'github-actions[bot]' } },
          { id: 2, body: '<!-- model-publisher:arcnm -->\nold results', user: { login: 'release-bot' } },
        ];
        const patched: number[] = [];
        const gh = track(
          createServer(async (req, res) => {
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            const u = new URL(req.url!, 'http://x');
            res.setHeader('content-type', 'application/json');
            if (u.pathname === '/user') return res.end(JSON.stringify({ login: req.headers.authorization === 'token ghp_releasebot000000000000' ? 'release-bot' : 'someone' }));
            if (u.pathname === '/repos/acme/models/issues/7/comments' && req.method === 'GET') return res.end(JSON.stringify(comments));
            const one = u.pathname.match(/^\/repos\/acme\/models\/issues\/comments\/(\d+)$/);
            if (one && req.method === 'PATCH') {
              patched.push(Number(one[1]));
              const c = comments.find((x) => x.id === Number(one[1]))!;
              c.body = JSON.parse(Buffer.concat(chunks).toString()).body;
              return res.end(JSON.stringify(c));
            }
            res.statusCode = 404;
            res.end('{"message":"Not Found"}');
          }),
        );
        const ghUrl = await listen(gh);
        const event = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-event-')), 'event.json');
        await writeFile(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }));
        const r = await run(
          { provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'comment-on-pr': 'true', 'github-token': 'ghp_releasebot000000000000' },
          { workspace: await makeWorkspace({ 'cad/a.step': samples.step('a.step') }), env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: ghUrl } },
        );
        expect(r.exitCode, r.stdout).toBe(0);
        expect(patched).toEqual([2]);
        expect(comments[0]!.body).toBe('<!-- model-publisher:arcnm -->\nold results');
      });
    });

    it('a results table past GitHub\'s comment limit is summarised, failures first', async ({ expect }) => {
      await attack('comment size', async () => {
        let posted = '';
        const gh = track(
          createServer(async (req, res) => {
            const chunks: Buffer[] = [];
            for await (const c of req) chunks.push(c as Buffer);
            res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
            if (req.method === 'POST') {
              posted = JSON.parse(Buffer.concat(chunks).toString()).body;
              return res.end(JSON.stringify({ id: 1, body: posted, user: { login: 'github-actions[bot]' } }));
            }
            res.end('[]');
          }),
        );
        const ghUrl = await listen(gh);
        const long = 'x'.repeat(120);
        const ws = await makeWorkspace({
          ...Object.fromEntries(Array.from({ length: 900 }, (_, i) => [`cad/${long}-${i}.step`, samples.step(`p${i}.step`)])),
          'cad/empty.step': '',
        });
        const event = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-event-')), 'event.json');
        await writeFile(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }));
        // A dry run still checks the key with a read: against a real (emulated) ARCNM, which nothing is written to.
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const r = await run(
          { provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'comment-on-pr': 'true', 'dry-run': 'true', 'fail-on-error': 'false' },
          { workspace: ws, env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: ghUrl } },
        );
        expect(r.exitCode, r.stdout).toBe(0);
        expect(r.summary.length).toBeGreaterThan(65_536);
        expect(posted.length).toBeGreaterThan(0);
        expect(posted.length).toBeLessThan(65_536);
        expect(posted).toContain('Dry run: nothing was uploaded. 900 of 901 file(s) would be published, 1 failed');
        expect(posted).toContain('empty.step');
        expect(fx.arcnm.requests.filter((q) => q.method !== 'GET')).toEqual([]);
      });
    });
  });

  describe.concurrent('answers too large to hold', () => {
    it('a 2 GiB and an endless error body: memory stays flat, the other files are reported', async ({ expect }) => {
      await attack('2 GiB error body', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const url = await front(fx.arcnm.url, (_req, body, res) => {
          if (body.includes('huge.step')) return streamHugeError(res, 500, 2 * 1024 ** 3), true;
          if (body.includes('endless.step')) return streamHugeError(res, 502, Infinity), true;
          return false;
        });
        const ws = await makeWorkspace({ 'cad/huge.step': samples.step('h.step'), 'cad/endless.step': samples.step('e.step'), 'cad/ok1.step': samples.step('1.step'), 'cad/ok2.step': samples.step('2.step') });
        const preload = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-rss-')), 'peak.cjs');
        await writeFile(preload, "process.on('exit', () => process.stderr.write(`mp-peak-rss-kib=${process.resourceUsage().maxRSS}\\n`));\n");
        const peakOf = (r: ActionRun) => Number(r.stderr.match(/mp-peak-rss-kib=(\d+)/)?.[1]);
        // The same run without the attack, for the baseline.
        const calm = await run({ provider: 'arcnm', path: 'cad/ok*', 'server-url': fx.arcnm.url, token: API_KEY }, { workspace: ws, env: { NODE_OPTIONS: `--require ${preload}` } });
        expect(calm.exitCode).toBe(0);
        figures.baselineRssKiB = Math.max(figures.baselineRssKiB, peakOf(calm));
        // skip-unchanged off: the calm run above published ok1 and ok2 already.
        const r = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': url, token: API_KEY, 'max-attempts': '2', 'skip-unchanged': 'false' }, { workspace: ws, env: { NODE_OPTIONS: `--require ${preload}` } });
        expect(r.exitCode).toBe(1);
        const byName = Object.fromEntries(r.results.map((x) => [x['path'], x]));
        expect(byName['cad/ok1.step']!['status']).toBe('succeeded');
        expect(byName['cad/ok2.step']!['status']).toBe('succeeded');
        expect(byName['cad/huge.step']!['status']).toBe('failed');
        expect(byName['cad/endless.step']!['status']).toBe('failed');
        expect(JSON.parse(r.outputs['job-ids']!)).toHaveLength(2);
        const peak = peakOf(r);
        expect(peak).toBeGreaterThan(0);
        figures.peakRssKiB = Math.max(figures.peakRssKiB, peak);
        // Flat: within 64 MiB of the same run without the attack (2 GiB held, or even 1% of it, would not be).
        expect((peak - peakOf(calm)) / 1024).toBeLessThan(64);
      });
    });
  });

  describe.concurrent('deadlines the action owns', () => {
    const ws = () => makeWorkspace({ 'cad/a.step': samples.step('a.step') });
    // request-timeout 2 s × 3 attempts + backoff (≤ 0.5 + 1 s) + start-up: well under 20 s; forever otherwise.
    const inputs = (url: string) => ({ provider: 'arcnm', path: 'cad/*', 'server-url': url, token: API_KEY, 'request-timeout-seconds': '2', 'max-attempts': '3' });
    const BOUND_MS = 20_000;

    async function timed(url: string, env: Record<string, string> = {}) {
      const started = Date.now();
      const r = await run(inputs(url), { workspace: await ws(), env, timeoutMs: 60_000 });
      const ms = Date.now() - started;
      figures.longestDeadlineRunMs = Math.max(figures.longestDeadlineRunMs, ms);
      return { r, ms };
    }

    const dropping = () => listen(track(createTcpServer((s) => s.destroy())));
    const silent = () => listen(track(createTcpServer(() => {})));

    it('a proxy that drops every connection', async ({ expect }) => {
      await attack('dropping proxy', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const proxy = await dropping();
        const { r, ms } = await timed(fx.arcnm.url, { HTTP_PROXY: proxy, HTTPS_PROXY: proxy });
        expect(r.signal).toBeNull();
        expect(r.exitCode).toBe(1);
        expect(r.results[0]!['status']).toBe('failed');
        expect(ms).toBeLessThan(BOUND_MS);
      });
    });

    it('a proxy that accepts and never answers', async ({ expect }) => {
      await attack('silent proxy', async () => {
        const fx = await startArcnm(API_KEY);
        closers.push(() => fx.close());
        const proxy = await silent();
        const { r, ms } = await timed(fx.arcnm.url, { HTTP_PROXY: proxy, HTTPS_PROXY: proxy });
        expect(r.signal).toBeNull();
        expect(r.results[0]!['status']).toBe('failed');
        expect(ms).toBeLessThan(BOUND_MS);
      });
    });

    it('a server that answers nothing', async ({ expect }) => {
      await attack('silent server', async () => {
        const { r, ms } = await timed(await silent());
        expect(r.signal).toBeNull();
        expect(r.results[0]!['status']).toBe('failed');
        expect(ms).toBeLessThan(BOUND_MS);
      });
    });

    it('a server that trickles its answer a byte at a time', async ({ expect }) => {
      await attack('trickling server', async () => {
        const server = track(
          createServer((_req, res) => {
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000000' });
            const timer = setInterval(() => res.write(' '), 200);
            res.on('close', () => clearInterval(timer));
          }),
        );
        const { r, ms } = await timed(await listen(server));
        expect(r.signal).toBeNull();
        expect(r.results[0]!['status']).toBe('failed');
        expect(ms).toBeLessThan(BOUND_MS);
      });
    });

    it('extreme Retry-After values: too long is not waited out, malformed ones are ignored', async ({ expect }) => {
      await attack('extreme Retry-After', async () => {
        for (const value of ['999999999', '-1', '1, 2', 'Wed, 21 Oct 2015 07:28:00 GMT, 5', '9'.repeat(400)]) {
          const fx = await startArcnm(API_KEY);
          closers.push(() => fx.close());
          fx.arcnm.faults.add({ method: 'POST', path: '/api/v1/uploads/presign', times: Infinity, action: { kind: 'status', status: 503, body: '{"error":{"code":"unavailable","message":"busy"}}', headers: { 'retry-after': value, 'content-type': 'application/json' } } });
          const started = Date.now();
          const r = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'max-attempts': '3' }, { workspace: await ws() });
          const ms = Date.now() - started;
          figures.longestRetryAfterRunMs = Math.max(figures.longestRetryAfterRunMs, ms);
          expect(r.results[0]!['status'], value).toBe('failed');
          expect(ms, value).toBeLessThan(15_000);
          // Too long: one attempt, the answer stands. Malformed: ignored, ordinary backoff, every attempt made.
          const attempts = fx.arcnm.faults.injected.length;
          if (value === '999999999') expect(attempts, value).toBe(1);
          else expect(attempts, value).toBe(3);
        }
      });
    });
  });

  it('cancellation while waiting for the provider: SIGINT alone ends the polling, no new stage starts', async ({ expect }) => {
    await attack('SIGINT during confirm polling', async () => {
      // ARCNM's check takes a minute: the action waits for its verdict; attach (to a part) would be the next stage.
      const fx = await startArcnm(API_KEY, { confirmMode: 'status', confirmDelayMs: 60_000 });
      closers.push(() => fx.close());
      // SIGINT once the file is uploaded (its confirm goes out at once, then the wait for the verdict begins).
      const r = await run(
        { provider: 'arcnm', path: 'cad/*', 'server-url': fx.arcnm.url, token: API_KEY, 'part-id': 'prt_1', 'revision-id': 'rev_1' },
        { workspace: await makeWorkspace({ 'cad/a.step': samples.step('a.step') }), signals: [{ onOutput: /cad\/a\.step: uploaded/, afterMs: 500, signal: 'SIGINT' }] },
      );
      expect(r.signalTimes).toHaveLength(1);
      const afterInt = r.endedAt! - r.signalTimes![0]!;
      expect(r.signal).toBeNull();
      expect(r.exitCode).toBe(1);
      expect(afterInt).toBeLessThan(5_000);
      // The file is ARCNM's, its check under way: reported submitted (not verified), neither attached nor cancelled.
      expect(r.results[0]).toMatchObject({ status: 'submitted', dataSourceId: expect.any(String) });
      expect(fx.arcnm.stats.attaches).toBe(0);
      expect(fx.arcnm.uploadsWithStatus('cancelled')).toHaveLength(0);
      expect(r.summary).toContain('run was cancelled');
      expect(r.stdout).toMatch(/The run was cancelled/);
    });
  });

  it('cancellation mid-run: SIGINT then SIGTERM ends the process promptly, outputs and summary written', async ({ expect }) => {
    await attack('signals mid-run', async () => {
      const url = await listen(track(createTcpServer(() => {})));
      const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/b.step': samples.step('b.step') });
      // SIGINT once the run has started (its signal handlers are in place), SIGTERM 1.5 s later, as the runner does.
      const r = await run({ provider: 'arcnm', path: 'cad/*', 'server-url': url, token: API_KEY, 'request-timeout-seconds': '600' }, {
        workspace: ws,
        signals: [
          { onOutput: /2 file\(s\) to publish/, afterMs: 300, signal: 'SIGINT' },
          { afterMs: 1500, signal: 'SIGTERM' },
        ],
      });
      expect(r.signalTimes).toHaveLength(2);
      const afterTerm = r.endedAt! - r.signalTimes![1]!;
      figures.signalExitMs = Math.max(figures.signalExitMs, Math.max(0, afterTerm));
      expect(r.signal).toBeNull();
      expect(r.exitCode).toBe(1);
      // The first signal lets the request in flight finish (a silent server never answers); the second ends it.
      expect(afterTerm).toBeGreaterThan(-200);
      expect(afterTerm).toBeLessThan(5_000);
      expect(r.results).toHaveLength(2);
      expect(r.results.every((x) => x['error']?.code === 'cancelled')).toBe(true);
      expect(r.summary).toContain('cancelled');
      expect(r.stdout).toMatch(/::error::The run was cancelled/);
    });
  });
});
