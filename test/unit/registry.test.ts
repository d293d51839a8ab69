// The provider registry (src/providers/index.ts) is the only list of providers: action.yml's provider input,
// the command line's help and the inputs each provider reads must all agree with it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { helpText } from '../../src/cli-args.js';
import { providerIds, providers } from '../../src/providers/index.js';
import { ROOT } from '../support/action.js';

describe('the provider registry', async () => {
  const yml = parse(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { description: string }> };

  it('lists each provider once', () => {
    expect(providerIds()).toEqual([...new Set(providerIds())]);
    expect(providerIds().length).toBeGreaterThan(0);
  });

  it("is action.yml's list of providers, in order", () => {
    // The first sentence lists them (a second says when the input may be left out: merge-results).
    const listed = yml.inputs['provider']!.description.match(/^Where to publish: (.*?)\.(?: |$)/)?.[1];
    expect(listed?.split(/, | or /)).toEqual(providerIds());
  });

  it("is the command line's list of providers", () => {
    expect(helpText('9.9.9')).toContain(`--provider <${providerIds().join('|')}>`);
  });

  it("names only inputs action.yml documents, and each provider's token variable in the token input", () => {
    for (const p of providers) {
      for (const input of p.inputs) expect(Object.keys(yml.inputs), `${p.id} reads ${input}`).toContain(input);
      expect(yml.inputs['token']!.description).toContain(p.tokenEnv);
    }
  });
});
