// The matching section of `npm run bench` (issue 16 item 6): the action's walk (src/files/match.ts) over 50,000
// files beside `find <root> -type f | sort`, the floor: the file system listed by a C program that stats
// nothing it need not, then sorted. Both in the same run, interleaved, after one untimed round that warms the
// kernel's caches for both alike.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { matchFiles } from '../../src/files/match.js';

export const MATCH_PATTERNS = ['models/**/*.ifc', 'models/**/*.step', '!node_modules/**', '!**/*-draft.*'];

export interface MatchTree {
  root: string;
  files: number;
  /** Files the patterns take: neither hidden, nor below node_modules, nor drafts, nor other extensions. */
  expected: number;
}

/**
 * 500 folders x 100 files: 450 under models/ (per folder 60 .ifc, 30 .step, 4 drafts, 3 .txt, 3 hidden) and 50
 * under node_modules/ (excluded whole by `!node_modules/**`, so never walked; `find` lists them).
 */
export async function makeMatchTree(root: string): Promise<MatchTree> {
  let files = 0;
  let expected = 0;
  for (let d = 0; d < 500; d++) {
    const dir = d < 450 ? path.join(root, 'models', `site-${String(d).padStart(3, '0')}`) : path.join(root, 'node_modules', `pkg-${d}`, 'lib');
    await mkdir(dir, { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 100; i++) {
      const ext = i < 60 ? 'ifc' : i < 90 ? 'step' : i < 94 ? 'ifc' : i < 97 ? 'txt' : 'ifc';
      const name = i >= 97 ? `.hidden-${i}.${ext}` : i >= 90 && i < 94 ? `part-${i}-draft.${ext}` : `part-${i}.${ext}`;
      names.push(name);
      if (d < 450 && i < 90) expected++;
    }
    await Promise.all(names.map((n) => writeFile(path.join(dir, n), 'x')));
    files += names.length;
  }
  return { root, files, expected };
}

function findSorted(root: string): Promise<{ ms: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    // LC_ALL=C: byte order, as our list is sorted, and no locale collation cost charged to the floor.
    const child = spawn('sh', ['-c', 'find "$1" -type f | sort', 'sh', root], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let lines = 0;
    child.stdout.on('data', (c: Buffer) => {
      for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: performance.now() - t, lines }) : reject(new Error(`find | sort exited ${code}`))));
  });
}

async function ours(tree: MatchTree): Promise<number> {
  const t = performance.now();
  const files = await matchFiles(MATCH_PATTERNS, { workspace: tree.root, includeHiddenFiles: false });
  const ms = performance.now() - t;
  if (files.length !== tree.expected) throw new Error(`match: ${files.length} files matched, expected ${tree.expected}`);
  return ms;
}

export async function benchMatchRuns(tree: MatchTree, reps: number, progress: (m: string) => void): Promise<{ oursMs: number[]; findMs: number[] }> {
  const found = await findSorted(tree.root);
  if (found.lines !== tree.files) throw new Error(`find listed ${found.lines} files, expected ${tree.files}`);
  await ours(tree);
  const oursMs: number[] = [];
  const findMs: number[] = [];
  for (let i = 1; i <= reps; i++) {
    progress(`match: run ${i}/${reps}`);
    // Interleaved, alternating which goes first, so a burst of other work hits both alike.
    if (i % 2) {
      findMs.push((await findSorted(tree.root)).ms);
      oursMs.push(await ours(tree));
    } else {
      oursMs.push(await ours(tree));
      findMs.push((await findSorted(tree.root)).ms);
    }
  }
  return { oursMs, findMs };
}
