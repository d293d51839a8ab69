// The command-line program: the same engine and providers, settings from flags or MODEL_PUBLISHER_* variables.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArcnmEmulator } from '../emulators/arcnm.js';
import { expectArcnmHolds, startArcnm, type ArcnmFixture } from '../support/arcnm.js';
import { ROOT, makeWorkspace, runCli } from '../support/action.js';
import * as samples from '../support/samples.js';
import { commitAll, git, writeTree } from '../support/git.js';
import { parse } from 'yaml';
import { INPUTS } from '../../src/action-inputs.js';

const API_KEY = 'ak_test_cli00000000000000000';
let fixture: ArcnmFixture;
let arcnm: ArcnmEmulator;
beforeAll(async () => {
  fixture = await startArcnm(API_KEY);
  arcnm = fixture.arcnm;
});
afterAll(() => fixture.close());

const cli = runCli;

describe('command line', () => {
  it('takes --changed-since and --name like the inputs: only the changed file, under its path', async ({ onTestFinished }) => {
    const ws = await mkdtemp(path.join(os.tmpdir(), 'mp-cli-git-'));
    git(ws, 'init', '-q');
    await writeTree(ws, { 'cad/a/part.step': samples.step('a v1'), 'cad/b/part.step': samples.step('b v1') });
    commitAll(ws, 'first');
    await writeTree(ws, { 'cad/b/part.step': samples.step('b v2') });
    commitAll(ws, 'second');
    // Its own ARCNM: the other tests count the shared one's presigns.
    const own = await startArcnm(API_KEY);
    onTestFinished(() => own.close());
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/**/*.step', '--server-url', own.arcnm.url, '--changed-since', 'HEAD~1', '--name', '{path}'], { ARCNM_API_KEY: API_KEY }, ws);
    expect(run.code, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout);
    expect(results.map((r: { path: string; status: string }) => [r.path, r.status])).toEqual([['cad/b/part.step', 'succeeded']]);
    await expectArcnmHolds(own, ws, results, undefined, (p) => p);
    expect([...own.arcnm.uploads.values()].map((u) => u.name)).toEqual(['cad/b/part.step']);
    expect(run.stderr).toMatch(/1 matched file\(s\) unchanged since HEAD~1 \([0-9a-f]{12}\) left out \(changed-since\)/);
    const bad = await cli(['--provider', 'arcnm', '--path', 'cad/**/*.step', '--changed-since=--output=/tmp/x'], { ARCNM_API_KEY: API_KEY }, ws);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`error: Input 'changed-since': got "--output=/tmp/x"; expected a commit SHA or a ref`);
  });

  it('publishes with flags and environment variables, printing JSON results and a plain summary', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/b.stl': samples.stlBinary(), 'cad/bad.stl': 'solid nope' });
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*.step', '--path=cad/*.stl', '--server-url', arcnm.url], { ARCNM_API_KEY: API_KEY, MODEL_PUBLISHER_CONCURRENCY: '2' }, ws);
    expect(run.code, run.stderr).toBe(1);
    const results = JSON.parse(run.stdout);
    expect(results.map((r: { path: string; status: string }) => [r.path, r.status])).toEqual([
      ['cad/a.step', 'succeeded'],
      ['cad/b.stl', 'succeeded'],
      ['cad/bad.stl', 'failed'],
    ]);
    await expectArcnmHolds(fixture, ws, results);
    expect(run.stderr).toMatch(/succeeded\s+cad\/a.step\s+572 B\s+job job_/);
    expect(run.stderr).toMatch(/2 of 3 file\(s\) published/);
    expect(arcnm.stats.presigns).toBe(2);
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
    expect(run.stdout + run.stderr).not.toMatch(/X-Amz-Signature=[0-9a-f]/);
  });

  it('prints the results JSON on stdout and nothing else, even with the runner debug switches on', async () => {
    // Exclusions, a hidden folder, several pattern lines (one of them a typo, warned about on stderr) and a link:
    // every path through matching, with the switches that make @actions/core print `::debug::` lines.
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/old/b.step': samples.step('b.step'), '.cache/c.step': samples.step('c.step') });
    const run = await cli(
      // skip-unchanged off: other tests of this file publish the same sample to the same emulator.
      ['--provider', 'arcnm', '--path', 'cad/**/*.step', '--path', '!cad/old/**', '--path', 'cad/*.stpe', '--server-url', arcnm.url, '--skip-unchanged', 'false'],
      { ARCNM_API_KEY: API_KEY, RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true', GITHUB_ACTIONS: 'true' },
      ws,
    );
    expect(run.code, run.stderr).toBe(0);
    const results = JSON.parse(run.stdout) as { path: string; status: string }[];
    expect(results.map((r) => [r.path, r.status])).toEqual([['cad/a.step', 'succeeded']]);
    expect(run.stdout).toBe(`${JSON.stringify(results)}\n`);
    expect(run.stderr).toMatch(/warning: pattern "cad\/\*\.stpe" in path matched no file/);
    expect(run.stderr).not.toMatch(/^::/m);
  });

  it('names the bad flag and exits 2 before any request', async () => {
    const before = arcnm.requests.length;
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*', '--concurrency', '99'], { ARCNM_API_KEY: API_KEY }, ROOT);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Input 'concurrency'.*1 to 32/);
    expect(arcnm.requests.length).toBe(before);
    // Bad input found only once the files are looked at is bad input too.
    const none = await cli(['--provider', 'arcnm', '--path', 'nothing/*.step', '--server-url', arcnm.url], { ARCNM_API_KEY: API_KEY }, ROOT);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/Input 'path': no files matched/);
    expect(arcnm.requests.length).toBe(before);
  });
});

describe('command line: strict flags', () => {
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  it.each([
    { args: ['--provider', 'arcnm', '--path', 'cad/*.step', '--dryrun', 'true'], code: 2, stderr: /unknown flag "--dryrun"; did you mean --dry-run\?/ },
    { args: ['--provider', 'arcnm', '--path', 'cad/*.step', '--projectid', 'p'], code: 2, stderr: /unknown flag "--projectid"; did you mean --project-id\?/ },
    { args: ['--provider', 'arcnm', '--path', 'cad/*.step', '-n'], code: 2, stderr: /unknown flag "-n"/ },
    { args: ['--provider', 'arcnm', '--path', 'cad/*.step', '--comment-on-pr', 'true'], code: 2, stderr: /unknown flag "--comment-on-pr"/ },
    { args: ['--provider', 'arcnm', '--path'], code: 2, stderr: /--path needs a value, e.g. --path 'models\/\*\*\/\*\.ifc'/ },
    { args: ['--provider', '--path', 'cad/*.step'], code: 2, stderr: /--provider needs a value/ },
    { args: ['--provider', 'arcnm', '--provider', 'ion', '--path', 'x'], code: 2, stderr: /--provider is given twice/ },
    { args: ['--provider', 'arcnm', '--path', 'cad/a.step', 'cad/b.step', 'cad/c.step'], code: 2, stderr: /the shell expanded a glob pattern.*Quote the pattern/ },
    { args: ['cad/a.step'], code: 2, stderr: /unexpected argument "cad\/a.step".*--path "cad\/a.step"/ },
    { args: ['--provider', 'arcnm', '--path', 'cad/*.step', '--dry-run', 'maybe'], code: 2, stderr: /unexpected argument "maybe"/ },
    { args: ['--version'], code: 0, stdout: new RegExp(`^${version.replace(/\./g, '\\.')}\\n$`) },
    { args: ['-V'], code: 0, stdout: new RegExp(`^${version.replace(/\./g, '\\.')}\\n$`) },
    { args: ['--help'], code: 0, stdout: /Usage: model-publisher[\s\S]*--dry-run \[true\|false\]  \(default: false\)\n\s+Resolve inputs[\s\S]*--workspace <value>/ },
    { args: ['--provider', 'arcnm', '-h'], code: 0, stdout: /--project-id <value>\n\s+Speckle: the target project/ },
  ])('$args → exit $code', async ({ args, code, stdout, stderr }) => {
    const before = arcnm.requests.length;
    const run = await cli(args, { ARCNM_API_KEY: API_KEY, MODEL_PUBLISHER_SERVER_URL: arcnm.url }, ROOT);
    expect(run.code, run.stderr).toBe(code);
    if (stdout) expect(run.stdout).toMatch(stdout);
    else expect(run.stdout).toBe('');
    if (stderr) expect(run.stderr).toMatch(stderr);
    expect(arcnm.requests.length).toBe(before);
  });
  it('--help lists every flag with its meaning from action.yml', async () => {
    const run = await cli(['--help'], {}, ROOT);
    const yml = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { description: string }> };
    const help = run.stdout.replace(/\s+/g, ' ');
    for (const [name, input] of Object.entries(yml.inputs)) {
      if (INPUTS.find((i) => i.name === name)?.actionOnly) continue; // the pull-request comment: the action's alone
      expect(help).toContain(`--${name} `);
      expect(help).toContain(input.description);
    }
  });
  it('takes a boolean flag alone as true: --dry-run sends nothing that writes', async () => {
    const writesBefore = arcnm.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length;
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*.step', '--dry-run', '--server-url', arcnm.url], { ARCNM_API_KEY: API_KEY }, ws);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject([{ path: 'cad/a.step', status: 'skipped' }]);
    expect(arcnm.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length).toBe(writesBefore);
  });
});

describe('command line: a run that fails as a whole', () => {
  it('prints the results JSON on stdout too, every file failed with the one reason, and the fix once on stderr', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/b.step': samples.step('b.step') });
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*.step', '--server-url', arcnm.url, '--concurrency', '1'], { ARCNM_API_KEY: 'ak_test_revoked0000000000000' }, ws);
    expect(run.code).toBe(1);
    const results = JSON.parse(run.stdout) as { path: string; status: string; error: { code: string } }[];
    expect(results.map((r) => [r.path, r.status, r.error.code])).toEqual([
      ['cad/a.step', 'failed', 'auth_rejected'],
      ['cad/b.step', 'failed', 'auth_rejected'],
    ]);
    expect(run.stderr.match(/error: the run failed: Input 'token':.*Fix: .*ARCNM_API_KEY.*uploads:write/g)).toHaveLength(1);
    expect(run.stderr).toMatch(/target: ARCNM uploads on http/);
  });
});
