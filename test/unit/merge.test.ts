// The merge of results files as one set: what makes a set whole, and each way it is not, named by shard and file.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileResult } from '../../src/core/types.js';
import { shardOf } from '../../src/files/match.js';
import { mergeResults, shardsLine } from '../../src/merge.js';
import { buildResultsFile, serializeResultsFile, type RunTrace } from '../../src/results-file.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
/** Twelve paths and the shard of 3 each belongs to. */
const paths = Array.from({ length: 12 }, (_, i) => `m/f${i}.ifc`);
const inShard = (k: number, total = 3) => paths.filter((p) => shardOf(p, total) === k);
const ok = (p: string): FileResult => ({ path: p, bytes: 5, status: 'succeeded', ids: { id: `v-${p}`, versionId: `v-${p}` }, durationMs: 1 });

function doc(k: number | undefined, files: string[], extra: Partial<RunTrace> = {}) {
  return buildResultsFile({
    provider: 'speckle',
    target: 'project p1',
    commit: SHA,
    shard: k === undefined ? undefined : { index: k, total: 3 },
    patterns: ['m/*.ifc'],
    matched: paths.length,
    dryRun: false,
    results: files.map(ok),
    cancelled: false,
    ...extra,
  });
}

async function workspace(files: Record<string, ReturnType<typeof doc>>): Promise<string> {
  const ws = await mkdtemp(path.join(os.tmpdir(), 'mp-merge-unit-'));
  await mkdir(path.join(ws, 'r'));
  for (const [name, d] of Object.entries(files)) await writeFile(path.join(ws, 'r', name), serializeResultsFile(d, (t) => t));
  return ws;
}
const merge = async (files: Record<string, ReturnType<typeof doc>>, provider?: string) =>
  mergeResults({ patterns: ['r/*.json'], workspace: await workspace(files), includeHiddenFiles: false, ...(provider ? { provider } : {}) });

describe('mergeResults', () => {
  it('every shard once, disjoint, together what was matched: one report in path order', async () => {
    for (const k of [1, 2, 3]) expect(inShard(k).length).toBeGreaterThan(0);
    const m = await merge({ 'c.json': doc(3, inShard(3)), 'a.json': doc(1, inShard(1)), 'b.json': doc(2, inShard(2)) });
    expect(m.problems).toEqual([]);
    expect(m.missing).toEqual([]);
    expect(m.results.map((r) => r.path)).toEqual([...paths].sort());
    expect(m.files.map((f) => [f.file, f.shard?.index, f.used])).toEqual([
      ['r/a.json', 1, true],
      ['r/b.json', 2, true],
      ['r/c.json', 3, true],
    ]);
    expect(m.provider?.id).toBe('speckle');
    expect(shardsLine(m)).toBe("Merged 3 of 3 shards' results for commit 0123456789ab");
  });

  it('a run that was not sharded is a set of one', async () => {
    const m = await merge({ 'all.json': doc(undefined, paths) });
    expect(m.problems).toEqual([]);
    expect(m.total).toBe(1);
    expect(m.results).toHaveLength(paths.length);
  });

  it('names a missing shard, and still merges the others', async () => {
    const m = await merge({ 'a.json': doc(1, inShard(1)), 'c.json': doc(3, inShard(3)) });
    expect(m.missing).toEqual([2]);
    expect(m.problems).toEqual([expect.stringMatching(/^shard 2\/3 is missing: no results file for it was found/)]);
    expect(m.results.map((r) => r.path)).toEqual([...inShard(1), ...inShard(3)].sort());
    expect(shardsLine(m)).toContain(`(${inShard(1).length + inShard(3).length} of the 12 files matched); missing: shard 2/3`);
  });

  it('counts the files changed-since left out with the results: the set is whole, and a lost file is still named', async () => {
    // Each shard publishes its changed files and counts the rest; together they are the match.
    const since = { since: 'main~1', commit: SHA };
    const split = (k: number) => ({ kept: inShard(k).slice(0, 1), left: inShard(k).length - 1 });
    const docs = Object.fromEntries([1, 2, 3].map((k) => [`${k}.json`, doc(k, split(k).kept, { unchanged: { ...since, count: split(k).left } })]));
    const m = await merge(docs);
    expect(m.problems).toEqual([]);
    expect(m.results).toHaveLength(3);
    expect(m.unchanged).toEqual({ ...since, count: paths.length - 3 });
    expect(shardsLine(m)).toBe("Merged 3 of 3 shards' results for commit 0123456789ab");
    // A shard that counts one file fewer than it had: the union no longer equals the match.
    const short = { ...docs, '2.json': doc(2, split(2).kept, { unchanged: { ...since, count: split(2).left - 1 } }) };
    const bad = await merge(short);
    expect(bad.problems).toEqual([expect.stringMatching(/^the shards report 3 file\(s\) and \d+ left out as unchanged since main~1, but 12 were matched/)]);
  });

  it('names a duplicate shard with both files, and counts its files once', async () => {
    const m = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': doc(2, inShard(2)), 'b2.json': doc(2, inShard(2)), 'c.json': doc(3, inShard(3)) });
    expect(m.problems).toEqual([expect.stringMatching(/^shard 2\/3 appears twice: r\/b\.json and r\/b2\.json/)]);
    expect(m.results).toHaveLength(paths.length);
  });

  it.each([
    ['provider', { provider: 'ion' }, /has provider ion, but shard 1\/3 \(r\/a\.json\) has speckle/],
    ['target', { target: 'project p2' }, /has target "project p2", but shard 1\/3 \(r\/a\.json\) has "project p1"/],
    ['commit', { commit: 'f'.repeat(40) }, /has commit f{40}, but shard 1\/3 \(r\/a\.json\) has 0123/],
    ['patterns', { patterns: ['m/**'] }, /has patterns \["m\/\*\*"\]/],
    ['matched count', { matched: 11 }, /has matched file count 11, but/],
    ['dry run', { dryRun: true }, /has dry run true, but/],
  ])('names the shard whose %s differs', async (_, extra, message) => {
    const m = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': doc(2, inShard(2), extra as Partial<RunTrace>), 'c.json': doc(3, inShard(3)) });
    expect(m.problems[0]).toMatch(/^shard 2\/3 \(r\/b\.json\) /);
    expect(m.problems[0]).toMatch(message);
    // Its files are not believed, so shard 2 has no usable file.
    expect(m.problems[1]).toMatch(/^shard 2\/3 has no usable results file \(r\/b\.json left out, above\)/);
  });

  it('names a shard count that differs, a file in two shards, and a file in the wrong shard', async () => {
    const otherCount = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': { ...doc(2, inShard(2)), shard: { index: 2, total: 4 } }, 'c.json': doc(3, inShard(3)) });
    expect(otherCount.problems[0]).toMatch(/shard 2\/4 \(r\/b\.json\) has shard count 4, but shard 1\/3 \(r\/a\.json\) has 3/);
    const stray = inShard(1)[0]!;
    const twice = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': doc(2, [...inShard(2), stray]), 'c.json': doc(3, inShard(3)) });
    expect(twice.problems).toContainEqual(`"${stray}" is in shard 1/3 (r/a.json) and in shard 2/3 (r/b.json): a file belongs to one shard`);
    expect(twice.results.filter((r) => r.path === stray)).toHaveLength(1);
    const moved = await merge({ 'a.json': doc(1, inShard(1).slice(1)), 'b.json': doc(2, [...inShard(2), stray]), 'c.json': doc(3, inShard(3)) });
    expect(moved.problems).toEqual([`"${stray}" is listed by shard 2/3 (r/b.json) but belongs to shard 1/3`]);
  });

  it('names the shard that stopped before it had every file', async () => {
    const m = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': doc(2, [], { error: 'Model Publisher failed: out of memory' }), 'c.json': doc(3, inShard(3)) });
    expect(m.problems).toEqual([
      `the shards report ${paths.length - inShard(2).length} file(s), but 12 were matched; shard 2/3 (r/b.json) stopped with: Model Publisher failed: out of memory`,
    ]);
    const silent = await merge({ 'a.json': doc(1, inShard(1)), 'b.json': doc(2, inShard(2).slice(1)), 'c.json': doc(3, inShard(3)) });
    expect(silent.problems).toEqual([`the shards report 11 file(s), but 12 were matched: a shard left files out`]);
  });

  it('checks the provider input against the files, and names files that are not results files', async () => {
    const m = await merge({ 'a.json': doc(undefined, paths) }, 'arcnm');
    expect(m.problems[0]).toBe('the run (not sharded) (r/a.json) was published to speckle, but the provider input says arcnm');
    const ws = await workspace({ 'a.json': doc(undefined, paths) });
    await writeFile(path.join(ws, 'r', 'z.json'), '[]');
    const bad = await mergeResults({ patterns: ['r/*.json'], workspace: ws, includeHiddenFiles: false });
    expect(bad.problems).toEqual([expect.stringMatching(/^r\/z\.json: is not a Model Publisher results file \(the document: /)]);
    expect(bad.results).toHaveLength(paths.length);
    await expect(mergeResults({ patterns: ['nothing/*.json'], workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/Input 'merge-results': no results file matched "nothing\/\*\.json"/);
    await expect(mergeResults({ patterns: ['../*.json'], workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/^Input 'merge-results': pattern "..\/\*\.json" leads outside the workspace/);
  });
});
