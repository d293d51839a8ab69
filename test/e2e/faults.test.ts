// The cross-provider fault suite: the committed bundle, run as the runner runs it, publishes many files to each
// provider's emulator while every kind of fault is switched on at once: 5xx answers, 429s with and without
// Retry-After, connections reset in the middle of an upload body, answers slower than the request timeout
// (before the service processed the request, and after), presigned URLs that expire, and the provider's own
// "try again" answers. Then it checks, at the emulator, that every file arrived intact exactly once and made
// exactly one version / attachment / confirmed upload / job (no duplicate from a retry), and at the runner, that
// the outputs and the summary name exactly what the emulator holds, and that no secret was printed.
//
// What is injected where follows what each chain is designed to survive:
//  - 5xx, resets and before-processing delays go only to requests that are safe to repeat: queries, presigns,
//    storage PUTs/POSTs (same key, same bytes), and every ARCNM mutation (each carries an Idempotency-Key).
//    ION createFileAttachment, Coldstream's file-record and job POSTs and Speckle CreateModel are documented as
//    not repeated after a 5xx or a dropped connection (a repeat could duplicate the attachment, record, job or
//    model); they get only 429s, which a service sends before doing any work and which the client repeats.
//  - "Late" answers (processed, then answered after the client's timeout) go where the provider can find out
//    what happened: ARCNM (the Idempotency-Key replays the stored answer), Speckle CreateModel (looked up by
//    name) and StartFileIngestion (adopted from the model's latest ingestion; at most one per file, as the
//    provider checks once), and idempotent queries.
//  - An upload that storage kept but answered after the client's timeout is sent again; with ION's single-use
//    URLs that takes a new URL, and the first copy stays in storage unreferenced. Such orphaned objects are
//    counted and printed, apart from duplicates (a second version / attachment / upload / job), which must be 0.
//  - The last test shows the other side: an unsafe-to-repeat request that meets an ambiguous fault is reported
//    as a failed file, never repeated into a duplicate.
// Every fault schedule is drawn from a seeded PRNG (faults.ts); with concurrency the request order, and so which
// request draws which fault, can still vary from run to run, so the faults are chosen so that every schedule
// the seeds can produce is survivable with max-attempts 8.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectArcnmHolds } from '../support/arcnm.js';
import { ArcnmEmulator, arcnmRateLimited } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import type { FaultAction } from '../emulators/faults.js';
import { ION_TOKEN_PATHS, IonEmulator } from '../emulators/ion.js';
import type { RequestLogEntry } from '../emulators/server.js';
import { SpeckleEmulator } from '../emulators/speckle.js';
import { NODES, findLeaks, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import { FaultFigures, FaultGate, emptyTally, tally, total, type FaultTally, type RunFigures } from '../support/fault-report.js';
import { expectColdstreamHolds } from '../support/coldstream.js';
import { expectIonHolds } from '../support/ion.js';
import * as samples from '../support/samples.js';
import { expectSpeckleHolds } from '../support/speckle.js';

const SEED = 0x5eed_f417;
/** The client's limit per request (and for an upload that stops moving); slow faults take SLOW_MS. */
const TIMEOUT_S = 2;
const SLOW_MS = 3_000;
const COMMON = { concurrency: '4', 'max-attempts': '8', 'request-timeout-seconds': String(TIMEOUT_S) };

const figures = new FaultFigures();

afterAll(() => {
  // The figures, printed whether or not a test failed (a failed run counts its losses, duplicates and leaks).
  console.log(['', 'Fault suite figures:', ...figures.lines(), ''].join('\n'));
  const t = figures.totals();
  expect(t.duplicates, 'duplicates').toBe(0);
  expect(t.lost, 'files lost').toBe(0);
  expect(t.leaks, 'secret leaks').toBe(0);
});

// ---------------------------------------------------------------------------------------------
// Files: small but real-looking, most of them larger than one socket read, so a reset lands mid-body.
// ---------------------------------------------------------------------------------------------

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A STEP AP214 part with a point cloud of `points` vertices (~60 bytes each). */
function stepPart(name: string, points: number): string {
  const head = samples.step(name).replace(/ENDSEC;\nEND-ISO-10303-21;\n$/, '');
  let data = '';
  for (let i = 0; i < points; i++) data += `#${100 + i}=CARTESIAN_POINT('',(${(i % 97) * 0.5},${(i % 89) * 0.25},${i * 0.125}));\n`;
  return `${head}${data}ENDSEC;\nEND-ISO-10303-21;\n`;
}

/** An inspection report as CSV (ION takes any file). */
function csvReport(rows: number): string {
  let out = 'feature,nominal_mm,measured_mm,deviation_mm,result\n';
  for (let i = 0; i < rows; i++) {
    const nominal = 10 + (i % 40) * 0.5;
    const dev = ((i * 37) % 21) / 1000 - 0.01;
    out += `H${String(i).padStart(4, '0')},${nominal.toFixed(3)},${(nominal + dev).toFixed(3)},${dev.toFixed(3)},${Math.abs(dev) <= 0.01 ? 'PASS' : 'FAIL'}\n`;
  }
  return out;
}

type Files = Record<string, string | Buffer>;

const speckleFiles = (): Files =>
  Object.fromEntries(
    Array.from({ length: 14 }, (_, i) => {
      const site = ['north', 'south', 'east'][i % 3]!;
      const name = `block-${String.fromCharCode(97 + i)}${i}.ifc`;
      return [`models/${site}/${name}`, samples.ifc(name, (['IFC4', 'IFC2X3', 'IFC4X3'] as const)[i % 3], 150 + i * 90)];
    }),
  );

const ionFiles = (): Files => ({
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`release/drawings/GA-${110 + i}.pdf`, samples.pdf(`GA-${110 + i} general arrangement`)])),
  ...Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`release/photos/weld-${i + 1}.jpg`, samples.jpeg()])),
  ...Object.fromEntries(Array.from({ length: 2 }, (_, i) => [`release/photos/scan-${i + 1}.png`, samples.png(48 + i * 16)])),
  ...Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`release/inspection/report-${i + 1}.csv`, csvReport(600 + i * 500)])),
  'release/cad/bracket.step': stepPart('bracket.step', 900),
  'release/cad/housing.stp': stepPart('housing.stp', 1500),
});

const coldstreamFiles = (): Files => ({
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`geometry/fins/fin-${i + 1}.step`, stepPart(`fin-${i + 1}.step`, 200 + i * 150)])),
  'geometry/housing.stp': stepPart('housing.stp', 1200),
  ...Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`geometry/meshes/channel-${i + 1}.stl`, samples.stlMesh(300 + i * 400)])),
});

const arcnmFiles = (): Files => ({
  ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`cad/parts/p-${100 + i}.step`, stepPart(`p-${100 + i}.step`, 300 + i * 250)])),
  ...Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`cad/meshes/m-${i + 1}.stl`, samples.stlMesh(400 + i * 350)])),
  ...Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`drawings/D-${200 + i}.pdf`, samples.pdf(`D-${200 + i} drawing`)])),
  'drawings/layout.dxf': samples.dxf(),
  'photos/first-article.jpg': samples.jpeg(),
  'photos/thermal.png': samples.png(64),
});

// ---------------------------------------------------------------------------------------------
// Shared fault recipes and checks
// ---------------------------------------------------------------------------------------------

const json = (status: number, body: unknown, headers: Record<string, string> = {}): FaultAction => ({
  kind: 'status',
  status,
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json', ...headers },
});
const s3Error = (status: number, code: string, message: string): FaultAction => ({
  kind: 'status',
  status,
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`,
  headers: { 'Content-Type': 'application/xml' },
});
const slow: FaultAction = { kind: 'delay', ms: SLOW_MS };

/**
 * Storage faults on the upload requests (method, and the path prefix of the bucket): 5xx, resets in the middle
 * of the body, a stall and a slow answer (both past the stall timeout), and one URL that has expired.
 */
function storageFaults(blob: BlobStore, method: 'PUT' | 'POST', pathPattern: string) {
  const once = { method, path: pathPattern, times: 1 };
  const on = { method, path: pathPattern, times: Infinity };
  blob.faults
    // One of each for certain (the first uploads get them), then a share of the rest at random.
    .add({ ...once, action: { kind: 'reset', afterBytes: 4096 } })
    .add({ ...once, action: s3Error(503, 'SlowDown', 'Please reduce your request rate.') })
    .add({ ...once, action: slow })
    // One URL that has expired by the time it is used (with expireAll() below, no file sees more than two
    // expired URLs, and the engine asks for a new URL up to twice).
    .add({ ...once, action: s3Error(403, 'AccessDenied', 'Request has expired') })
    .add({ ...on, probability: 0.1, action: s3Error(503, 'SlowDown', 'Please reduce your request rate.') })
    .add({ ...on, probability: 0.04, action: s3Error(500, 'InternalError', 'We encountered an internal error. Please try again.') })
    .add({ ...on, probability: 0.1, action: { kind: 'reset', afterBytes: 4096 } })
    .add({ ...on, probability: 0.03, action: { kind: 'stall', afterBytes: 1024, ms: SLOW_MS } })
    .add({ ...on, probability: 0.05, action: slow });
}

/** Once `ready()` holds (some URLs handed out and not yet used), every URL issued so far expires. */
function expireAllOnce(blob: BlobStore, ready: () => boolean): { stop: () => void; fired: () => boolean } {
  let fired = false;
  const timer = setInterval(() => {
    if (!fired && ready()) {
      fired = true;
      blob.expireAll();
      clearInterval(timer);
    }
  }, 15);
  return { stop: () => clearInterval(timer), fired: () => fired };
}

/** Storage answers 403 that no fault rule made: URLs that had really expired (expireAll, ION's expired URLs). */
function realExpiries(blob: BlobStore): number {
  return blob.requests.filter((r) => r.status === 403 && r.fault === undefined).length;
}

/** Every signature storage issued (URL query signatures and POST policy signatures): none may be printed. */
function issuedSignatures(blob: BlobStore): string[] {
  // The store keys its grants by signature; reading them is the only way to know the POST-form ones.
  return [...(blob as unknown as { grants: Map<string, unknown> }).grants.keys()];
}

/** Checks at the runner shared by every provider: exit 0, every file succeeded, the outputs and the summary. */
function expectRunnerAgrees(run: ActionRun, files: Files, ids: Record<string, string>, idOutput: string, idField: string) {
  const log = run.stdout + run.stderr;
  expect(run.exitCode, log.slice(-4000)).toBe(0);
  const paths = Object.keys(files).sort();
  expect(run.results.map((r) => r['path']).sort()).toEqual(paths);
  for (const r of run.results) expect(r, `${r['path']}: ${JSON.stringify(r['error'])}`).toMatchObject({ status: 'succeeded', id: ids[r['path']] });
  expect(run.outputs['succeeded-count']).toBe(String(paths.length));
  expect(run.outputs['failed-count']).toBe('0');
  // `ids` and the provider's own ID output are in path order, one per file, equal to the emulator's IDs.
  expect(JSON.parse(run.outputs['ids']!)).toEqual(run.results.map((r) => ids[r['path']]));
  // (a Coldstream STL file has no job: it has an `id`, but no `jobId`)
  if (idOutput) expect(JSON.parse(run.outputs[idOutput]!)).toEqual(run.results.map((r) => r[idField]).filter((v) => v !== undefined));
  for (const id of Object.values(ids)) expect(run.summary).toContain(id);
  for (const p of paths) expect(run.summary).toContain(`<code>${p}</code>`);
}

function record(provider: string, node: string, files: Files, injected: FaultTally, verdict: Verdict, run: ActionRun, leaks: string[]): RunFigures {
  const allSucceeded = run.exitCode === 0 && run.results.length === Object.keys(files).length && run.results.every((r) => r['status'] === 'succeeded');
  const clean = allSucceeded && verdict.duplicates === 0 && verdict.lost === 0;
  const row: RunFigures = {
    provider,
    node,
    files: Object.keys(files).length,
    injected,
    survived: clean ? total(injected) : 0,
    duplicates: verdict.duplicates,
    orphans: verdict.orphans,
    lost: verdict.lost,
    leaks: leaks.length,
    unsafeReported: 0,
  };
  figures.add(row);
  if (verdict.evidence.length > 0) console.log(`${provider} (${node}):\n  ${verdict.evidence.join('\n  ')}\n${run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).slice(-200).join('\n')}`);
  return row;
}

const bytesOf = (files: Files, rel: string) => Buffer.from(files[rel]!);
/** Objects in storage under this file's name beyond the one its publication refers to (every key ends with the name). */
const extraCopies = (blob: BlobStore, rel: string) => Math.max(0, blob.objects().filter((o) => path.basename(o.key) === path.basename(rel)).length - 1);

/** What the run's checks found, with the evidence printed when something is off. */
class Verdict {
  duplicates = 0;
  orphans = 0;
  lost = 0;
  readonly evidence: string[] = [];
  dup(n: number, why: string) {
    if (n > 0) this.evidence.push(`duplicate ×${n}: ${why}`);
    this.duplicates += n;
  }
  lose(rel: string, why: string) {
    this.evidence.push(`lost: ${rel}: ${why}`);
    this.lost += 1;
  }
  orphan(blob: BlobStore, rel: string) {
    const n = extraCopies(blob, rel);
    if (n > 0) this.evidence.push(`orphaned object ×${n}: ${rel}: ${JSON.stringify(blob.objects().filter((o) => path.basename(o.key) === path.basename(rel)).map((o) => o.key))}`);
    this.orphans += n;
  }
}
const faultedCount = (log: readonly RequestLogEntry[]) => log.filter((r) => r.fault !== undefined).length;

// ---------------------------------------------------------------------------------------------
// The four chains under faults
// ---------------------------------------------------------------------------------------------

describe.concurrent.each(NODES)('every fault at once ($name)', ({ name: node, bin }) => {
  it('Speckle: 14 IFC models, each one version, under GraphQL and storage faults', async ({ onTestFinished }) => {
    const TOKEN = 'spk_faults_8e2b6c0a4d1f3e5a7b9c0d2e4f6a8b1c';
    const PROJECT = 'p0ject1d';
    const blob = new BlobStore();
    await blob.start();
    // processingReads: the start's answer and each ingestion's first status read say processing, so the run polls
    // again (try-again) however slowly the faults let it reach its first read.
    const speckle = new SpeckleEmulator({ blob, mode: 'live', tokens: { [TOKEN]: {} }, queuedMs: 150, processingMs: 350, processingReads: 2 });
    await speckle.start();
    const gate = new FaultGate(() => speckle.url, SEED + 1);
    await gate.start();
    onTestFinished(async () => {
      await gate.close();
      await speckle.close();
      await blob.close();
    });

    // Queries and the mutations that only mint (a URL) or overwrite (a message) are safe to repeat.
    const SAFE = /^\/graphql\/(ServerCapabilities|GenerateFileUploadUrl|ModelByName|LatestIngestion|IngestionStatus|UpdateVersionMessage)$/;
    const all = { path: '/graphql/*', times: Infinity };
    const safe = { path: SAFE, times: Infinity };
    gate.faults
      // One of each for certain, then a share at random.
      .add({ path: '/graphql/GenerateFileUploadUrl', times: 1, action: slow })
      .add({ path: '/graphql/IngestionStatus', times: 1, action: { kind: 'reset' } })
      .add({ ...safe, probability: 0.15, action: json(503, { error: 'Service Unavailable' }) })
      .add({ ...safe, probability: 0.03, action: { kind: 'reset' } })
      .add({ ...safe, probability: 0.05, action: slow })
      // 429s come before any work: every operation, mutations included, is sent again.
      .add({ ...all, probability: 0.06, action: json(429, { error: 'You are sending too many requests.' }, { 'Retry-After': '0.3' }) })
      .add({ ...all, probability: 0.04, action: json(429, { error: 'You are sending too many requests.' }) })
      // A start refused before it ran: the provider asks the model whether it started (no), then starts it again.
      .add({ path: '/graphql/StartFileIngestion', times: 1, action: json(502, { error: 'Bad Gateway' }) });
    gate.late
      .add({ path: '/graphql/ModelByName', times: 1, action: slow })
      // Processed, answered too late: the model is found by name, the ingestion adopted from the model.
      .add({ path: /^\/graphql\/(CreateModel|StartFileIngestion)$/, probability: 0.2, times: 4, action: slow })
      .add({ ...safe, probability: 0.03, action: slow });
    // The provider checks once whether an ambiguous start went through: one ambiguous answer per file.
    gate.oncePerSubject = {
      keys: /^\/graphql\/StartFileIngestion$/,
      subject: (body) => (JSON.parse(body.toString('utf8')) as { variables?: { input?: { fileId?: string } } }).variables?.input?.fileId,
    };
    // The emulator's own: a lost answer to a create that went through, and its fractional-Retry-After limiter.
    speckle.loseAnswer('CreateModel', 1);
    speckle.limitRate(2, '0.25');
    storageFaults(blob, 'PUT', `/${blob.bucket}/*`);
    const expiry = expireAllOnce(blob, () => speckle.uploads.size >= 6);

    const files = speckleFiles();
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'speckle', path: 'models/**/*.ifc', 'server-url': gate.url, token: TOKEN, 'project-id': PROJECT, ...COMMON },
      { workspace: ws, node: bin, timeoutMs: 100_000 },
    );
    expiry.stop();

    // At the emulator: one model per file, one ingestion and one version per model, the bytes intact.
    const verdict = new Verdict();
    const ids: Record<string, string> = {};
    for (const rel of Object.keys(files)) {
      const model = speckle.modelByName(PROJECT, rel.replace(/\.ifc$/, ''));
      const versions = model ? speckle.versionsOf(model.id) : [];
      const ingestions = model ? [...speckle.ingestions.values()].filter((i) => i.modelId === model.id) : [];
      verdict.dup(Math.max(0, versions.length - 1), `${rel}: ${versions.length} versions`);
      verdict.dup(Math.max(0, ingestions.length - 1), `${rel}: ${ingestions.length} ingestions`);
      verdict.orphan(blob, rel);
      const v = versions[0];
      const stored = v ? blob.get(speckle.uploads.get(v.fileId)!.key) : undefined;
      if (!stored || !stored.bytes.equals(bytesOf(files, rel))) verdict.lose(rel, v ? 'stored bytes differ' : 'no version');
      if (v) ids[rel] = v.id;
    }
    verdict.dup(Math.max(0, speckle.models.size - Object.keys(files).length), `${speckle.models.size} models`);

    const injected = tally(tally(tally(emptyTally(), gate.faults.injected), gate.late.injected, true), blob.faults.injected);
    injected.late += speckle.operations.filter((o) => o.status === 0).length; // lost answers
    injected['429'] += speckle.rateLimit.answered;
    injected.expired += realExpiries(blob);
    // "Still processing": every ingestion status read that was not the last one of its file (one IngestionStatus
    // request reads every waiting ingestion, one aliased field each: counted by ingestion, not by request).
    const statusReads = speckle.operations
      .filter((o) => o.operationName === 'IngestionStatus' && o.status === 200)
      .reduce((n, o) => n + Object.keys(o.variables).filter((k) => /^id\d+$/.test(k)).length, 0);
    injected['try-again'] += Math.max(0, statusReads - Object.keys(files).length);
    const leaks = findLeaks(run, [TOKEN, ...issuedSignatures(blob)]);
    const row = record('speckle', node, files, injected, verdict, run, leaks);

    expect({ evidence: verdict.evidence.filter((e) => !e.startsWith('orphan')), leaks }).toEqual({ evidence: [], leaks: [] });
    expect(speckle.versions.size).toBe(Object.keys(files).length);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expectRunnerAgrees(run, files, ids, 'version-ids', 'versionId');
    for (const r of run.results) expect(r['modelId']).toBe(speckle.versions.get(r['versionId'])!.modelId);
    // The faults really happened, of every kind (the figures show how many).
    expect(gate.faults.injected.length + gate.late.injected.length + faultedCount(blob.requests)).toBeGreaterThan(10);
    for (const k of ['5xx', '429', 'reset', 'slow', 'late', 'expired', 'try-again'] as const) expect(row.injected[k], k).toBeGreaterThan(0);
  });

  it('ION: 14 files attached once each, client credentials renewed after a 401, under API, auth and storage faults', async ({ onTestFinished }) => {
    const ion = new IonEmulator();
    await ion.start();
    const apiUrl = ion.url;
    const gate = new FaultGate(() => apiUrl, SEED + 2);
    await gate.start();
    // The gate is the API's public address, as a load balancer's is: the auth server checks the token
    // request's audience (the server-url the action was given) against it.
    Object.defineProperty(ion, 'url', { get: () => gate.url });
    onTestFinished(async () => {
      await gate.close();
      await ion.close();
    });

    // The lookup and requestFileUploadUrl are queries (a repeat mints an unused URL); createFileAttachment
    // creates a record and is never repeated after it may have run: it gets only 429s.
    const SAFE = /^\/graphql\/(RunStepEntity|RequestFileUploadUrl)$/;
    const safe = { path: SAFE, times: Infinity };
    const all = { path: '/graphql/*', times: Infinity };
    gate.faults
      // (the lookup's retry then gets the late answer below)
      .add({ path: '/graphql/RunStepEntity', times: 1, action: json(503, { errors: [{ message: 'Service Unavailable' }] }) })
      .add({ path: '/graphql/RequestFileUploadUrl', times: 1, action: slow })
      .add({ path: '/graphql/RequestFileUploadUrl', times: 1, action: { kind: 'reset' } })
      .add({ ...safe, probability: 0.15, action: json(503, { errors: [{ message: 'Service Unavailable' }] }) })
      .add({ ...safe, probability: 0.03, action: { kind: 'reset' } })
      .add({ ...safe, probability: 0.05, action: slow })
      .add({ ...all, probability: 0.06, action: json(429, { errors: [{ message: 'Too many requests' }] }, { 'Retry-After': '0' }) })
      .add({ ...all, probability: 0.05, action: json(429, { errors: [{ message: 'Too many requests' }] }) });
    // Late answers only to the lookup: a late requestFileUploadUrl would spend one of ION's expired URLs below
    // on a URL nobody receives.
    gate.late.add({ path: '/graphql/RunStepEntity', times: 1, action: slow });
    // The token endpoint: minting a token changes nothing, so it is retried on anything.
    const tokenPath = { method: 'POST', path: ION_TOKEN_PATHS[0]!, times: Infinity };
    ion.faults
      .add({ ...tokenPath, probability: 0.15, action: json(503, { error: 'temporarily_unavailable' }) })
      .add({ ...tokenPath, probability: 0.07, action: json(429, { error: 'slow_down' }) })
      .add({ ...tokenPath, probability: 0.08, action: slow });
    // ION's own: createFileAttachment rate-limited (before it runs), two upload URLs handed out already
    // expired (each also expires every URL handed out before it), and once, mid-run, every token expires.
    ion.rateLimitNext('createFileAttachment', 3);
    ion.expireNextUploadUrls(2);
    // Storage faults as for the others, but no expired-URL fault on top of ION's two (at most two per file).
    const on = { method: 'PUT', path: `/${ion.blob.bucket}/*`, times: Infinity };
    ion.blob.faults
      .add({ ...on, times: 1, action: { kind: 'reset', afterBytes: 4096 } })
      .add({ ...on, times: 1, action: s3Error(503, 'SlowDown', 'Please reduce your request rate.') })
      .add({ ...on, times: 1, action: slow })
      .add({ ...on, probability: 0.1, action: s3Error(503, 'SlowDown', 'Please reduce your request rate.') })
      .add({ ...on, probability: 0.1, action: { kind: 'reset', afterBytes: 4096 } })
      .add({ ...on, probability: 0.03, action: { kind: 'stall', afterBytes: 1024, ms: SLOW_MS } })
      .add({ ...on, probability: 0.05, action: slow });
    let expiredTokens = false;
    const tokenExpiry = setInterval(() => {
      if (!expiredTokens && ion.attachments.length >= 4) {
        expiredTokens = true;
        ion.expireTokens();
      }
    }, 15);

    const files = ionFiles();
    const ws = await makeWorkspace(files);
    const run = await runAction(
      {
        provider: 'ion',
        path: 'release/**',
        'server-url': gate.url,
        'client-id': ion.clientId,
        'client-secret': ion.clientSecret,
        'auth-url': ion.tokenUrl,
        'attach-to': 'runStep:101',
        ...COMMON,
      },
      { workspace: ws, node: bin, timeoutMs: 100_000 },
    );
    clearInterval(tokenExpiry);

    const entityId = ion.objects.runStep.get('101')!;
    const verdict = new Verdict();
    const ids: Record<string, string> = {};
    for (const rel of Object.keys(files)) {
      const mine = ion.attachments.filter((a) => a.filename === path.basename(rel));
      verdict.dup(Math.max(0, mine.length - 1), `${rel}: ${mine.length} attachments`);
      verdict.orphan(ion.blob, rel);
      const a = mine[0];
      const stored = a ? ion.blob.get(a.s3Key) : undefined;
      if (!a || a.entityId !== entityId || !stored || !stored.bytes.equals(bytesOf(files, rel)) || !a.validated) verdict.lose(rel, a ? 'attachment does not hold the file' : 'no attachment');
      if (a) ids[rel] = a.id;
    }

    const injected = tally(tally(tally(tally(emptyTally(), gate.faults.injected), gate.late.injected, true), ion.faults.injected), ion.blob.faults.injected);
    injected['401'] += ion.requests.filter((r) => r.status === 401).length;
    injected['429'] += ion.operations.filter((o) => o.status === 429).length;
    injected.expired += realExpiries(ion.blob);
    const leaks = findLeaks(run, [ion.clientSecret, ...ion.tokensIssued, ...issuedSignatures(ion.blob)]);
    const row = record('ion', node, files, injected, verdict, run, leaks);

    expect({ evidence: verdict.evidence.filter((e) => !e.startsWith('orphan')), leaks }).toEqual({ evidence: [], leaks: [] });
    expect(ion.attachments).toHaveLength(Object.keys(files).length);
    await expectIonHolds(expect, ion, ws, run);
    expectRunnerAgrees(run, files, ids, 'attachment-ids', 'attachmentId');
    for (const r of run.results) expect(r['entityId']).toBe(entityId);
    // A 401 was answered by one new token (issued tokens: the first, then one per expiry).
    expect(expiredTokens).toBe(true);
    expect(ion.tokensIssued).toHaveLength(2);
    expect(run.stdout).toContain('fetched a new one');
    for (const k of ['5xx', '429', 'reset', 'slow', 'late', 'expired', '401'] as const) expect(row.injected[k], k).toBeGreaterThan(0);
  });

  it('Coldstream: 15 geometry files, one uploaded record and one job per STEP file, under 429s, busy cases and storage faults', async ({ onTestFinished }) => {
    const TOKEN = 'cs_live_faults_6d4b2f0e8c1a3b5d7f9e';
    const cs = new ColdstreamEmulator({ token: TOKEN, cases: { '1001': ['2001'] } });
    await cs.start();
    onTestFinished(() => cs.close());

    // The file-record and job POSTs carry no idempotency key and are not repeated after a 5xx, a reset or a
    // timeout (a repeat could make a second record or job): they get 429s only, with and without Retry-After.
    const api = { method: 'POST', path: /^\/(cases\/1001\/files|jobs\/convert)$/, times: Infinity };
    const tooMany = { title: 'Too Many Requests', status: 429 };
    cs.faults
      .add({ ...api, times: 1, action: json(429, tooMany, { 'Retry-After': '1' }) })
      .add({ ...api, times: 1, action: json(429, tooMany) })
      .add({ ...api, probability: 0.08, action: json(429, tooMany, { 'Retry-After': '1' }) })
      .add({ ...api, probability: 0.08, action: json(429, tooMany) });
    // Coldstream's own: "Job already runs for case" twice.
    cs.answerBusy(2);
    storageFaults(cs.blob, 'PUT', `/${cs.blob.bucket}/*`);
    const expiry = expireAllOnce(cs.blob, () => cs.files.length >= 6);

    const files = coldstreamFiles();
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'coldstream', path: 'geometry/**', 'server-url': cs.url, 'case-id': '1001', 'component-id': '2001', ...COMMON },
      { workspace: ws, node: bin, env: { COLDSTREAM_TOKEN: TOKEN }, timeoutMs: 100_000 },
    );
    expiry.stop();

    const verdict = new Verdict();
    const ids: Record<string, string> = {};
    for (const rel of Object.keys(files)) {
      const records = cs.files.filter((f) => f.fileName === path.basename(rel));
      // A record whose URL expired before its bytes came stays behind empty; the file's record is the uploaded one.
      const uploaded = records.filter((f) => cs.uploaded(f));
      verdict.dup(Math.max(0, uploaded.length - 1), `${rel}: ${uploaded.length} uploaded records`);
      verdict.orphan(cs.blob, rel);
      const rec = uploaded[0];
      if (!rec || !cs.blob.get(rec.key)!.bytes.equals(bytesOf(files, rel))) verdict.lose(rel, rec ? 'stored bytes differ' : 'no uploaded record');
      const jobs = cs.jobs.filter((j) => records.some((f) => f.id === j.fileId));
      const wantJob = /\.(step|stp)$/.test(rel);
      verdict.dup(wantJob ? Math.max(0, jobs.length - 1) : jobs.length, `${rel}: ${jobs.length} jobs`);
      if (wantJob && (jobs.length === 0 || jobs[0]!.fileId !== rec?.id)) verdict.lose(rel, 'no job for the uploaded record');
      if (rec) ids[rel] = wantJob && jobs[0] ? jobs[0].id : String(rec.id);
    }

    const injected = tally(tally(emptyTally(), cs.faults.injected), cs.blob.faults.injected);
    injected['try-again'] += cs.jobRequests.filter((r) => r.outcome === 'busy').length;
    injected.expired += realExpiries(cs.blob);
    const leaks = findLeaks(run, [TOKEN, ...issuedSignatures(cs.blob)]);
    const row = record('coldstream', node, files, injected, verdict, run, leaks);
    const empty = cs.files.filter((f) => !cs.uploaded(f)).length;
    if (empty > 0) console.log(`coldstream (${node}): ${empty} empty file record(s) left behind by expired upload URLs (Coldstream has no delete)`);

    expect({ evidence: verdict.evidence.filter((e) => !e.startsWith('orphan')), leaks }).toEqual({ evidence: [], leaks: [] });
    expect(cs.jobs).toHaveLength(11);
    await expectColdstreamHolds(expect, cs, ws, run);
    expectRunnerAgrees(run, files, ids, 'job-ids', 'jobId');
    for (const r of run.results) {
      const rec = cs.files.find((f) => String(f.id) === r['fileId'])!;
      expect(cs.uploaded(rec), r['path']).toBe(true);
    }
    // Polite under busy answers: never two job requests of the case at once.
    expect(cs.maxConcurrentJobRequests('1001')).toBe(1);
    for (const k of ['5xx', '429', 'reset', 'slow', 'expired', 'try-again'] as const) expect(row.injected[k], k).toBeGreaterThan(0);
  });

  it('ARCNM: 14 files, one confirmed upload and one dataset each, under API faults, late answers and storage faults', async ({ onTestFinished }) => {
    const API_KEY = 'ak_test_faults_0c2e4a6b8d1f3a5c7e9b';
    const blob = new BlobStore();
    await blob.start();
    // The live service: uploads by presigned POST form, confirm answers `pending` first (its "try again").
    const arcnm = new ArcnmEmulator({ blob, apiKey: API_KEY, uploadMethod: 'POST', confirmMode: 'status', confirmDelayMs: 300 });
    arcnm.addPartRevision('prt_7', 'rev_C');
    await arcnm.start();
    const gate = new FaultGate(() => arcnm.url, SEED + 4);
    await gate.start();
    onTestFinished(async () => {
      await gate.close();
      await arcnm.close();
      await blob.close();
    });

    // Every mutation carries an Idempotency-Key that stays the same on its retries: all of them may be faulted.
    const api = { method: 'POST', path: '/api/v1/*', times: Infinity };
    arcnm.faults
      .add({ method: 'POST', path: '/api/v1/uploads/presign', times: 1, action: json(503, { error: { code: 'unavailable', message: 'Service temporarily unavailable.', details: {} } }) })
      .add({ method: 'POST', path: '/api/v1/uploads/confirm', times: 1, action: slow })
      .add({ method: 'POST', path: '/api/v1/uploads/confirm', times: 1, action: { kind: 'reset' } })
      .add({ method: 'POST', path: '/api/v1/uploads/presign', times: 1, action: arcnmRateLimited() })
      .add({ ...api, probability: 0.12, action: json(503, { error: { code: 'unavailable', message: 'Service temporarily unavailable.', details: {} } }) })
      .add({ ...api, probability: 0.08, action: arcnmRateLimited() }) // 429 without Retry-After, as ARCNM sends it
      .add({ ...api, probability: 0.03, action: { kind: 'reset' } })
      .add({ ...api, probability: 0.05, action: slow })
      .add({ ...api, probability: 0.04, action: json(409, { error: { code: 'idempotency_in_flight', message: 'A request with this Idempotency-Key is still being processed.', details: {} }, request_id: 'req_inflight' }) })
      .add({
        method: 'POST',
        path: '/api/v1/uploads/confirm',
        times: 2,
        probability: 0.3,
        action: json(409, { error: { code: 'upload_not_received', message: 'The file has not been uploaded yet. Upload it, then confirm again.', details: {} }, request_id: 'req_notyet' }),
      });
    // Processed, answered too late: the retry under the same key is answered from ARCNM's idempotency store.
    gate.late
      .add({ method: 'POST', path: '/api/v1/parts/*', times: 1, action: slow })
      .add({ method: 'POST', path: '/api/v1/*', times: Infinity, probability: 0.08, action: slow });
    storageFaults(blob, 'POST', `/${blob.bucket}`);
    const expiry = expireAllOnce(blob, () => arcnm.uploads.size >= 6);

    const files = arcnmFiles();
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'arcnm', path: 'cad/**\ndrawings/**\nphotos/**', 'server-url': gate.url, token: API_KEY, 'part-id': 'prt_7', 'revision-id': 'rev_C', ...COMMON },
      { workspace: ws, node: bin, timeoutMs: 100_000 },
    );
    expiry.stop();

    const verdict = new Verdict();
    const ids: Record<string, string> = {};
    const uploads = [...arcnm.uploads.values()];
    for (const rel of Object.keys(files)) {
      const mine = uploads.filter((u) => u.name === path.basename(rel));
      const confirmed = arcnm.uploadsWithStatus('confirmed').filter((u) => u.name === path.basename(rel));
      verdict.dup(Math.max(0, confirmed.length - 1), `${rel}: ${confirmed.length} confirmed uploads`);
      verdict.orphan(blob, rel);
      // Uploads given up after an expired URL were cancelled; none may linger pending or failed.
      const lingering = mine.filter((u) => u.status === 'pending' || u.status === 'failed');
      verdict.dup(lingering.length, `${rel}: uploads left ${lingering.map((u) => u.status).join(', ')}`);
      const u = confirmed[0];
      const stored = u ? blob.get(u.key) : undefined;
      if (!u || !stored || !stored.bytes.equals(bytesOf(files, rel)) || u.sha256 !== sha256(bytesOf(files, rel))) verdict.lose(rel, u ? 'stored bytes differ' : 'no confirmed upload');
      const datasets = u ? arcnm.datasets.filter((d) => d.data_source_id === u.id) : [];
      verdict.dup(Math.max(0, datasets.length - 1), `${rel}: ${datasets.length} datasets`);
      if (u && datasets.length === 0) verdict.lose(rel, 'not attached to the part revision');
      if (u) ids[rel] = u.id;
    }
    verdict.dup(Math.max(0, arcnm.datasets.length - Object.keys(files).length), `${arcnm.datasets.length} datasets in all`);

    const injected = tally(tally(tally(emptyTally(), arcnm.faults.injected), gate.late.injected, true), blob.faults.injected);
    // ARCNM's own "try again": confirm answered pending, attach answered 409 upload_pending.
    injected['try-again'] += arcnm.requests.filter((r) => r.fault === undefined && r.status === 409).length;
    injected['try-again'] += Math.max(0, arcnm.requests.filter((r) => r.fault === undefined && r.path === '/api/v1/uploads/confirm' && r.status === 200).length - Object.keys(files).length);
    injected.expired += realExpiries(blob);
    const leaks = findLeaks(run, [API_KEY, ...issuedSignatures(blob)]);
    const row = record('arcnm', node, files, injected, verdict, run, leaks);
    await expectArcnmHolds({ arcnm, blob }, ws, run.results, { partId: 'prt_7', revisionId: 'rev_C' });

    expect({ evidence: verdict.evidence.filter((e) => !e.startsWith('orphan')), leaks }).toEqual({ evidence: [], leaks: [] });
    expectRunnerAgrees(run, files, ids, '', '');
    for (const r of run.results) expect(r['dataSourceId']).toBe(ids[r['path']]);
    expect(JSON.parse(run.outputs['job-ids']!)).toEqual([]); // the live service answers no job IDs
    // Late answers were replayed from the idempotency store, not acted on twice.
    expect(arcnm.stats.replays).toBeGreaterThan(0);
    for (const k of ['5xx', '429', 'reset', 'slow', 'late', 'expired', 'try-again'] as const) expect(row.injected[k], k).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The other side: an unsafe-to-repeat request meets an ambiguous fault (a 5xx, or an answer that never came).
// The file is reported failed; the request is not sent again; nothing is duplicated.
// ---------------------------------------------------------------------------------------------

/**
 * A file reported failed is not lost: the user is told, with the reason. Its faults are not counted as
 * survived: they were chosen to fail it. (Each test below checks that every other file succeeded.)
 */
function recordUnsafe(provider: string, node: string, files: Files, injected: FaultTally, duplicates: number, leaks: string[], unsafe: number) {
  figures.add({ provider, node, files: Object.keys(files).length, injected, survived: 0, duplicates, orphans: 0, lost: 0, leaks: leaks.length, unsafeReported: unsafe });
}

const gateCount = (gate: FaultGate, key: string) => gate.log.filter((e) => e.key === key).length;

describe.concurrent('unsafe to repeat: reported as failed, never duplicated', () => {
  const { name: node, bin } = NODES[0]!;

  it('ION createFileAttachment: a 503 and a lost answer fail their files as outcome_unknown, sent once each', async ({ onTestFinished }) => {
    const TOKEN = 'ion_user_token_unsafe_7a9c1e3b5d';
    const ion = new IonEmulator({ tokens: [TOKEN] });
    await ion.start();
    const gate = new FaultGate(() => ion.url, SEED + 5);
    await gate.start();
    onTestFinished(async () => {
      await gate.close();
      await ion.close();
    });
    gate.faults.add({ path: '/graphql/CreateFileAttachment', action: json(503, { errors: [{ message: 'Service Unavailable' }] }) });
    gate.late.add({ path: '/graphql/CreateFileAttachment', action: slow });
    const files: Files = { 'drawings/a.pdf': samples.pdf('A'), 'drawings/b.pdf': samples.pdf('B'), 'drawings/c.pdf': samples.pdf('C') };
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'ion', path: 'drawings/*.pdf', 'server-url': gate.url, token: TOKEN, 'attach-to': 'runStep:101', ...COMMON, concurrency: '1' },
      { workspace: ws, node: bin },
    );
    const by = Object.fromEntries(run.results.map((r) => [r['path'], r]));
    const count = (n: string) => ion.attachments.filter((a) => a.filename === n).length;
    const duplicates = ['a.pdf', 'b.pdf', 'c.pdf'].reduce((d, n) => d + Math.max(0, count(n) - 1), 0);
    const leaks = findLeaks(run, [TOKEN, ...issuedSignatures(ion.blob)]);
    recordUnsafe('ion', node, files, tally(tally(emptyTally(), gate.faults.injected), gate.late.injected, true), duplicates, leaks, 2);

    expect(run.exitCode).toBe(1);
    for (const p of ['drawings/a.pdf', 'drawings/b.pdf']) {
      expect(by[p]).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown', message: expect.stringContaining('may or may not have created the attachment') } });
    }
    expect(by['drawings/c.pdf']).toMatchObject({ status: 'succeeded' });
    await expectIonHolds(expect, ion, ws, run);
    expect(gateCount(gate, '/graphql/CreateFileAttachment')).toBe(3); // one each: never repeated
    expect([count('a.pdf'), count('b.pdf'), count('c.pdf')]).toEqual([0, 1, 1]); // b's was created; not twice
    expect(JSON.parse(run.outputs['attachment-ids']!)).toEqual([by['drawings/c.pdf']!['attachmentId']]);
    expect(leaks).toEqual([]);
  });

  it('Coldstream file-record and job POSTs: a 502, a timeout before and one after processing fail their files, sent once each', async ({ onTestFinished }) => {
    const TOKEN = 'cs_live_unsafe_1b3d5f7a9c0e2d4f';
    const cs = new ColdstreamEmulator({ token: TOKEN, cases: { '1001': ['2001'] } });
    await cs.start();
    const gate = new FaultGate(() => cs.url, SEED + 6);
    await gate.start();
    onTestFinished(async () => {
      await gate.close();
      await cs.close();
    });
    gate.faults
      .add({ method: 'POST', path: '/cases/1001/files', action: { kind: 'status', status: 502, body: '<html><body>502 Bad Gateway</body></html>' } })
      .add({ method: 'POST', path: '/jobs/convert', action: slow });
    gate.late.add({ method: 'POST', path: '/jobs/convert', action: slow });
    const names = ['a.step', 'b.step', 'c.step', 'd.step'];
    const files: Files = Object.fromEntries(names.map((n) => [`geometry/${n}`, stepPart(n, 50)]));
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'coldstream', path: 'geometry/**', 'server-url': gate.url, 'case-id': '1001', 'component-id': '2001', ...COMMON, concurrency: '1' },
      { workspace: ws, node: bin, env: { COLDSTREAM_TOKEN: TOKEN } },
    );
    const by = Object.fromEntries(run.results.map((r) => [r['path'], r]));
    const recordsOf = (n: string) => cs.files.filter((f) => f.fileName === n);
    const jobsOf = (n: string) => cs.jobs.filter((j) => recordsOf(n).some((f) => f.id === j.fileId));
    const duplicates = names.reduce((d, n) => d + Math.max(0, recordsOf(n).length - 1) + Math.max(0, jobsOf(n).length - 1), 0);
    const leaks = findLeaks(run, [TOKEN, ...issuedSignatures(cs.blob)]);
    recordUnsafe('coldstream', node, files, tally(tally(emptyTally(), gate.faults.injected), gate.late.injected, true), duplicates, leaks, 3);
    console.log(`coldstream unsafe-to-retry outcomes: ${JSON.stringify(run.results.map((r) => [r['path'], r['status'], r['error']?.code, r['error']?.message]))}`);

    expect(run.exitCode).toBe(1);
    expect(run.results.map((r) => r['status'])).toEqual(['failed', 'failed', 'failed', 'succeeded']);
    await expectColdstreamHolds(expect, cs, ws, run);
    for (const n of ['a', 'b', 'c']) expect(by[`geometry/${n}.step`]!['error']).toMatchObject({ code: 'outcome_unknown' });
    expect(gateCount(gate, '/cases/1001/files')).toBe(4); // a's record POST was not repeated
    expect(gateCount(gate, '/jobs/convert')).toBe(3); // b's and c's job POSTs were not repeated
    expect(names.map((n) => recordsOf(n).length)).toEqual([0, 1, 1, 1]);
    expect(names.map((n) => jobsOf(n).length)).toEqual([0, 0, 1, 1]); // c's job started although its answer was lost
    expect(duplicates).toBe(0);
    expect(leaks).toEqual([]);
  });

  it('Speckle CreateModel and StartFileIngestion: ambiguous failures are looked up and redone, never twice, and reported as outcome_unknown after three', async ({ onTestFinished }) => {
    const TOKEN = 'spk_unsafe_3c5e7a9b1d2f4a6c8e0b1d3f5a7c9e2b';
    const PROJECT = 'p0ject1d';
    const blob = new BlobStore();
    await blob.start();
    const speckle = new SpeckleEmulator({ blob, mode: 'live', tokens: { [TOKEN]: {} }, queuedMs: 30, processingMs: 80 });
    await speckle.start();
    const gate = new FaultGate(() => speckle.url, SEED + 7);
    await gate.start();
    onTestFinished(async () => {
      await gate.close();
      await speckle.close();
      await blob.close();
    });
    // a: its model's create gets a 502 (looked up: missing, so created again), then its start three 502s in a
    // row (looked up each time: not started) → outcome_unknown. b: its start is processed but the answer comes
    // too late → looked up: started, followed. c: untouched.
    gate.faults
      .add({ path: '/graphql/CreateModel', action: json(502, { error: 'Bad Gateway' }) })
      .add({ path: '/graphql/StartFileIngestion', action: json(502, { error: 'Bad Gateway' }), times: 3 });
    gate.late.add({ path: '/graphql/StartFileIngestion', action: slow });
    const files: Files = { 'models/a.ifc': samples.ifc('a.ifc'), 'models/b.ifc': samples.ifc('b.ifc'), 'models/c.ifc': samples.ifc('c.ifc') };
    const ws = await makeWorkspace(files);
    const run = await runAction(
      { provider: 'speckle', path: 'models/*.ifc', 'server-url': gate.url, token: TOKEN, 'project-id': PROJECT, ...COMMON, concurrency: '1' },
      { workspace: ws, node: bin },
    );
    const ingestionsOf = (n: string) => {
      const m = speckle.modelByName(PROJECT, `models/${n}`);
      return m ? [...speckle.ingestions.values()].filter((i) => i.modelId === m.id).length : 0;
    };
    const duplicates = ['a', 'b', 'c'].reduce((d, n) => d + Math.max(0, ingestionsOf(n) - 1), 0) + Math.max(0, speckle.models.size - 3);
    const leaks = findLeaks(run, [TOKEN, ...issuedSignatures(blob)]);
    recordUnsafe('speckle', node, files, tally(tally(emptyTally(), gate.faults.injected), gate.late.injected, true), duplicates, leaks, 1);
    console.log(`speckle unsafe-to-retry outcomes: ${JSON.stringify(run.results.map((r) => [r['path'], r['status'], r['error']?.code, r['error']?.message]))}`);

    expect(run.exitCode).toBe(1);
    expect(run.results.map((r) => [r['status'], r['error']?.code])).toEqual([['failed', 'outcome_unknown'], ['succeeded', undefined], ['succeeded', undefined]]);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.results[0]!['error'].message).toMatch(/may or may not have happened.*check the project in Speckle before re-running/);
    expect(gateCount(gate, '/graphql/CreateModel')).toBe(4); // a: created again after the lookup; b, c: once
    expect(gateCount(gate, '/graphql/StartFileIngestion')).toBe(5); // a: three, each after a lookup; b, c: once
    expect(speckle.models.size).toBe(3);
    expect(['a', 'b', 'c'].map(ingestionsOf)).toEqual([0, 1, 1]); // b's late answer was followed, not repeated
    expect(duplicates).toBe(0);
    expect(leaks).toEqual([]);
  });
});
