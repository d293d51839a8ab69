#!/usr/bin/env node
// The same engine and providers as a command-line program, for GitLab CI, Jenkins or a laptop. Settings come
// as flags named like the action's inputs (`--project-id abc`) or as environment variables
// (`MODEL_PUBLISHER_PROJECT_ID=abc`); token fallbacks (SPECKLE_TOKEN, ...) work as in the action.
// Flags are strict (src/cli-args.ts): a mistyped one is an error naming the flag meant, never ignored. Prints a
// plain-text summary on stderr and the results JSON on stdout.
import { execFile } from 'node:child_process';
import { helpText, parseArgs } from './cli-args.js';
import { parseConfig, parseMergeConfig, type Config, type MergeConfig } from './config.js';
import { UsageError, errorMessage } from './core/errors.js';
import { Secrets } from './core/secrets.js';
import type { FileResult } from './core/types.js';
import { escapeControls, safeLine } from './core/untrusted.js';
import { formatBytes } from './core/units.js';
import { fileOutcome, mergeResults, shardsLine } from './merge.js';
import { buildOutputs, failedByRun, idKind } from './results.js';
import { prepareResultsFile, writeRunResults } from './results-file.js';
import type { RunFailure } from './providers/types.js';
import { publish, type RunReport } from './run.js';
import { describeRunFailure } from './run-failure.js';
import { VERSION } from './version.js';

function plainSummary(results: readonly FileResult[], failure?: RunFailure): string {
  // Cells are one line each (escapeControls), so the summary splits into lines where we say.
  const id = (r: FileResult) => (r.ids?.id ? `${idKind(r.ids) ?? 'id'} ${r.ids.id}${r.ids['partId'] ? ` (part ${r.ids['partId']} rev ${r.ids['revisionId']})` : ''}` : '-');
  const error = (r: FileResult) => (failedByRun(r, failure) ? `${r.error?.code ?? ''} (the run's failure, above)`.trim() : r.error ? `${r.error.code ?? ''} ${r.error.message}`.trim() : '');
  const rows = results.map((r) => [r.status, escapeControls(r.path), formatBytes(r.bytes), escapeControls(id(r)), `${(r.durationMs / 1000).toFixed(1)}s`, escapeControls(error(r))]);
  const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => r[c]!.length), 4));
  const lines = rows.map((r) => r.map((cell, c) => (c < 5 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd());
  const ok = results.filter((r) => r.status === 'succeeded').length;
  const submitted = results.filter((r) => r.status === 'submitted').length;
  const unchanged = results.filter((r) => r.reason === 'unchanged').length;
  return [...lines, `${ok} of ${results.length} file(s) published${submitted ? `, ${submitted} submitted without waiting for the verdict` : ''}${unchanged ? `, ${unchanged} skipped as unchanged (already held)` : ''}`].join('\n');
}

/** The commit the workspace is at, for the results file: `git rev-parse HEAD`, else what the CI says. */
function headCommit(workspace: string, env: Record<string, string | undefined>): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd: workspace, timeout: 10_000, maxBuffer: 4096, env: { PATH: env['PATH'] ?? '', HOME: env['HOME'] ?? '' } }, (err, stdout) => {
      const sha = String(stdout ?? '').trim();
      resolve(!err && sha !== '' ? sha : env['CI_COMMIT_SHA'] || env['GITHUB_SHA'] || undefined);
    });
  });
}

export async function main(argv: readonly string[], env: Record<string, string | undefined>, print: (s: string) => void): Promise<number> {
  let config: Config;
  let shardFrom: string | undefined;
  try {
    const request = parseArgs(argv, env);
    if (request.kind === 'help') {
      print(`${helpText(VERSION)}\n`);
      return 0;
    }
    if (request.kind === 'version') {
      print(`${VERSION}\n`);
      return 0;
    }
    const merge = parseMergeConfig(request.env);
    if (merge) return await mergeMain(merge, print);
    config = parseConfig(request.env);
    shardFrom = request.shardFrom;
  } catch (err) {
    process.stderr.write(`error: ${safeLine(errorMessage(err))}\n`);
    return 2;
  }
  // One registry of secrets (inputs, fetched tokens, signatures) scrubs every line and the results; each line
  // is also neutralised, so a file name cannot move the cursor, colour the terminal or speak to a CI runner.
  const secrets = new Secrets();
  for (const s of config.secrets) secrets.add(s);
  const say = (m: string) => process.stderr.write(`${safeLine(secrets.scrub(m))}\n`);
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort(new Error('interrupted')));
  if (shardFrom) say(shardFrom);
  let resultsPath: string | undefined;
  let matched = 0;
  let code: number;
  let results: FileResult[] = [];
  let failure: RunFailure | undefined;
  let unchanged: RunReport['unchanged'];
  let stoppedWith: string | undefined;
  try {
    if (config.run.resultsFile) resultsPath = await prepareResultsFile(config.run.resultsFile, config.run.workspace);
    ({ results, failure, unchanged } = await publish(config, {
      log: { info: say, warn: (m) => say(`warning: ${m}`), debug: () => {} },
      mask: (s) => secrets.add(s),
      signal: stop.signal,
      warnNoFiles: (m) => say(`warning: ${m}`),
      onMatch: (n) => (matched = n),
    }));
    say(`target: ${config.provider.displayName} ${config.provider.target}`);
    if (failure) say(`error: the run failed: ${describeRunFailure(failure)}`);
    for (const line of plainSummary(results, failure).split('\n')) say(line);
    if (unchanged) say(`${unchanged.count} matched file(s) unchanged since ${unchanged.since} (${unchanged.commit.slice(0, 12)}) left out (changed-since)`);
    print(`${secrets.scrub(buildOutputs(results, config.provider).results)}\n`);
    code = results.some((r) => r.status === 'failed') && config.run.failOnError ? 1 : 0;
  } catch (err) {
    // Bad input found once the files are looked at (no match, a path outside the workspace) is bad input too.
    stoppedWith = errorMessage(err);
    say(`error: ${stoppedWith}`);
    code = err instanceof UsageError ? 2 : 1;
  }
  if (resultsPath) {
    // However the run ended: a shard that failed or was interrupted still leaves its trace for the merge.
    try {
      await writeRunResults(
        resultsPath,
        config,
        {
          target: config.provider.target,
          commit: await headCommit(config.run.workspace, env),
          matched,
          ...(unchanged ? { unchanged } : {}),
          results,
          ...(failure ? { failure } : {}),
          ...(stoppedWith !== undefined ? { error: stoppedWith } : {}),
          cancelled: stop.signal.aborted,
        },
        (t) => secrets.scrub(t),
      );
      say(`results of ${results.length} file(s) written to ${config.run.resultsFile}`);
    } catch (err) {
      say(`error: could not write --results-file ${config.run.resultsFile}: ${errorMessage(err)}`);
      code = Math.max(code, 1);
    }
  }
  return code;
}

/** --merge-results: the shards' results files as one report; publishes nothing. */
async function mergeMain(m: MergeConfig, print: (s: string) => void): Promise<number> {
  const say = (line: string) => process.stderr.write(`${safeLine(line)}\n`);
  try {
    const report = await mergeResults(m);
    say(shardsLine(report));
    for (const f of report.files) say(`${f.file}: ${fileOutcome(f)}`);
    for (const problem of report.problems) say(`error: ${problem}`);
    if (report.target !== undefined && report.provider) say(`target: ${report.provider.displayName} ${report.target}`);
    for (const line of plainSummary(report.results).split('\n')) say(line);
    const provider = report.provider;
    print(`${provider ? buildOutputs(report.results, provider).results : '[]'}\n`);
    if (report.problems.length > 0) {
      say(`error: ${report.problems.length} problem(s) with the results files: this report may not cover every file`);
      return 1;
    }
    return report.results.some((r) => r.status === 'failed') && m.failOnError ? 1 : 0;
  } catch (err) {
    say(`error: ${errorMessage(err)}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

// stdout carries the results JSON and nothing else (test/e2e/cli.test.ts holds it to that): nothing the CLI loads
// writes there. (Until issue 16 it filtered the `::debug::` lines @actions/glob printed through @actions/core.)
process.exitCode = await main(process.argv.slice(2), process.env, (s) => process.stdout.write(s));
