import { describe, expect, it } from 'vitest';
import { parseConfig, parseMergeConfig } from '../../src/config.js';
import { UsageError } from '../../src/core/errors.js';

const base = { INPUT_PROVIDER: 'arcnm', INPUT_PATH: 'cad/**/*.step', INPUT_TOKEN: 'ak_test_123456', GITHUB_WORKSPACE: '/tmp' };
const parse = (extra: Record<string, string>) => parseConfig({ ...base, ...extra });
const failure = (extra: Record<string, string>) => {
  try {
    parse(extra);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseConfig', () => {
  it('applies the interface defaults', () => {
    const c = parse({});
    expect(c.run).toMatchObject({ concurrency: 4, wait: true, waitTimeoutMs: 30 * 60_000, ifNoFilesFound: 'error', failOnError: true, dryRun: false, maxAttempts: 5, includeHiddenFiles: false, validate: true });
    expect(c.common.serverUrl).toBe('https://api.arcnm.io');
    expect(c.run.patterns).toEqual(['cad/**/*.step']);
    expect(c.secrets).toEqual(['ak_test_123456']);
  });

  it('takes the comment author as a GitHub login, and refuses anything else', () => {
    const on = { 'INPUT_COMMENT-ON-PR': 'true', 'INPUT_GITHUB-TOKEN': 'ghp_0123456789' };
    expect(parse(on).run.comment).toEqual({ token: 'ghp_0123456789' });
    expect(parse({ ...on, 'INPUT_COMMENT-AUTHOR': 'release-bot' }).run.comment).toEqual({ token: 'ghp_0123456789', author: 'release-bot' });
    expect(parse({ ...on, 'INPUT_COMMENT-AUTHOR': 'my-app[bot]' }).run.comment?.author).toBe('my-app[bot]');
    expect(failure({ ...on, 'INPUT_COMMENT-AUTHOR': 'a b' })).toMatch(/Input 'comment-author'.*GitHub login/);
  });

  it('reads the token from the provider environment variable when the input is empty', () => {
    expect(parse({ INPUT_TOKEN: '', ARCNM_API_KEY: 'ak_live_fromenv' }).common.token).toBe('ak_live_fromenv');
    expect(failure({ INPUT_TOKEN: '' })).toMatch(/Input 'token': is required.*ARCNM_API_KEY/);
  });

  it('names the input and the accepted form for every malformed value', () => {
    expect(failure({ INPUT_PROVIDER: 'dropbox' })).toMatch(/Input 'provider'.*speckle, ion, coldstream, arcnm/);
    expect(failure({ INPUT_PROVIDER: '' })).toMatch(/Input 'provider': is required/);
    expect(failure({ INPUT_PATH: '' })).toMatch(/Input 'path': is required/);
    expect(failure({ INPUT_PATH: '!**/*.tmp' })).toMatch(/Input 'path': has only exclusions/);
    expect(failure({ INPUT_CONCURRENCY: '0' })).toMatch(/Input 'concurrency'.*1 to 32/);
    expect(failure({ INPUT_CONCURRENCY: '33' })).toMatch(/Input 'concurrency'/);
    expect(failure({ INPUT_CONCURRENCY: 'four' })).toMatch(/Input 'concurrency'/);
    expect(failure({ INPUT_WAIT: 'yes' })).toMatch(/Input 'wait'.*true or false/);
    expect(failure({ 'INPUT_IF-NO-FILES-FOUND': 'fail' })).toMatch(/Input 'if-no-files-found'.*error, warn or ignore/);
    expect(failure({ INPUT_SHARD: '3/2' })).toMatch(/Input 'shard'.*K\/N/);
    expect(failure({ INPUT_SHARD: '0/2' })).toMatch(/Input 'shard'/);
    expect(failure({ INPUT_SHARD: 'a/b' })).toMatch(/Input 'shard'/);
    expect(failure({ 'INPUT_MAX-ATTEMPTS': '0' })).toMatch(/Input 'max-attempts'/);
    expect(failure({ 'INPUT_WAIT-TIMEOUT-MINUTES': '-1' })).toMatch(/Input 'wait-timeout-minutes'/);
    expect(failure({ INPUT_TOKEN: 'ak_test\n123' })).toMatch(/Input 'token': contains whitespace or a line break/);
    expect(failure({ 'INPUT_PART-ID': 'p1' })).toMatch(/Input 'revision-id': part-id and revision-id go together/);
    expect(failure({ 'INPUT_PART-ID': 'p 1', 'INPUT_REVISION-ID': 'r1' })).toMatch(/Input 'part-id'/);
  });

  it('accepts http:// only for loopback hosts', () => {
    expect(parse({ 'INPUT_SERVER-URL': 'http://127.0.0.1:8080/' }).common.serverUrl).toBe('http://127.0.0.1:8080');
    expect(parse({ 'INPUT_SERVER-URL': 'http://localhost:3000' }).common.serverUrl).toBe('http://localhost:3000');
    expect(parse({ 'INPUT_SERVER-URL': 'https://arcnm.example.com/' }).common.serverUrl).toBe('https://arcnm.example.com');
    expect(failure({ 'INPUT_SERVER-URL': 'http://arcnm.example.com' })).toMatch(/Input 'server-url': http:\/\/ is accepted only for loopback.*use https:\/\/arcnm.example.com/);
    expect(failure({ 'INPUT_SERVER-URL': 'not a url' })).toMatch(/Input 'server-url'.*absolute URL/);
    expect(failure({ 'INPUT_SERVER-URL': 'ftp://example.com' })).toMatch(/Input 'server-url'/);
  });

  it('parses shards, lists and booleans', () => {
    const c = parse({ INPUT_SHARD: '2/4', INPUT_PATH: 'a/*.step\n\n!a/tmp.step\n', 'INPUT_DRY-RUN': 'TRUE' });
    expect(c.run.shard).toEqual({ index: 2, total: 4 });
    expect(c.run.patterns).toEqual(['a/*.step', '!a/tmp.step']);
    expect(c.run.dryRun).toBe(true);
  });

  it('records where the run comes from for traceability', () => {
    const c = parse({ GITHUB_SHA: 'abc', GITHUB_REF: 'refs/heads/main', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/m', GITHUB_RUN_ID: '7' });
    expect(c.common.origin).toMatchObject({ sha: 'abc', ref: 'refs/heads/main', runUrl: 'https://github.com/acme/m/actions/runs/7' });
  });
});

describe('results-file and merge-results', () => {
  it('takes results-file inside the workspace and refuses one that leads out of it', () => {
    expect(parse({ 'INPUT_RESULTS-FILE': 'results/shard-1.json' }).run.resultsFile).toBe('results/shard-1.json');
    expect(parse({}).run.resultsFile).toBeUndefined();
    expect(failure({ 'INPUT_RESULTS-FILE': '../elsewhere.json' })).toMatch(/Input 'results-file': "..\/elsewhere.json" leads outside the workspace/);
    expect(failure({ 'INPUT_RESULTS-FILE': '/etc/results.json' })).toMatch(/Input 'results-file'.*outside the workspace/);
  });

  it('is a merge step only with merge-results: no provider, path or token needed, the provider checked when given', () => {
    expect(parseMergeConfig(base)).toBeUndefined();
    const m = parseMergeConfig({ 'INPUT_MERGE-RESULTS': 'shards/*.json\n# a comment\n!shards/old-*.json', GITHUB_WORKSPACE: '/tmp' });
    expect(m).toMatchObject({ patterns: ['shards/*.json', '!shards/old-*.json'], workspace: '/tmp', failOnError: true, secrets: [] });
    expect(m?.provider).toBeUndefined();
    expect(parseMergeConfig({ 'INPUT_MERGE-RESULTS': 'a.json', INPUT_PROVIDER: 'Speckle' })?.provider).toBe('speckle');
    const mergeFailure = (env: Record<string, string>) => {
      try {
        parseMergeConfig({ 'INPUT_MERGE-RESULTS': 'shards/*.json', ...env });
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error('expected a UsageError');
    };
    expect(mergeFailure({ INPUT_PROVIDER: 'dropbox' })).toMatch(/Input 'provider': got "dropbox"; expected one of speckle, ion, coldstream, arcnm, or leave it empty/);
    expect(mergeFailure({ INPUT_PATH: 'cad/*' })).toMatch(/Input 'path': is not used with merge-results/);
    expect(mergeFailure({ INPUT_SHARD: '1/4' })).toMatch(/Input 'shard': is not used with merge-results/);
    expect(mergeFailure({ 'INPUT_RESULTS-FILE': 'x.json' })).toMatch(/Input 'results-file': is not used with merge-results/);
    expect(mergeFailure({ 'INPUT_DRY-RUN': 'true' })).toMatch(/Input 'dry-run': is not used with merge-results/);
    expect(mergeFailure({ 'INPUT_MERGE-RESULTS': '!x.json' })).toMatch(/Input 'merge-results': has only exclusions/);
    expect(mergeFailure({ 'INPUT_COMMENT-ON-PR': 'true' })).toMatch(/Input 'github-token': is required with comment-on-pr/);
    expect(parseMergeConfig({ 'INPUT_MERGE-RESULTS': 'a.json', 'INPUT_COMMENT-ON-PR': 'true', 'INPUT_GITHUB-TOKEN': 'ghs_abcdefgh' })?.secrets).toEqual(['ghs_abcdefgh']);
  });
});
