// changed-since end to end: the bundle, run as the runner runs it in a real git repository with two commits,
// publishes exactly the files `git diff` names between the commit and HEAD, byte for byte, and nothing else;
// a commit a shallow clone lacks stops the run before any request, with the fetch-depth fix; all zeros (a
// branch's first push) publishes everything; shards split the changed files without losing or doubling one.
import { execFileSync } from 'node:child_process';
import { mkdtemp, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODES, makeWorkspace, runAction } from '../support/action.js';
import { expectArcnmHolds, startArcnm, type ArcnmFixture } from '../support/arcnm.js';
import { commitAll, git, writeTree } from '../support/git.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_changedsince000000000';
let fixture: ArcnmFixture;
beforeAll(async () => {
  fixture = await startArcnm(API_KEY);
});
afterAll(() => fixture.close());

/** A repository with two commits: added, modified, renamed, unchanged, deleted files, a link, and a newline in a name. */
async function repository() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-git-e2e-'));
  git(dir, 'init', '-q');
  await writeTree(dir, {
    'cad/keep.step': samples.step('keep.step'),
    'cad/mod.step': samples.step('mod.step'),
    'cad/old.step': samples.step('moved.step'),
    'cad/gone.step': samples.step('gone.step'),
    'cad/two\nlines.step': samples.step('two lines'),
    'cad/sub/deep.step': samples.step('deep.step'),
    'docs/readme.pdf': samples.pdf('not matched'),
  });
  await symlink('keep.step', path.join(dir, 'cad/alias.step'));
  const first = commitAll(dir, 'first');
  await writeTree(dir, {
    'cad/mod.step': samples.step('mod.step, second version'),
    'cad/gone.step': null,
    'cad/added.step': samples.step('added.step'),
    'cad/two\nlines.step': samples.step('two lines, second version'),
    'docs/readme.pdf': samples.pdf('changed, not matched'),
  });
  git(dir, 'mv', 'cad/old.step', 'cad/renamed.step');
  const second = commitAll(dir, 'second');
  return { dir, first, second };
}

/** What git itself says changed between the commit and HEAD, below cad/: the files a run must publish. */
function gitDiff(dir: string, since: string): string[] {
  const out = execFileSync('git', ['diff', '--name-only', '-z', '--no-renames', '--diff-filter=d', since, 'HEAD', '--', 'cad'], { cwd: dir });
  return out.toString('utf8').split('\0').filter((p) => p !== '').sort();
}

// skip-unchanged off: every test (and each Node) publishes the same sample bytes to one emulator, and this file is
// about what changed-since keeps; the last test of the first block shows the two together.
const inputs = (extra: Record<string, string>) => ({ provider: 'arcnm', path: 'cad/**/*.step', 'server-url': fixture.arcnm.url, token: API_KEY, 'skip-unchanged': 'false', ...extra });

describe.each(NODES)('changed-since end to end ($name)', ({ bin }) => {
  it('publishes exactly the files git diff names, byte for byte, and says how many were left out', async () => {
    const repo = await repository();
    const expected = gitDiff(repo.dir, repo.first);
    // Not a tautology: the diff names the added, modified, renamed-to and newline files, and not the rest.
    expect(expected).toEqual(['cad/added.step', 'cad/mod.step', 'cad/renamed.step', 'cad/two\nlines.step']);
    const before = new Set(fixture.arcnm.uploads.keys());
    const run = await runAction(inputs({ 'changed-since': repo.first }), { workspace: repo.dir, node: bin });
    expect(run.exitCode, run.stdout).toBe(0);
    // The link is published too: git tracks the link, not the bytes it leads to, so it cannot be shown unchanged.
    expect(run.results.map((r) => r['path'])).toEqual(['cad/added.step', 'cad/alias.step', 'cad/mod.step', 'cad/renamed.step', 'cad/two\nlines.step']);
    expect(run.results.every((r) => r['status'] === 'succeeded')).toBe(true);
    await expectArcnmHolds(fixture, repo.dir, run.results);
    const made = [...fixture.arcnm.uploads.values()].filter((u) => !before.has(u.id));
    expect(made.map((u) => u.name).sort()).toEqual(['added.step', 'alias.step', 'mod.step', 'renamed.step', 'two\nlines.step']);
    expect(run.stdout).toContain(`changed-since ${repo.first} (commit ${repo.first.slice(0, 12)}): 4 of 7 matched file(s) changed, 1 reached through a symbolic link (published: git cannot show them unchanged); 2 unchanged, left out`);
    expect(run.summary).toContain(`2 matched file(s) unchanged since <code>${repo.first}</code> left out (changed-since)`);

    // With skip-unchanged (the default), the same run again keeps the same files, finds ARCNM holds each, and sends
    // nothing: the two narrowings compose.
    const uploads = fixture.arcnm.uploads.size;
    const again = await runAction(inputs({ 'changed-since': repo.first, 'skip-unchanged': 'true' }), { workspace: repo.dir, node: bin });
    expect(again.exitCode, again.stdout).toBe(0);
    // ARCNM's list names the upload (its data source), not the job that checked it: that is the ID a skip reuses.
    expect(again.results.map((r) => [r['path'], r['status'], r['reason'], r['dataSourceId']])).toEqual(run.results.map((r) => [r['path'], 'skipped', 'unchanged', r['dataSourceId']]));
    expect(fixture.arcnm.uploads.size).toBe(uploads);
    expect(again.outputs['skipped-count']).toBe('5');
  });

  it('refuses a commit the shallow clone lacks before any request, naming fetch-depth', async () => {
    const repo = await repository();
    const clone = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-shallow-')), 'checkout');
    git(path.dirname(clone), 'clone', '-q', '--depth', '1', `file://${repo.dir}`, clone);
    const requests = fixture.arcnm.requests.length + fixture.blob.requests.length;
    const run = await runAction(inputs({ 'changed-since': repo.first }), { workspace: clone, node: bin });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`::error::Input 'changed-since': commit ${repo.first} is not in this checkout's history: the clone is shallow .*set fetch-depth: 0 on actions/checkout`));
    expect(fixture.arcnm.requests.length + fixture.blob.requests.length).toBe(requests);
    expect(run.results).toEqual([]);
  });

  it('publishes every matched file when the commit is all zeros (the first push of a branch), and says why', async () => {
    const repo = await repository();
    const run = await runAction(inputs({ 'changed-since': '0'.repeat(40) }), { workspace: repo.dir, node: bin });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.results.map((r) => r['path'])).toEqual(['cad/added.step', 'cad/alias.step', 'cad/keep.step', 'cad/mod.step', 'cad/renamed.step', 'cad/sub/deep.step', 'cad/two\nlines.step']);
    await expectArcnmHolds(fixture, repo.dir, run.results);
    expect(run.stdout).toContain('(all zeros: github.event.before on the first push of a branch or tag, when there is no earlier commit to compare with): publishing every matched file');
  });
});

describe('changed-since with shards and without git', () => {
  it('splits the changed files over shards, each exactly once, and succeeds when nothing changed', async () => {
    const repo = await repository();
    const runs = await Promise.all(['1/2', '2/2'].map((shard) => runAction(inputs({ 'changed-since': 'HEAD~1', shard, 'if-no-files-found': 'ignore' }), { workspace: repo.dir })));
    for (const run of runs) expect(run.exitCode, run.stdout).toBe(0);
    const published = runs.flatMap((r) => r.results.map((x) => x['path'] as string)).sort();
    expect(published).toEqual([...gitDiff(repo.dir, 'HEAD~1'), 'cad/alias.step'].sort());
    await expectArcnmHolds(fixture, repo.dir, runs.flatMap((r) => r.results));
    // HEAD against itself: nothing changed, nothing sent, and the step passes.
    const requests = fixture.arcnm.requests.length;
    const none = await runAction(inputs({ 'changed-since': repo.second, path: 'cad/keep.step' }), { workspace: repo.dir });
    expect(none.exitCode, none.stdout).toBe(0);
    expect(none.stdout).toContain('nothing to publish: none of the 1 matched file(s) changed since');
    expect(none.results).toEqual([]);
    expect(fixture.arcnm.requests.length).toBe(requests);
  });

  it('names changed-since when the workspace is not a git checkout', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
    const requests = fixture.arcnm.requests.length;
    const run = await runAction(inputs({ 'changed-since': 'HEAD~1' }), { workspace: ws });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::Input 'changed-since': needs a git checkout, and the workspace .* is not one/);
    expect(fixture.arcnm.requests.length).toBe(requests);
  });
});
