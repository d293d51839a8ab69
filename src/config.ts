// One pure function from the environment to a typed, validated configuration. Nothing is sent anywhere
// before it returns: every error names the input and says what is accepted.
import path from 'node:path';
import * as z from './core/schema.js';
import { UsageError } from './core/errors.js';
import { COMMIT_INPUT } from './files/changed.js';
import { booleanInput, checkCredential, inputReader, intInput, parseInput, parseServerUrl, type CommonSettings, type InputReader } from './inputs.js';
import { providerIds, providers } from './providers/index.js';
import type { ConfiguredProvider } from './providers/types.js';

export interface RunSettings {
  patterns: string[];
  workspace: string;
  concurrency: number;
  wait: boolean;
  waitTimeoutMs: number;
  ifNoFilesFound: 'error' | 'warn' | 'ignore';
  failOnError: boolean;
  dryRun: boolean;
  /** Ask the provider what it already holds and skip byte-identical files (`skip-unchanged`). */
  skipUnchanged: boolean;
  shard?: { index: number; total: number };
  /** `changed-since`: publish only the files that differ from this commit (files/changed.ts); all zeros: every file. */
  changedSince?: string;
  maxAttempts: number;
  includeHiddenFiles: boolean;
  requestTimeoutMs: number;
  /** Check each file's content against its extension before upload (`validate`). */
  validate: boolean;
  /** Keep a results comment on the pull request (`comment-on-pr`), with this token, as this author (`comment-author`; empty: found from the token). */
  comment?: CommentSettings;
  /** Also write the results to this file (`results-file`, as given: relative to the workspace). */
  resultsFile?: string;
}

export interface CommentSettings {
  token: string;
  author?: string;
}

/** The merge step (`merge-results`): it reads results files and publishes nothing, so it needs no provider settings. */
export interface MergeConfig {
  /** The `merge-results` glob lines. */
  patterns: string[];
  workspace: string;
  includeHiddenFiles: boolean;
  /** The `provider` input when given: the files must agree with it. */
  provider?: string;
  failOnError: boolean;
  requestTimeoutMs: number;
  comment?: CommentSettings;
  runUrl?: string;
  secrets: string[];
}

export interface Config {
  run: RunSettings;
  common: CommonSettings;
  /** The provider, configured from its inputs (its typed settings stay inside it). */
  provider: ConfiguredProvider;
  /** Everything to mask in logs, outputs and the summary. */
  secrets: string[];
}

const linesOf = (value: string) =>
  value
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

function parseComment(input: InputReader): CommentSettings | undefined {
  if (!parseInput(input, 'comment-on-pr', booleanInput(false), 'true or false')) return undefined;
  const token = checkCredential('github-token', input('github-token'));
  if (token === '') throw new UsageError('github-token', 'is required with comment-on-pr: true (the default is ${{ github.token }}; give the job pull-requests: write)');
  const author = input('comment-author');
  if (author !== '' && !/^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$/.test(author)) {
    throw new UsageError('comment-author', `got ${JSON.stringify(author)}; expected the GitHub login behind github-token, e.g. my-bot or my-app[bot]`);
  }
  return { token, ...(author !== '' ? { author } : {}) };
}

/**
 * The merge step's configuration when `merge-results` is given, else undefined (a publishing run). Inputs
 * that only mean something when publishing files are refused, not ignored: a merge step that also names files
 * to publish was meant as something else.
 */
export function parseMergeConfig(env: Record<string, string | undefined>): MergeConfig | undefined {
  const input = inputReader(env);
  const patterns = linesOf(input('merge-results'));
  if (patterns.length === 0) return undefined;
  if (patterns.every((p) => p.startsWith('!'))) throw new UsageError('merge-results', 'has only exclusions (lines starting with !); add a pattern that includes the results files');
  for (const name of ['path', 'shard', 'results-file']) {
    if (input(name) !== '') throw new UsageError(name, `is not used with merge-results: the merge step reads results files and publishes nothing; remove ${name} from this step`);
  }
  if (parseInput(input, 'dry-run', booleanInput(false), 'true or false')) {
    throw new UsageError('dry-run', 'is not used with merge-results (the merge step publishes nothing; whether the shards were dry runs comes from their results files); remove it from this step');
  }
  const providerName = input('provider').toLowerCase();
  if (providerName !== '' && !providerIds().includes(providerName)) throw new UsageError('provider', `got ${JSON.stringify(providerName)}; expected one of ${providerIds().join(', ')}, or leave it empty to take it from the results files`);
  const comment = parseComment(input);
  return {
    patterns,
    workspace: path.resolve(env['GITHUB_WORKSPACE'] || process.cwd()),
    includeHiddenFiles: parseInput(input, 'include-hidden-files', booleanInput(false), 'true or false'),
    ...(providerName !== '' ? { provider: providerName } : {}),
    failOnError: parseInput(input, 'fail-on-error', booleanInput(true), 'true or false'),
    requestTimeoutMs: parseInput(input, 'request-timeout-seconds', intInput(60, 1, 3600), 'a whole number of seconds from 1 to 3600') * 1000,
    ...(comment ? { comment } : {}),
    ...(runUrlOf(env) ? { runUrl: runUrlOf(env)! } : {}),
    secrets: comment ? [comment.token] : [],
  };
}

const runUrlOf = (env: Record<string, string | undefined>) =>
  env['GITHUB_SERVER_URL'] && env['GITHUB_REPOSITORY'] && env['GITHUB_RUN_ID'] ? `${env['GITHUB_SERVER_URL']}/${env['GITHUB_REPOSITORY']}/actions/runs/${env['GITHUB_RUN_ID']}` : undefined;

export function parseConfig(env: Record<string, string | undefined>): Config {
  const input = inputReader(env);

  const providerName = input('provider').toLowerCase();
  if (providerName === '') throw new UsageError('provider', `is required: one of ${providerIds().join(', ')} (only a merge-results step, which publishes nothing, goes without it)`);
  const module = providers.find((p) => p.id === providerName);
  if (!module) throw new UsageError('provider', `got ${JSON.stringify(providerName)}; expected one of ${providerIds().join(', ')}`);

  const patterns = linesOf(input('path'));
  if (patterns.length === 0) throw new UsageError('path', 'is required: one or more glob patterns, one per line (e.g. models/**/*.ifc)');
  if (patterns.every((p) => p.startsWith('!'))) throw new UsageError('path', 'has only exclusions (lines starting with !); add a pattern that includes files');

  const workspace = path.resolve(env['GITHUB_WORKSPACE'] || process.cwd());

  const shardRaw = input('shard');
  let shard: RunSettings['shard'];
  if (shardRaw !== '') {
    const m = shardRaw.match(/^(\d+)\s*\/\s*(\d+)$/);
    const index = Number(m?.[1]);
    const total = Number(m?.[2]);
    if (!m || total < 1 || total > 1000 || index < 1 || index > total) {
      throw new UsageError('shard', `got ${JSON.stringify(shardRaw)}; expected K/N with 1 ≤ K ≤ N ≤ 1000, e.g. 2/4 (use \${{ matrix.shard }}/4)`);
    }
    shard = { index, total };
  }

  const changedSince = input('changed-since');
  if (changedSince !== '' && !COMMIT_INPUT.test(changedSince)) {
    throw new UsageError(
      'changed-since',
      `got ${JSON.stringify(changedSince)}; expected a commit SHA or a ref such as main, origin/main or v1.2 (on push: \${{ github.event.before }}; on pull_request: \${{ github.event.pull_request.base.sha }})`,
    );
  }

  const run: RunSettings = {
    patterns,
    workspace,
    concurrency: parseInput(input, 'concurrency', intInput(4, 1, 32), 'a whole number from 1 to 32'),
    wait: parseInput(input, 'wait', booleanInput(true), 'true or false'),
    waitTimeoutMs: parseInput(input, 'wait-timeout-minutes', intInput(30, 1, 360), 'a whole number of minutes from 1 to 360') * 60_000,
    ifNoFilesFound: parseInput(
      input,
      'if-no-files-found',
      z.pipe(z.pipe(z.string(), z.transform((s: string) => (s === '' ? 'error' : s.toLowerCase()))), z.enum(['error', 'warn', 'ignore'])),
      'error, warn or ignore',
    ),
    failOnError: parseInput(input, 'fail-on-error', booleanInput(true), 'true or false'),
    dryRun: parseInput(input, 'dry-run', booleanInput(false), 'true or false'),
    skipUnchanged: parseInput(input, 'skip-unchanged', booleanInput(true), 'true or false'),
    shard,
    ...(changedSince !== '' ? { changedSince } : {}),
    maxAttempts: parseInput(input, 'max-attempts', intInput(5, 1, 10), 'a whole number from 1 to 10'),
    includeHiddenFiles: parseInput(input, 'include-hidden-files', booleanInput(false), 'true or false'),
    requestTimeoutMs: parseInput(input, 'request-timeout-seconds', intInput(60, 1, 3600), 'a whole number of seconds from 1 to 3600') * 1000,
    validate: parseInput(input, 'validate', booleanInput(true), 'true or false'),
  };
  const comment = parseComment(input);
  if (comment) run.comment = comment;
  const resultsFile = input('results-file');
  if (resultsFile !== '') {
    // Checked again by its real path before the run sends anything (results-file.ts prepareResultsFile).
    const target = path.resolve(workspace, resultsFile);
    const rel = path.relative(workspace, target);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new UsageError('results-file', `${JSON.stringify(resultsFile)} leads outside the workspace (${workspace}); give a path inside the workspace, e.g. results/shard-1.json`);
    }
    run.resultsFile = resultsFile;
  }

  const token = checkCredential('token', input('token') || (env[module.tokenEnv] ?? '').trim());
  const serverRaw = input('server-url');
  const common: CommonSettings = {
    token,
    serverUrl: serverRaw === '' ? module.defaultServerUrl : parseServerUrl('server-url', serverRaw),
    serverUrlGiven: serverRaw !== '',
    origin: {
      sha: env['GITHUB_SHA'] || undefined,
      ref: env['GITHUB_REF'] || undefined,
      repository: env['GITHUB_REPOSITORY'] || undefined,
      runId: env['GITHUB_RUN_ID'] || undefined,
      runUrl: runUrlOf(env),
    },
  };
  const provider = module.configure(input, common);
  const secrets = [token, run.comment?.token ?? '', ...provider.secrets].filter((s) => s !== '');
  return { run, common, provider, secrets };
}
