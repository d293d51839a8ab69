// The Speckle chain end to end: the bundle, run as the runner runs it, against the Speckle emulator (both
// server generations) and the blob store. Checks the models and versions Speckle ends up with, the bytes in
// storage, the outputs, the summary, and that the token never shows.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../emulators/blob.js';
import { SpeckleEmulator, type SpeckleEmulatorOptions, type SpeckleMode } from '../emulators/speckle.js';
import { NODES, findLeaks, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import * as samples from '../support/samples.js';
import { expectSpeckleHolds } from '../support/speckle.js';

const TOKEN = 'spk_e2e_4b1d9c0e7a3f5b2d8c6e1a9f0b3d5c7e';
const PROJECT = 'p0ject1d';
const SHA = '0123456789abcdef0123456789abcdef01234567'; // what runAction sets as GITHUB_SHA

let blob: BlobStore;
let speckle: SpeckleEmulator;

async function startEmulators(mode: SpeckleMode, opts: Partial<SpeckleEmulatorOptions> = {}) {
  blob = new BlobStore();
  await blob.start();
  // processingReads: every ingestion is seen in flight by the run's first status read, however late it comes (the
  // log and poll assertions below do not race the emulator's timers on a loaded machine).
  speckle = new SpeckleEmulator({ blob, mode, tokens: { [TOKEN]: {} }, queuedMs: 30, processingMs: 80, processingReads: 2, ...opts });
  await speckle.start();
}

afterEach(async () => {
  await speckle?.close();
  await blob?.close();
});

function inputs(extra: Record<string, string> = {}) {
  return { provider: 'speckle', path: 'models/**/*.ifc', 'server-url': speckle.url, token: TOKEN, 'project-id': PROJECT, ...extra };
}

const BROKEN_IFC = "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_SCHEMA(('AUTOMOTIVE_DESIGN'));\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n";

const nested = () => ({
  'models/Site/Tower A.ifc': samples.ifc('Tower A.ifc', 'IFC4', 3),
  'models/Site/annex.ifc': samples.ifc('annex.ifc', 'IFC2X3'),
  'models/infra/bridges/Bridge-01.ifc': samples.ifc('Bridge-01.ifc', 'IFC4X3'),
});

function ops(name: string) {
  return speckle.operations.filter((o) => o.operationName === name);
}

function expectNoLeaks(run: ActionRun) {
  expect(findLeaks(run, [TOKEN])).toEqual([]);
}

const modes: SpeckleMode[] = ['live', '2.x'];

describe.each(NODES)('Speckle end to end ($name)', ({ bin }) => {
  describe.each(modes)('server %s', (mode) => {
    it('publishes IFC files in nested folders as versions of their models; a broken file fails with Speckle\'s reason', async () => {
      await startEmulators(mode);
      const ws = await makeWorkspace({ ...nested(), 'models/broken.ifc': BROKEN_IFC });
      // validate=false lets the broken file reach Speckle, whose importer gives the reason.
      const run = await runAction(inputs({ validate: 'false' }), { workspace: ws, node: bin });
      expect(run.exitCode, run.stdout + run.stderr).toBe(1);
      await expectSpeckleHolds(expect, speckle, ws, run);
      expectNoLeaks(run);

      const paths = ['models/Site/Tower A.ifc', 'models/Site/annex.ifc', 'models/broken.ifc', 'models/infra/bridges/Bridge-01.ifc'].sort();
      expect(run.results.map((r) => r.path).sort()).toEqual(paths);
      const byPath = Object.fromEntries(run.results.map((r) => [r.path, r]));

      // The broken file fails with the importer's own words; the others succeed.
      expect(byPath['models/broken.ifc']).toMatchObject({ status: 'failed', error: { code: 'invalid_content', message: expect.stringContaining('FILE_SCHEMA') } });
      expect(run.outputs['succeeded-count']).toBe('3');
      expect(run.outputs['failed-count']).toBe('1');

      // Models named from the path, lowercased as Speckle stores them; each file one version.
      const expected: Record<string, string> = {
        'models/Site/Tower A.ifc': 'models/site/tower a',
        'models/Site/annex.ifc': 'models/site/annex',
        'models/infra/bridges/Bridge-01.ifc': 'models/infra/bridges/bridge-01',
      };
      const versionIds = JSON.parse(run.outputs['version-ids']!) as string[];
      expect(versionIds).toHaveLength(3);
      for (const [file, modelName] of Object.entries(expected)) {
        const r = byPath[file]!;
        const model = speckle.modelByName(PROJECT, modelName);
        expect(model, modelName).toBeDefined();
        const versions = speckle.versionsOf(model!.id);
        expect(versions, file).toHaveLength(1);
        const v = versions[0]!;
        expect(r).toMatchObject({ status: 'succeeded', id: v.id, versionId: v.id, modelId: model!.id, url: `${speckle.url}/projects/${PROJECT}/models/${model!.id}@${v.id}` });
        if (mode === 'live') expect(r.ingestionId).toBe([...speckle.ingestions.values()].find((i) => i.versionId === v.id)!.id);
        expect(versionIds).toContain(v.id);
        // Traceability: the version message names the commit and the run.
        expect(v.message).toContain(SHA.slice(0, 12));
        expect(v.message).toContain('https://github.com/acme/models/actions/runs/4242');
        expect(model!.description).toContain(SHA);
        // Storage holds exactly the file's bytes.
        const stored = blob.get(speckle.uploads.get(v.fileId)!.key)!;
        expect(stored.bytes.equals(await readFile(path.join(ws, file)))).toBe(true);
        // The summary links the version.
        expect(run.summary).toContain(`href="${r.url}"`);
      }
      expect(JSON.parse(run.outputs['ids']!)).toEqual(versionIds);
      expect(run.summary).toContain('FILE_SCHEMA');

      // The chain this server generation speaks, and nothing else.
      if (mode === 'live') {
        expect(ops('StartFileIngestion')).toHaveLength(4);
        expect(ops('StartFileImport')).toHaveLength(0);
        expect(ops('IngestionStatus').length).toBeGreaterThan(0);
        // Every PUT carried the additional headers (storage would refuse it otherwise).
        for (const u of speckle.uploads.values()) expect(blob.get(u.key)!.metadata['speckle-file-id']).toBe(u.fileId);
        expect(run.stdout).toMatch(/Speckle (queued|processing)/);
      } else {
        expect(ops('StartFileImport')).toHaveLength(4);
        expect(ops('StartFileIngestion')).toHaveLength(0);
        expect(run.stdout).toContain('no ingestion API (server 2.x)');
      }
      // No operation failed validation: everything we sent is valid for this server.
      expect(speckle.operations.filter((o) => o.status === 400)).toEqual([]);
    });
  });

  describe.each(modes)('server %s', (mode) => {
    it('a lost answer to a create or a start neither fails the file nor makes a second model or version', async () => {
      await startEmulators(mode);
      speckle.loseAnswer('CreateModel');
      speckle.loseAnswer(mode === 'live' ? 'StartFileIngestion' : 'StartFileImport');
      const ws = await makeWorkspace(nested());
      const run = await runAction(inputs({ concurrency: '1' }), { workspace: ws, node: bin });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      await expectSpeckleHolds(expect, speckle, ws, run);
      expect(speckle.models.size).toBe(3);
      expect(speckle.versions.size).toBe(3);
      for (const r of run.results) expect(speckle.versionsOf(r.modelId)).toHaveLength(1);
      // The create was not sent again (the lookup found the model); the start was followed, not repeated.
      expect(ops('CreateModel')).toHaveLength(3);
      expect(ops(mode === 'live' ? 'StartFileIngestion' : 'StartFileImport')).toHaveLength(3);
    });

    it('a create or a start answered with its object and errors[] carries on with that object, warns, and makes no second one', async () => {
      await startEmulators(mode);
      const start = mode === 'live' ? 'StartFileIngestion' : 'StartFileImport';
      speckle.answerPartly('CreateModel', 'Failed to publish the modelCreated\nsubscription event');
      speckle.answerPartly(start, 'Failed to notify the project activity stream');
      const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
      const run = await runAction(inputs(), { workspace: ws, node: bin });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      await expectSpeckleHolds(expect, speckle, ws, run);
      expect(ops('CreateModel')).toHaveLength(1);
      expect(ops(start)).toHaveLength(1);
      expect(ops('CreateModel')[0]!.errors).toEqual([{ message: 'Failed to publish the modelCreated\nsubscription event', code: 'INTERNAL_SERVER_ERROR' }]);
      expect(speckle.models.size).toBe(1);
      expect(speckle.versions.size).toBe(1);
      const model = [...speckle.models.values()][0]!;
      expect(run.stdout).toContain(
        `::warning::Speckle, asked to create model "models/tower": it did (${model.id}) but also answered errors: Failed to publish the modelCreated subscription event. Carrying on with ${model.id}`,
      );
      expect(run.stdout).toMatch(new RegExp(`::warning::Speckle, asked to start the (ingestion|file import): it did \\(\\w+\\) but also answered errors: Failed to notify the project activity stream`));
      expectNoLeaks(run);
    });

    it('a server that refuses introspection is still recognised', async () => {
      await startEmulators(mode, { introspection: false });
      const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
      const run = await runAction(inputs(), { workspace: ws, node: bin });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      await expectSpeckleHolds(expect, speckle, ws, run);
      expect(run.stdout).toContain('ingestion API unknown (introspection refused)');
      expect(speckle.versions.size).toBe(1);
      if (mode === '2.x') expect(run.stdout).toContain('no ingestion API');
    });
  });

  it('a lost start, after which the model got another ingestion: found in its history and followed, never started twice', async () => {
    await startEmulators('live');
    const model = speckle.createModel(PROJECT, 'tower');
    speckle.loseAnswer('StartFileIngestion');
    // Another pipeline starts an ingestion on the same model while our answer is lost: latestIngestion is theirs.
    speckle.onLostAnswer = () => void speckle.addForeignIngestion(model.id);
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs({ 'model-id': model.id }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(ops('StartFileIngestion')).toHaveLength(1);
    expect(ops('LatestIngestion')).toHaveLength(1);
    expect(ops('IngestionHistory')).toHaveLength(1);
    expect(run.stdout).toMatch(/Speckle: ingestion \w+ of file \w+ had started; following it/);
    expect(speckle.operations.filter((o) => o.errors?.some((e) => e.code === 'ALREADY_REGISTERED_BLOB_ERROR'))).toEqual([]);
  });

  it('a lost start on a server without ingestionHistory: the restart is refused as already registered, and the file fails as outcome_unknown, not started a third time', async () => {
    await startEmulators('live', { ingestionHistory: false });
    const model = speckle.createModel(PROJECT, 'tower');
    speckle.loseAnswer('StartFileIngestion');
    speckle.onLostAnswer = () => void speckle.addForeignIngestion(model.id);
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs({ 'model-id': model.id }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'outcome_unknown' } });
    expect(run.results[0]!.error.message).toMatch(/Speckle says the file was already registered \(.*Blob already registered and completed\), so an earlier attempt went through, but it could not be found on the model/);
    // The lost start, and one restart that the server refused: never a third.
    expect(ops('StartFileIngestion').map((o) => o.errors?.[0]?.code ?? 'ok')).toEqual(['ok', 'ALREADY_REGISTERED_BLOB_ERROR']);
    expect([...speckle.ingestions.values()].filter((i) => i.modelId === model.id && i.userId !== 'someone-else')).toHaveLength(1);
  });

  it('wait: false answers the ingestion ID without waiting, as submitted (not verified)', async () => {
    await startEmulators('live', { queuedMs: 2_000 });
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs({ wait: 'false' }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    const [r] = run.results;
    // The ingestion started, but its verdict was not awaited: submitted, never succeeded.
    expect(r).toMatchObject({ status: 'submitted', id: r!.ingestionId });
    expect(run.outputs['succeeded-count']).toBe('0');
    expect(run.outputs['submitted-count']).toBe('1');
    expect(r!.versionId).toBeUndefined();
    expect(ops('IngestionStatus')).toHaveLength(0);
    expect(JSON.parse(run.outputs['version-ids']!)).toEqual([]);
  });

  it('several files that target one new model create it once', async () => {
    await startEmulators('live');
    const ws = await makeWorkspace({
      'models/a/one.ifc': samples.ifc('one.ifc'),
      'models/a/two.ifc': samples.ifc('two.ifc'),
      'models/a/three.ifc': samples.ifc('three.ifc'),
      'models/b/four.ifc': samples.ifc('four.ifc'),
    });
    const run = await runAction(inputs({ model: 'CI/{dir}', concurrency: '4' }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(ops('CreateModel')).toHaveLength(2);
    const a = speckle.modelByName(PROJECT, 'ci/models/a')!;
    const b = speckle.modelByName(PROJECT, 'ci/models/b')!;
    expect(speckle.versionsOf(a.id)).toHaveLength(3);
    expect(speckle.versionsOf(b.id)).toHaveLength(1);
    expectNoLeaks(run);
  });

  it('fills {dir}, {name}, {stem} and {ext} into the model template', async () => {
    await startEmulators('live');
    const ws = await makeWorkspace({ 'models/Site/Tower A.ifc': samples.ifc(), 'top.ifc': samples.ifc('top.ifc') });
    // Spaces around levels and empty levels go, names are lowercased: as Speckle stores them.
    const run = await runAction(inputs({ path: '**/*.ifc', model: ' Exports / {dir} / {stem} ({ext}) from {name}' }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect([...speckle.models.values()].map((m) => m.name).sort()).toEqual(['exports/models/site/tower a (ifc) from tower a.ifc', 'exports/top (ifc) from top.ifc']);
    const bad = await runAction(inputs({ model: '{path}/{folder}' }), { workspace: ws, node: bin });
    expect(bad.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, bad);
    expect(bad.stdout).toMatch(/Input 'model': has an unknown placeholder \{folder\}/);
  });

  it('model-id sends every file to that model, without lookup or creation', async () => {
    await startEmulators('live');
    const model = speckle.createModel(PROJECT, 'federated');
    const ws = await makeWorkspace(nested());
    const run = await runAction(inputs({ 'model-id': model.id }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(speckle.versionsOf(model.id)).toHaveLength(3);
    expect(ops('ModelByName')).toHaveLength(0);
    expect(ops('CreateModel')).toHaveLength(0);
  });

  it('reports every ingestion status Speckle can end with', async () => {
    await startEmulators('live');
    speckle.outcomes.set('cancelled.ifc', { status: 'cancelled', message: 'Cancelled by a project owner' });
    speckle.outcomes.set('invalid.ifc', { status: 'invalidInput', message: 'Choose the units to import with' });
    speckle.outcomes.set('slow.ifc', { status: 'timeout' });
    const ws = await makeWorkspace({
      'models/cancelled.ifc': samples.ifc('cancelled.ifc'),
      'models/invalid.ifc': samples.ifc('invalid.ifc'),
      'models/slow.ifc': samples.ifc('slow.ifc'),
      'models/ok.ifc': samples.ifc('ok.ifc'),
    });
    const run = await runAction(inputs(), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    const byPath = Object.fromEntries(run.results.map((r) => [r.path, r]));
    expect(byPath['models/cancelled.ifc']!.error).toMatchObject({ code: 'rejected_by_provider', providerCode: 'cancelled', message: expect.stringContaining('Cancelled by a project owner') });
    expect(byPath['models/invalid.ifc']!.error).toMatchObject({ code: 'invalid_content', providerCode: 'invalidInput', message: expect.stringContaining('Choose the units') });
    expect(byPath['models/slow.ifc']!.error).toMatchObject({ code: 'rejected_by_provider', providerCode: 'timeout' });
    expect(byPath['models/ok.ifc']!.status).toBe('succeeded');
  });

  it('waits for every ingestion with one status request a round, not one per file; a failure stays with its file', async () => {
    // Each ingestion stays in flight for its first 4 views, so every file is read several times.
    await startEmulators('live', { processingReads: 4 });
    speckle.outcomes.set('f03.ifc', { status: 'failed', message: 'Geometry could not be read' });
    speckle.ingestionReadErrors.set('f07.ifc', 'Ingestion store unavailable for this one');
    const names = Array.from({ length: 16 }, (_, i) => `f${String(i).padStart(2, '0')}.ifc`);
    const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [`models/${n}`, samples.ifc(n)])));
    const run = await runAction(inputs({ concurrency: '16' }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    const byPath = Object.fromEntries(run.results.map((r) => [r.path, r]));
    expect(byPath['models/f03.ifc']!.error).toMatchObject({ code: 'invalid_content', message: expect.stringContaining('Geometry could not be read') });
    expect(byPath['models/f07.ifc']!.status).toBe('failed');
    expect(byPath['models/f07.ifc']!.error!.message).toContain('Ingestion store unavailable for this one');
    expect(run.outputs['succeeded-count']).toBe('14');

    const requests = ops('IngestionStatus').filter((o) => o.status === 200);
    const perRequest = requests.map((o) => Object.keys(o.variables).filter((k) => /^id\d+$/.test(k)).length);
    const reads = perRequest.reduce((a, b) => a + b, 0);
    // Every file was read until its end (at least three reads each after its start), and the reads shared
    // requests: on average at least two ingestions a request (one request per file and round would make it one).
    expect(reads).toBeGreaterThanOrEqual(16 * 3);
    expect(requests.length * 2).toBeLessThanOrEqual(reads);
    expect(Math.max(...perRequest)).toBeGreaterThan(1);
    // Nothing sent was invalid for the schema.
    expect(speckle.operations.filter((o) => o.status === 400)).toEqual([]);
  });

  it('server 2.x: waits for every file import with one uploads read a round for all their models, not one per file', async () => {
    await startEmulators('2.x', { processingReads: 4 });
    speckle.outcomes.set('f03.ifc', { status: 'failed', message: 'Geometry could not be read' });
    const names = Array.from({ length: 12 }, (_, i) => `f${String(i).padStart(2, '0')}.ifc`);
    const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [`models/${n}`, samples.ifc(n)])));
    const run = await runAction(inputs({ concurrency: '12' }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    const byPath = Object.fromEntries(run.results.map((r) => [r.path, r]));
    expect(byPath['models/f03.ifc']!.error).toMatchObject({ code: 'invalid_content', message: expect.stringContaining('Geometry could not be read') });
    expect(run.outputs['succeeded-count']).toBe('11');

    const requests = ops('ModelsUploads').filter((o) => o.status === 200);
    const perRequest = requests.map((o) => Object.keys(o.variables).filter((k) => /^m\d+$/.test(k)).length);
    const reads = perRequest.reduce((a, b) => a + b, 0);
    // One model a file (the default template): every file's model read until its import ended, several models a
    // request; per-file polling would send one request per model read.
    expect(reads).toBeGreaterThanOrEqual(12 * 2);
    expect(requests.length * 2).toBeLessThanOrEqual(reads);
    expect(ops('ModelUploads')).toHaveLength(0); // every waiting import was on its model's first page
    expect(speckle.operations.filter((o) => o.status === 400)).toEqual([]);
  });

  it('server 2.x, model-id: 30 imports on one model are read from its pages together, not a listing per file', async () => {
    await startEmulators('2.x', { processingReads: 3 });
    const model = speckle.createModel(PROJECT, 'federated');
    const names = Array.from({ length: 30 }, (_, i) => `g${String(i).padStart(2, '0')}.ifc`);
    const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [`models/${n}`, samples.ifc(n)])));
    const run = await runAction(inputs({ 'model-id': model.id, concurrency: '30' }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(speckle.versionsOf(model.id)).toHaveLength(30);
    // One model, so each round is one ModelsUploads request (its first page, the newest 25) and, while an
    // import older than those waits, one page on from there for all of them: never a listing per file.
    const rounds = ops('ModelsUploads').filter((o) => o.status === 200);
    const pagesOn = ops('ModelUploads').filter((o) => o.status === 200);
    for (const o of rounds) expect(Object.keys(o.variables).filter((k) => /^m\d+$/.test(k))).toEqual(['m0']);
    expect(pagesOn.length).toBeLessThanOrEqual(rounds.length);
    expect(pagesOn.every((o) => typeof o.variables['cursor'] === 'string')).toBe(true);
    expect(rounds.length).toBeLessThan(30);
  });

  it('an invalid token fails with a message about the token, without retrying', async () => {
    await startEmulators('live');
    const ws = await makeWorkspace(nested());
    const badToken = 'spk_revoked_00000000000000000000000000';
    const run = await runAction(inputs({ token: '' }), { workspace: ws, node: bin, env: { SPECKLE_TOKEN: badToken } });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.stdout).toMatch(/Speckle did not accept the token \(HTTP 403: "Your token is not valid\."\)/);
    expect(speckle.requests).toHaveLength(1);
    expect(blob.requests).toHaveLength(0);
    expect(findLeaks(run, [badToken])).toEqual([]);
  });

  it('a missing project says project-id is wrong', async () => {
    await startEmulators('2.x');
    const ws = await makeWorkspace(nested());
    const run = await runAction(inputs({ 'project-id': 'n0tthere' }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.stdout).toMatch(/Speckle has no project "n0tthere".*check the project-id input/);
    expect(blob.requests).toHaveLength(0);
    expectNoLeaks(run);
  });

  it('a model-id that does not exist says model-id is wrong', async () => {
    await startEmulators('live');
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs({ 'model-id': 'n0model' }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.results[0]!.error).toMatchObject({ code: 'not_found', message: expect.stringContaining('check the model-id input') });
    expect(speckle.versions.size).toBe(0);
  });

  it('FORBIDDEN names the streams:write scope and the Can edit role', async () => {
    await startEmulators('live');
    const readOnly = 'spk_readonly_111111111111111111111111111';
    speckle.addToken(readOnly, { scopes: ['streams:read'] });
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs({ token: readOnly }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.results[0]!.error).toMatchObject({ code: 'permission_denied', message: expect.stringMatching(/streams:write.*"Can edit"/) });
    expect(ops('GenerateFileUploadUrl')).toHaveLength(1); // refused, not retried
    expect(findLeaks(run, [readOnly])).toEqual([]);
  });

  it('honours 429 with a fractional Retry-After, on mutations too', async () => {
    await startEmulators('live');
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    speckle.limitRate(3, '0.2');
    const started = Date.now();
    const run = await runAction(inputs(), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(speckle.rateLimit.answered).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(run.stdout).toMatch(/HTTP 429, retry 2 when the server allows \(Retry-After 0\.2s\)/);
    expect(speckle.versions.size).toBe(1);
  });

  it('storage faults (5xx, a reset mid-body) still end in exactly one version per file', async () => {
    await startEmulators('live');
    blob.faults.add({ method: 'PUT', action: { kind: 'status', status: 503, body: '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' } });
    blob.faults.add({ method: 'PUT', action: { kind: 'reset', afterBytes: 100 } });
    blob.faults.add({ method: 'PUT', action: { kind: 'status', status: 500, body: '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>' } });
    const ws = await makeWorkspace(nested());
    const run = await runAction(inputs({ 'max-attempts': '5' }), { workspace: ws, node: bin });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(blob.faults.injected).toHaveLength(3);
    expect(speckle.versions.size).toBe(3);
    for (const r of run.results) expect(speckle.versionsOf(r.modelId)).toHaveLength(1);
    expect(ops('StartFileIngestion')).toHaveLength(3);
  });

  it('storage holding other bytes than were uploaded is reported as corruption', async () => {
    await startEmulators('live');
    speckle.onStart = (upload) => blob.putObject(upload.key, Buffer.from(samples.ifc('tampered.ifc')));
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs(), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    expect(run.results[0]!.error).toMatchObject({ code: 'corrupted', message: expect.stringMatching(/different bytes.*etag/i) });
    expect(speckle.versions.size).toBe(0);
  });

  it('refuses a file over blobSizeLimitBytes before any upload, and a file without an extension', async () => {
    await startEmulators('live', { blobSizeLimitBytes: 2000 });
    const ws = await makeWorkspace({ 'models/small.ifc': samples.ifc(), 'models/big.ifc': samples.ifc('big.ifc', 'IFC4', 60), 'models/README': 'x' });
    const run = await runAction(inputs({ path: 'models/**' }), { workspace: ws, node: bin });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle, ws, run);
    const byPath = Object.fromEntries(run.results.map((r) => [r.path, r]));
    expect(byPath['models/big.ifc']!.error).toMatchObject({ code: 'refused', message: expect.stringContaining('up to 2.0 KiB (2000 bytes') });
    expect(byPath['models/README']!.error).toMatchObject({ code: 'refused', message: expect.stringContaining('extension') });
    expect(byPath['models/small.ifc']!.status).toBe('succeeded');
    expect([...speckle.uploads.values()].map((u) => u.fileName)).toEqual(['small.ifc']);
    expect(blob.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });
});
