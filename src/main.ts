// The GitHub edge: read the inputs the runner passed, publish, and report through @actions/core. The only
// module that knows it runs inside a GitHub Actions job.
import * as core from './github/actions-core.js';
import { parseConfig, type Config } from './config.js';
import { UsageError, errorMessage } from './core/errors.js';
import { Secrets } from './core/secrets.js';
import type { FileResult, Logger } from './core/types.js';
import { safeLine } from './core/untrusted.js';
import { writeReport } from './github/report.js';
import { untilAborted } from './http/deadline.js';
import type { RunFailure } from './providers/types.js';
import { describeRunFailure } from './run-failure.js';
import { publish } from './run.js';

export async function run(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
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
  try {
    const report = await publish(config, {
      log,
      mask: (secret) => secrets.add(secret),
      signal: hard.signal,
      stop: stop.signal,
      warnNoFiles: (m) => log.warn(m),
    });
    results = report.results;
    failure = report.failure;
  } catch (err) {
    core.setFailed(say(err instanceof UsageError ? err.message : `Model Publisher failed: ${errorMessage(err)}`));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const shard = config.run.shard ? `${config.run.shard.index}/${config.run.shard.total}` : undefined;
  const target = config.provider.target;
  await writeReport(results, config.provider, secrets, { dryRun: config.run.dryRun, shard, failure, target });
  // A cancelled run writes what it has and starts nothing new, the comment included.
  if (config.run.comment && results.length > 0 && !stop.signal.aborted) {
    try {
      // Loaded only when a comment is wanted: Octokit is most of the bundle, and most runs never need it.
      const { buildComment, upsertPullRequestComment } = await import('./github/comment.js');
      const body = buildComment(results, config.provider, { dryRun: config.run.dryRun, shard, failure, target, runUrl: config.common.origin?.runUrl }, (t) => secrets.scrub(t));
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
