#!/usr/bin/env node
// The same engine and providers as a command-line program, for GitLab CI, Jenkins or a laptop. Settings come
// as flags named like the action's inputs (`--project-id abc`) or as environment variables
// (`MODEL_PUBLISHER_PROJECT_ID=abc`); token fallbacks (SPECKLE_TOKEN, ...) work as in the action.
// Prints a plain-text summary on stderr and the results JSON on stdout.
import { parseConfig } from './config.js';
import { UsageError, errorMessage } from './engine/errors.js';
import { Secrets } from './engine/secrets.js';
import type { FileResult } from './engine/types.js';
import { escapeControls, safeLine } from './engine/untrusted.js';
import { buildOutputs, formatBytes } from './github/report.js';
import { publish } from './run.js';

const HELP = `Usage: model-publisher --provider <speckle|ion|coldstream|arcnm> --path <glob> [--<input> <value>]...

Every input of the GitHub Action is a flag of the same name (see README), or an environment variable
MODEL_PUBLISHER_<INPUT> (upper case, '-' as '_'). Paths are relative to --workspace (default: the current
directory). The results JSON goes to stdout, a plain-text summary to stderr; exit code 1 when a file failed.`;

export function toEnv(argv: readonly string[], env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  // Environment first, flags override; a repeated --path adds a line.
  for (const [k, v] of Object.entries(env)) {
    const m = k.match(/^MODEL_PUBLISHER_(.+)$/);
    if (m && v !== undefined) out[`INPUT_${m[1]!.replace(/_/g, '-')}`] = v;
  }
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = arg.match(/^--([a-z][a-z0-9-]*)(?:=(.*))?$/s);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(arg)}; flags look like --provider speckle`);
    const name = m[1]!;
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (name === 'workspace') {
      out['GITHUB_WORKSPACE'] = value;
      continue;
    }
    const key = `INPUT_${name.toUpperCase()}`;
    out[key] = seen.has(key) && name === 'path' ? `${out[key]}\n${value}` : value;
    seen.add(key);
  }
  return out;
}

function plainSummary(results: readonly FileResult[]): string {
  // Cells are one line each (escapeControls), so the summary splits into lines where we say.
  const rows = results.map((r) => [r.status, escapeControls(r.path), formatBytes(r.bytes), escapeControls(r.ids?.id ?? '-'), `${(r.durationMs / 1000).toFixed(1)}s`, r.error ? escapeControls(`${r.error.code ?? ''} ${r.error.message}`.trim()) : '']);
  const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...rows.map((r) => r[c]!.length), 4));
  const lines = rows.map((r) => r.map((cell, c) => (c < 5 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd());
  const ok = results.filter((r) => r.status === 'succeeded').length;
  return [...lines, `${ok} of ${results.length} file(s) published`].join('\n');
}

export async function main(argv: readonly string[], env: Record<string, string | undefined>, print: (s: string) => void): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stderr.write(`${HELP}\n`);
    return 0;
  }
  let config;
  try {
    config = parseConfig(toEnv(argv, env));
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
  try {
    const { results } = await publish(config, {
      log: { info: say, warn: (m) => say(`warning: ${m}`), debug: () => {} },
      mask: (s) => secrets.add(s),
      signal: stop.signal,
      warnNoFiles: (m) => say(`warning: ${m}`),
    });
    for (const line of plainSummary(results).split('\n')) say(line);
    print(`${secrets.scrub(buildOutputs(results, config.provider).results)}\n`);
    return results.some((r) => r.status === 'failed') && config.run.failOnError ? 1 : 0;
  } catch (err) {
    // Bad input found once the files are looked at (no match, a path outside the workspace) is bad input too.
    say(`error: ${errorMessage(err)}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

// Libraries shared with the action (@actions/glob) print GitHub workflow commands (`::debug::…`) on stdout:
// meaningless here, and stdout is for the results JSON. Keep stdout for ourselves and drop those lines.
const writeStdout = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  const kept = text.split('\n').filter((l) => !l.startsWith('::')).join('\n');
  if (kept.trim() !== '') process.stderr.write(kept);
  const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
  done?.();
  return true;
}) as typeof process.stdout.write;
const results = { print: (s: string) => writeStdout(s) };
process.exitCode = await main(process.argv.slice(2), process.env, results.print);
