// What a release needs: an MIT LICENSE as package.json says, a CHANGELOG section for the version the release
// workflow will tag, and one version everywhere (the user agent and --version read package.json at build time).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT } from '../support/action.js';
import { USER_AGENT, VERSION } from '../../src/version.js';

const read = (f: string) => readFile(path.join(ROOT, f), 'utf8');

describe('release', async () => {
  const pkg = JSON.parse(await read('package.json')) as { version: string; license: string };
  it('has the license package.json names', async () => {
    expect(pkg.license).toBe('MIT');
    expect(await read('LICENSE')).toMatch(/^MIT License\n/);
  });
  it('has a CHANGELOG section for the version in package.json', async () => {
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await read('CHANGELOG.md')).toContain(`\n## [${pkg.version}]\n`);
  });
  it('sends the version of package.json in the user agent', () => {
    expect(VERSION).toBe(pkg.version);
    expect(USER_AGENT).toBe(`model-publisher/${pkg.version}`);
  });
  it('has a release workflow that tags vX.Y.Z, moves vN, and may write tags', async () => {
    const wf = parse(await read('.github/workflows/release.yml')) as any;
    expect(wf.permissions).toEqual({ contents: 'write' });
    const script = (wf.jobs.release.steps as { run?: string }[]).map((s) => s.run ?? '').join('\n');
    expect(script).toContain('git tag -a "v$VERSION"');
    expect(script).toContain('git push --force origin "$MAJOR"');
    expect(script).toMatch(/major=v\$\{version%%\.\*\}/);
  });
});
