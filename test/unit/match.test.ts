import { mkdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { matchFiles, shardOf } from '../../src/files/match.js';

async function tree(files: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-match-'));
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), f);
  }
  return dir;
}

describe('matchFiles', () => {
  it('matches, excludes with !, drops directories, sorts and deduplicates', async () => {
    const ws = await tree(['b/model.ifc', 'a/model.ifc', 'a/old/model.ifc', 'a/notes.txt']);
    const files = await matchFiles(['**/*.ifc', 'a/model.ifc', '!a/old/**'], { workspace: ws, includeHiddenFiles: false });
    expect(files.map((f) => f.path)).toEqual(['a/model.ifc', 'b/model.ifc']);
    expect(files[0]).toMatchObject({ name: 'model.ifc', ext: 'ifc', bytes: 'a/model.ifc'.length });
  });

  it('takes a directory pattern to mean every file below it, as upload-artifact does', async () => {
    const ws = await tree(['drawings/ga.pdf', 'drawings/sub/detail.pdf', 'other.pdf']);
    expect((await matchFiles(['drawings'], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['drawings/ga.pdf', 'drawings/sub/detail.pdf']);
  });

  it('leaves hidden files out unless asked', async () => {
    const ws = await tree(['.cache/x.step', 'y.step', '.z.step']);
    expect((await matchFiles(['**/*.step'], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['y.step']);
    expect((await matchFiles(['**/*.step'], { workspace: ws, includeHiddenFiles: true })).map((f) => f.path)).toEqual(['.cache/x.step', '.z.step', 'y.step']);
  });

  it('follows symlinks inside the workspace and refuses those that leave it', async () => {
    const outside = await tree(['secret.step']);
    const ws = await tree(['real/part.step']);
    await symlink(path.join(ws, 'real/part.step'), path.join(ws, 'link.step'));
    expect((await matchFiles(['*.step', 'real/*.step'], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['link.step', 'real/part.step']);
    await symlink(path.join(outside, 'secret.step'), path.join(ws, 'escape.step'));
    await expect(matchFiles(['*.step'], { workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/escape.step is a symbolic link to .* outside the workspace/);
  });

  it('reports odd but legal entries per file instead of dropping them or failing the others', async () => {
    const ws = await tree(['good/a.step', '..data/m.step']);
    await symlink(path.join(ws, 'nowhere.step'), path.join(ws, 'good/dangling.step'));
    await symlink(path.join(ws, 'good/loop.step'), path.join(ws, 'good/loop.step'));
    await writeFile(Buffer.concat([Buffer.from(`${ws}/good/bad`), Buffer.from([0xff, 0xfe]), Buffer.from('.step')]), 'x');
    const files = await matchFiles(['good/*.step', '..data/*.step'], { workspace: ws, includeHiddenFiles: true });
    const byPath = Object.fromEntries(files.map((f) => [f.path, f.problem ?? 'ok']));
    expect(byPath).toEqual({
      '..data/m.step': 'ok',
      'good/a.step': 'ok',
      'good/bad\uFFFD\uFFFD.step': expect.stringMatching(/not valid UTF-8/),
      'good/dangling.step': expect.stringMatching(/dangling/),
      'good/loop.step': expect.stringMatching(/loops/),
    });
    // `..data` is a folder name inside the workspace, not a way out of it.
    expect((await matchFiles(['..data/m.step'], { workspace: ws, includeHiddenFiles: true })).map((f) => f.path)).toEqual(['..data/m.step']);
  });

  it('refuses patterns that climb out of the workspace', async () => {
    const ws = await tree(['a.step']);
    await expect(matchFiles(['../**/*.step'], { workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/Input 'path'.*leads outside the workspace/);
    await expect(matchFiles(['/etc/*'], { workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/outside the workspace/);
  });

  it('splits files into shards that cover every file exactly once, stable as files come and go', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `models/m${i}.ifc`);
    const ws = await tree(names);
    const shards = await Promise.all([1, 2, 3, 4].map((k) => matchFiles(['models/*.ifc'], { workspace: ws, includeHiddenFiles: false, shard: { index: k, total: 4 } })));
    const all = shards.flatMap((s) => s.map((f) => f.path)).sort();
    expect(all).toEqual([...names].sort());
    for (const s of shards) expect(s.length).toBeGreaterThan(5);
    const before = new Map(shards.flatMap((s, k) => s.map((f) => [f.path, k + 1] as const)));
    for (const [name, k] of before) expect(shardOf(name, 4), name).toBe(k);
    // Remove a third of the files and add new ones: every file that stayed keeps its shard.
    const later = [...names.slice(20), ...Array.from({ length: 15 }, (_, i) => `models/new${i}.ifc`)];
    const ws2 = await tree(later);
    for (const k of [1, 2, 3, 4]) {
      for (const f of await matchFiles(['models/*.ifc'], { workspace: ws2, includeHiddenFiles: false, shard: { index: k, total: 4 } })) {
        if (before.has(f.path)) expect(before.get(f.path), f.path).toBe(k);
      }
    }
  });
});
