// changed-since against real git repositories: what git names as changed is what is kept, whatever the names
// hold (a newline, bytes that are not UTF-8); a workspace below the repository's top; and the refusals that come
// before anything is sent (a shallow clone, no repository, a value that would be an option).
import { chown, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { changeOf, changesSince, COMMIT_INPUT, NO_COMMIT } from '../../src/files/changed.js';
import { matchFiles } from '../../src/files/match.js';
import { commitAll, git, writeTree } from '../support/git.js';

const signal = new AbortController().signal;
const NOT_UTF8 = Buffer.concat([Buffer.from('caf'), Buffer.from([0xe9]), Buffer.from('.step')]);

async function repository() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-git-'));
  git(dir, 'init', '-q');
  await writeTree(dir, {
    'keep.step': 'keep v1',
    'mod.step': 'mod v1',
    'old.step': 'renamed, same bytes',
    'del.step': 'deleted',
    'new\nline.step': 'newline v1',
    'models/a/sheet.step': 'sheet v1',
    'models/b/sheet.step': 'sheet v1',
  });
  await writeFile(Buffer.concat([Buffer.from(`${dir}/`), NOT_UTF8]), 'not utf-8, unchanged');
  await symlink('keep.step', path.join(dir, 'link.step'));
  const first = commitAll(dir, 'first');
  await writeTree(dir, { 'mod.step': 'mod v2', 'del.step': null, 'add.step': 'added', 'new\nline.step': 'newline v2', 'models/b/sheet.step': 'sheet v2' });
  git(dir, 'mv', 'old.step', 'renamed.step');
  const second = commitAll(dir, 'second');
  // Made by the workflow after checkout: git does not track it.
  await writeTree(dir, { 'generated.step': 'made in CI' });
  return { dir, first, second };
}

describe('changed-since', async () => {
  const repo = await repository();

  it('keeps exactly what git names as changed, and what git cannot show unchanged', async () => {
    const set = await changesSince(repo.first, repo.dir, signal);
    expect(set.commit).toBe(repo.first);
    const files = await matchFiles(['**/*.step'], { workspace: repo.dir, includeHiddenFiles: false });
    const by = Object.fromEntries(files.map((f) => [f.path, changeOf(set, f)]));
    expect(by).toEqual({
      'add.step': 'changed',
      'caf\uFFFD.step': 'unchanged',
      'generated.step': 'untracked',
      'keep.step': 'unchanged',
      'link.step': 'through-link',
      'mod.step': 'changed',
      'models/a/sheet.step': 'unchanged',
      'models/b/sheet.step': 'changed',
      'new\nline.step': 'changed',
      'renamed.step': 'changed',
    });
  });

  it('maps paths when the workspace is a folder of the repository', async () => {
    const workspace = path.join(repo.dir, 'models');
    const set = await changesSince('HEAD~1', workspace, signal);
    const files = await matchFiles(['**/*.step'], { workspace, includeHiddenFiles: false });
    expect(files.map((f) => [f.path, changeOf(set, f)])).toEqual([
      ['a/sheet.step', 'unchanged'],
      ['b/sheet.step', 'changed'],
    ]);
  });

  it('refuses a commit a shallow clone lacks, naming fetch-depth', async () => {
    const shallow = path.join(await mkdtemp(path.join(os.tmpdir(), 'mp-git-')), 'clone');
    git(path.dirname(shallow), 'clone', '-q', '--depth', '1', `file://${repo.dir}`, shallow);
    await expect(changesSince(repo.first, shallow, signal)).rejects.toThrow(
      new RegExp(`^Input 'changed-since': commit ${repo.first} is not in this checkout's history: the clone is shallow .*set fetch-depth: 0 on actions/checkout`),
    );
    await expect(changesSince('no-such-branch', repo.dir, signal)).rejects.toThrow(/^Input 'changed-since': commit no-such-branch is not in this checkout's history \(no branch or tag .*fetch-depth: 0/);
  });

  it('refuses a workspace that is not a git checkout', async () => {
    const plain = await mkdtemp(path.join(os.tmpdir(), 'mp-nogit-'));
    await expect(changesSince('HEAD~1', plain, signal)).rejects.toThrow(/^Input 'changed-since': needs a git checkout, and the workspace .* is not one \(git: fatal: not a git repository/);
  });

  it.skipIf(process.getuid?.() !== 0)('says how to trust a checkout owned by another user (container jobs)', async ({ onTestFinished }) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-dubious-'));
    git(dir, 'init', '-q');
    await chown(dir, 65534, 65534);
    await chown(path.join(dir, '.git'), 65534, 65534);
    // Whatever this machine's own git configuration trusts (a safe.directory = * would hide the refusal).
    const saved = { global: process.env['GIT_CONFIG_GLOBAL'], system: process.env['GIT_CONFIG_NOSYSTEM'] };
    process.env['GIT_CONFIG_GLOBAL'] = '/dev/null';
    process.env['GIT_CONFIG_NOSYSTEM'] = '1';
    onTestFinished(() => {
      for (const [key, value] of [['GIT_CONFIG_GLOBAL', saved.global], ['GIT_CONFIG_NOSYSTEM', saved.system]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });
    await expect(changesSince('HEAD~1', dir, signal)).rejects.toThrow(/^Input 'changed-since': git refuses to read the checkout at .*: it belongs to another user .*safe\.directory "\$GITHUB_WORKSPACE"/);
  });

  it('takes SHAs and refs, never an option or a range', () => {
    for (const ok of ['0123abc', repo.first, 'main', 'origin/main', 'v1.2.3', 'HEAD~1', 'HEAD^', 'release/2026-11']) expect(COMMIT_INPUT.test(ok), ok).toBe(true);
    for (const bad of ['-x', '--output=/tmp/x', 'a b', 'main:file', '', 'a\nb']) expect(COMMIT_INPUT.test(bad), bad).toBe(false);
    expect(NO_COMMIT.test('0'.repeat(40))).toBe(true);
    const parse = (value: string) => parseConfig({ INPUT_PROVIDER: 'arcnm', INPUT_PATH: '*.step', INPUT_TOKEN: 'ak_test_123456', GITHUB_WORKSPACE: '/tmp', 'INPUT_CHANGED-SINCE': value });
    expect(parse('HEAD~1').run.changedSince).toBe('HEAD~1');
    expect(parse('').run.changedSince).toBeUndefined();
    expect(() => parse('--output=/tmp/x')).toThrow(/^Input 'changed-since': got "--output=\/tmp\/x"; expected a commit SHA or a ref/);
  });
});
