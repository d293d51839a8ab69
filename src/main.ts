// The GitHub edge: read the inputs the runner passed, publish, and report through @actions/core. The only
// module that knows it runs inside a GitHub Actions job.
import * as core from './github/actions-core.js';
import { parseConfig, parseMergeConfig, type Config, type MergeConfig } from './config.js';
import { UsageError, errorMessage } from './core/errors.js';
import { Secrets } from './core/secrets.js';
import type { FileResult, Logger } from './core/types.js';
import { safeLine } from './core/untrusted.js';
import { writeReport } from './github/report.js';
import { untilAborted } from './http/deadline.js';
import { fileOutcome, mergeResults, shardsLine, type MergeReport } from './merge.js';
import type { ProviderInfo, RunFailure } from './providers/types.js';
import { prepareResultsFile, writeRunResults } from './results-file.js';
import { describeRunFailure } from './run-failure.js';
import { publish, type RunReport } from './run.js';

export async function run(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  let merge: MergeConfig | undefined;
  try {
    merge = parseMergeConfig(env);
    if (merge) return await runMerge(merge);
    config = parseConfig(env);
  } catch (err) {
    core.setFailed(safeLine(errorMessage(err)));
    return;
  }
  // One registry: every secret (inputs first, then tokens and signatures met on the way) is masked with the
  // runner the moment it is known, before any untrusted text is printed, and scrubs what leaves otherwise.
  const secrets = new Secrets(core.setSecret);
  for (const secret of config.secrets) secrets.add(secret);
  // Every line printed goes through safeLine: a file name or a server message cannot become a command.
  const say = (m: string) => safeLine(secrets.scrub(m));

  // The runner cancels a step with SIGINT, then SIGTERM a few seconds later. The first signal stops new
  // work and aborts uploads but lets API calls in flight finish; the second aborts everything. Either way
  // the outputs and the summary are written for what finished.
  const stop = new AbortController();
  const hard = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      core.warning(`Received ${sig}: cancelling; files in flight finish their current request`);
      stop.abort(new Error(`the run was cancelled (${sig})`));
    } else {
      core.warning(`Received ${sig}: aborting requests in flight`);
      hard.abort(new Error(`the run was cancelled (${sig})`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const log: Logger = { info: (m) => core.info(say(m)), warn: (m) => core.warning(say(m)), debug: (m) => core.debug(say(m)) };
  let results: FileResult[] = [];
  let failure: RunFailure | undefined;
  let unchanged: RunReport['unchanged'];
  // For the results file: where it goes (checked before anything is sent), what matched, how the run stopped.
  let resultsPath: string | undefined;
  let matched = 0;
  let stoppedWith: string | undefined;
  try {
    if (config.run.resultsFile) resultsPath = await prepareResultsFile(config.run.resultsFile, config.run.workspace);
    const report = await publish(config, {
      log,
      mask: (secret) => secrets.add(secret),
      signal: hard.signal,
      stop: stop.signal,
      warnNoFiles: (m) => log.warn(m),
      onMatch: (n) => (matched = n),
    });
    results = report.results;
    failure = report.failure;
    unchanged = report.unchanged;
  } catch (err) {
    stoppedWith = err instanceof UsageError ? err.message : `Model Publisher failed: ${errorMessage(err)}`;
    core.setFailed(say(stoppedWith));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const shard = config.run.shard ? `${config.run.shard.index}/${config.run.shard.total}` : undefined;
  const target = config.provider.target;
  await writeReport(results, config.provider, secrets, { dryRun: config.run.dryRun, shard, failure, target, unchanged });
  if (resultsPath) {
    // Whatever the run has, however it ended: a shard that failed or was cancelled still leaves its trace.
    try {
      await writeRunResults(
        resultsPath,
        config,
        {
          target: target,
          commit: env['GITHUB_SHA'],
          matched,
          ...(unchanged ? { unchanged } : {}),
          results,
          ...(failure ? { failure } : {}),
          ...(stoppedWith !== undefined ? { error: stoppedWith } : {}),
          cancelled: stop.signal.aborted,
        },
        (t) => secrets.scrub(t),
      );
      core.info(say(`results of ${results.length} file(s) written to ${config.run.resultsFile}`));
    } catch (err) {
      core.setFailed(say(`Input 'results-file': could not write ${config.run.resultsFile}: ${errorMessage(err)}`));
    }
  }
  // In a matrix, one comment for the whole matrix comes from the merge step, not one per shard.
  const matrix = config.run.shard !== undefined && config.run.shard.total > 1;
  if (config.run.comment && matrix && !stop.signal.aborted) {
    core.info(`comment-on-pr: no comment from shard ${shard}: the shards of a matrix do not comment; a merge-results step after the matrix posts one comment for all of them`);
  }
  // A cancelled run writes what it has and starts nothing new, the comment included.
  if (config.run.comment && !matrix && results.length > 0 && !stop.signal.aborted) {
    try {
      // Loaded only when a comment is wanted: Octokit is most of the bundle, and most runs never need it.
      const { buildComment, upsertPullRequestComment } = await import('./github/comment.js');
      const body = buildComment(results, config.provider, { dryRun: config.run.dryRun, shard, failure, target, unchanged, runUrl: config.common.origin?.runUrl }, (t) => secrets.scrub(t));
      const signal = AbortSignal.any([hard.signal, AbortSignal.timeout(config.run.requestTimeoutMs * 2)]);
      const key = `${config.provider.id}${shard ? `:${shard}` : ''}`;
      core.info(say(await untilAborted(upsertPullRequestComment({ token: config.run.comment.token, key, author: config.run.comment.author, signal }, body), signal)));
    } catch (err) {
      // A comment is a convenience: its failure (e.g. a token without pull-requests: write) warns, never fails the step.
      core.warning(say(`Could not comment on the pull request: ${errorMessage(err)}`));
    }
  }

  if (stop.signal.aborted) {
    const notDone = results.filter((r) => r.status !== 'succeeded').length;
    core.setFailed(`The run was cancelled: ${notDone} of ${results.length} file(s) not published`);
    // Outputs and summary are written: end now, whatever a library still holds open.
    process.exit();
  }
  if (failure) {
    // One annotation naming the input to change, instead of one identical error per file.
    const message = say(describeRunFailure(failure));
    if (config.run.failOnError) core.setFailed(message);
    else core.warning(`${message} (fail-on-error is false, so the step passes)`);
    return;
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const message = `${failed.length} of ${results.length} file(s) failed to publish to ${config.provider.displayName}`;
    if (config.run.failOnError) core.setFailed(message);
    else core.warning(`${message} (fail-on-error is false, so the step passes)`);
  }
}

/** What the merge reports when no results file could be read (no provider to name). */
const UNKNOWN_PROVIDER: ProviderInfo = { id: 'unknown', displayName: 'unknown provider (no readable results file)', tokenEnv: '', defaultServerUrl: '', inputs: [], idOutputs: [] };

/**
 * The merge step: read the shards' results files, check them as one set, and write one summary, one comment
 * and the merged outputs. Publishes nothing; the only secret is the GitHub token for the comment.
 */
async function runMerge(m: MergeConfig): Promise<void> {
  const secrets = new Secrets(core.setSecret);
  for (const secret of m.secrets) secrets.add(secret);
  const say = (line: string) => safeLine(secrets.scrub(line));
  let report: MergeReport;
  try {
    report = await mergeResults(m);
  } catch (err) {
    core.setFailed(say(err instanceof UsageError ? err.message : `Model Publisher failed: ${errorMessage(err)}`));
    return;
  }
  core.info(say(shardsLine(report)));
  for (const f of report.files) core.info(say(`${f.file}: ${fileOutcome(f)}`));
  for (const problem of report.problems) core.error(say(problem), { title: 'Model Publisher merge-results' });
  const provider = report.provider ?? UNKNOWN_PROVIDER;
  const extra = { dryRun: report.dryRun, ...(report.target !== undefined ? { target: report.target } : {}), ...(report.unchanged ? { unchanged: report.unchanged } : {}), merge: report };
  await writeReport(report.results, provider, secrets, extra);
  if (m.comment && report.provider) {
    try {
      const { buildComment, upsertPullRequestComment } = await import('./github/comment.js');
      const body = buildComment(report.results, provider, { ...extra, runUrl: m.runUrl }, (t) => secrets.scrub(t));
      const signal = AbortSignal.timeout(m.requestTimeoutMs * 2);
      // The same marker as a single job's comment for this provider: the merged report is that report.
      core.info(say(await untilAborted(upsertPullRequestComment({ token: m.comment.token, key: provider.id, author: m.comment.author, signal }, body), signal)));
    } catch (err) {
      core.warning(say(`Could not comment on the pull request: ${errorMessage(err)}`));
    }
  }
  if (report.problems.length > 0) {
    // Always fails: a report that misses a shard, or mixes runs, does not say whether every file was published.
    core.setFailed(say(`merge-results: ${report.problems.length} problem(s) with the results files, so this report may not cover every file: ${report.problems.slice(0, 3).join('; ')}${report.problems.length > 3 ? '; …' : ''}`));
    return;
  }
  const failed = report.results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const message = `${failed.length} of ${report.results.length} file(s) failed to publish to ${provider.displayName} (all shards merged)`;
    if (m.failOnError) core.setFailed(message);
    else core.warning(`${message} (fail-on-error is false, so the step passes)`);
  }
}
