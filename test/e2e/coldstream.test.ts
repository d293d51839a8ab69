// The Coldstream chain end to end: the bundle, run as the runner runs it, against the Coldstream emulator
// (file and case endpoints on one server) and its blob store. Checks the file records, the jobs, what
// storage received (and that the token never went there), the outputs and the pacing of busy retries.
// Each test has its own emulator, so the tests of one Node version run concurrently to keep the file short.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it, type ExpectStatic } from 'vitest';
import { ColdstreamEmulator, type ColdstreamEmulatorOptions, type JobAnswerShape } from '../emulators/coldstream.js';
import { NODES, findLeaks, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import { expectColdstreamHolds } from '../support/coldstream.js';
import * as samples from '../support/samples.js';

const TOKEN = 'cs_live_3b8e0f4a6c2d4e1f9a7b5c3d';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A fresh emulator for one test, closed when the test ends. */
async function emulator(onTestFinished: (fn: () => Promise<void>) => void, opts: ColdstreamEmulatorOptions = {}): Promise<ColdstreamEmulator> {
  const cs = new ColdstreamEmulator({ token: TOKEN, cases: { '1001': ['2001', '2002'] }, ...opts });
  await cs.start();
  onTestFinished(() => cs.close());
  return cs;
}

function inputs(cs: ColdstreamEmulator, extra: Record<string, string> = {}) {
  return { provider: 'coldstream', path: 'geometry/**', 'server-url': cs.url, 'case-id': '1001', ...extra };
}

const env = { COLDSTREAM_TOKEN: TOKEN };

/** The token never reached storage, every PUT was the plain octet-stream the URL was signed for, nothing leaked. */
function expectCleanStorage(expect: ExpectStatic, cs: ColdstreamEmulator, run: ActionRun) {
  for (const r of cs.blob.requests) {
    expect(r.headers.authorization, `${r.method} ${r.path} carries no Authorization`).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(TOKEN);
    if (r.method === 'PUT') expect(r.headers['content-type']).toBe('application/octet-stream');
  }
  for (const r of cs.requests) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
  expect(findLeaks(run, [TOKEN])).toEqual([]);
}

/** Exactly one file record per path, its bytes stored intact. */
async function expectStoredOnce(expect: ExpectStatic, cs: ColdstreamEmulator, ws: string, rels: string[]) {
  for (const rel of rels) {
    const records = cs.files.filter((f) => f.fileName === path.basename(rel));
    expect(records, `${rel}: exactly one file record`).toHaveLength(1);
    const stored = cs.blob.get(records[0]!.key);
    expect(stored?.sha256Hex, `${rel}: stored bytes equal the file`).toBe(sha256(await readFile(path.join(ws, rel))));
  }
}

/** Job requests of one case never overlapped, and every retry after a busy answer came ≥ 1 s later. */
function expectPolitePacing(expect: ExpectStatic, cs: ColdstreamEmulator) {
  expect(cs.maxConcurrentJobRequests('1001')).toBe(1);
  const reqs = [...cs.jobRequests].sort((a, b) => a.start - b.start);
  for (let i = 1; i < reqs.length; i++) {
    expect(reqs[i]!.start, 'job requests of one case do not overlap').toBeGreaterThanOrEqual(reqs[i - 1]!.end);
    // The emulator logs `end` just before the answer is written; allow the answer's trip back.
    if (reqs[i - 1]!.outcome === 'busy') expect(reqs[i]!.start - reqs[i - 1]!.end, 'no tight loop after busy').toBeGreaterThanOrEqual(950);
  }
}

describe.each(NODES)('Coldstream end to end ($name)', ({ bin }) => {
  describe.concurrent('chains', () => {
    it('converts a component STEP file and outputs the job ID', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(inputs(cs, { 'component-id': '2001' }), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);

      await expectStoredOnce(expect, cs, ws, ['geometry/fin.step']);
      expect(cs.files[0]!.caseComponentId).toBe(2001);
      expect(cs.jobs).toHaveLength(1);
      const job = cs.jobs[0]!;
      expect(job).toMatchObject({ type: 'convert', caseId: '1001', fileId: cs.files[0]!.id });
      expect(run.results).toEqual([
        expect.objectContaining({ path: 'geometry/fin.step', status: 'succeeded', id: job.id, jobId: job.id, fileId: String(cs.files[0]!.id), jobKind: 'convert' }),
      ]);
      expect(JSON.parse(run.outputs['job-ids']!)).toEqual([job.id]);
      expect(JSON.parse(run.outputs['ids']!)).toEqual([job.id]);
      expect(run.summary).toContain(job.id);
      expectCleanStorage(expect, cs, run);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('initialises a whole-case STEP file (case id as caseComponentId) and uploads an STL without a job', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/assembly.stp': samples.step('assembly.stp'), 'geometry/mesh/cube.stl': samples.stlBinary() });
      const run = await runAction(inputs(cs), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);

      await expectStoredOnce(expect, cs, ws, ['geometry/assembly.stp', 'geometry/mesh/cube.stl']);
      expect(cs.files.map((f) => f.caseComponentId)).toEqual([1001, 1001]);
      expect(cs.jobs.map((j) => j.type)).toEqual(['initialize']);
      const stl = cs.files.find((f) => f.fileName === 'cube.stl')!;
      expect(run.results).toEqual([
        expect.objectContaining({ path: 'geometry/assembly.stp', status: 'succeeded', jobId: cs.jobs[0]!.id, jobKind: 'initialize' }),
        expect.objectContaining({ path: 'geometry/mesh/cube.stl', status: 'succeeded', id: String(stl.id), fileId: String(stl.id), jobKind: 'none' }),
      ]);
      expect(run.results[1]).not.toHaveProperty('jobId');
      expect(JSON.parse(run.outputs['job-ids']!)).toEqual([cs.jobs[0]!.id]);
      expect(JSON.parse(run.outputs['ids']!)).toEqual([cs.jobs[0]!.id, String(stl.id)]);
      expectCleanStorage(expect, cs, run);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('honours finalize: none skips the job, initialize and convert are forced', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const none = await runAction(inputs(cs, { 'component-id': '2001', finalize: 'none' }), { workspace: ws, node: bin, env });
      expect(none.exitCode, none.stdout + none.stderr).toBe(0);
      expect(none.results[0]).toMatchObject({ status: 'succeeded', jobKind: 'none', id: String(cs.files[0]!.id) });
      expect(cs.jobRequests).toHaveLength(0);
      expect(JSON.parse(none.outputs['job-ids']!)).toEqual([]);

      const init = await runAction(inputs(cs, { 'component-id': '2001', finalize: 'initialize' }), { workspace: ws, node: bin, env });
      expect(init.exitCode, init.stdout + init.stderr).toBe(0);
      const conv = await runAction(inputs(cs, { finalize: 'Convert' }), { workspace: ws, node: bin, env });
      expect(conv.exitCode, conv.stdout + conv.stderr).toBe(0);
      expect(cs.jobs.map((j) => j.type)).toEqual(['initialize', 'convert']);
      expect(init.results[0]).toMatchObject({ jobKind: 'initialize', jobId: cs.jobs[0]!.id });
      expect(conv.results[0]).toMatchObject({ jobKind: 'convert', jobId: cs.jobs[1]!.id });
      expect(cs.files.map((f) => f.caseComponentId)).toEqual([2001, 2001, 1001]);
      for (const run of [none, init, conv]) {
        expectCleanStorage(expect, cs, run);
        await expectColdstreamHolds(expect, cs, ws, run);
      }
    });

    it('streams a 40 MB scan through the hashing worker and storage holds it byte for byte', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const scan = samples.stlMesh(800_000);
      const ws = await makeWorkspace({ 'geometry/scan.stl': scan });
      const run = await runAction(inputs(cs, { finalize: 'none' }), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const stored = cs.blob.get(cs.files[0]!.key)!;
      expect(stored.bytes.equals(scan), 'stored bytes equal the file').toBe(true);
      expect(run.results[0]).toMatchObject({ status: 'succeeded', bytes: scan.length, sha256: sha256(scan) });
      expect(run.stdout).toMatch(/geometry\/scan\.stl: 100% of [\d.]+ MiB \([\d.]+ MiB\/s\)/);
      expectCleanStorage(expect, cs, run);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('refuses an STL file when finalize forces a job, before any request', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/cube.stl': samples.stlAscii() });
      const run = await runAction(inputs(cs, { finalize: 'convert' }), { workspace: ws, node: bin, env });
      expect(run.exitCode).toBe(1);
      expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'refused' } });
      expect(run.results[0]!.error.message).toMatch(/finalize is convert.*STL file needs no job/);
      await expectColdstreamHolds(expect, cs, ws, run);
      expect(cs.requests).toHaveLength(0);
      expect(cs.blob.requests).toHaveLength(0);
    });

    it('refuses unsupported files before any request and publishes the rest', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/drawing.pdf': samples.pdf(), 'geometry/model.ifc': samples.ifc() });
      const run = await runAction(inputs(cs), { workspace: ws, node: bin, env });
      expect(run.exitCode).toBe(1);
      expect(run.results.map((r) => [r.status, r.error?.code])).toEqual([
        ['failed', 'refused'],
        ['failed', 'refused'],
      ]);
      expect(run.results[0]!.error.message).toContain('Coldstream accepts STEP (.step, .stp) and STL (.stl)');
      await expectColdstreamHolds(expect, cs, ws, run);
      expect(cs.requests).toHaveLength(0);
      expect(cs.blob.requests).toHaveLength(0);

      const ws2 = await makeWorkspace({ 'geometry/drawing.pdf': samples.pdf(), 'geometry/fin.step': samples.step('fin.step') });
      const mixed = await runAction(inputs(cs, { 'component-id': '2002' }), { workspace: ws2, node: bin, env });
      expect(mixed.exitCode).toBe(1);
      expect(mixed.results.map((r) => r.status)).toEqual(['failed', 'succeeded']);
      expect(cs.files.map((f) => f.fileName)).toEqual(['fin.step']);
      await expectColdstreamHolds(expect, cs, ws2, mixed);
      expect(findLeaks(mixed, [TOKEN])).toEqual([]);
    });

    it('fails with a clear usage error and sends nothing when case-id, the token or region is wrong', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const noCase = await runAction(inputs(cs, { 'case-id': '' }), { workspace: ws, node: bin, env });
      expect(noCase.exitCode).toBe(1);
      expect(noCase.stdout).toContain("Input 'case-id': is required");
      const noToken = await runAction(inputs(cs), { workspace: ws, node: bin });
      expect(noToken.exitCode).toBe(1);
      expect(noToken.stdout).toMatch(/Input 'token': is required.*COLDSTREAM_TOKEN/);
      const badRegion = await runAction(inputs(cs, { region: 'eu2' }), { workspace: ws, node: bin, env });
      expect(badRegion.exitCode).toBe(1);
      expect(badRegion.stdout).toMatch(/Input 'region': got "eu2"; expected one of eu1, us1, ap1/);
      const badFinalize = await runAction(inputs(cs, { finalize: 'later' }), { workspace: ws, node: bin, env });
      expect(badFinalize.stdout).toMatch(/Input 'finalize': got "later"/);
      for (const run of [noCase, noToken, badRegion, badFinalize]) await expectColdstreamHolds(expect, cs, ws, run);
      expect(cs.requests).toHaveLength(0);
      expect(cs.blob.requests).toHaveLength(0);
    });

    it('says what to check when the token is refused', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(inputs(cs), { workspace: ws, node: bin, env: { COLDSTREAM_TOKEN: 'cs_wrong_token_0000' } });
      expect(run.exitCode).toBe(1);
      expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'auth_rejected', providerCode: 'http_401' } });
      expect(run.results[0]!.error.message).toContain('check the token');
      await expectColdstreamHolds(expect, cs, ws, run);
      expect(cs.files).toHaveLength(0);
      expect(findLeaks(run, ['cs_wrong_token_0000'])).toEqual([]);
    });

    it('derives the file server from region when server-url is empty', async ({ expect }) => {
      // A proxy that records the CONNECT target and refuses the tunnel: the request goes nowhere else.
      const targets: string[] = [];
      const proxy = createServer();
      proxy.on('connect', (req, socket) => {
        targets.push(req.url ?? '');
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      try {
        const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const run = await runAction(
          { provider: 'coldstream', path: 'geometry/**', 'case-id': '1001', region: 'us1', 'max-attempts': '1' },
          { workspace: ws, node: bin, env: { ...env, HTTPS_PROXY: proxyUrl, https_proxy: proxyUrl } },
        );
        expect(run.exitCode).toBe(1);
        expect(targets[0]).toBe('fileserver.us1.coldstream.diabatix.com:443');
      } finally {
        proxy.closeAllConnections();
        proxy.close();
      }
    });
  });

  describe.concurrent('job answers: any 2xx means accepted, the ID only when the answer has one', () => {
    const withId: [JobAnswerShape, number][] = [
      ['numeric-id', 200],
      ['jobId', 200],
      ['job_id-number', 201],
      ['nested', 200],
    ];
    for (const [shape, status] of withId) it(`${shape} (HTTP ${status}): succeeds with the job ID the answer carries`, async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished, { jobAnswer: shape, jobAnswerStatus: status });
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(inputs(cs, { 'component-id': '2001' }), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      const job = cs.jobs[0]!;
      expect(job.answeredId).toBeDefined();
      expect(run.results[0]).toMatchObject({ status: 'succeeded', jobKind: 'convert', jobId: job.answeredId, id: job.answeredId });
      expect(JSON.parse(run.outputs['job-ids']!)).toEqual([job.answeredId]);
      expect(cs.jobRequests).toHaveLength(1);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    const withoutId: [JobAnswerShape, number][] = [
      ['no-id', 200],
      ['empty-object', 200],
      ['empty-body', 200],
      ['text', 200],
      ['empty-body', 202],
      ['empty-body', 204],
    ];
    for (const [shape, status] of withoutId) it(`${shape} (HTTP ${status}): succeeds without a job ID, and no second job is posted`, async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished, { jobAnswer: shape, jobAnswerStatus: status });
      const ws = await makeWorkspace({ 'geometry/assembly.stp': samples.step('assembly.stp') });
      const run = await runAction(inputs(cs), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(cs.jobRequests.map((r) => r.outcome), 'one job request, accepted').toEqual(['started']);
      expect(run.results[0]).toMatchObject({ status: 'succeeded', jobKind: 'initialize', id: String(cs.files[0]!.id), fileId: String(cs.files[0]!.id) });
      expect(run.results[0]).not.toHaveProperty('jobId');
      expect(JSON.parse(run.outputs['job-ids']!)).toEqual([]);
      expect(run.stdout).toContain(`Coldstream accepted the job for file ${cs.files[0]!.id} (HTTP ${status}); its answer names no job ID`);
      await expectColdstreamHolds(expect, cs, ws, run);
    });
  });

  describe.concurrent('busy cases and faults', () => {
    it('waits out busy cases without hammering: one job request per case at a time, ≥ 1 s apart after busy', async ({ expect, onTestFinished }) => {
      // Each accepted job keeps the case busy for 1.2 s; three STEP files upload in parallel.
      const cs = await emulator(onTestFinished, { jobDurationMs: 1200, jobRequestLatencyMs: 60 });
      const names = ['a.step', 'b.step', 'c.stp'];
      const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [`geometry/${n}`, samples.step(n)])));
      const run = await runAction(inputs(cs, { 'component-id': '2001', concurrency: '4' }), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);

      await expectStoredOnce(expect, cs, ws, names.map((n) => `geometry/${n}`));
      expect(cs.jobs).toHaveLength(3);
      expect(cs.jobRequests.filter((r) => r.outcome === 'busy').length).toBeGreaterThanOrEqual(2);
      expectPolitePacing(expect, cs);
      expect(JSON.parse(run.outputs['job-ids']!).sort()).toEqual(cs.jobs.map((j) => j.id).sort());
      expect(run.stdout).toMatch(/case 1001 is running another job; asking again in \d+\.\ds/);
      expectCleanStorage(expect, cs, run);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('recognises the busy answer by its text whatever the status (here 503), and backs off', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished, { busyStatus: 503 });
      cs.answerBusy(2);
      const ws = await makeWorkspace({ 'geometry/assembly.step': samples.step('assembly.step') });
      const run = await runAction(inputs(cs), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(cs.jobRequests.map((r) => r.outcome)).toEqual(['busy', 'busy', 'started']);
      expectPolitePacing(expect, cs);
      expect(run.results[0]).toMatchObject({ status: 'succeeded', jobKind: 'initialize', jobId: cs.jobs[0]!.id });
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('with wait false, reports a busy case instead of waiting', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      cs.answerBusy(1);
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(inputs(cs, { 'component-id': '2001', wait: 'false' }), { workspace: ws, node: bin, env });
      expect(run.exitCode).toBe(1);
      expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'target_busy' } });
      expect(run.results[0]!.error.message).toContain(`uploaded as file ${cs.files[0]!.id}`);
      expect(cs.jobRequests).toHaveLength(1);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('rides out 429s and storage faults with exactly one file record and one job per file', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      cs.rateLimit(2, { method: 'POST', path: '/cases/1001/files', retryAfterSec: 1 });
      cs.rateLimit(1, { method: 'POST', path: /^\/jobs\//, retryAfterSec: 1 });
      const bucket = `/${cs.blob.bucket}/*`;
      cs.blob.faults.add({ method: 'PUT', path: bucket, action: { kind: 'status', status: 503, body: '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' } });
      cs.blob.faults.add({ method: 'PUT', path: bucket, action: { kind: 'status', status: 500, body: '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>' } });
      cs.blob.faults.add({ method: 'PUT', path: bucket, action: { kind: 'reset', afterBytes: 64 } });
      const names = ['fin.step', 'housing.stp', 'cube.stl'];
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step'), 'geometry/housing.stp': samples.step('housing.stp'), 'geometry/cube.stl': samples.stlBinary() });
      const run = await runAction(inputs(cs, { 'component-id': '2002' }), { workspace: ws, node: bin, env });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);

      expect(cs.faults.injected.map((f) => f.status)).toEqual([429, 429, 429]);
      expect(cs.blob.faults.injected.map((f) => f.action)).toEqual(['status', 'status', 'reset']);
      await expectStoredOnce(expect, cs, ws, names.map((n) => `geometry/${n}`));
      expect(cs.files).toHaveLength(3);
      expect(cs.jobs.map((j) => j.type).sort()).toEqual(['convert', 'convert']);
      expect(new Set(cs.jobs.map((j) => j.fileId)).size).toBe(2);
      expect(run.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(run.stdout).toMatch(/HTTP 429, retry 2 when the server allows \(Retry-After 1\.0s\)/);
      expectCleanStorage(expect, cs, run);
      await expectColdstreamHolds(expect, cs, ws, run);
    });

    it('does not repeat a file record after a 5xx (it may exist)', async ({ expect, onTestFinished }) => {
      const cs = await emulator(onTestFinished);
      cs.faults.add({ method: 'POST', path: '/cases/1001/files', action: { kind: 'status', status: 502, body: '<html>Bad Gateway</html>' } });
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(inputs(cs, { 'component-id': '2001' }), { workspace: ws, node: bin, env });
      expect(run.exitCode).toBe(1);
      expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
      expect(cs.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect(cs.blob.requests).toHaveLength(0);
      await expectColdstreamHolds(expect, cs, ws, run);
    });
  });
});
