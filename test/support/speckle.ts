// What "succeeded" means for Speckle, checked at the emulator: the one assertion every Speckle end-to-end run
// makes. A file reported `succeeded` with a version: the version exists on the reported model, made by a
// successful ingestion (live) or file import (2.x) of this file, whose bytes (what Speckle read from storage
// when it started) equal the local file. With `wait: false` (no version yet): the ingestion or import reported
// exists, of this file and these bytes. No fileId is started twice, no version is reported twice, and
// version-ids lists exactly the reported versions.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExpectStatic } from 'vitest';
import type { SpeckleEmulator } from '../emulators/speckle.js';
import type { ActionRun } from './action.js';

export async function expectSpeckleHolds(expect: ExpectStatic, speckle: SpeckleEmulator, workspace: string, run: ActionRun): Promise<void> {
  const perFile = new Map<string, number>();
  for (const i of speckle.ingestions.values()) perFile.set(i.fileId, (perFile.get(i.fileId) ?? 0) + 1);
  for (const [fileId, n] of perFile) expect(n, `file ${fileId}: started once`).toBe(1);

  const succeeded = run.results.filter((r) => r.status === 'succeeded');
  for (const r of succeeded) {
    const where = `${r.path} (reported succeeded)`;
    const local = await readFile(path.join(workspace, r.path));
    let ingestion;
    if (r.versionId !== undefined) {
      const version = speckle.versions.get(r.versionId);
      expect(version, `${where}: Speckle has version ${r.versionId}`).toBeDefined();
      expect(version!.modelId, `${where}: the version is on the reported model`).toBe(r.modelId);
      ingestion = [...speckle.ingestions.values()].find((i) => i.versionId === r.versionId);
      expect(ingestion?.status, `${where}: the version comes from a successful ingestion`).toBe('success');
    } else {
      // wait: false: the start was accepted; its ID is the ingestion's (live) or the file import's (2.x).
      ingestion = speckle.ingestions.get(r.ingestionId ?? r.fileId);
      expect(ingestion, `${where}: Speckle has the ingestion ${r.ingestionId ?? r.fileId}`).toBeDefined();
    }
    expect(ingestion!.modelId, `${where}: ingested into the reported model`).toBe(r.modelId);
    expect(ingestion!.fileId, `${where}: the reported fileId`).toBe(r.fileId);
    expect(ingestion!.fileName, `${where}: of this file`).toBe(path.basename(r.path));
    expect(ingestion!.bytes.equals(local), `${where}: Speckle ingested bytes equal to the local file`).toBe(true);
    if (r.ingestionId !== undefined) expect(ingestion!.id).toBe(r.ingestionId);
  }
  // A file skipped as unchanged names the version Speckle already holds: made from these very bytes.
  const unchanged = run.results.filter((r) => r.status === 'skipped' && r.reason === 'unchanged');
  for (const r of unchanged) {
    const where = `${r.path} (reported unchanged)`;
    const version = speckle.versions.get(r.versionId);
    expect(version, `${where}: Speckle has version ${r.versionId}`).toBeDefined();
    expect(version!.modelId, `${where}: the version is on the reported model`).toBe(r.modelId);
    expect(speckle.versionsOf(r.modelId).at(-1)?.id, `${where}: it is the model's latest version`).toBe(r.versionId);
    const ingestion = [...speckle.ingestions.values()].find((i) => i.versionId === r.versionId);
    const local = await readFile(path.join(workspace, r.path));
    expect(ingestion?.bytes.equals(local), `${where}: the version was ingested from bytes equal to the local file`).toBe(true);
  }
  const versions = succeeded.flatMap((r) => (r.versionId !== undefined ? [r.versionId as string] : []));
  expect(new Set(versions).size, 'no version reported twice').toBe(versions.length);
  const current = run.results.filter((r) => r.status === 'succeeded' || (r.status === 'skipped' && r.reason === 'unchanged')).flatMap((r) => (r.versionId !== undefined ? [r.versionId as string] : []));
  if (run.outputs['version-ids'] !== undefined) expect(JSON.parse(run.outputs['version-ids']), 'version-ids lists exactly the reported and the unchanged versions').toEqual(current);
}
