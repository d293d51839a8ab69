import { mkdir, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { matchFiles, matchPatterns, shardOf, withSize } from '../../src/files/match.js';

async function tree(files: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-match-'));
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), f);
  }
  return dir;
}

// What @actions/glob 0.7.0 (the action's matcher until issue 16) answered for these patterns on the tree below,
// recorded from it with the options the action gave it (followSymbolicLinks, implicitDescendants, no
// directories, excludeHiddenFiles unless asked); our own walk must answer the same.
const SAME_AS_ACTIONS_GLOB: [patterns: string[], visible: string[], withHidden: string[]][] = [
  [['**/*.ifc'], ['a/b/y.ifc', 'a/old/o.ifc', 'a/x.ifc', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc'], ['.hid/z.ifc', 'a/b/.h.ifc', 'a/b/y.ifc', 'a/old/o.ifc', 'a/x.ifc', 'd/lb/.h.ifc', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc']],
  [['**/*.ifc', '!a/old/**', 'a/old/o.ifc'], ['a/b/y.ifc', 'a/old/o.ifc', 'a/x.ifc', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc'], ['.hid/z.ifc', 'a/b/.h.ifc', 'a/b/y.ifc', 'a/old/o.ifc', 'a/x.ifc', 'd/lb/.h.ifc', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc']],
  [['a', '!a/b'], ['a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc'], ['a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc']],
  [['a/**', '!**/old'], ['a/b/c/d.step', 'a/b/y.ifc', 'a/x.ifc'], ['a/b/.h.ifc', 'a/b/c/d.step', 'a/b/y.ifc', 'a/x.ifc']],
  [['d'], ['d/e/f/g.pdf', 'd/lb/c/d.step', 'd/lb/y.ifc'], ['d/e/f/g.pdf', 'd/lb/.h.ifc', 'd/lb/c/d.step', 'd/lb/y.ifc']],
  [['**', '!node_modules/**', '!**/*.pdf'], ['a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step', 'd/lb/c/d.step', 'd/lb/y.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc'], ['.hid/z.ifc', 'a/b/.h.ifc', 'a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step', 'd/lb/.h.ifc', 'd/lb/c/d.step', 'd/lb/y.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc']],
  [['a/*/', 'c.step'], ['a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step'], ['a/b/.h.ifc', 'a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step']],
  [['**/*.step', '!a/**', 'a/b/**'], ['a/b/c/d.step', 'a/b/y.ifc', 'c.step', 'd/lb/c/d.step'], ['a/b/.h.ifc', 'a/b/c/d.step', 'a/b/y.ifc', 'c.step', 'd/lb/c/d.step']],
  [['x[1]/*', 'sp ace/*'], ['sp ace/a b.ifc'], ['sp ace/a b.ifc']],
  [['a/b/**/', '!a/b/c/'], ['a/b/y.ifc'], ['a/b/.h.ifc', 'a/b/y.ifc']],
  [['**/*.[is]*'], ['a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step', 'd/lb/c/d.step', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc'], ['.hid/z.ifc', 'a/b/.h.ifc', 'a/b/c/d.step', 'a/b/y.ifc', 'a/old/keep.step', 'a/old/o.ifc', 'a/x.ifc', 'c.step', 'd/lb/.h.ifc', 'd/lb/c/d.step', 'd/lb/y.ifc', 'node_modules/p/q.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc']],
  [['a/?/*.ifc'], ['a/b/y.ifc'], ['a/b/.h.ifc', 'a/b/y.ifc']],
  [['d/lb/*'], ['d/lb/c/d.step', 'd/lb/y.ifc'], ['d/lb/.h.ifc', 'd/lb/c/d.step', 'd/lb/y.ifc']],
  [['**/y.ifc', '!d/**'], ['a/b/y.ifc'], ['a/b/y.ifc']],
  [['d/**/*.ifc', '!d/e/**'], ['d/lb/y.ifc'], ['d/lb/.h.ifc', 'd/lb/y.ifc']],
  [['**/*.ifc', '!a/old', '!**/node_modules'], ['a/b/y.ifc', 'a/x.ifc', 'd/lb/y.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc'], ['.hid/z.ifc', 'a/b/.h.ifc', 'a/b/y.ifc', 'a/x.ifc', 'd/lb/.h.ifc', 'd/lb/y.ifc', 'sp ace/a b.ifc', 'x[1]/a.ifc']],
  [['a\\/x.ifc', 'c.ste[p]'], ['c.step'], ['c.step']],
];

async function globTree(): Promise<string> {
  const ws = await tree(['a/x.ifc', 'a/b/y.ifc', 'a/b/.h.ifc', '.hid/z.ifc', 'a/old/o.ifc', 'a/old/keep.step', 'c.step', 'd/e/f/g.pdf', 'node_modules/p/q.ifc', 'a/b/c/d.step', 'x[1]/a.ifc', 'sp ace/a b.ifc']);
  await symlink(path.join(ws, 'a/b'), path.join(ws, 'd/lb')); // a folder linked inside the workspace
  await symlink(path.join(ws, 'd'), path.join(ws, 'd/e/up')); // a link back up: a cycle, walked once
  return ws;
}

describe('matchFiles', () => {
  it('means by each pattern exactly what @actions/glob meant', async () => {
    const ws = await globTree();
    for (const [patterns, visible, withHidden] of SAME_AS_ACTIONS_GLOB) {
      expect((await matchFiles(patterns, { workspace: ws, includeHiddenFiles: false })).map((f) => f.path), JSON.stringify(patterns)).toEqual(visible);
      expect((await matchFiles(patterns, { workspace: ws, includeHiddenFiles: true })).map((f) => f.path), `${JSON.stringify(patterns)} with hidden files`).toEqual(withHidden);
    }
  });

  it('never walks into a folder an exclusion removes whole', async () => {
    const outside = await tree(['lib/secret.ifc']);
    const ws = await tree(['models/a.ifc', 'node_modules/pkg/b.ifc']);
    // Walking into node_modules would meet a link that leaves the workspace, and refuse it.
    await symlink(path.join(outside, 'lib'), path.join(ws, 'node_modules/pkg/escape'));
    await expect(matchFiles(['**/*.ifc'], { workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/node_modules\/pkg\/escape is a symbolic link to .* outside the workspace/);
    for (const exclusion of ['!node_modules/**', '!node_modules', '!**/node_modules/', '!node_modules/pkg']) {
      expect((await matchFiles(['**/*.ifc', exclusion], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path), exclusion).toEqual(['models/a.ifc']);
    }
    // An include line after the exclusion that reaches into the folder takes it back, so the folder is walked.
    await expect(matchFiles(['**/*.ifc', '!node_modules/**', 'node_modules/pkg/*.ifc'], { workspace: ws, includeHiddenFiles: false })).rejects.toThrow(/outside the workspace/);
  });

  it('names the include lines that match no file, from the same walk', async () => {
    const ws = await tree(['cad/a.step', 'cad/old/b.step', 'node_modules/x/c.step']);
    const options = { workspace: ws, includeHiddenFiles: false };
    // A line whose files an exclusion removed matched them: only the typo is named.
    expect((await matchPatterns(['cad/*.step', 'cad/*.stpe', 'cad/old/*.step', '!cad/old/**'], options)).unmatched).toEqual(['cad/*.stpe']);
    expect((await matchPatterns(['cad/*.step', 'node_modules/**/*.step', '!node_modules', 'docs/**'], options)).unmatched).toEqual(['docs/**']);
    expect((await matchPatterns(['cad/*.step', 'cad/**/*.step'], options)).unmatched).toEqual([]);
    // One include line: the no-files-found message already names it.
    expect(await matchPatterns(['cad/*.stpe'], options)).toEqual({ files: [], unmatched: [], matched: 0 });
    // Hidden files do not count unless asked for.
    const hidden = await tree(['m/.a.ifc', 'm/b.step']);
    expect((await matchPatterns(['m/*.step', 'm/*.ifc'], { workspace: hidden, includeHiddenFiles: false })).unmatched).toEqual(['m/*.ifc']);
    expect((await matchPatterns(['m/*.step', 'm/*.ifc'], { workspace: hidden, includeHiddenFiles: true })).unmatched).toEqual([]);
  });

  it('gives a large walk the files, each with its own size once sized (withSize), through a folder link too', async () => {
    // 60 folders x 100 files, typed by the folder listing alone (the walk stats no file); the sizes read after it.
    const ws = await mkdtemp(path.join(os.tmpdir(), 'mp-match-many-'));
    const expected: [string, number][] = [];
    for (let d = 0; d < 60; d++) {
      const dir = `m/d${String(d).padStart(2, '0')}`;
      await mkdir(path.join(ws, dir), { recursive: true });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const name = i % 10 === 9 ? `f${i}-draft.ifc` : i % 10 === 8 ? `.f${i}.ifc` : `f${i}.ifc`;
          const bytes = (d * 100 + i) % 97;
          if (i % 10 < 8) expected.push([`${dir}/${name}`, bytes]);
          return writeFile(path.join(ws, dir, name), Buffer.alloc(bytes, 1));
        }),
      );
    }
    await mkdir(path.join(ws, 'm/d00/sub'));
    await symlink(path.join(ws, 'm/d01'), path.join(ws, 'm/link')); // a folder linked inside: its files resolve into d01
    for (let i = 0; i < 100; i++) if (i % 10 < 8) expected.push([`m/link/f${i}.ifc`, (100 + i) % 97]);
    expected.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const files = await matchFiles(['m/**/*.ifc', '!**/*-draft.ifc'], { workspace: ws, includeHiddenFiles: false });
    expect(files.every((f) => !('bytes' in f))).toBe(true);
    expect(files.map((f) => [f.path, withSize(f).bytes])).toEqual(expected);
    const linked = files.find((f) => f.path === 'm/link/f3.ifc')!;
    expect(linked.absolutePath).toBe(path.join(await realpath(ws), 'm/d01/f3.ifc'));
  });

  it('matches, excludes with !, drops directories, sorts and deduplicates', async () => {
    const ws = await tree(['b/model.ifc', 'a/model.ifc', 'a/old/model.ifc', 'a/notes.txt']);
    const files = await matchFiles(['**/*.ifc', 'a/model.ifc', '!a/old/**'], { workspace: ws, includeHiddenFiles: false });
    expect(files.map((f) => f.path)).toEqual(['a/model.ifc', 'b/model.ifc']);
    expect(files[0]).toMatchObject({ name: 'model.ifc', ext: 'ifc' });
    expect(withSize(files[0]!)).toMatchObject({ path: 'a/model.ifc', bytes: 'a/model.ifc'.length });
  });

  it('sizes a matched file when asked, and throws for one gone or replaced by a folder since the walk', async () => {
    const ws = await tree(['m/a.ifc', 'm/b.ifc', 'm/c.ifc']);
    const [a, b, c] = await matchFiles(['m/*.ifc'], { workspace: ws, includeHiddenFiles: false });
    await rm(path.join(ws, 'm/b.ifc'));
    await rm(path.join(ws, 'm/c.ifc'));
    await mkdir(path.join(ws, 'm/c.ifc'));
    expect(withSize(a!).bytes).toBe('m/a.ifc'.length);
    expect(() => withSize(b!)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => withSize(c!)).toThrow(/no longer a file/);
  });

  it('takes a directory pattern to mean every file below it, as upload-artifact does', async () => {
    const ws = await tree(['drawings/ga.pdf', 'drawings/sub/detail.pdf', 'other.pdf']);
    expect((await matchFiles(['drawings'], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['drawings/ga.pdf', 'drawings/sub/detail.pdf']);
  });

  it('leaves hidden files out unless asked', async () => {
    const ws = await tree(['.cache/x.step', 'y.step', '.z.step']);
    expect((await matchFiles(['**/*.step'], { workspace: ws, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['y.step']);
    expect((await matchFiles(['**/*.step'], { workspace: ws, includeHiddenFiles: true })).map((f) => f.path)).toEqual(['.cache/x.step', '.z.step', 'y.step']);
    // A folder the pattern spells out is asked for, hidden or not; what the walk finds below it is not.
    const named = await tree(['.github/a.step', '.github/.b.step', '.github/c/.d/e.step', '.github/c/f.step']);
    expect((await matchFiles(['.github/*', '.github/c/*/*'], { workspace: named, includeHiddenFiles: false })).map((f) => f.path)).toEqual(['.github/a.step', '.github/c/f.step']);
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
    // Each shard knows how many files the N shards share: what the merge step checks their union against.
    const counts = await Promise.all([1, 2, 3, 4].map(async (k) => (await matchPatterns(['models/*.ifc'], { workspace: ws, includeHiddenFiles: false, shard: { index: k, total: 4 } })).matched));
    expect(counts).toEqual([60, 60, 60, 60]);
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
