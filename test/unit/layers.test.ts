// Imports point down. Every module of src/ belongs to one layer; it may import its own group and any lower layer,
// never a higher one, and never a peer group of its own layer (the engine and the providers do not know each
// other; the command line does not load the GitHub edge). ARCHITECTURE.md draws the same picture.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/action.js';

/** Bottom to top: [group, layer, which modules (paths under src/)]. */
const GROUPS: [group: string, layer: number, member: (p: string) => boolean][] = [
  ['core', 0, (p) => p.startsWith('core/') || p === 'version.ts'],
  ['http', 1, (p) => p.startsWith('http/')],
  ['files', 1, (p) => p.startsWith('files/')],
  ['inputs', 1, (p) => p === 'inputs.ts'],
  ['engine', 2, (p) => p.startsWith('engine/')],
  ['providers', 2, (p) => p.startsWith('providers/')],
  ['run', 3, (p) => ['run.ts', 'run-failure.ts', 'config.ts', 'action-inputs.ts', 'cli-args.ts', 'results.ts', 'results-file.ts', 'merge.ts'].includes(p)],
  ['github', 4, (p) => p.startsWith('github/')],
  ['cli', 4, (p) => p === 'cli.ts'],
  ['main', 5, (p) => p === 'main.ts'],
  ['entry', 6, (p) => p === 'index.ts'],
];

const SRC = path.join(ROOT, 'src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (entry.name.endsWith('.ts')) out.push(path.relative(SRC, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function groupOf(p: string): { group: string; layer: number } {
  const found = GROUPS.find(([, , member]) => member(p));
  if (!found) throw new Error(`src/${p} belongs to no layer: add it to GROUPS in test/unit/layers.test.ts (and to ARCHITECTURE.md)`);
  return { group: found[0], layer: found[1] };
}

/** The relative modules a file imports (static, re-exports and dynamic), as paths under src/. */
function importsOf(p: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  // Only modules of src/ (package.json, read at build time for the version, is data; a package's own module
  // reached by path, as github/actions-core.ts reaches @actions/core's, is a package's).
  return specs.filter((s) => s.startsWith('.') && s.endsWith('.js') && !s.includes('/node_modules/')).map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(p), s)).replace(/\.js$/, '.ts'));
}

describe('layers', async () => {
  const files = await sources(SRC);

  it('puts every module of src/ in a layer', () => {
    for (const f of files) expect(() => groupOf(f)).not.toThrow();
  });

  it('finds the imports it checks (the parser is not blind)', async () => {
    const run = await readFile(path.join(SRC, 'run.ts'), 'utf8');
    expect(importsOf('run.ts', run)).toEqual(expect.arrayContaining(['engine/engine.ts', 'core/errors.ts', 'http/client.ts']));
    const main = await readFile(path.join(SRC, 'main.ts'), 'utf8');
    expect(importsOf('main.ts', main)).toContain('github/comment.ts');
  });

  it('has no import that points up or sideways', async () => {
    const wrong: string[] = [];
    for (const f of files) {
      const from = groupOf(f);
      for (const target of importsOf(f, await readFile(path.join(SRC, f), 'utf8'))) {
        expect(files, `src/${f} imports src/${target}, which does not exist`).toContain(target);
        const to = groupOf(target);
        if (to.group === from.group) continue;
        if (to.layer >= from.layer) wrong.push(`src/${f} (${from.group}, layer ${from.layer}) imports src/${target} (${to.group}, layer ${to.layer})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps GitHub to the edge: only main.ts and github/ load @actions/core or @actions/github', async () => {
    const loaders: string[] = [];
    for (const f of files) {
      if (/['"](?:[./]*\/node_modules\/)?@actions\/(core|github)(?:\/[^'"]*)?['"]/.test(await readFile(path.join(SRC, f), 'utf8'))) loaders.push(f);
    }
    expect(loaders.filter((f) => f !== 'main.ts' && !f.startsWith('github/'))).toEqual([]);
    // The parser sees a package's module reached by path (github/actions-core.ts, @actions/core without its index).
    expect(loaders).toEqual(expect.arrayContaining(['github/actions-core.ts', 'github/comment.ts']));
  });

  it('takes zod through core/schema.ts alone (zod/mini): one classic import would bring zod\'s whole classic API into the bundle', async () => {
    const direct: string[] = [];
    for (const f of files) if (/from\s*['"]zod(?:\/[^'"]*)?['"]/.test(await readFile(path.join(SRC, f), 'utf8'))) direct.push(f);
    expect(direct).toEqual(['core/schema.ts']);
  });
});
