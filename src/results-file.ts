// A run's results as a file (`results-file`): what a shard of a matrix leaves behind for the merge step
// (`merge-results`, src/merge.ts) to read. ONE zod schema both writes and reads it: the writer checks its own
// document against it before the file exists, and the reader takes nothing a writer could not have written.
// A results file is untrusted input when it is read (an artifact any job of the workflow could have uploaded):
// it is read to a size limit, every string is bounded, and its text stays text wherever it is shown.
// Vendor-free and GitHub-free: the action and the command line write and read it alike.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, realpath, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as z from './core/schema.js';
import { ERROR_CODES, type ErrorCode } from './core/error-codes.js';
import { UsageError } from './core/errors.js';
import type { Config } from './config.js';
import type { Evidence, FileResult } from './core/types.js';
import { formatBytes } from './core/units.js';
import { inside } from './files/odd.js';
import { providerIds } from './providers/index.js';
import type { RunFailure } from './providers/types.js';
import { toRecord, type ResultRecord } from './results.js';

/** What the file says it is; a reader refuses anything else. */
export const RESULTS_FORMAT = 'model-publisher-results';
/** Bumped when a field changes meaning; adding an optional field keeps it. */
export const RESULTS_VERSION = 1;
/** A results file is read to this size and no further (a record is a few hundred bytes: 100,000 files fit). */
export const MAX_RESULTS_FILE_BYTES = 64 * 1024 * 1024;

const EVIDENCE = ['etag-md5', 'content-md5', 'speckle-etag', 'ion-validate-upload', 'arcnm-sha256', 'arcnm-size'] as const satisfies readonly Evidence[];
// Every Evidence is in the list: adding one to core/types.ts without it here fails the typecheck.
const everyEvidence: Record<Evidence, true> = Object.fromEntries(EVIDENCE.map((e) => [e, true])) as Record<(typeof EVIDENCE)[number], true>;
void everyEvidence;

const text = (max: number) => z.string().check(z.maxLength(max));
const errorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);
/** A whole number from 0 (z.int() is a safe integer). */
const count = () => z.int().check(z.nonnegative());
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** The fields a record has besides the provider's own IDs (which are strings, named in the vendor's words). */
const RECORD_FIELDS = new Set(['path', 'bytes', 'sha256', 'status', 'id', 'url', 'verifiedBy', 'error', 'reason', 'durationMs']);
const VENDOR_FIELD = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

/** One file's result: the `results` output's object. */
const RecordSchema = z
  .catchall(
    z.object({
      path: z.string().check(z.minLength(1), z.maxLength(4096)),
      bytes: count(),
      sha256: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
      status: z.enum(['succeeded', 'submitted', 'failed', 'skipped']),
      id: z.optional(text(1024)),
      url: z.optional(text(8192)),
      verifiedBy: z.optional(z.array(z.enum(EVIDENCE)).check(z.maxLength(EVIDENCE.length))),
      error: z.optional(z.strictObject({ message: text(65_536), code: errorCode, providerCode: z.optional(text(1024)) })),
      /** Why a file was skipped: the provider already holds it (`unchanged`), or a dry run sent nothing. */
      reason: z.optional(z.enum(['unchanged', 'dry-run'])),
      // zod's numbers are finite: Infinity and NaN are refused.
      durationMs: z.number().check(z.nonnegative()),
    }),
    // The provider's IDs (`versionId`, `jobId`, `partId`, ...): strings, at most a handful.
    text(1024),
  )
  .check(
    z.superRefine((r, ctx) => {
      const extra = Object.keys(r).filter((k) => !RECORD_FIELDS.has(k));
      if (extra.length > 16) ctx.addIssue({ code: 'custom', message: `${extra.length} provider ID fields; at most 16` });
      for (const k of extra) if (!VENDOR_FIELD.test(k)) ctx.addIssue({ code: 'custom', message: `a field named ${JSON.stringify(k.slice(0, 80))} is not a provider ID` });
      // The outputs read a handed-over file's primary ID: a record without one is not one we wrote.
      if ((r.status === 'succeeded' || r.status === 'submitted') && r.id === undefined) ctx.addIssue({ code: 'custom', path: ['id'], message: `a ${r.status} file has an id` });
      if (r.id === undefined && (r.url !== undefined || extra.length > 0)) ctx.addIssue({ code: 'custom', path: ['id'], message: 'provider IDs come with the primary id' });
    }),
  );

const FailureSchema = z.strictObject({ input: text(128), message: text(65_536), fix: text(65_536), code: errorCode, providerCode: z.optional(text(1024)) });

const shardNumber = () => z.int().check(z.gte(1), z.lte(1000));

export const ResultsFileSchema = z.strictObject({
  format: z.literal(RESULTS_FORMAT),
  version: z.literal(RESULTS_VERSION),
  provider: z.string().check(z.refine((p) => providerIds().includes(p), { message: `not a provider: expected one of ${providerIds().join(', ')}` })),
  /** Where the files went, as the summary's first line says it (e.g. `case 1001, component 2001`). */
  target: text(4096),
  /** The commit the files came from: GITHUB_SHA, or `git rev-parse HEAD` for the command line; null when unknown. */
  commit: z.nullable(z.string().check(z.regex(SHA, 'a commit SHA: 40 or 64 lowercase hex digits'))),
  /** This run's shard (`shard: K/N`); null when the run was not sharded. */
  shard: z.nullable(z.strictObject({ index: shardNumber(), total: shardNumber() }).check(z.refine((s) => s.index <= s.total, { message: 'index is at most total' }))),
  patterns: z.array(text(4096)).check(z.minLength(1), z.maxLength(1000)),
  /** How many files the patterns matched before sharding: what the N shards share. */
  matched: count(),
  dryRun: z.boolean(),
  /** changed-since: how many of this shard's matched files were left out as unchanged since that commit (not in results). */
  unchanged: z.optional(z.strictObject({ since: text(256), commit: z.string().check(z.regex(SHA, 'a commit SHA')), count: count() })),
  /** How the run ended: `failed` when it failed as a whole (or stopped with an error), `cancelled` when cancelled. */
  outcome: z.enum(['completed', 'failed', 'cancelled']),
  /** The run's own failure (a refused credential, a missing target): every unpublished file failed with it. */
  failure: z.optional(FailureSchema),
  /** The error the run stopped with before it had a result per file (results then holds what it had). */
  error: z.optional(text(65_536)),
  results: z.array(RecordSchema).check(z.maxLength(1_000_000)),
});

export type ResultsFile = z.infer<typeof ResultsFileSchema>;
export type Shard = { index: number; total: number };

/** What a run knows when it ends, for its results file. */
export interface RunTrace {
  provider: string;
  target: string;
  commit: string | undefined;
  shard: Shard | undefined;
  patterns: readonly string[];
  /** Files matched before sharding; 0 when the run stopped before matching. */
  matched: number;
  dryRun: boolean;
  /** changed-since: the matched files of this shard left out as unchanged. */
  unchanged?: { since: string; commit: string; count: number };
  results: readonly FileResult[];
  failure?: RunFailure;
  /** The error the run stopped with, when it stopped before answering a result per file. */
  error?: string;
  cancelled: boolean;
}

/** How a publishing run ended, as both edges (action and command line) know it; the rest comes from its config. */
export type RunEnding = Omit<RunTrace, 'provider' | 'shard' | 'patterns' | 'dryRun'>;

/** Build, check and write a publishing run's results file, however the run ended. */
export async function writeRunResults(file: string, config: Config, ending: RunEnding, scrub: (text: string) => string): Promise<void> {
  const doc = buildResultsFile({ provider: config.provider.id, shard: config.run.shard, patterns: config.run.patterns, dryRun: config.run.dryRun, ...ending });
  await writeResultsFile(file, serializeResultsFile(doc, scrub));
}

export function buildResultsFile(t: RunTrace): ResultsFile {
  const f = t.failure;
  const doc = {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    provider: t.provider,
    target: t.target,
    // A value that is not a commit SHA (a test environment's) is written as unknown, never as a wrong one.
    commit: t.commit && /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(t.commit) ? t.commit : null,
    shard: t.shard ? { index: t.shard.index, total: t.shard.total } : null,
    patterns: [...t.patterns],
    matched: t.matched,
    dryRun: t.dryRun,
    ...(t.unchanged ? { unchanged: { since: t.unchanged.since, commit: t.unchanged.commit, count: t.unchanged.count } } : {}),
    outcome: t.cancelled ? 'cancelled' : f || t.error !== undefined ? 'failed' : 'completed',
    ...(f ? { failure: { input: f.input, message: f.message, fix: f.fix, code: f.code, ...(f.providerCode ? { providerCode: f.providerCode } : {}) } } : {}),
    ...(t.error !== undefined ? { error: t.error } : {}),
    // JSON's own reading: undefined fields dropped, as in the `results` output.
    results: JSON.parse(JSON.stringify(t.results.map(toRecord))) as ResultRecord[],
  };
  return ResultsFileSchema.parse(doc);
}

/**
 * The file's text: the document, scrubbed of secrets like every output, and read back through the schema so
 * that what is written is exactly what a reader accepts.
 */
export function serializeResultsFile(doc: ResultsFile, scrub: (text: string) => string): string {
  const textOut = `${scrub(JSON.stringify(doc, null, 1))}\n`;
  ResultsFileSchema.parse(JSON.parse(textOut));
  return textOut;
}

/**
 * Where the results file goes: relative to the workspace, and inside it (like the files read, so a pull
 * request cannot point the write elsewhere through a link it adds: the folders are checked by their real path
 * and the file itself is replaced, never written through). Creates the missing folders. Checked before the
 * run sends anything.
 */
export async function prepareResultsFile(raw: string, workspace: string): Promise<string> {
  const realWorkspace = await realpath(workspace);
  const target = path.resolve(realWorkspace, raw);
  const refuse = (why: string) => new UsageError('results-file', `${JSON.stringify(raw)} ${why}; give a path inside the workspace, e.g. results/shard-1.json`);
  if (!inside(realWorkspace, target) || target === realWorkspace) throw refuse(`leads outside the workspace (${realWorkspace})`);
  const folder = path.dirname(target);
  try {
    await mkdir(folder, { recursive: true });
  } catch (err) {
    throw refuse(`cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!inside(realWorkspace, await realpath(folder))) throw refuse('is in a folder that is a link out of the workspace');
  return path.join(await realpath(folder), path.basename(target));
}

/** Write the file whole or not at all: a temporary file beside it (created, never opened through a link), then renamed over it. */
export async function writeResultsFile(absolutePath: string, content: string): Promise<void> {
  const temporary = path.join(path.dirname(absolutePath), `.${path.basename(absolutePath)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, content, { flag: 'wx', mode: 0o644 });
    await rename(temporary, absolutePath);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/** A results file that cannot be read or is not one: the file and what is wrong with it. */
export class ResultsFileError extends Error {
  override name = 'ResultsFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** The schema's complaints, first few, each with where in the file it is. */
function describeIssues(error: z.core.$ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => {
    const where = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    return `${where || 'the document'}: ${i.message}`;
  });
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more problem(s)` : '';
  return `is not a Model Publisher results file (${shown.join('; ')}${more})`;
}

/**
 * Read and check one results file, to MAX_RESULTS_FILE_BYTES and no further. `name` is how messages call it
 * (its workspace-relative path).
 */
export async function readResultsFile(absolutePath: string, name: string, maxBytes: number = MAX_RESULTS_FILE_BYTES): Promise<ResultsFile> {
  let handle;
  try {
    handle = await open(absolutePath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ResultsFileError(name, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let bytes: Buffer;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new ResultsFileError(name, 'is not a regular file');
    if (stats.size > maxBytes) throw new ResultsFileError(name, `is ${formatBytes(stats.size)}, over the limit of ${formatBytes(maxBytes)} for a results file`);
    // Read to the size it had and one byte more: a file that grows while it is read is refused, not read on.
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > stats.size) throw new ResultsFileError(name, 'grew while it was read; read it once its writer has finished');
    bytes = buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ResultsFileError(name, err instanceof TypeError ? 'is not UTF-8 text' : `is not valid JSON (${(err as Error).message.slice(0, 200)})`);
  }
  const parsed = ResultsFileSchema.safeParse(json);
  if (!parsed.success) throw new ResultsFileError(name, describeIssues(parsed.error));
  return parsed.data;
}

/** A record of the file back into the result it was written from (toRecord's inverse). */
export function fromRecord(r: ResultsFile['results'][number]): FileResult {
  const vendor = Object.fromEntries(Object.entries(r).filter(([k, v]) => !RECORD_FIELDS.has(k) && typeof v === 'string')) as Record<string, string>;
  const ids = r.id !== undefined ? { id: r.id, ...vendor, ...(r.url !== undefined ? { url: r.url } : {}) } : undefined;
  return {
    path: r.path,
    bytes: r.bytes,
    ...(r.sha256 !== undefined ? { sha256: r.sha256 } : {}),
    status: r.status,
    ...(ids ? { ids } : {}),
    ...(r.verifiedBy ? { verifiedBy: [...r.verifiedBy] } : {}),
    ...(r.error ? { error: { message: r.error.message, code: r.error.code, ...(r.error.providerCode !== undefined ? { providerCode: r.error.providerCode } : {}) } } : {}),
    // Skipped files say why (only what changed); carried as it came.
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    durationMs: r.durationMs,
  };
}
