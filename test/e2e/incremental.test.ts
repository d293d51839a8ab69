// Incremental publishing end to end (skip-unchanged, re-runs, the dry run's plan): the bundle, run as the runner
// runs it, twice or more against the same Speckle or ARCNM emulator. What the servers hold after each run is
// checked, not only what the run reported: a second identical run creates nothing, a changed file is the only
// one published, a re-run after a failure publishes only the failed file.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { SpeckleEmulator, type SpeckleMode } from '../emulators/speckle.js';
import { NODES, findLeaks, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import { expectArcnmHolds, startArcnm } from '../support/arcnm.js';
import * as samples from '../support/samples.js';
import { expectSpeckleHolds } from '../support/speckle.js';

const SPECKLE_TOKEN = 'spk_e2e_incremental_0b1c2d3e4f5a6b7c8d9e';
const ARCNM_KEY = 'ak_test_incremental_1a2b3c4d5e6f7a8b9c0d';

let blob: BlobStore | undefined;
let speckle: SpeckleEmulator | undefined;
let arcnm: ArcnmEmulator | undefined;

afterEach(async () => {
  await speckle?.close();
  await arcnm?.close();
  await blob?.close();
  speckle = arcnm = blob = undefined;
});

const byPath = (run: ActionRun) => Object.fromEntries(run.results.map((r) => [r.path as string, r]));

describe.each(NODES)('incremental publishing ($name)', ({ bin }) => {
  describe('Speckle', () => {
    const models = () => ({
      'models/site/tower.ifc': samples.ifc('tower.ifc', 'IFC4', 3),
      'models/site/podium.ifc': samples.ifc('podium.ifc', 'IFC2X3', 2),
      'models/infra/bridge.ifc': samples.ifc('bridge.ifc', 'IFC4X3'),
    });

    async function start(mode: SpeckleMode) {
      blob = new BlobStore();
      await blob.start();
      speckle = new SpeckleEmulator({ blob, mode, tokens: { [SPECKLE_TOKEN]: {} }, queuedMs: 20, processingMs: 40 });
      await speckle.start();
    }
    const inputs = (extra: Record<string, string> = {}) => ({ provider: 'speckle', path: 'models/**/*.ifc', 'server-url': speckle!.url, token: SPECKLE_TOKEN, 'project-id': 'p0ject1d', ...extra });
    const run = async (ws: string, extra: Record<string, string> = {}) => {
      const r = await runAction(inputs(extra), { workspace: ws, node: bin });
      await expectSpeckleHolds(expect, speckle!, ws, r);
      expect(findLeaks(r, [SPECKLE_TOKEN])).toEqual([]);
      return r;
    };
    const counts = () => ({ versions: speckle!.versions.size, ingestions: speckle!.ingestions.size, uploads: speckle!.uploads.size, models: speckle!.models.size });

    it.each(['live', '2.x'] as SpeckleMode[])('server %s: a second identical run creates nothing and reports every file skipped with its version; a changed file is the only one published', async (mode) => {
      await start(mode);
      const ws = await makeWorkspace(models());
      const first = await run(ws);
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
      expect(first.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      // Every version records the SHA-256 of the file it was made from.
      for (const r of first.results) expect(speckle!.versions.get(r.versionId)!.message).toContain(`sha256:${r.sha256}`);
      const before = counts();
      const opsBefore = speckle!.operations.length;

      const second = await run(ws);
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      expect(counts(), 'no new version, ingestion, upload URL or model').toEqual(before);
      const secondOps = speckle!.operations.slice(opsBefore).map((o) => o.operationName);
      // One read of the latest versions for the three models, and no write at all.
      expect(secondOps.filter((o) => o === 'LatestVersionsByName')).toHaveLength(1);
      expect(secondOps.filter((o) => /^(GenerateFileUploadUrl|CreateModel|Start|UpdateVersion)/.test(o ?? ''))).toEqual([]);
      const firstBy = byPath(first);
      for (const r of second.results) {
        expect(r).toMatchObject({ status: 'skipped', reason: 'unchanged', id: firstBy[r.path]!.versionId, versionId: firstBy[r.path]!.versionId, modelId: firstBy[r.path]!.modelId, sha256: firstBy[r.path]!.sha256 });
      }
      expect(JSON.parse(second.outputs['version-ids']!)).toEqual(JSON.parse(first.outputs['version-ids']!));
      expect(JSON.parse(second.outputs['ids']!)).toEqual(JSON.parse(first.outputs['ids']!));
      expect(second.outputs['skipped-count']).toBe('3');
      expect(second.outputs['succeeded-count']).toBe('0');
      expect(second.summary).toContain('0 of 3 file(s) published, 3 skipped as unchanged (Speckle already holds them)');
      expect(second.summary).toContain('unchanged: already held');

      // One file changes: exactly that one becomes a new version.
      await writeFile(path.join(ws, 'models/site/podium.ifc'), samples.ifc('podium.ifc', 'IFC2X3', 5));
      const third = await run(ws);
      expect(third.exitCode, third.stdout + third.stderr).toBe(0);
      expect(third.results.map((r) => [r.path, r.status, r.reason])).toEqual([
        ['models/infra/bridge.ifc', 'skipped', 'unchanged'],
        ['models/site/podium.ifc', 'succeeded', undefined],
        ['models/site/tower.ifc', 'skipped', 'unchanged'],
      ]);
      expect(counts()).toEqual({ ...before, versions: before.versions + 1, ingestions: before.ingestions + 1, uploads: before.uploads + 1 });
      expect(third.outputs['skipped-count']).toBe('2');
    });

    it('asks for the latest versions of 27 models in two requests, and tells apart models whose names contain one another', async () => {
      await start('live');
      // models/m1 is contained in models/m10 … models/m19: `search` answers them all, the exact name decides.
      const many = Object.fromEntries(Array.from({ length: 27 }, (_, i) => [`models/m${i}.ifc`, samples.ifc(`m${i}.ifc`, 'IFC4', 1 + (i % 3))]));
      const ws = await makeWorkspace(many);
      const first = await run(ws, { concurrency: '8' });
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
      const opsBefore = speckle!.operations.length;
      await writeFile(path.join(ws, 'models/m1.ifc'), samples.ifc('m1.ifc', 'IFC4', 9));
      const second = await run(ws, { concurrency: '8' });
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      expect(speckle!.operations.slice(opsBefore).filter((o) => o.operationName === 'LatestVersionsByName')).toHaveLength(2);
      expect(second.results.filter((r) => r.status === 'succeeded').map((r) => r.path)).toEqual(['models/m1.ifc']);
      expect(second.outputs['skipped-count']).toBe('26');
    });

    it('a re-run after a failed upload publishes only the failed file; skip-unchanged: false publishes every file again', async () => {
      await start('live');
      const ws = await makeWorkspace(models());
      // Storage refuses every upload of tower.ifc: that file fails, the others publish.
      blob!.faults.add({ method: 'PUT', path: /tower\.ifc/, action: { kind: 'status', status: 503 }, times: Infinity });
      const first = await run(ws, { 'max-attempts': '1' });
      expect(first.exitCode).toBe(1);
      expect(first.results.map((r) => [r.path, r.status])).toEqual([
        ['models/infra/bridge.ifc', 'succeeded'],
        ['models/site/podium.ifc', 'succeeded'],
        ['models/site/tower.ifc', 'failed'],
      ]);
      blob!.faults.clear();
      const before = counts();
      const rerun = await run(ws);
      expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
      expect(rerun.results.map((r) => [r.path, r.status, r.reason])).toEqual([
        ['models/infra/bridge.ifc', 'skipped', 'unchanged'],
        ['models/site/podium.ifc', 'skipped', 'unchanged'],
        ['models/site/tower.ifc', 'succeeded', undefined],
      ]);
      expect(speckle!.versions.size).toBe(before.versions + 1);
      expect(JSON.parse(rerun.outputs['version-ids']!)).toHaveLength(3);

      const again = await run(ws, { 'skip-unchanged': 'false' });
      expect(again.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(speckle!.versions.size).toBe(before.versions + 4);
      expect(again.stdout).not.toMatch(/LatestVersions|skip-unchanged/);
    });

    it('the dry run shows per file whether it would be published or skipped, and where; it writes nothing', async () => {
      await start('live');
      const ws = await makeWorkspace(models());
      await run(ws);
      await writeFile(path.join(ws, 'models/infra/bridge.ifc'), samples.ifc('bridge.ifc', 'IFC4X3', 2));
      const before = counts();
      const opsBefore = speckle!.operations.length;
      const dry = await run(ws, { 'dry-run': 'true' });
      expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
      expect(counts()).toEqual(before);
      expect(speckle!.operations.slice(opsBefore).every((o) => !/^(GenerateFileUploadUrl|CreateModel|Start|UpdateVersion)/.test(o.operationName ?? ''))).toBe(true);
      expect(dry.stdout).toMatch(/dry-run: would publish models\/infra\/bridge\.ifc \([^)]+\) to Speckle project "Tower" \(p0ject1d\), model "models\/infra\/bridge"/);
      expect(dry.stdout).toMatch(/dry-run: would skip models\/site\/podium\.ifc \([^)]+\): unchanged, the latest version \w+ of model \w+ records the same SHA-256/);
      expect(dry.results.map((r) => [r.path, r.status, r.reason])).toEqual([
        ['models/infra/bridge.ifc', 'skipped', 'dry-run'],
        ['models/site/podium.ifc', 'skipped', 'unchanged'],
        ['models/site/tower.ifc', 'skipped', 'unchanged'],
      ]);
      expect(dry.summary).toContain('Dry run: nothing was uploaded. 1 of 3 file(s) would be published, 2 skipped as unchanged');
    });
  });

  describe('ARCNM', () => {
    const files = () => ({
      'cad/brackets/bracket.step': samples.step('bracket.step'),
      'cad/housing.stp': samples.step('housing.stp'),
      'drawings/GA-100.pdf': samples.pdf('GA-100 general arrangement'),
    });
    const ATTACH = { partId: 'prt_inc', revisionId: 'rev_A' };

    async function start() {
      const fixture = await startArcnm(ARCNM_KEY, { confirmDelayMs: 30 });
      ({ blob, arcnm } = fixture);
      arcnm.addPartRevision(ATTACH.partId, ATTACH.revisionId);
    }
    const inputs = (extra: Record<string, string> = {}) => ({ provider: 'arcnm', path: 'cad/**\ndrawings/*.pdf', 'server-url': arcnm!.url, token: ARCNM_KEY, 'part-id': ATTACH.partId, 'revision-id': ATTACH.revisionId, ...extra });
    /** One workflow run (GITHUB_RUN_ID) or another: attempts of one run share it. */
    const run = async (ws: string, extra: Record<string, string> = {}, runId = '4242') => {
      const r = await runAction(inputs(extra), { workspace: ws, node: bin, env: { GITHUB_RUN_ID: runId } });
      await expectArcnmHolds({ arcnm: arcnm!, blob: blob! }, ws, r.results, ATTACH);
      expect(findLeaks(r, [ARCNM_KEY])).toEqual([]);
      return r;
    };
    const counts = () => ({ uploads: arcnm!.uploads.size, presigns: arcnm!.stats.presigns, confirms: arcnm!.stats.confirms, links: arcnm!.datasets.length });

    it('a second identical run (another workflow run) uploads nothing, attaches nothing twice and reports every file skipped with its upload', async () => {
      await start();
      const ws = await makeWorkspace(files());
      const first = await run(ws);
      expect(first.exitCode, first.stdout + first.stderr).toBe(0);
      const before = counts();
      expect(before.links).toBe(3);

      const requestsBefore = arcnm!.requests.length;
      const second = await run(ws, {}, '5151');
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      expect(counts(), 'no new upload, presign, confirm or link').toEqual(before);
      // The whole run's lookup is one list request; the rest are the attaches ARCNM refuses as already linked.
      const sent = arcnm!.requests.slice(requestsBefore).map((q) => `${q.method} ${q.path}`);
      expect(sent.filter((q) => q.startsWith('GET'))).toEqual(['GET /api/v1/uploads/']);
      expect(sent.filter((q) => q.startsWith('POST'))).toEqual(Array(3).fill(`POST /api/v1/parts/${ATTACH.partId}/revisions/${ATTACH.revisionId}/datasets`));
      const firstBy = byPath(first);
      for (const r of second.results) {
        expect(r).toMatchObject({ status: 'skipped', reason: 'unchanged', id: firstBy[r.path]!.dataSourceId, dataSourceId: firstBy[r.path]!.dataSourceId, partId: ATTACH.partId, revisionId: ATTACH.revisionId, sha256: firstBy[r.path]!.sha256 });
      }
      expect(JSON.parse(second.outputs['ids']!)).toEqual(first.results.map((r) => r.dataSourceId));
      expect(second.outputs['skipped-count']).toBe('3');
      expect(second.stdout).toMatch(/ARCNM answers that upload \S+ is attached there already/);

      // One file changes: exactly one new upload, confirmed and attached.
      await writeFile(path.join(ws, 'cad/housing.stp'), samples.step('housing-rev-b.stp'));
      const third = await run(ws, {}, '5152');
      expect(third.exitCode, third.stdout + third.stderr).toBe(0);
      expect(third.results.map((r) => [r.path, r.status])).toEqual([
        ['cad/brackets/bracket.step', 'skipped'],
        ['cad/housing.stp', 'succeeded'],
        ['drawings/GA-100.pdf', 'skipped'],
      ]);
      expect(counts()).toMatchObject({ uploads: before.uploads + 1, presigns: before.presigns + 1, links: before.links + 1 });
    });

    it('a re-run attempt after a failed upload publishes only that file; skip-unchanged: false uploads every file again', async () => {
      await start();
      const ws = await makeWorkspace(files());
      blob!.faults.add({ method: 'PUT', path: /housing\.stp/, action: { kind: 'status', status: 503 }, times: Infinity });
      const first = await run(ws, { 'max-attempts': '1' });
      expect(first.exitCode).toBe(1);
      expect(first.results.map((r) => [r.path, r.status])).toEqual([
        ['cad/brackets/bracket.step', 'succeeded'],
        ['cad/housing.stp', 'failed'],
        ['drawings/GA-100.pdf', 'succeeded'],
      ]);
      // Attempt 2 of the same run fails the same way: its presign replays attempt 1's cancelled slot, then gets one of its own.
      const second = await run(ws, { 'max-attempts': '1' });
      expect(second.results.map((r) => [r.path, r.status])).toEqual([
        ['cad/brackets/bracket.step', 'skipped'],
        ['cad/housing.stp', 'failed'],
        ['drawings/GA-100.pdf', 'skipped'],
      ]);
      blob!.faults.clear();
      const before = counts();
      // Attempt 3: its presign key replays attempt 1's slot, then attempt 2's (both cancelled since), so a new one
      // is asked for; the two published files are skipped.
      const rerun = await run(ws);
      expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
      expect(rerun.results.map((r) => [r.path, r.status])).toEqual([
        ['cad/brackets/bracket.step', 'skipped'],
        ['cad/housing.stp', 'succeeded'],
        ['drawings/GA-100.pdf', 'skipped'],
      ]);
      expect(rerun.stdout).toMatch(/an earlier attempt of this run was given upload [0-9a-f-]+, now cancelled; asking for a new one/);
      expect(counts()).toMatchObject({ presigns: before.presigns + 1, links: before.links + 1 });
      for (const name of ['bracket.step', 'housing.stp', 'GA-100.pdf']) expect(arcnm!.uploadsWithStatus('confirmed').filter((u) => u.name === name)).toHaveLength(1);

      const again = await run(ws, { 'skip-unchanged': 'false' }, '6161');
      expect(again.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(arcnm!.stats.presigns).toBe(before.presigns + 4);
    });

    it('a re-run attempt continues an upload slot an earlier attempt was given and left pending: no new presign', async () => {
      await start();
      const ws = await makeWorkspace(files());
      // Attempt 1: storage refuses housing.stp, and the cancel of its pending upload fails too: the slot stays pending.
      blob!.faults.add({ method: 'PUT', path: /housing\.stp/, action: { kind: 'status', status: 503 }, times: Infinity });
      arcnm!.faults.add({ method: 'POST', path: /\/cancel$/, action: { kind: 'status', status: 500 }, times: Infinity });
      const first = await run(ws, { 'max-attempts': '1' });
      expect(first.results.map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
      const slot = arcnm!.uploadsWithStatus('pending').find((u) => u.name === 'housing.stp');
      expect(slot, 'the pending slot attempt 1 left').toBeDefined();
      blob!.faults.clear();
      arcnm!.faults.clear();
      const before = counts();
      // Attempt 2 of the same run: its presign replays attempt 1's slot, still pending and unused: the bytes go there.
      const rerun = await run(ws);
      expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
      expect(rerun.results.map((r) => [r.path, r.status])).toEqual([
        ['cad/brackets/bracket.step', 'skipped'],
        ['cad/housing.stp', 'succeeded'],
        ['drawings/GA-100.pdf', 'skipped'],
      ]);
      expect(rerun.results[1]!.dataSourceId).toBe(slot!.id);
      expect(rerun.stdout).toMatch(/continuing upload [0-9a-f-]+, which an earlier attempt of this run presigned/);
      expect(counts()).toMatchObject({ uploads: before.uploads, presigns: before.presigns, links: before.links + 1 });
    });

    it('a re-run attempt of a run that published everything skips every file and replays its attaches: no second link, no refusal', async () => {
      await start();
      const ws = await makeWorkspace(files());
      const first = await run(ws);
      expect(first.exitCode).toBe(0);
      const before = counts();
      const replays = arcnm!.stats.replays;
      // Attempt 2 of the same workflow run: the attach of each held upload carries attempt 1's key and body.
      const second = await run(ws);
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      expect(second.results.map((r) => [r.status, r.reason])).toEqual(Array(3).fill(['skipped', 'unchanged']));
      expect(arcnm!.stats.replays).toBe(replays + 3);
      expect(counts(), 'nothing new at ARCNM').toEqual(before);
      expect(second.stdout).not.toMatch(/ARCNM answers that upload \S+ is attached there already/);
    });

    it('the dry run lists the held upload and the attach it would still send; it writes nothing', async () => {
      await start();
      const ws = await makeWorkspace(files());
      await run(ws);
      const before = counts();
      await writeFile(path.join(ws, 'drawings/GA-100.pdf'), samples.pdf('GA-100 rev B'));
      const requestsBefore = arcnm!.requests.length;
      const dry = await run(ws, { 'dry-run': 'true' }, '7171');
      expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
      expect(counts()).toEqual(before);
      expect(arcnm!.requests.slice(requestsBefore).map((q) => q.method)).toEqual(['GET', 'GET']);
      expect(dry.stdout).toMatch(/dry-run: would skip cad\/housing\.stp \([^)]+\): unchanged, ARCNM upload [0-9a-f-]+ \(confirmed, same name and SHA-256\); would attach it to part prt_inc revision rev_A unless it is attached there already/);
      expect(dry.stdout).toMatch(/dry-run: would publish drawings\/GA-100\.pdf \([^)]+\) to ARCNM upload "GA-100\.pdf" as application\/pdf/);
      expect(dry.results.map((r) => r.reason)).toEqual(['unchanged', 'unchanged', 'dry-run']);
    });
  });
});
