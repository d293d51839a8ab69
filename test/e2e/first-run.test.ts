// The first run works, tried as a new user would, running the bundle as the runner does against every provider's
// emulator: a run that fails as a whole (a refused credential, a target that does not exist, a server-url pointing
// at no API) says so once, at the top of the summary, with the input to change, and every matched file is failed
// in `results` and counted; a mistyped pattern is named beside a matching one; a dry run checks credentials and
// targets with reads and says where each file would go; wrong content is named for what it is; the summary names
// the target and the kind of each ID.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS, startEmulators, type Emulators } from '../demo/emulators.js';
import type { RequestLogEntry } from '../emulators/server.js';
import { ROOT, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import * as samples from '../support/samples.js';

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

let em: Emulators;
beforeAll(async () => {
  em = await startEmulators();
});
afterAll(() => em.close());

const files = {
  'cad/a.step': samples.step('a.step'),
  'cad/b.step': samples.step('b.step'),
  'cad/c.stl': samples.stlBinary(),
  'models/a.ifc': samples.ifc(),
  'models/b.ifc': samples.ifc(),
  'drawings/a.pdf': samples.pdf(),
  'drawings/b.pdf': samples.pdf(),
};

const writes = (log: RequestLogEntry[]) => log.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !(r.method === 'POST' && /graphql/.test(r.path)));
const allWrites = () => writes([...em.arcnm.requests, ...em.coldstream.requests, ...em.blob.requests]).length;
/** Error annotations (workflow commands) the run printed. */
const errorAnnotations = (run: ActionRun) => run.stdout.split('\n').filter((l) => l.startsWith('::error'));

interface Case {
  name: string;
  inputs: () => Record<string, string>;
  env?: () => Record<string, string>;
  input: string;
  message: RegExp;
  fix: RegExp;
  /** How many files are matched (all must fail with the run's reason). */
  count: number;
}

const speckle = () => ({ provider: 'speckle', path: 'models/*.ifc', 'server-url': em.speckle.url, 'project-id': DEMO_CREDENTIALS.SPECKLE_PROJECT_ID, token: DEMO_CREDENTIALS.SPECKLE_TOKEN });
const ion = () => ({ provider: 'ion', path: 'drawings/*.pdf', 'server-url': em.ion.url, 'attach-to': 'runStep:101', token: DEMO_CREDENTIALS.ION_TOKEN });
const coldstream = () => ({ provider: 'coldstream', path: 'cad/*', 'server-url': em.coldstream.url, 'case-id': '1001', token: DEMO_CREDENTIALS.COLDSTREAM_TOKEN, concurrency: '1' });
const arcnm = () => ({ provider: 'arcnm', path: 'cad/*', 'server-url': em.arcnm.url, token: DEMO_CREDENTIALS.ARCNM_API_KEY, concurrency: '1' });

const cases: Case[] = [
  { name: 'Speckle refuses the token', inputs: () => ({ ...speckle(), token: 'speckle_revoked_000000000000' }), input: 'token', message: /Speckle did not accept the token/, fix: /SPECKLE_TOKEN.*streams:read and streams:write.*Can edit/, count: 2 },
  { name: 'Speckle has no such project', inputs: () => ({ ...speckle(), 'project-id': 'n0such1d' }), input: 'project-id', message: /no project "n0such1d"/, fix: /project's URL/, count: 2 },
  { name: 'Speckle server-url with a wrong path', inputs: () => ({ ...speckle(), 'server-url': `${em.speckle.url}/api` }), input: 'server-url', message: /404 Not Found on \/graphql/, fix: /base URL/, count: 2 },
  { name: 'ION refuses the token', inputs: () => ({ ...ion(), token: 'ion_revoked_0000000000000000' }), input: 'token', message: /ION answered 401/, fix: /ION_TOKEN.*create file attachments/, count: 2 },
  { name: 'ION has no such run step', inputs: () => ({ ...ion(), 'attach-to': 'runStep:999' }), input: 'attach-to', message: /no runStep with ID 999/, fix: /check attach-to/, count: 2 },
  { name: 'ION server-url with a wrong path', inputs: () => ({ ...ion(), 'server-url': `${em.ion.url}/v2` }), input: 'server-url', message: /404 Not Found on \/graphql/, fix: /base URL/, count: 2 },
  { name: 'Coldstream refuses the token', inputs: () => ({ ...coldstream(), token: 'cs_revoked_000000000000000000' }), input: 'token', message: /HTTP 401/, fix: /COLDSTREAM_TOKEN.*access to case 1001/, count: 3 },
  { name: 'Coldstream has no such case', inputs: () => ({ ...coldstream(), 'case-id': '9999' }), input: 'case-id', message: /Case 9999 not found/, fix: /check case-id/, count: 3 },
  { name: 'Coldstream server-url with a wrong path', inputs: () => ({ ...coldstream(), 'server-url': `${em.coldstream.url}/v9` }), input: 'server-url', message: /404 Not Found on \/cases\/\{case-id\}\/files/, fix: /base URL/, count: 3 },
  { name: 'ARCNM refuses the API key', inputs: () => ({ ...arcnm(), token: 'ak_test_revoked0000000000000' }), input: 'token', message: /invalid_api_key/, fix: /ARCNM_API_KEY.*uploads:write/, count: 3 },
  { name: 'ARCNM server-url with a wrong path', inputs: () => ({ ...arcnm(), 'server-url': `${em.arcnm.url}/v9` }), input: 'server-url', message: /404 Not Found on \/api\/v1\/uploads\//, fix: /base URL/, count: 3 },
];

describe('a run that fails as a whole', () => {
  it.each(cases)('$name: one message naming $input, every file failed', async (c) => {
    const ws = await makeWorkspace(files);
    const before = allWrites();
    const run = await runAction(c.inputs(), { workspace: ws, env: c.env?.() });
    expect(run.exitCode, run.stdout).toBe(1);
    // Every matched file is in results, failed with the run's reason; failed-count counts them.
    expect(run.results).toHaveLength(c.count);
    const reasons = new Set(run.results.map((r) => `${r.status} ${r.error?.code} ${r.error?.message}`));
    expect(reasons.size, [...reasons].join('\n')).toBe(1);
    expect(run.results[0]!.status).toBe('failed');
    expect(run.results[0]!.error.message).toMatch(c.message);
    expect(run.outputs['failed-count']).toBe(String(c.count));
    expect(run.outputs['succeeded-count']).toBe('0');
    // One annotation, naming the input and the fix: not one identical error per file.
    const annotations = errorAnnotations(run);
    expect(annotations, annotations.join('\n')).toHaveLength(1);
    expect(annotations[0]).toContain(`Input '${c.input}'`);
    expect(annotations[0]).toMatch(c.fix);
    // The summary leads with the failure and its fix, before the table; it never reads "0 of 0".
    const top = run.summary.indexOf('The run failed');
    expect(top, run.summary).toBeGreaterThan(-1);
    expect(top).toBeLessThan(run.summary.indexOf('<table'));
    expect(run.summary).toContain(`input <code>${c.input}</code>`);
    expect(run.summary).toMatch(new RegExp(`${c.count} of ${c.count} file\\(s\\) were not published for this reason`));
    expect(run.summary).not.toMatch(/0 of 0 file/);
    // Stopped at once: with one file at a time, at most the first file's chain began (nothing stored).
    expect(allWrites() - before).toBeLessThanOrEqual(1);
  });

  it('ION refuses the API key: one message naming client-id and what the key needs', async () => {
    const ws = await makeWorkspace(files);
    const { token: _token, ...rest } = ion();
    const run = await runAction({ ...rest, 'auth-url': em.ion.authUrl, 'client-id': em.ion.clientId, 'client-secret': 'not-the-secret-000000000000' }, { workspace: ws });
    expect(run.exitCode).toBe(1);
    const annotations = errorAnnotations(run);
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatch(/Input 'client-id': ION token request.*Fix: client-id and client-secret must be an ION API key created in the environment/);
    expect(run.results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(run.outputs['failed-count']).toBe('2');
  });

  it('ARCNM has no such part revision: the first file fails at the attach, the rest never start', async () => {
    const ws = await makeWorkspace(files);
    const presigns = em.arcnm.requests.filter((r) => r.path.endsWith('/presign')).length;
    const run = await runAction({ ...arcnm(), 'part-id': 'prt_nope', 'revision-id': 'rev_Z' }, { workspace: ws });
    expect(run.exitCode).toBe(1);
    const annotations = errorAnnotations(run);
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatch(/Input 'part-id': .*attach: .*Fix: check part-id \(prt_nope\) and revision-id \(rev_Z\)/);
    expect(run.results.map((r) => [r.status, r.error.code])).toEqual(Array(3).fill(['failed', 'not_found']));
    expect(em.arcnm.requests.filter((r) => r.path.endsWith('/presign')).length - presigns).toBe(1);
    expect(run.summary).toMatch(/The run failed: .*Part not found/);
  });

  it('a refused credential on the first file stops the run: the other files are never tried', async () => {
    const ws = await makeWorkspace(files);
    const before = writes(em.arcnm.requests).length;
    const run = await runAction({ ...arcnm(), token: 'ak_test_revoked0000000000000' }, { workspace: ws });
    expect(run.exitCode).toBe(1);
    // skip-unchanged's read of the upload list is refused first: nothing is written at all.
    expect(writes(em.arcnm.requests).length - before).toBe(0);
    expect(run.results.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
  });
});

describe('patterns checked one by one', () => {
  it('names a pattern that matches nothing beside one that matches, and publishes what matched', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/old/b.step': samples.step('b.step') });
    // skip-unchanged off: other tests of this file publish the same sample to the same emulator.
    const run = await runAction({ ...arcnm(), path: 'cad/*.step\ncad/*.stpe\ncad/old/*.step\n!cad/old/**', 'skip-unchanged': 'false' }, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results.map((r) => [r.path, r.status])).toEqual([['cad/a.step', 'succeeded']]);
    const warnings = run.stdout.split('\n').filter((l) => l.startsWith('::warning'));
    // The typo, once; not the lines that matched (one whose files an exclusion then removed matched them).
    expect(warnings.filter((w) => /pattern "cad\/\*\.stpe" in path matched no file/.test(w))).toHaveLength(1);
    expect(warnings, warnings.join('\n')).toHaveLength(1);
  });

  it('with if-no-files-found: error, a lone pattern that matches nothing fails the step naming it', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
    const run = await runAction({ ...arcnm(), path: 'cad/*.stpe' }, { workspace: ws });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::Input 'path': no files matched "cad\/\*\.stpe"/);
  });
});

describe('dry run checks what it can without writing', () => {
  // Speckle's writes are GraphQL mutations: the operations that generate, create or start something.
  const speckleWrites = () => em.speckle.operations.filter((o) => /^(Generate|Create|Start|Update)/.test(o.operationName ?? '')).length;
  const bad: [string, () => Record<string, string>, RegExp][] = [
    ['speckle', () => ({ ...speckle(), token: 'speckle_revoked_000000000000' }), /SPECKLE_TOKEN/],
    ['ion', () => ({ ...ion(), token: 'ion_revoked_0000000000000000' }), /ION_TOKEN/],
    ['coldstream', () => ({ ...coldstream(), token: 'cs_revoked_000000000000000000' }), /COLDSTREAM_TOKEN/],
    ['arcnm', () => ({ ...arcnm(), token: 'ak_test_revoked0000000000000' }), /ARCNM_API_KEY/],
  ];
  it.each(bad)('%s: a refused credential fails the dry run, naming it, with nothing written', async (_, inputs, credential) => {
    const ws = await makeWorkspace(files);
    const before = allWrites();
    const mutations = speckleWrites();
    const run = await runAction({ ...inputs(), 'dry-run': 'true' }, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(1);
    const annotations = errorAnnotations(run);
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatch(/Input 'token'/);
    expect(annotations[0]).toMatch(credential);
    expect(run.results.length).toBeGreaterThan(0);
    expect(run.results.every((r) => r.status === 'failed')).toBe(true);
    expect(run.outputs['failed-count']).toBe(String(run.results.length));
    expect(allWrites()).toBe(before);
    expect(speckleWrites()).toBe(mutations);
  });

  it.each([
    ['speckle', speckle, /dry-run: would publish models\/a\.ifc \([\d.]+ (B|KiB)\) to Speckle project "[^"]+" \(p0ject1d\), model "models\/a" \(created if missing\); ingested \(startFileIngestion\) into a new version/],
    ['ion', ion, /dry-run: would publish drawings\/a\.pdf \([\d.]+ (B|KiB)\) to ION runStep 101, entity \S+; an attachment named "a\.pdf" registered with createFileAttachment/],
    ['coldstream', () => ({ ...coldstream(), 'component-id': '2001' }), /dry-run: would publish cad\/a\.step .* to Coldstream case 1001, component 2001, file "a\.step"; then a convert job[\s\S]*cad\/c\.stl .* to Coldstream case 1001, component 2001, file "c\.stl"; no job/],
    // skip-unchanged off: earlier tests of this file published cad/a.step to this emulator (it would say "would skip").
    ['arcnm', () => ({ ...arcnm(), 'part-id': 'prt_demo', 'revision-id': 'rev_A', 'skip-unchanged': 'false' }), /dry-run: would publish cad\/a\.step .* to ARCNM upload "a\.step" as application\/step, confirmed, then attached to part prt_demo revision rev_A as cad_3d/],
  ] as const)('%s: a good dry run says where each file would go, with nothing written', async (_, inputs, plan) => {
    const ws = await makeWorkspace(files);
    const before = allWrites();
    const mutations = speckleWrites();
    const run = await runAction({ ...inputs(), 'dry-run': 'true' }, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(plan);
    expect(run.results.every((r) => r.status === 'skipped')).toBe(true);
    expect(allWrites()).toBe(before);
    expect(speckleWrites()).toBe(mutations);
  });
});

describe('local checks say what the bytes are', () => {
  it('refuses each recognisable wrong content before any upload, saying what it is and how to fix it', async () => {
    const ifc = samples.ifc('big.ifc', 'IFC4', 300);
    const ws = await makeWorkspace({
      'models/good.ifc': samples.ifc(),
      'models/lfs.ifc': 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 5242880\n',
      'models/page.ifc': '<!doctype html><html><body>502 Bad Gateway</body></html>',
      'models/archive.ifc': Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(100)]),
      'models/cad.ifc': samples.step('cad.ifc'),
      'models/cut.ifc': ifc.slice(0, ifc.length - 200),
      'models/empty.ifc': '',
      'models/short.stl': samples.stlBinary().subarray(0, 600),
    });
    const uploadsBefore = em.blob.requests.filter((r) => r.method === 'PUT').length;
    const run = await runAction({ ...speckle(), path: 'models/*' }, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(1);
    const reason = Object.fromEntries(run.results.map((r) => [r.path, r.status === 'succeeded' ? 'succeeded' : `${r.error.code}: ${r.error.message}`]));
    expect(reason['models/good.ifc']).toBe('succeeded');
    expect(reason['models/lfs.ifc']).toMatch(/^refused: .*Git LFS pointer file \(for 5.0 MiB stored in LFS\).*checked out without Git LFS.*`lfs: true`.*actions\/checkout/);
    expect(reason['models/page.ifc']).toMatch(/^refused: .*it is an HTML page/);
    expect(reason['models/archive.ifc']).toMatch(/^refused: .*it is a ZIP archive/);
    expect(reason['models/cad.ifc']).toMatch(/^refused: not an IFC file: it is a STEP CAD file .* named \.ifc/);
    expect(reason['models/cut.ifc']).toMatch(/^refused: not a complete IFC file: it does not end with END-ISO-10303-21;/);
    expect(reason['models/empty.ifc']).toMatch(/^refused: the file is empty \(0 bytes\)/);
    expect(reason['models/short.stl']).toMatch(/^refused: .*declares 12 triangles, which needs 684 bytes .* has 600 \(84 bytes short: truncated\)/);
    // Only the good file went to storage.
    expect(em.blob.requests.filter((r) => r.method === 'PUT').length - uploadsBefore).toBe(1);
    expect(run.outputs['failed-count']).toBe('7');
  });
});

/** HTML text as a reader sees it: entities decoded, invisible word joiners dropped. */
const asRead = (html: string) =>
  html
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\u2060/g, '');

describe('a summary a person can read', () => {
  it.each([
    ['speckle', speckle, /Target: Speckle project p0ject1d on http:\/\/127\.0\.0\.1:\d+, models named by the template "\{path\}"/, /version <a href="[^"]+">\w+<\/a>/],
    ['ion', ion, /Target: ION the entity of runStep 101 on http:\/\/127\.0\.0\.1:\d+/, /attachment <code>\w+<\/code>/],
    ['coldstream', () => ({ ...coldstream(), 'component-id': '2001' }), /Target: Coldstream case 1001, component 2001 \(region eu1, finalize auto\)/, /job <code>[\w-]+<\/code>[\s\S]*file <code>[\w-]+<\/code>/],
    ['arcnm', () => ({ ...arcnm(), 'part-id': 'prt_demo', 'revision-id': 'rev_A' }), /Target: ARCNM part prt_demo revision rev_A \(each confirmed upload is attached to it\)/, /(job|data source) <code>[\w-]+<\/code> \(attached to part <code>prt_demo<\/code> revision <code>rev_A<\/code>\)/],
  ] as const)('%s: names the target and labels each ID with its kind', async (name, inputs, target, idCell) => {
    const ws = await makeWorkspace(files);
    const run = await runAction(inputs(), { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(0);
    // The target holds inputs, so it is escaped as text: compare what a reader sees.
    expect(asRead(run.summary)).toMatch(target);
    expect(run.summary).toMatch(idCell);
    // One unit system: sizes in binary units in the table.
    expect(run.summary).toMatch(/<td>(\d+ B|[\d.]+ KiB)<\/td>/);
    expect(run.summary).not.toMatch(/\d (kB|MB)\b/);
    if (name === 'arcnm') expect(run.results.every((r) => r.partId === 'prt_demo' && r.revisionId === 'rev_A')).toBe(true);
    // Every request says which release sent it: the version in package.json.
    const agents = new Set([...em.speckle.requests, ...em.ion.requests, ...em.coldstream.requests, ...em.arcnm.requests].map((r) => r.headers['user-agent']));
    expect([...agents]).toEqual([`model-publisher/${VERSION}`]);
  });
});
