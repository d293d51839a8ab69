// What skip-unchanged leaves in the outputs and the summary, and ARCNM's run-derived idempotency keys.
import { describe, expect, it } from 'vitest';
import type { FileResult } from '../../src/core/types.js';
import { countsLine, resultRow } from '../../src/github/report.js';
import { runKey } from '../../src/providers/arcnm.js';
import { versionSha256 } from '../../src/providers/speckle/session.js';
import { buildOutputs } from '../../src/results.js';
import type { ProviderInfo } from '../../src/providers/types.js';

const speckle: ProviderInfo = { id: 'speckle', displayName: 'Speckle', tokenEnv: 'SPECKLE_TOKEN', defaultServerUrl: '', inputs: [], idOutputs: [{ output: 'version-ids', field: 'versionId' }] };
const results: FileResult[] = [
  { path: 'a.ifc', bytes: 1, status: 'succeeded', ids: { id: 'v1', versionId: 'v1' }, durationMs: 1 },
  { path: 'b.ifc', bytes: 1, status: 'skipped', reason: 'unchanged', ids: { id: 'v0', versionId: 'v0' }, durationMs: 0 },
  { path: 'c.ifc', bytes: 1, status: 'failed', error: { message: 'no', code: 'network' }, durationMs: 1 },
  { path: 'd.ifc', bytes: 1, status: 'skipped', error: { message: 'not started: the run was cancelled', code: 'cancelled' }, durationMs: 0 },
];

describe('skipped files in the outputs and the summary', () => {
  it('the ID outputs include the IDs of unchanged files, in path order; skipped-count counts every skipped file', () => {
    const out = buildOutputs(results, speckle);
    expect(JSON.parse(out['version-ids'])).toEqual(['v1', 'v0']);
    expect(JSON.parse(out.ids)).toEqual(['v1', 'v0']);
    expect(out['skipped-count']).toBe('2');
    expect(out['succeeded-count']).toBe('1');
    expect(JSON.parse(out.results)[1]).toMatchObject({ status: 'skipped', reason: 'unchanged', id: 'v0', versionId: 'v0' });
  });

  it('the counts line and the row say why a file was skipped', () => {
    expect(countsLine(results, speckle, { dryRun: false })).toBe('1 of 4 file(s) published, 1 skipped as unchanged (Speckle already holds them), 1 skipped (not started), 1 failed');
    expect(resultRow(results[1]!)[3]).toBe('⏭️ skipped (unchanged: already held)');
    const dry: FileResult[] = [
      { path: 'a.ifc', bytes: 1, status: 'skipped', reason: 'dry-run', durationMs: 0 },
      { path: 'b.ifc', bytes: 1, status: 'skipped', reason: 'unchanged', ids: { id: 'v0' }, durationMs: 0 },
    ];
    expect(countsLine(dry, speckle, { dryRun: true })).toBe('Dry run: nothing was uploaded. 1 of 2 file(s) would be published, 1 skipped as unchanged (Speckle already holds them)');
    expect(resultRow(dry[0]!)[3]).toBe('⏭️ skipped (dry run: would publish)');
  });
});

describe('Speckle version messages', () => {
  it('read back the SHA-256 the provider wrote, and nothing from a message without one', () => {
    const hex = 'ab'.repeat(32);
    expect(versionSha256(`models/a.ifc from acme/models@0123456789ab (refs/heads/main) — https://github.com/acme/models/actions/runs/1 · sha256:${hex}`)).toBe(hex);
    expect(versionSha256('Uploaded file: a.ifc')).toBeUndefined();
    expect(versionSha256(`sha256:${hex.slice(2)}`)).toBeUndefined();
    expect(versionSha256(null)).toBeUndefined();
  });
});

describe("ARCNM's run-derived idempotency keys", () => {
  const origin = { repository: 'acme/models', sha: '0123456789abcdef0123456789abcdef01234567', runId: '4242', ref: 'refs/heads/main' };

  it('are UUIDv4-shaped, the same for every attempt of one run, and differ per run, repository, commit, operation and part', () => {
    const key = runKey(origin, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1])!;
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(runKey({ ...origin }, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1])).toBe(key);
    const others = [
      runKey({ ...origin, runId: '4243' }, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1]),
      runKey({ ...origin, repository: 'acme/other' }, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1]),
      runKey({ ...origin, sha: 'f'.repeat(40) }, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1]),
      runKey(origin, 'attach', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 1]),
      runKey(origin, 'presign', ['cad/a.step', 'ff', 'a.step', 'model/step', 10, 2]),
      runKey(origin, 'presign', ['cad/b.step', 'ff', 'a.step', 'model/step', 10, 1]),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });

  it('are not derived without a run ID (the command line outside a workflow): random keys are used', () => {
    expect(runKey({ repository: 'acme/models', sha: origin.sha }, 'presign', ['x'])).toBeUndefined();
    expect(runKey(undefined, 'presign', ['x'])).toBeUndefined();
  });
});
