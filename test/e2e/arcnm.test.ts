// The ARCNM chain end to end: the committed bundle, run as the runner runs it, against the ARCNM and blob
// store emulators. Checks what arrived at the servers byte for byte, the outputs and the summary.
import { createHash, randomUUID } from 'node:crypto';
import { truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { arcnmRateLimited, type ArcnmEmulator, type ArcnmEmulatorOptions } from '../emulators/arcnm.js';
import type { BlobStore } from '../emulators/blob.js';
import { expectArcnmHolds, startArcnm } from '../support/arcnm.js';
import { NODES, findLeaks, makeWorkspace, runAction } from '../support/action.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_9f3c1e7d5b2a4f60a1b2c3d4';

let blob: BlobStore;
let arcnm: ArcnmEmulator;

async function startEmulators(opts: Partial<ArcnmEmulatorOptions> = {}) {
  ({ blob, arcnm } = await startArcnm(API_KEY, opts));
}

afterEach(async () => {
  await arcnm?.close();
  await blob?.close();
});

const drawings = () => ({
  'cad/brackets/bracket.step': samples.step('bracket.step'),
  'cad/housing.stp': samples.step('housing.stp'),
  'cad/meshes/cube.stl': samples.stlBinary(),
  'drawings/GA-100.pdf': samples.pdf('GA-100 general arrangement'),
});

function inputs(extra: Record<string, string> = {}) {
  return { provider: 'arcnm', path: 'cad/**\ndrawings/*.pdf', 'server-url': arcnm.url, token: API_KEY, ...extra };
}

/** Exactly one confirmed upload per file name, and everything the run reported is what ARCNM holds. */
async function expectStoredIntact(ws: string, files: string[], run: { results: Record<string, any>[] }, attach?: { partId: string; revisionId: string }) {
  for (const rel of files) {
    const confirmed = arcnm.uploadsWithStatus('confirmed').filter((u) => u.name === path.basename(rel));
    expect(confirmed, `${rel}: exactly one confirmed upload`).toHaveLength(1);
  }
  expect(run.results.filter((r) => files.includes(r.path)).map((r) => r.status)).toEqual(files.map(() => 'succeeded'));
  await expectArcnmHolds({ arcnm, blob }, ws, run.results, attach);
}

describe.each(NODES)('ARCNM end to end ($name)', ({ bin }) => {
  beforeEach(() => startEmulators());

  it('publishes CAD files and drawings and outputs the job IDs', async () => {
    const ws = await makeWorkspace({ ...drawings(), 'cad/notes.txt.bak': 'not matched by extension but by folder' });
    const run = await runAction(inputs({ path: 'cad/**/*.step\ncad/**/*.stp\ncad/**/*.stl\ndrawings/*.pdf' }), { workspace: ws, node: bin });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);

    const paths = ['cad/brackets/bracket.step', 'cad/housing.stp', 'cad/meshes/cube.stl', 'drawings/GA-100.pdf'];
    expect(run.results.map((r) => r.path)).toEqual(paths);
    await expectStoredIntact(ws, paths, run);
    expect(arcnm.stats.presigns).toBe(4);

    const jobIds = JSON.parse(run.outputs['job-ids']!);
    expect(jobIds).toHaveLength(4);
    expect(JSON.parse(run.outputs['ids']!)).toEqual(jobIds);
    expect(run.outputs['succeeded-count']).toBe('4');
    expect(run.outputs['failed-count']).toBe('0');
    expect(JSON.parse(run.outputs['version-ids']!)).toEqual([]);
    for (const [i, r] of run.results.entries()) {
      const upload = arcnm.uploads.get(r.dataSourceId)!;
      expect(r).toMatchObject({ status: 'succeeded', id: jobIds[i], jobId: upload.jobId, bytes: upload.size_bytes, sha256: upload.sha256, verifiedBy: ['etag-md5', 'arcnm-sha256'] });
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(run.summary).toContain('Model Publisher → ARCNM');
    expect(run.summary).toContain('<code>cad/housing.stp</code>');
    expect(run.summary).toContain(jobIds[0]);
    expect(run.stdout).toMatch(/cad\/housing.stp: uploaded \d+ bytes/);
    expect(findLeaks(run, [API_KEY])).toEqual([]);
  });
});

describe('ARCNM end to end: the live service behaviour', () => {
  it('uploads with presigned POST forms, confirms until confirmed, and attaches to a part revision', async () => {
    await startEmulators({ uploadMethod: 'POST', confirmMode: 'status', confirmDelayMs: 600 });
    arcnm.addPartRevision('prt_42', 'rev_B');
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs({ 'part-id': 'prt_42', 'revision-id': 'rev_B' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectStoredIntact(ws, Object.keys(drawings()).sort(), run, { partId: 'prt_42', revisionId: 'rev_B' });
    expect(arcnm.datasets.map((d) => [d.part_id, d.revision_id]).sort()).toEqual(Array(4).fill(['prt_42', 'rev_B']));
    const byRole = Object.fromEntries(arcnm.datasets.map((d) => [arcnm.uploads.get(d.data_source_id)!.name, d.role]));
    expect(byRole).toMatchObject({ 'bracket.step': 'cad_3d', 'GA-100.pdf': 'drawing_2d' });
    expect(arcnm.datasets[0]!.attributes).toMatchObject({ commit_sha: '0123456789abcdef0123456789abcdef01234567', workflow_run: 'https://github.com/acme/models/actions/runs/4242' });
    // No job IDs from the live service: the data source IDs stand in for them.
    expect(JSON.parse(run.outputs['job-ids']!)).toEqual([]);
    expect(JSON.parse(run.outputs['ids']!).sort()).toEqual(arcnm.datasets.map((d) => d.data_source_id).sort());
    // One confirm per file; the verdict comes from the upload list, one request for every file waiting.
    expect(arcnm.stats.confirms).toBe(4);
    expect(run.results.every((r) => r.status === 'succeeded' && r.verifiedBy.includes('arcnm-sha256'))).toBe(true);
  });

  it.each(['job', 'status', 'both'] as const)("waits for ARCNM's verdict in the upload's row, whatever confirm answers (%s)", async (confirmMode) => {
    await startEmulators({ confirmMode, confirmDelayMs: 600 });
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs({ concurrency: '4' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectStoredIntact(ws, Object.keys(drawings()).sort(), run);
    for (const r of run.results) {
      const upload = arcnm.uploads.get(r.dataSourceId)!;
      expect(upload.status, r.path).toBe('confirmed');
      expect(r).toMatchObject({ status: 'succeeded', verifiedBy: ['etag-md5', 'arcnm-sha256'] });
      expect(r.jobId).toBe(confirmMode === 'status' ? undefined : upload.jobId);
    }
    const lists = arcnm.requests.filter((q) => q.method === 'GET' && q.path.startsWith('/api/v1/uploads/')).length;
    // A poll per file would take at least four per file (the check takes 600 ms; polls come at 100, 250, 475, 812 ms).
    expect(lists).toBeGreaterThan(0);
    expect(lists).toBeLessThanOrEqual(2 * 4);
    expect(run.summary).toContain('ARCNM SHA-256');
  });

  it('with wait: false, reports files as submitted (not verified) without asking for the verdict', async () => {
    await startEmulators({ confirmDelayMs: 60_000 });
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs({ wait: 'false' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.results.map((r) => r.status)).toEqual(['submitted', 'submitted', 'submitted', 'submitted']);
    expect(run.results.every((r) => !r.verifiedBy.includes('arcnm-sha256'))).toBe(true);
    expect(arcnm.uploadsWithStatus('pending')).toHaveLength(4);
    expect(run.outputs['succeeded-count']).toBe('0');
    expect(run.outputs['submitted-count']).toBe('4');
    expect(JSON.parse(run.outputs['job-ids']!)).toEqual(run.results.map((r) => r.jobId));
    expect(run.summary).toContain('submitted without waiting');
    // One read: skip-unchanged's list of what ARCNM already holds, before any upload; none for the verdict.
    expect(arcnm.requests.filter((q) => q.method === 'GET').map((q) => q.path)).toEqual(['/api/v1/uploads/']);
  });

  it("fails a file ARCNM rejects after the reply, with ARCNM's reason, and waits for the others", async () => {
    await startEmulators({ confirmDelayMs: 300 });
    const ws = await makeWorkspace({ 'cad/ok.step': samples.step(), 'cad/zip.step': 'PK\x03\x04 a zip named .step' });
    const run = await runAction(inputs({ validate: 'false' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    const [ok, zip] = run.results as [Record<string, any>, Record<string, any>];
    expect(ok).toMatchObject({ status: 'succeeded' });
    expect(zip).toMatchObject({ status: 'failed', error: { code: 'invalid_content', providerCode: 'upload_rejected' } });
    expect(zip.error.message).toMatch(/The file was rejected: expected a STEP file/);
    expect(arcnm.uploadsWithStatus('failed').map((u) => u.name)).toEqual(['zip.step']);
  });


  it('a first attempt still in flight (409 idempotency_in_flight) is waited for under the same key, never repeated', async () => {
    // Every call takes 2.5 s on ARCNM's side; the action gives up on an answer after 1 s and asks again with the
    // same key, which answers in_flight until the first finishes, and then its stored answer.
    await startEmulators({ processingDelayMs: 2_500, confirmDelayMs: 0 });
    const ws = await makeWorkspace({ 'cad/part.step': samples.step('part.step') });
    const run = await runAction(inputs({ 'request-timeout-seconds': '1', 'max-attempts': '2' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(arcnm.stats.idempotencyRejections).toBeGreaterThan(0);
    expect(arcnm.stats.replays).toBeGreaterThan(0);
    expect(arcnm.stats.presigns).toBe(1);
    expect(arcnm.stats.confirms).toBe(1);
    expect(run.stdout).toMatch(/still processing the first attempt/);
    await expectStoredIntact(ws, ['cad/part.step'], run);
  });

  it("registers one value per file with the runner's masker (the signature), plus the key and the credential once", async () => {
    // The runner compares every later log line with every value registered: three a file (the query string, its
    // encoded form, the signature) were 15,000 for 5,000 files.
    await startEmulators();
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`cad/part-${i}.step`, samples.step(`part-${i}.step`)]));
    const ws = await makeWorkspace(files);
    const run = await runAction(inputs({ path: 'cad/*.step' }), { workspace: ws });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const masks = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    expect(masks.length).toBeGreaterThanOrEqual(21);
    expect(masks.length).toBeLessThanOrEqual(20 + 4);
    expect(masks).toContain(`::add-mask::${API_KEY}`);
    expect(findLeaks(run, [API_KEY])).toEqual([]);
  });

  it('keeps its connections to each server to the files in flight and a few beside them (concurrency + 4)', async () => {
    // 150 small files at concurrency 16, with 10 ms on every ARCNM call: without a bound, a request sent while
    // the connection that had just answered was not yet free opened another (25 to ARCNM here, 64-68 at 5,000
    // files and concurrency 32), each a TLS handshake on a real network.
    await startEmulators({ processingDelayMs: 10 });
    const files = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`cad/part-${String(i).padStart(3, '0')}.step`, samples.step(`part-${i}.step`)]));
    const ws = await makeWorkspace(files);
    const run = await runAction(inputs({ path: 'cad/*.step', concurrency: '16' }), { workspace: ws });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs['succeeded-count']).toBe('150');
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    const connections = (log: { connection?: number }[]) => new Set(log.map((q) => q.connection)).size;
    expect(connections(arcnm.requests)).toBeLessThanOrEqual(20);
    expect(connections(blob.requests)).toBeLessThanOrEqual(20);
  });

  it("reads an organisation's upload list longer than any answer read whole (26 MB), for skip-unchanged and for the verdict", async () => {
    // The list has no filter: it holds every upload the organisation ever made. Read whole, more than 16 MiB was
    // refused ("no answer of this API is that large"), and every round held it three times over.
    await startEmulators();
    const files = drawings();
    const ws = await makeWorkspace(files);
    const held = { name: 'housing.stp', bytes: files['cad/housing.stp'] };
    const long = 'archive/'.repeat(12);
    for (let i = 0; i < 80_000; i++) {
      const id = randomUUID();
      arcnm.uploads.set(id, {
        id,
        name: i === 40_000 ? held.name : `${long}part-${i}.step`,
        content_type: 'model/step',
        declared_size_bytes: null,
        size_bytes: i === 40_000 ? held.bytes.length : 1000 + i,
        status: i % 5 === 0 && i !== 40_000 ? 'cancelled' : 'confirmed',
        sha256: i === 40_000 ? createHash('sha256').update(held.bytes).digest('hex') : createHash('sha256').update(String(i)).digest('hex'),
        key: `uploads/${id}`,
        created_at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        method: 'PUT',
        confirmCalls: 1,
      });
    }
    const run = await runAction(inputs(), { workspace: ws });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    const lists = arcnm.requests.filter((q) => q.method === 'GET' && q.path === '/api/v1/uploads/');
    expect(lists.length).toBeGreaterThanOrEqual(2); // the lookup, then at least one verdict round
    expect(run.results.map((r) => [r.path, r.status, r.reason ?? ''])).toEqual([
      ['cad/brackets/bracket.step', 'succeeded', ''],
      ['cad/housing.stp', 'skipped', 'unchanged'],
      ['cad/meshes/cube.stl', 'succeeded', ''],
      ['drawings/GA-100.pdf', 'succeeded', ''],
    ]);
    expect(run.results.filter((r) => r.status === 'succeeded').every((r) => r.verifiedBy.includes('arcnm-sha256'))).toBe(true);
    await expectArcnmHolds({ arcnm, blob }, ws, run.results.filter((r) => r.status === 'succeeded'));
    // A dry run checks the key with the same list, read through.
    const dry = await runAction(inputs({ 'dry-run': 'true' }), { workspace: ws });
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toContain('ARCNM: the API key is valid');
  });
});

describe('ARCNM end to end: faults', () => {
  it('survives 503s, 429s without Retry-After, a reset mid-upload and upload_not_received with one upload per file', async () => {
    await startEmulators();
    arcnm.faults
      .add({ method: 'POST', path: '/api/v1/uploads/presign', action: { kind: 'status', status: 503, body: '{"error":{"code":"unavailable","message":"try again"}}' }, times: 2 })
      .add({ method: 'POST', path: '/api/v1/uploads/confirm', action: arcnmRateLimited(), times: 2 })
      .add({
        method: 'POST',
        path: '/api/v1/uploads/confirm',
        action: { kind: 'status', status: 409, body: JSON.stringify({ error: { code: 'upload_not_received', message: 'The bytes have not arrived yet.', details: {} }, request_id: 'req_1' }) },
        times: 1,
      });
    blob.faults.add({ method: 'PUT', action: { kind: 'reset', afterBytes: 100 }, times: 2 }).add({ method: 'PUT', action: { kind: 'status', status: 500 }, times: 1 });
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs({ concurrency: '2' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(arcnm.faults.injected.length + blob.faults.injected.length).toBe(8);
    await expectStoredIntact(ws, Object.keys(drawings()).sort(), run);
    expect(arcnm.uploads.size).toBe(4);
    expect(arcnm.stats.presigns).toBe(4);
    expect(run.stdout).toMatch(/HTTP 503, retry 2\/5/);
    expect(run.stdout).toMatch(/not received the bytes yet; confirming again/);
  });

  it("adapts to ARCNM's per-caller limit (a sliding window, no Retry-After): every file published, few requests refused", async () => {
    // 40 requests in any 4 s (ARCNM's 600 a minute, scaled down); 24 files at concurrency 8 need about 70.
    await startEmulators({ rateLimit: { limit: 40, windowMs: 4_000 } });
    const files: Record<string, string> = {};
    for (let i = 0; i < 24; i++) files[`cad/part-${String(i).padStart(2, '0')}.step`] = samples.step(`part-${i}.step`);
    const ws = await makeWorkspace(files);
    const run = await runAction(inputs({ path: 'cad/*.step', concurrency: '8' }), { workspace: ws, node: NODES[0]!.bin, timeoutMs: 120_000 });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectStoredIntact(ws, Object.keys(files), run);
    const refused = arcnm.rateLimit!.refused;
    const accepted = arcnm.requests.length - refused;
    // Without adapting, every request that meets a full window is refused again at each of its retries (and a
    // file whose five attempts all meet one fails). With it, one probe at a time meets a full window.
    console.log(`rate-limited ARCNM run: ${accepted} requests accepted, ${refused} refused (429)`);
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(accepted / 2);
    expect(run.stdout).toMatch(/rate limited \(HTTP 429\)/);
  });

  it('starts again from presign when the upload URL has expired, and cancels the stale upload', async () => {
    await startEmulators();
    blob.faults.add({ method: 'PUT', action: { kind: 'status', status: 403, body: '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>' }, times: 1 });
    const ws = await makeWorkspace({ 'cad/part.step': samples.step('part.step') });
    const run = await runAction(inputs(), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(arcnm.stats.presigns).toBe(2);
    expect(arcnm.uploadsWithStatus('cancelled')).toHaveLength(1);
    expect(arcnm.uploadsWithStatus('confirmed')).toHaveLength(1);
    expect(arcnm.uploadsWithStatus('pending')).toHaveLength(0);
    expect(run.stdout).toMatch(/starting again from presign/);
  });

  it('reports a file ARCNM rejects with its code and request ID, while the others succeed', async () => {
    await startEmulators();
    const ws = await makeWorkspace({ ...drawings(), 'cad/broken.step': 'this is not a STEP file' });
    const run = await runAction(inputs({ validate: 'false' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    const broken = run.results.find((r) => r.path === 'cad/broken.step')!;
    expect(broken.status).toBe('failed');
    expect(broken.error).toMatchObject({ code: 'invalid_content', providerCode: 'upload_rejected' });
    expect(broken.error.message).toMatch(/ARCNM 409 upload_rejected: confirm: .*request_id/);
    expect(run.outputs['succeeded-count']).toBe('4');
    expect(run.outputs['failed-count']).toBe('1');
    expect(JSON.parse(run.outputs['job-ids']!)).toHaveLength(4);
    expect(run.stdout).toMatch(/::error title=ARCNM publish failed,file=cad\/broken.step::/);
    expect(run.summary).toContain('Failures');
    expect(run.summary).toContain('upload_rejected');
  });

  it('with fail-on-error false, failures are warnings and the step passes', async () => {
    await startEmulators();
    const ws = await makeWorkspace({ 'cad/broken.step': 'nope', 'cad/ok.step': samples.step() });
    const run = await runAction(inputs({ validate: 'false', 'fail-on-error': 'false' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/::warning::1 of 2 file\(s\) failed/);
  });
});

describe('ARCNM end to end: refused before any request', () => {
  beforeEach(() => startEmulators());

  const writes = () => arcnm.requests.filter((r) => r.method !== 'GET').length + blob.requests.length;

  it.each([
    ['no token', { token: '' }, /Input 'token': is required.*ARCNM_API_KEY/],
    ['an http URL to a remote host', { 'server-url': 'http://api.arcnm.example.com' }, /Input 'server-url': http:\/\/ is accepted only for loopback/],
    ['a token with a newline', { token: 'ak_test_1\nak_test_2' }, /Input 'token': contains whitespace or a line break/],
    ['a bad concurrency', { concurrency: '64' }, /Input 'concurrency'.*1 to 32/],
    ['a part without a revision', { 'part-id': 'prt_1' }, /Input 'revision-id'/],
    ['no matching files', { path: 'nothing/**/*.step' }, /Input 'path': no files matched/],
    ['a pattern outside the workspace', { path: '../**/*.step' }, /leads outside the workspace/],
  ])('%s', async (_name, extra, message) => {
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs(extra as Record<string, string>), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(message);
    expect(writes()).toBe(0);
  });

  it('refuses empty files, unaccepted types and content that does not match the extension, and uploads nothing of them', async () => {
    const ws = await makeWorkspace({ 'cad/empty.step': '', 'cad/model.ifc': samples.ifc(), 'cad/fake.stl': 'solid x\n' });
    const run = await runAction(inputs({ path: 'cad/*' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    const reasons = Object.fromEntries(run.results.map((r) => [r.path, r.error?.message]));
    expect(reasons['cad/empty.step']).toMatch(/empty/);
    expect(reasons['cad/model.ifc']).toMatch(/ARCNM accepts .*\.ifc is not accepted/);
    expect(reasons['cad/fake.stl']).toMatch(/endsolid/);
    expect(writes()).toBe(0);
  });

  it('refuses a file over 512 MB by its size before any request for it, and it clashes by name with no file sent', async () => {
    // b/part.step is sparse: 512 MiB and one byte on disk's say-so, nothing written. Its name is a/part.step's,
    // but ARCNM refuses it anyway, so the pair is no clash; the size is read when the run plans the file.
    const ws = await makeWorkspace({ 'cad/a/part.step': samples.step('a part'), 'cad/b/part.step': '' });
    await truncate(path.join(ws, 'cad/b/part.step'), 512 * 1024 * 1024 + 1);
    const run = await runAction(inputs({ path: 'cad/**' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    expect(run.results.map((r) => [r.path, r.status, r.bytes])).toEqual([
      ['cad/a/part.step', 'succeeded', samples.step('a part').length],
      ['cad/b/part.step', 'failed', 512 * 1024 * 1024 + 1],
    ]);
    expect(run.results[1]!.error).toMatchObject({ code: 'refused', message: expect.stringMatching(/^ARCNM accepts files up to .*; this one has .* \(536870913 bytes\)$/) });
    expect(arcnm.stats.presigns).toBe(1);
    expect([...arcnm.uploads.values()].map((u) => u.size_bytes)).toEqual([samples.step('a part').length]);
  });

  it('dry-run matches and checks files but writes nothing', async () => {
    const ws = await makeWorkspace(drawings());
    const run = await runAction(inputs({ 'dry-run': 'true' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(0);
    expect(run.results.every((r) => r.status === 'skipped')).toBe(true);
    expect(run.stdout).toMatch(/dry-run: would publish cad\/housing.stp/);
    expect(writes()).toBe(0);
  });

  it('if-no-files-found: warn passes with a warning', async () => {
    const ws = await makeWorkspace({});
    const run = await runAction(inputs({ 'if-no-files-found': 'warn' }), { workspace: ws });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/::warning::no files matched/);
    expect(run.outputs['succeeded-count']).toBe('0');
  });
});

describe('ARCNM end to end: cancellation', () => {
  it('on SIGINT, stops, cancels pending uploads and still writes the outputs for what finished', async () => {
    await startEmulators({ processingDelayMs: 400 });
    const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`cad/p${i}.step`, samples.step(`p${i}.step`)]));
    const ws = await makeWorkspace(files);
    // SIGINT once the first file is done (whatever the machine's speed): the second is under way, the rest not started.
    const run = await runAction(inputs({ concurrency: '1' }), { workspace: ws, signals: [{ onOutput: /cad\/p0\.step: done/, signal: 'SIGINT' }] });
    await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    expect(run.exitCode).toBe(1);
    const succeeded = run.results.filter((r) => r.status === 'succeeded');
    // Cancelled while ARCNM checked it: handed over, reported submitted, and left to ARCNM (not cancelled).
    const submitted = run.results.filter((r) => r.status === 'submitted');
    const cancelled = run.results.filter((r) => r.error?.code === 'cancelled');
    expect(succeeded.length).toBeGreaterThan(0);
    expect(cancelled.length).toBeGreaterThan(0);
    expect(succeeded.length + submitted.length + cancelled.length).toBe(6);
    expect(cancelled.filter((r) => r.status === 'skipped').length).toBeGreaterThan(0);
    expect(JSON.parse(run.outputs['job-ids']!)).toHaveLength(succeeded.length + submitted.length);
    // Every upload ARCNM has that is not reported published was cancelled: nothing lingers unreported.
    const reported = new Set([...succeeded, ...submitted].map((r) => r.dataSourceId));
    for (const u of arcnm.uploads.values()) if (!reported.has(u.id)) expect(arcnm.uploadsWithStatus('cancelled'), u.name).toContain(u);
    expect(arcnm.uploadsWithStatus('confirmed').length).toBeGreaterThanOrEqual(succeeded.length);
    expect(run.summary).toContain('cancelled');
  });
});
