// Matrix fan-out: N jobs, each with `shard: K/N`, publish every file exactly once between them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArcnmEmulator } from '../emulators/arcnm.js';
import { expectArcnmHolds, startArcnm, type ArcnmFixture } from '../support/arcnm.js';
import { makeWorkspace, runAction } from '../support/action.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_shards000000000000000';
let fixture: ArcnmFixture;
let arcnm: ArcnmEmulator;
beforeAll(async () => {
  fixture = await startArcnm(API_KEY);
  arcnm = fixture.arcnm;
});
afterAll(() => fixture.close());

describe('shard: K/N over a matrix of jobs', () => {
  it('covers every file exactly once', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `cad/part-${String(i).padStart(2, '0')}.step`);
    const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [n, samples.step(n)])));
    const N = 3;
    const runs = await Promise.all(
      Array.from({ length: N }, (_, k) => runAction({ provider: 'arcnm', path: 'cad/*.step', 'server-url': arcnm.url, token: API_KEY, shard: `${k + 1}/${N}`, 'if-no-files-found': 'ignore' }, { workspace: ws })),
    );
    for (const run of runs) expect(run.exitCode, run.stdout).toBe(0);
    await expectArcnmHolds(fixture, ws, runs.flatMap((r) => r.results));
    const published = runs.flatMap((r) => r.results.map((x) => x.path)).sort();
    expect(published).toEqual(names);
    for (const run of runs) expect(run.results.length).toBeGreaterThan(3);
    // At the server: one confirmed upload per file, none twice.
    const uploaded = [...arcnm.uploads.values()].filter((u) => u.status === 'confirmed').map((u) => u.name).sort();
    expect(uploaded).toEqual(names.map((n) => n.slice(4)));
    expect(runs.map((r) => r.summary)).toEqual(runs.map((_, k) => expect.stringContaining(`(shard ${k + 1}/${N})`)));
  });
});
