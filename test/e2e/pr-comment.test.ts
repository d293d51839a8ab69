// The pull request comment, against a local server standing in for the GitHub REST API: created once, then
// updated in place on the next run (found by its hidden marker), never duplicated, never holding a secret.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { FAKE_GITHUB_TOKEN, findLeaks, makeWorkspace, runAction } from '../support/action.js';
import { expectArcnmHolds } from '../support/arcnm.js';
import { startGitHubApi, type GitHubApi } from '../support/github-api.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_prcomment0000000000';
let blob: BlobStore;
let arcnm: ArcnmEmulator;
let gh: GitHubApi;
let comments: GitHubApi['comments'];
let auth: string[];

beforeAll(async () => {
  blob = new BlobStore();
  arcnm = new ArcnmEmulator({ blob, apiKey: API_KEY });
  await arcnm.start();
  // Someone else's comments come first, on a page of their own.
  gh = await startGitHubApi({ prefill: 120 });
  comments = gh.comments;
  auth = gh.auth;
});

afterAll(async () => {
  await gh.close();
  await arcnm.close();
  await blob.close();
});

describe('pull request comment', () => {
  it('is created once and then updated in place', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/b.stl': samples.stlAscii() });
    const event = path.join(ws, '..', `event-${path.basename(ws)}.json`);
    await writeFile(event, JSON.stringify({ pull_request: { number: 7 }, repository: { name: 'models', owner: { login: 'acme' } } }));
    const env = { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: gh.url };
    const inputs = { provider: 'arcnm', path: 'cad/*', 'server-url': arcnm.url, token: API_KEY, 'comment-on-pr': 'true' };

    const first = await runAction(inputs, { workspace: ws, env });
    expect(first.exitCode, first.stdout).toBe(0);
    await expectArcnmHolds({ arcnm, blob }, ws, first.results);
    expect(first.stdout).toMatch(/created comment \d+ on pull request #7/);
    const mine = () => comments.filter((c) => c.body.includes('<!-- model-publisher:arcnm -->'));
    expect(mine()).toHaveLength(1);
    const firstBody = mine()[0]!.body;
    expect(firstBody).toContain('<code>cad/a.step</code>');

    const second = await runAction(inputs, { workspace: ws, env });
    expect(second.exitCode, second.stdout).toBe(0);
    await expectArcnmHolds({ arcnm, blob }, ws, second.results);
    expect(second.stdout).toMatch(new RegExp(`updated comment ${mine()[0]!.id} on pull request #7`));
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.body).not.toBe(firstBody); // new job IDs
    expect(comments).toHaveLength(121);
    expect(auth.every((a) => a === `token ${FAKE_GITHUB_TOKEN}`)).toBe(true);
    for (const run of [first, second]) expect(findLeaks(run, [API_KEY, FAKE_GITHUB_TOKEN])).toEqual([]);
    expect(comments.some((c) => c.body.includes(API_KEY))).toBe(false);
  });

  it('does nothing outside pull requests, and a refused comment only warns', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step') });
    const push = await runAction({ provider: 'arcnm', path: 'cad/*', 'server-url': arcnm.url, token: API_KEY, 'comment-on-pr': 'true' }, { workspace: ws, env: { GITHUB_EVENT_NAME: 'push' } });
    expect(push.exitCode).toBe(0);
    expect(push.stdout).toMatch(/not a pull request event \(push\): no comment/);

    const event = path.join(ws, '..', `event-404-${path.basename(ws)}.json`);
    await writeFile(event, JSON.stringify({ pull_request: { number: 999 } }));
    const denied = await runAction(
      { provider: 'arcnm', path: 'cad/*', 'server-url': arcnm.url, token: API_KEY, 'comment-on-pr': 'true' },
      { workspace: ws, env: { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: event, GITHUB_API_URL: `${gh.url}/nowhere` } },
    );
    expect(denied.exitCode).toBe(0);
    expect(denied.stdout).toMatch(/::warning::Could not comment on the pull request/);
  });
});
