// The README's inputs and outputs tables must say what action.yml says: same names, same defaults, same
// descriptions. Regenerate them with `npx tsx test/support/tables.ts` after changing action.yml.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/action.js';
import { inputsTable, outputsTable } from '../support/tables.js';

describe('README', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  it('has the inputs table of action.yml', async () => expect(readme).toContain(await inputsTable()));
  it('has the outputs table of action.yml', async () => expect(readme).toContain(await outputsTable()));
  it('gives the two quick-start commands', () => {
    expect(readme).toMatch(/npm ci && npm run demo/);
    expect(readme).toMatch(/npm ci && npm test/);
  });
});
