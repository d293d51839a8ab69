// The GitHub edge: read the inputs the runner passed, publish, and report through @actions/core. The only
// module that knows it runs inside a GitHub Actions job.
import * as core from '@actions/core';
import { parseConfig, type Config } from './config.js';
import { UsageError, errorMessage } from './engine/errors.js';
import type { FileResult, Logger } from './engine/types.js';
import { writeReport } from './github/report.js';
import { publish } from './run.js';

export async function run(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (err) {
    core.setFailed(errorMessage(err));
    return;
  }
  for (const secret of config.secrets) core.setSecret(secret);

  // The runner cancels a step with SIGINT, then SIGTERM: stop starting work, let in-flight requests end,
  // and still write outputs and the summary for what finished.
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    core.warning(`Received ${sig}: cancelling in-flight uploads`);
    controller.abort(new Error(`the run was cancelled (${sig})`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const log: Logger = { info: core.info, warn: core.warning, debug: core.debug };
  let results: FileResult[] = [];
  try {
    const report = await publish(config, {
      log,
      mask: core.setSecret,
      signal: controller.signal,
      warnNoFiles: (m) => core.warning(m),
    });
    results = report.results;
  } catch (err) {
    core.setFailed(err instanceof UsageError ? err.message : `Model Publisher failed: ${errorMessage(err)}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const shard = config.run.shard ? `${config.run.shard.index}/${config.run.shard.total}` : undefined;
  await writeReport(results, config.provider, config.secrets, { dryRun: config.run.dryRun, shard });

  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    const message = `${failed.length} of ${results.length} file(s) failed to publish to ${config.provider.displayName}`;
    if (config.run.failOnError) core.setFailed(message);
    else core.warning(`${message} (fail-on-error is false, so the step passes)`);
  }
}
