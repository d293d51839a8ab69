// Fan out, report once: 4 shards of a matrix each publish their share and write `results-file`; the merge step
// (`merge-results`) reads the four files as one set and writes one summary, one pull-request comment and the
// merged outputs, and fails naming the shard when one is missing, duplicated or from another run. The same
// with the command line under GitLab CI's parallel: variables.
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArcnmEmulator } from '../emulators/arcnm.js';
import { FAKE_GITHUB_TOKEN, findLeaks, makeWorkspace, runAction, runCli, type ActionRun } from '../support/action.js';
import { expectArcnmHolds, startArcnm, type ArcnmFixture } from '../support/arcnm.js';
import { startGitHubApi, type GitHubApi } from '../support/github-api.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_merge0000000000000000';
const N = 4;
let fixture: ArcnmFixture;
let arcnm: ArcnmEmulator;
let gh: GitHubApi;
beforeAll(async () => {
  fixture = await startArcnm(API_KEY);
  arcnm = fixture.arcnm;
  gh = await startGitHubApi();
});
afterAll(async () => {
  await gh.close();
  await fixture.close();
});

const names = Array.from({ length: 24 }, (_, i) => `cad/part-${String(i).padStart(2, '0')}.step`);

/** The event of a pull request, as the runner gives it to a step. */
async function pullRequestEnv(dir: string): Promise<Record<string, string>> {
  const event = path.join(dir, '..', `event-${path.basename(dir)}.json`);
  await writeFile(event, JSON.stringify({ pull_request: { number: 15 }, repository: { name: 'models', owner: { login: 'acme' } } }));
  return { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: gh.url };
}

/** What download-artifact with `merge-multiple: true` leaves: every shard's file in one folder of a fresh workspace. */
async function downloaded(files: Record<string, string>): Promise<string> {
  const ws = await mkdtemp(path.join(os.tmpdir(), 'mp-merge-'));
  await mkdir(path.join(ws, 'shards'));
  for (const [name, from] of Object.entries(files)) await copyFile(from, path.join(ws, 'shards', name));
  return ws;
}

/** How many times `needle` occurs in `text`. */
const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

describe('merge-results: 4 shards of a matrix, one report', () => {
  let ws: string;
  let shards: ActionRun[];
  let env: Record<string, string>;

  it('shards publish their share, write results-file and do not comment', async () => {
    ws = await makeWorkspace(Object.fromEntries(names.map((n) => [n, samples.step(n)])));
    env = await pullRequestEnv(ws);
    shards = await Promise.all(
      Array.from({ length: N }, (_, k) =>
        runAction(
          { provider: 'arcnm', path: 'cad/*.step', 'server-url': arcnm.url, token: API_KEY, shard: `${k + 1}/${N}`, 'results-file': `out/shard-${k + 1}.json`, 'comment-on-pr': 'true' },
          { workspace: ws, env },
        ),
      ),
    );
    for (const [k, run] of shards.entries()) {
      expect(run.exitCode, run.stdout).toBe(0);
      expect(run.results.length, `shard ${k + 1} has files`).toBeGreaterThan(0);
      expect(run.stdout).toContain(`comment-on-pr: no comment from shard ${k + 1}/${N}`);
      expect(occurrences(run.stdout, 'comment-on-pr: no comment')).toBe(1);
      const file = JSON.parse(await readFile(path.join(ws, 'out', `shard-${k + 1}.json`), 'utf8'));
      expect(file).toMatchObject({ format: 'model-publisher-results', version: 1, provider: 'arcnm', commit: '0123456789abcdef0123456789abcdef01234567', shard: { index: k + 1, total: N }, patterns: ['cad/*.step'], matched: names.length, outcome: 'completed', dryRun: false });
      // The results output's objects, exactly.
      expect(file.results).toEqual(run.results);
    }
    await expectArcnmHolds(fixture, ws, shards.flatMap((r) => r.results));
    expect(gh.comments).toHaveLength(0);
  });

  it('the merge step writes one summary listing every file once, the union as outputs, and one comment', async () => {
    const mergeWs = await downloaded(Object.fromEntries(Array.from({ length: N }, (_, k) => [`shard-${k + 1}.json`, path.join(ws, 'out', `shard-${k + 1}.json`)])));
    // No provider, no token, no path: the merge step publishes nothing.
    const merge = await runAction({ 'merge-results': 'shards/*.json', 'comment-on-pr': 'true' }, { workspace: mergeWs, env });
    expect(merge.exitCode, merge.stdout).toBe(0);
    const union = shards.flatMap((r) => r.results).sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(union.map((r) => r.path)).toEqual(names);
    expect(merge.results).toEqual(union);
    expect(JSON.parse(merge.outputs['job-ids']!)).toEqual(union.map((r) => r.jobId));
    expect(JSON.parse(merge.outputs['ids']!)).toEqual(union.map((r) => r.id));
    expect(merge.outputs['succeeded-count']).toBe(String(names.length));
    expect(merge.outputs['failed-count']).toBe('0');
    // Every file once, in path order; every results file named once in the shards table.
    for (const n of names) expect(occurrences(merge.summary, `<code>${n}</code>`), n).toBe(1);
    const at = names.map((n) => merge.summary.indexOf(`<code>${n}</code>`));
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    for (let k = 1; k <= N; k++) expect(occurrences(merge.summary, `<code>shards/shard-${k}.json</code>`)).toBe(1);
    expect(merge.summary).toContain(`Merged ${N} of ${N} shards&#39; results for commit 0123456789ab`);
    expect(merge.summary).toContain(`${names.length} of ${names.length} file(s) published`);
    // Exactly one comment, for the whole matrix.
    expect(gh.comments).toHaveLength(1);
    expect(gh.withMarker('arcnm')).toHaveLength(1);
    for (const n of names) expect(occurrences(gh.comments[0]!.body, `<code>${n}</code>`), n).toBe(1);
    expect(merge.stdout).toMatch(/created comment \d+ on pull request #15/);
    expect(gh.auth.every((a) => a === `token ${FAKE_GITHUB_TOKEN}`)).toBe(true);
    expect(findLeaks(merge, [API_KEY, FAKE_GITHUB_TOKEN])).toEqual([]);

    // The next push: the same comment, updated.
    const again = await runAction({ 'merge-results': 'shards/*.json', 'comment-on-pr': 'true' }, { workspace: mergeWs, env });
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toContain(`updated comment ${gh.comments[0]!.id} on pull request #15`);
    expect(gh.comments).toHaveLength(1);
  });

  it('fails naming the shard whose results were deleted, and still reports the others', async () => {
    const mergeWs = await downloaded({ 'shard-1.json': path.join(ws, 'out', 'shard-1.json'), 'shard-2.json': path.join(ws, 'out', 'shard-2.json'), 'shard-4.json': path.join(ws, 'out', 'shard-4.json') });
    const merge = await runAction({ 'merge-results': 'shards/*.json', 'comment-on-pr': 'true' }, { workspace: mergeWs, env });
    expect(merge.exitCode).toBe(1);
    expect(merge.stdout).toMatch(/^::error::merge-results: 1 problem\(s\) with the results files, so this report may not cover every file: shard 3\/4 is missing/m);
    const others = shards.filter((_, k) => k !== 2).flatMap((r) => r.results).sort((a, b) => (a.path < b.path ? -1 : 1));
    expect(merge.results).toEqual(others);
    for (const r of others) expect(occurrences(merge.summary, `<code>${r.path}</code>`)).toBe(1);
    for (const r of shards[2]!.results) expect(merge.summary).not.toContain(`<code>${r.path}</code>`);
    expect(merge.summary).toContain(`Merged 3 of 4 shards&#39; results for commit 0123456789ab &#40;${others.length} of the ${names.length} files matched&#41;; missing&#58; shard 3/4.`);
    expect(merge.summary).toContain('<td>3/4</td><td>—</td><td>❌ missing: no results file</td>');
    // The one comment now says so too.
    expect(gh.comments).toHaveLength(1);
    expect(gh.comments[0]!.body).toContain('shard 3/4 is missing');
  });

  it('fails naming the shard and both files when a shard is there twice', async () => {
    const files = Object.fromEntries(Array.from({ length: N }, (_, k) => [`shard-${k + 1}.json`, path.join(ws, 'out', `shard-${k + 1}.json`)]));
    const mergeWs = await downloaded({ ...files, 'shard-2-again.json': path.join(ws, 'out', 'shard-2.json') });
    const merge = await runAction({ 'merge-results': 'shards/*.json' }, { workspace: mergeWs, env: {} });
    expect(merge.exitCode).toBe(1);
    expect(merge.stdout).toContain('shard 2/4 appears twice: shards/shard-2-again.json and shards/shard-2.json');
    // Every file still once.
    expect(merge.results.map((r) => r.path)).toEqual(names);
  });

  it('fails naming the shard from another commit, and a file that is not a results file', async () => {
    const files = Object.fromEntries(Array.from({ length: N }, (_, k) => [`shard-${k + 1}.json`, path.join(ws, 'out', `shard-${k + 1}.json`)]));
    const mergeWs = await downloaded(files);
    const four = path.join(mergeWs, 'shards', 'shard-4.json');
    await writeFile(four, (await readFile(four, 'utf8')).replace('0123456789abcdef0123456789abcdef01234567', 'fedcba9876543210fedcba9876543210fedcba98'));
    await writeFile(path.join(mergeWs, 'shards', 'notes.json'), '{"format": "something else"}');
    const merge = await runAction({ 'merge-results': 'shards/*.json' }, { workspace: mergeWs, env: {} });
    expect(merge.exitCode).toBe(1);
    expect(merge.stdout).toContain('shard 4/4 (shards/shard-4.json) has commit fedcba9876543210fedcba9876543210fedcba98, but shard 1/4 (shards/shard-1.json) has 0123456789abcdef0123456789abcdef01234567');
    expect(merge.stdout).toMatch(/shards\/notes\.json: is not a Model Publisher results file \(format: /);
    expect(merge.stdout).toContain('shard 4/4 has no usable results file');
  });

  it('keeps text from a results file as text in the log, the summary and the outputs', async () => {
    const one = JSON.parse(await readFile(path.join(ws, 'out', 'shard-1.json'), 'utf8'));
    const hostile = 'cad/x\n::error::forged <img src=x onerror=alert(1)> [link](https://evil.example) @everyone.step';
    one.shard = null;
    one.matched = 1;
    one.target = '<script>alert(1)</script>\n::warning::forged';
    one.results = [{ path: hostile, bytes: 1, status: 'failed', error: { message: '## heading\n::add-mask::x', code: 'refused' }, durationMs: 0 }];
    const mergeWs = await mkdtemp(path.join(os.tmpdir(), 'mp-merge-'));
    await writeFile(path.join(mergeWs, 'results.json'), JSON.stringify(one));
    const merge = await runAction({ 'merge-results': 'results.json' }, { workspace: mergeWs, env: {} });
    expect(merge.exitCode).toBe(1); // the file failed
    expect(merge.stdout).not.toMatch(/^::(error::forged|warning::forged|add-mask::x)/m);
    expect(merge.summary).not.toMatch(/<img|<script|\]\(https|@everyone/);
    expect(merge.results.map((r) => r.path)).toEqual([hostile]);
  });
});

describe('merge-results: shards with nothing to do', () => {
  it('an empty shard (if-no-files-found: warn) writes its results file, and the set is whole', async () => {
    const ws = await makeWorkspace({ 'cad/only.step': samples.step('only.step') });
    const runs = await Promise.all(
      Array.from({ length: N }, (_, k) =>
        runAction({ provider: 'arcnm', path: 'cad/*.step', 'server-url': arcnm.url, token: API_KEY, shard: `${k + 1}/${N}`, 'if-no-files-found': 'warn', 'results-file': `out/${k + 1}.json` }, { workspace: ws }),
      ),
    );
    for (const run of runs) expect(run.exitCode, run.stdout).toBe(0);
    expect(runs.filter((r) => r.results.length === 0)).toHaveLength(N - 1);
    const merge = await runAction({ 'merge-results': 'out/*.json' }, { workspace: ws, env: {} });
    expect(merge.exitCode, merge.stdout).toBe(0);
    expect(merge.results.map((r) => [r.path, r.status])).toEqual([['cad/only.step', 'succeeded']]);
    expect(merge.summary).toContain('completed, 0 file&#40;s&#41;');
  });
});

describe('merge-results: a shard that fails or is cancelled still leaves its trace', () => {
  it('writes results-file when the run fails as a whole and when it is cancelled; the merge reports both', async () => {
    const slow = await startArcnm(API_KEY, { processingDelayMs: 300 });
    try {
      const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [n, samples.step(n)])));
      const inputs = (k: number, token: string) => ({ provider: 'arcnm', path: 'cad/*.step', 'server-url': slow.arcnm.url, token, shard: `${k}/2`, 'results-file': `out/shard-${k}.json`, concurrency: '1' });
      const [refused, cancelled] = await Promise.all([
        runAction(inputs(1, 'ak_test_wrongkey000000000000'), { workspace: ws }),
        runAction(inputs(2, API_KEY), { workspace: ws, signals: [{ onOutput: /cad\/part-\d+\.step: done/, signal: 'SIGINT' }] }),
      ]);
      expect(refused.exitCode).toBe(1);
      expect(cancelled.exitCode).toBe(1);
      const one = JSON.parse(await readFile(path.join(ws, 'out', 'shard-1.json'), 'utf8'));
      expect(one).toMatchObject({ outcome: 'failed', failure: { code: 'auth_rejected', input: 'token' } });
      expect(one.results.length).toBeGreaterThan(0);
      expect(one.results.every((r: { status: string }) => r.status === 'failed')).toBe(true);
      const two = JSON.parse(await readFile(path.join(ws, 'out', 'shard-2.json'), 'utf8'));
      expect(two.outcome).toBe('cancelled');
      expect(two.results).toEqual(cancelled.results);
      expect(two.results.some((r: { status: string }) => r.status === 'succeeded')).toBe(true);
      expect(two.results.some((r: { status: string }) => r.status !== 'succeeded')).toBe(true);
      await expectArcnmHolds(slow, ws, [...one.results, ...two.results]);

      const mergeWs = await downloaded({ 'shard-1.json': path.join(ws, 'out', 'shard-1.json'), 'shard-2.json': path.join(ws, 'out', 'shard-2.json') });
      const merge = await runAction({ 'merge-results': 'shards/*.json' }, { workspace: mergeWs, env: {} });
      // Every file is accounted for, so the set is whole; the failed files fail the step (fail-on-error).
      expect(merge.exitCode).toBe(1);
      expect(merge.stdout).not.toContain('problem(s) with the results files');
      expect(merge.results.map((r) => r.path)).toEqual(names);
      expect(merge.summary).toContain('the run failed&#58; ');
      expect(merge.summary).toMatch(/<td>2\/2<\/td><td><code>shards\/shard-2\.json<\/code><\/td><td>cancelled, \d+ file&#40;s&#41;<\/td>/);
      const failed = merge.results.filter((r) => r.status === 'failed').length;
      expect(merge.outputs['failed-count']).toBe(String(failed));
      expect(merge.stdout).toContain(`::error::${failed} of ${names.length} file(s) failed to publish to ARCNM (all shards merged)`);
      // With fail-on-error: false the merged failures warn and the step passes.
      const lenient = await runAction({ 'merge-results': 'shards/*.json', 'fail-on-error': 'false' }, { workspace: mergeWs, env: {} });
      expect(lenient.exitCode).toBe(0);
      expect(lenient.stdout).toContain('(fail-on-error is false, so the step passes)');
    } finally {
      await slow.close();
    }
  });
});

const cli = runCli;

describe('command line: GitLab CI parallel: N, then --merge-results', () => {
  // --skip-unchanged false: the tests above published the same sample names and bytes to this emulator.
  it('shards from CI_NODE_INDEX/CI_NODE_TOTAL, merges, and fails on a deleted or duplicated shard', async () => {
    const ws = await makeWorkspace(Object.fromEntries(names.map((n) => [n.replace('cad/', 'gl/'), samples.step(n)])));
    const shards = await Promise.all(
      Array.from({ length: N }, (_, k) =>
        cli(['--provider', 'arcnm', '--path', 'gl/*.step', '--server-url', arcnm.url, '--results-file', `results/shard-${k + 1}.json`, '--skip-unchanged', 'false'], { ARCNM_API_KEY: API_KEY, CI_NODE_INDEX: String(k + 1), CI_NODE_TOTAL: String(N), CI_COMMIT_SHA: 'abcdefabcdefabcdefabcdefabcdefabcdefabcd' }, ws),
      ),
    );
    const published = shards.map((s) => JSON.parse(s.stdout) as Record<string, any>[]);
    for (const [k, s] of shards.entries()) {
      expect(s.code, s.stderr).toBe(0);
      expect(s.stderr).toContain(`shard ${k + 1}/${N} from GitLab CI's CI_NODE_INDEX and CI_NODE_TOTAL`);
      expect(published[k]!.length).toBeGreaterThan(0);
    }
    await expectArcnmHolds(fixture, ws, published.flat());
    expect(published.flat().map((r) => r['path']).sort()).toEqual(names.map((n) => n.replace('cad/', 'gl/')));

    // The merge job: no CI_NODE_* (it is not parallel), no credential.
    const merge = await cli(['--merge-results', 'results/*.json'], {}, ws);
    expect(merge.code, merge.stderr).toBe(0);
    const merged = JSON.parse(merge.stdout) as Record<string, any>[];
    expect(merged).toEqual(published.flat().sort((a, b) => (a['path'] < b['path'] ? -1 : 1)));
    expect(merge.stderr).toContain(`Merged ${N} of ${N} shards' results`);
    expect(merge.stderr).toContain(`${names.length} of ${names.length} file(s) published`);
    // The commit: the workspace is no git checkout, so CI_COMMIT_SHA.
    expect(JSON.parse(await readFile(path.join(ws, 'results', 'shard-1.json'), 'utf8')).commit).toBe('abcdefabcdefabcdefabcdefabcdefabcdefabcd');

    await copyFile(path.join(ws, 'results', 'shard-3.json'), path.join(ws, 'results', 'shard-3-copy.json'));
    const twice = await cli(['--merge-results', 'results/*.json'], {}, ws);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('error: shard 3/4 appears twice: results/shard-3-copy.json and results/shard-3.json');

    await rm(path.join(ws, 'results', 'shard-3-copy.json'));
    await rm(path.join(ws, 'results', 'shard-2.json'));
    const gone = await cli(['--merge-results', 'results/*.json'], {}, ws);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/error: shard 2\/4 is missing/);
    expect(JSON.parse(gone.stdout)).toEqual(merged.filter((r) => !published[1]!.some((p) => p['path'] === r['path'])));
    expect((await readdir(path.join(ws, 'results'))).sort()).toEqual(['shard-1.json', 'shard-3.json', 'shard-4.json']);
  });
});
