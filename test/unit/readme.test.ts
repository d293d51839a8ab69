// The README's inputs and outputs tables must say what action.yml says: same names, same defaults, same
// descriptions; and its error-code table must list exactly the codes of src/core/error-codes.ts. Regenerate them
// with `npx tsx test/support/tables.ts` after changing action.yml or the codes.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/error-codes.js';
import { ROOT } from '../support/action.js';
import { errorCodesTable, inputsTable, outputsTable } from '../support/tables.js';

describe('README', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  it('has the inputs table of action.yml', async () => expect(readme).toContain(await inputsTable()));
  it('has the outputs table of action.yml', async () => expect(readme).toContain(await outputsTable()));
  it('has the table of every error code, equal to src/core/error-codes.ts', () => {
    expect(readme).toContain(errorCodesTable());
    // No other code is documented as one: every `code` named in the error-code section is in the list.
    const section = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('\n## ', readme.indexOf('### Error codes')));
    const named = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(named).toEqual(Object.keys(ERROR_CODES));
  });
  it('gives the two quick-start commands', () => {
    expect(readme).toMatch(/npm ci && npm run demo/);
    expect(readme).toMatch(/npm ci && npm test/);
  });
});
