// The GitHub edge: read the inputs the runner passed, publish, and report through @actions/core. The only
// module that knows it runs inside a GitHub Actions job.
import * as core from '@actions/core';
import { parseConfig, type Config } from './config.js';
import { UsageError, errorMessage } from './engine/errors.js';
import type { FileResult, Logger } from './engine/types.js';
import { buildSummary, scrub, writeReport } from './github/report.js';
import type { RunFailure } from './providers/types.js';
import { publish } from './run.js';
import { describeRunFailure } from './run-failure.js';

export async function run(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (err) {
    core.setFailed(errorMessage(err));
    return;
  }
  for (const secret of config.secrets) core.setSecret(secret);

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

  const log: Logger = { info: core.info, warn: core.warning, debug: core.debug };
  let results: FileResult[] = [];
  let failure: RunFailure | undefined;
  try {
    const report = await publish(config, {
      log,
      mask: core.setSecret,
      signal: hard.signal,
      stop: stop.signal,
      warnNoFiles: (m) => core.warning(m),
    });
    results = report.results;
    failure = report.failure;
  } catch (err) {
    core.setFailed(err instanceof UsageError ? err.message : `Model Publisher failed: ${errorMessage(err)}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const shard = config.run.shard ? `${config.run.shard.index}/${config.run.shard.total}` : undefined;
  await writeReport(results, config.provider, config.secrets, { dryRun: config.run.dryRun, shard, failure, target: config.provider.describeTarget?.(config.settings) });
  if (config.run.comment && results.length > 0) {
    try {
      const body = scrub(buildSummary(results, config.provider, { dryRun: config.run.dryRun, shard, failure, target: config.provider.describeTarget?.(config.settings) }), config.secrets);
      // Loaded only when a comment is wanted: Octokit is most of the bundle, and most runs never need it.
      const { upsertPullRequestComment } = await import('./github/comment.js');
      core.info(await upsertPullRequestComment({ token: config.run.comment.token, key: `${config.provider.id}${shard ? `:${shard}` : ''}` }, body));
    } catch (err) {
      // A comment is a convenience: its failure (e.g. a token without pull-requests: write) warns, never fails the step.
      core.warning(`Could not comment on the pull request: ${errorMessage(err)}`);
    }
  }

  if (stop.signal.aborted) {
    const notDone = results.filter((r) => r.status !== 'succeeded').length;
    core.setFailed(`The run was cancelled: ${notDone} of ${results.length} file(s) not published`);
    return;
  }
  if (failure) {
    // One annotation naming the input to change, instead of one identical error per file.
    if (config.run.failOnError) core.setFailed(describeRunFailure(failure));
    else core.warning(`${describeRunFailure(failure)} (fail-on-error is false, so the step passes)`);
    return;
  }
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const message = `${failed.length} of ${results.length} file(s) failed to publish to ${config.provider.displayName}`;
    if (config.run.failOnError) core.setFailed(message);
    else core.warning(`${message} (fail-on-error is false, so the step passes)`);
  }
}
