// One publishing run, whatever drives it (the GitHub edge or the command line): match the files, refuse
// what the provider would refuse, open the provider, skip what it already holds (skip-unchanged), run the engine,
// and answer one result per file.
import { createHash } from 'node:crypto';
import { publishAll } from './engine/engine.js';
import { DEFAULT_RETRY_POLICY } from './core/retry.js';
import { errorMessage, PublishError, UsageError } from './core/errors.js';
import { inParallel } from './core/pool.js';
import type { FileResult, HashedFile, HeldFile, LocalFile, Logger, MatchedFile, ProviderSession, StepContext } from './core/types.js';
import { formatBytes } from './core/units.js';
import { matchPatterns, shardOf, withSize } from './files/match.js';
import { firstCollision } from './files/names.js';
import { changeOf, changesSince, NO_COMMIT, type FileChange } from './files/changed.js';
import { HEAD_BYTES, checkContent } from './files/validate.js';
import { Http } from './http/client.js';
import { readWholeSync, sha256File } from './http/hasher.js';
import type { Config } from './config.js';
import type { RunFailure } from './providers/types.js';
import { OpenFailure, classifyRunFailure, describeRunFailure } from './run-failure.js';
import { USER_AGENT } from './version.js';

export interface RunHooks {
  log: Logger;
  mask: (secret: string) => void;
  /** Hard stop: abort requests in flight. */
  signal: AbortSignal;
  /** Soft stop: start nothing new, let API calls in flight finish (see EngineOptions.stop). */
  stop?: AbortSignal;
  /** Shown when no file matched and `if-no-files-found` is `warn`. */
  warnNoFiles: (message: string) => void;
  /** Told how many files matched before sharding (for the results file), before anything else can stop the run. */
  onMatch?: (matched: number) => void;
}

export interface RunReport {
  /** This job's files to publish (its shard, changed-since applied), as matched. */
  files: MatchedFile[];
  results: FileResult[];
  /** Set when the run failed as a whole: every file not published failed with this reason. */
  failure?: RunFailure;
  /** With changed-since: how many matched files were left out as unchanged since that commit (not in `results`). */
  unchanged?: UnchangedFiles;
}

export interface UnchangedFiles {
  /** changed-since as given, and the commit git resolved it to. */
  since: string;
  commit: string;
  count: number;
}

/** One matched file and what was decided about it before anything is written, then its result. */
interface PlannedFile {
  file: LocalFile;
  /** Why it is not sent: its name or link (unreadable), or a local or provider's refusal. */
  refusal?: { message: string; code: 'refused' | 'unreadable' };
  /** Where the provider would put it (its session's plan): a dry run prints it. */
  destination?: string;
  /** The SHA-256 of its bytes on disk, when `skip-unchanged` asked the provider about it. */
  sha256?: string;
  /** What the provider already holds there, byte for byte: the file is skipped (`skip-unchanged`). */
  held?: HeldFile;
  result?: FileResult;
}

/** Files sized (withSize) between two turns of the event loop while planning. */
const SIZE_BATCH = 512;

/** A file that vanished or cannot be read between matching and checking fails alone, as a local error. */
const localReadError = (err: unknown): string => `the file cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;

/**
 * `changed-since`: this job's files that differ from the commit, asked of git before anything is sent (a commit
 * the shallow clone lacks is a UsageError naming fetch-depth). Files git cannot show unchanged (untracked, reached
 * through a link) are kept. Left-out files are counted, not listed in the results: they are not this run's work,
 * as files that `path` does not match are not. All zeros (a branch's first push) means every file, said in the log.
 */
async function leaveOutUnchanged(files: MatchedFile[], { run }: Config, hooks: RunHooks): Promise<{ files: MatchedFile[]; unchanged?: UnchangedFiles }> {
  const since = run.changedSince;
  if (since === undefined) return { files };
  if (NO_COMMIT.test(since)) {
    hooks.log.info(`changed-since is ${since.slice(0, 12)}… (all zeros: github.event.before on the first push of a branch or tag, when there is no earlier commit to compare with): publishing every matched file`);
    return { files };
  }
  const set = await changesSince(since, run.workspace, hooks.signal);
  const kept: MatchedFile[] = [];
  const counts: Record<FileChange, number> = { changed: 0, unchanged: 0, untracked: 0, 'through-link': 0 };
  for (const file of files) {
    const change = changeOf(set, file);
    counts[change]++;
    if (change === 'unchanged') hooks.log.debug(`${file.path}: unchanged since ${since}, left out`);
    else kept.push(file);
  }
  const cannotTell = [
    counts.untracked ? `${counts.untracked} not tracked by git` : '',
    counts['through-link'] ? `${counts['through-link']} reached through a symbolic link` : '',
  ].filter((s) => s !== '');
  hooks.log.info(
    `changed-since ${since} (commit ${set.commit.slice(0, 12)}): ${counts.changed} of ${files.length} matched file(s) changed${cannotTell.length ? `, ${cannotTell.join(' and ')} (published: git cannot show them unchanged)` : ''}; ${counts.unchanged} unchanged, left out`,
  );
  return { files: kept, unchanged: { since, commit: set.commit, count: counts.unchanged } };
}

/**
 * Two matched files that the provider would give one name at its target (the `name` input) are refused before any
 * request, dry run included: over every matched file (all shards, changed or not), so that the same inputs are
 * refused in every job and every run, not only when both files happen to be published together. A file the
 * provider refuses anyway does not count. Names come from paths alone, so only files that share a name have their
 * size read here (a refusal may depend on it: ARCNM's size limit); the others are sized when a job plans them.
 */
function refuseSharedNames(files: readonly MatchedFile[], { provider }: Config): void {
  if (!provider.fileName) return;
  const names = new Map<MatchedFile, string>();
  const count = new Map<string, number>();
  for (const f of files) {
    const name = f.problem ? undefined : provider.fileName(f);
    if (name === undefined) continue; // unreadable, or unnamed: refused anyway
    names.set(f, name);
    count.set(name, (count.get(name) ?? 0) + 1);
  }
  const counts = (f: MatchedFile): boolean => {
    const name = names.get(f);
    if (name === undefined) return false;
    if (count.get(name) === 1) return true; // shares its name with no file: refused or not, no clash
    let sized: LocalFile;
    try {
      sized = withSize(f);
    } catch {
      return false; // gone since the walk: refused as unreadable when planned
    }
    return provider.refuse(sized) === undefined;
  };
  const clash = firstCollision(files.filter(counts), (f) => names.get(f));
  if (clash) {
    throw new UsageError(
      'name',
      `${clash.a.path} and ${clash.b.path} would both be named ${JSON.stringify(clash.name)} at ${provider.displayName} ${provider.target}, and nobody could tell them apart there; set name to a template that keeps them apart, e.g. {path} (or leave one of them out of path)`,
    );
  }
}

export async function publish(config: Config, hooks: RunHooks): Promise<RunReport> {
  const { run, provider } = config;
  // One walk answers both the files and which include line matched none (src/files/match.ts).
  // Matched without the shard: names must be unique over every matched file, whichever job publishes each.
  const { files: matched, unmatched } = await matchPatterns(run.patterns, { workspace: run.workspace, includeHiddenFiles: run.includeHiddenFiles });
  hooks.onMatch?.(matched.length);
  refuseSharedNames(matched, config);
  const share = run.shard ? matched.filter((f) => shardOf(f.path, run.shard!.total) === run.shard!.index) : matched;
  if (share.length === 0) {
    const message = `no files matched ${run.patterns.map((p) => JSON.stringify(p)).join(', ')} in ${run.workspace}${run.shard ? ` for shard ${run.shard.index}/${run.shard.total}` : ''}`;
    if (run.ifNoFilesFound === 'error') throw new UsageError('path', `${message}; check the patterns, or set if-no-files-found to warn or ignore`);
    if (run.ifNoFilesFound === 'warn') hooks.warnNoFiles(message);
    else hooks.log.info(message);
    return { files: share, results: [] };
  }
  // Each pattern line on its own: a mistyped one is named even when the others match.
  for (const line of unmatched) {
    const message = `pattern ${JSON.stringify(line)} in path matched no file in ${run.workspace}; the other patterns matched ${share.length} file(s) (check it for a typo, or remove it)`;
    if (run.ifNoFilesFound === 'ignore') hooks.log.info(message);
    else hooks.warnNoFiles(message);
  }
  // changed-since narrows this job's share, after sharding: a file's shard depends on its path alone, so it stays in
  // the same job whatever else changed, and every job asks git the same question (see leaveOutUnchanged).
  const { files, unchanged } = await leaveOutUnchanged(share, config, hooks);
  if (files.length === 0) {
    hooks.log.info(`nothing to publish: none of the ${share.length} matched file(s) changed since ${unchanged!.since}`);
    return { files, results: [], unchanged };
  }
  hooks.log.info(`${files.length} file(s) to publish to ${provider.displayName}${run.shard ? ` (shard ${run.shard.index}/${run.shard.total})` : ''}`);

  // One list of planned files, in path order: each is sized (the walk reads no sizes), then refused (locally, or by
  // the provider once it is open) or given a destination before anything is written, and carries its result to
  // the end.
  const planned: PlannedFile[] = [];
  for (const [i, matchedFile] of files.entries()) {
    // A synchronous stat per file (withSize): a turn of the event loop now and then, for timers and cancellation.
    if (i > 0 && i % SIZE_BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    if (matchedFile.problem) {
      planned.push({ file: { ...matchedFile, bytes: 0 }, refusal: { message: matchedFile.problem, code: 'unreadable' } });
      continue;
    }
    let file: LocalFile;
    try {
      file = withSize(matchedFile);
    } catch (err) {
      planned.push({ file: { ...matchedFile, bytes: 0 }, refusal: { message: localReadError(err), code: 'unreadable' } });
      continue;
    }
    let reason = file.bytes === 0 ? 'the file is empty (0 bytes); an empty export is almost always a failed one' : provider.refuse(file);
    let sha256: string | undefined;
    if (!reason) {
      try {
        // A file no larger than what a check reads of it is read once, for its check and for its SHA-256
        // (skip-unchanged), instead of once for each (thousands of small files: thousands of reads fewer).
        const whole = run.skipUnchanged && file.bytes <= HEAD_BYTES ? readWholeSync(file.absolutePath, file.bytes) : undefined;
        if (run.validate) reason = await checkContent(file, whole);
        if (whole && !reason) sha256 = createHash('sha256').update(whole).digest('hex');
      } catch (err) {
        reason = localReadError(err);
      }
    }
    planned.push(reason ? { file, refusal: { message: reason, code: 'refused' } } : { file, ...(sha256 ? { sha256 } : {}) });
  }

  const http = new Http({
    // A Retry-After is waited out only within the time the run allows for waiting (and MAX_RETRY_AFTER_MS).
    policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: run.maxAttempts, maxRetryAfterMs: run.waitTimeoutMs },
    requestTimeoutMs: run.requestTimeoutMs,
    stallTimeoutMs: run.requestTimeoutMs,
    userAgent: USER_AGENT,
    log: hooks.log,
    // Each file sends one request at a time; beside them go a provider's shared status rounds, a token refresh
    // and the look-ups that recover an ambiguous failure, each one at a time too.
    connectionsPerServer: run.concurrency + 4,
  });
  // A failure that is the whole run's (refused credential, missing target, wrong server-url) stops it at once:
  // no new file starts, and every file not published fails with that one reason.
  let failure: RunFailure | undefined;
  const failedByRun = new Set<LocalFile>();
  const runStop = new AbortController();
  const runFailed = (err: unknown, stage: 'open' | 'file'): boolean => {
    const found = classifyRunFailure(err, provider, config.common, stage);
    if (!found) return false;
    if (!failure) {
      failure = found;
      hooks.log.info(`stopping the run: ${describeRunFailure(found)}`);
      runStop.abort(new Error(found.message));
    }
    return true;
  };
  try {
    let session: ProviderSession | undefined;
    if (planned.some((p) => !p.refusal)) {
      try {
        session = await provider.open({ http, log: hooks.log, signal: hooks.signal, mask: hooks.mask, dryRun: run.dryRun });
      } catch (err) {
        // A cancellation is not the provider's failure: it ends the run as before.
        if (hooks.signal.aborted || hooks.stop?.aborted) throw err;
        // Opening reads what every file needs: whatever stops it stops the whole run.
        if (!runFailed(err, 'open')) runFailed(new OpenFailure(err, provider.displayName), 'open');
      }
    }
    // The session's plan: where each file goes, or why this server refuses it (e.g. over its size limit).
    for (const p of planned) {
      if (p.refusal || !session) continue;
      const plan = session.plan(p.file);
      if (plan.refusal) p.refusal = { message: plan.refusal, code: 'refused' };
      else p.destination = plan.destination;
    }
    // skip-unchanged: what the provider already holds, asked once for every planned file with its SHA-256.
    if (!failure && session && run.skipUnchanged) await lookUpHeld(planned, session, run.concurrency, hooks, (err) => runFailed(err, 'open'));
    const held = planned.filter((p) => !p.refusal && p.held);
    const toPublish = planned.filter((p) => !p.refusal && !p.held);

    if (failure) {
      // Nothing was sent for any file.
    } else if (run.dryRun) {
      for (const p of planned) {
        if (p.refusal) continue;
        const size = formatBytes(p.file.bytes);
        if (p.held) {
          hooks.log.info(`dry-run: would skip ${p.file.path} (${size}): unchanged, ${p.held.held}${p.held.toDo ? `; would ${p.held.toDo}` : ''}`);
          p.result = { path: p.file.path, bytes: p.file.bytes, sha256: p.sha256, status: 'skipped', reason: 'unchanged', ids: p.held.ids, durationMs: 0 };
        } else {
          hooks.log.info(`dry-run: would publish ${p.file.path} (${size}) to ${p.destination ?? provider.displayName}`);
          p.result = { path: p.file.path, bytes: p.file.bytes, ...(p.sha256 ? { sha256: p.sha256 } : {}), status: 'skipped', reason: 'dry-run', durationMs: 0 };
        }
      }
    } else if (session) {
      const stop = hooks.stop ? AbortSignal.any([hooks.stop, runStop.signal]) : runStop.signal;
      await keepHeld(held, session, { concurrency: run.concurrency, wait: run.wait, waitTimeoutMs: run.waitTimeoutMs, signal: hooks.signal, stop, log: hooks.log }, (file, err) => {
        if (runFailed(err, 'file')) failedByRun.add(file);
      });
      const published = await publishAll(
        toPublish.map((p) => p.file),
        session,
        http,
        {
          concurrency: run.concurrency,
          wait: run.wait,
          waitTimeoutMs: run.waitTimeoutMs,
          signal: hooks.signal,
          stop: hooks.stop ? AbortSignal.any([hooks.stop, runStop.signal]) : runStop.signal,
          log: hooks.log,
          mask: hooks.mask,
          onFailure: (file, err) => {
            if (runFailed(err, 'file')) failedByRun.add(file);
          },
        },
      );
      toPublish.forEach((p, i) => (p.result = published[i]));
    }
    if (failure) {
      const f = failure;
      for (const p of [...held, ...toPublish]) {
        const done = p.result;
        // Cancelled by the stop, never started, or failed with this very failure: the run's reason.
        if (done && (done.status === 'succeeded' || done.reason === 'unchanged')) continue;
        if (done && done.status === 'failed' && done.error?.code !== 'cancelled' && !failedByRun.has(p.file)) continue;
        const error = { message: f.message, code: f.code, ...(f.providerCode ? { providerCode: f.providerCode } : {}) };
        p.result = { path: p.file.path, bytes: p.file.bytes, sha256: done?.sha256, status: 'failed', error, durationMs: done?.durationMs ?? 0 };
      }
    }
    const results = planned.map((p): FileResult => {
      if (p.refusal) {
        hooks.log.info(`${p.file.path}: refused: ${p.refusal.message}`);
        return { path: p.file.path, bytes: p.file.bytes, status: 'failed', error: p.refusal, durationMs: 0 };
      }
      return p.result!;
    });
    return { files, results, ...(failure ? { failure } : {}), ...(unchanged ? { unchanged } : {}) };
  } finally {
    await http.close();
  }
}

/**
 * skip-unchanged: hash every planned file (streamed, bounded memory, `concurrency` at a time), then ask the
 * provider once which of them it already holds byte for byte. A file that cannot be read fails alone; a lookup
 * that fails for another reason than the whole run's is a warning, and every file is published (as without it).
 */
async function lookUpHeld(planned: PlannedFile[], session: ProviderSession, concurrency: number, hooks: RunHooks, runFailed: (err: unknown) => boolean): Promise<void> {
  const candidates = planned.filter((p) => !p.refusal);
  if (candidates.length === 0) return;
  if (!session.lookup) {
    hooks.log.info(`skip-unchanged: ${session.displayName} offers no way to look a file up by its content; every file is published`);
    return;
  }
  const hashed = await inParallel(candidates, concurrency, async (p): Promise<HashedFile | undefined> => {
    try {
      p.sha256 ??= await sha256File(p.file.absolutePath, p.file.bytes);
      return { file: p.file, sha256: p.sha256 };
    } catch (err) {
      p.refusal = { message: localReadError(err), code: 'unreadable' };
      return undefined;
    }
  });
  const files = hashed.filter((h): h is HashedFile => h !== undefined);
  if (files.length === 0) return;
  let found: Map<LocalFile, HeldFile>;
  // Like any request in flight, the read ends on the hard signal only; the engine then reports every file not started.
  try {
    found = await session.lookup(files, { signal: hooks.signal, log: hooks.log });
  } catch (err) {
    if (hooks.signal.aborted || hooks.stop?.aborted) {
      hooks.log.info('skip-unchanged: the lookup was cancelled');
      return;
    }
    if (runFailed(err)) return;
    hooks.log.warn(`skip-unchanged: could not ask ${session.displayName} what it already holds (${errorMessage(err)}); publishing every file`);
    return;
  }
  for (const p of candidates) {
    const held = found.get(p.file);
    if (held && p.sha256) p.held = held;
  }
  hooks.log.info(`skip-unchanged: ${session.displayName} already holds ${found.size} of ${files.length} file(s) byte for byte`);
}

interface KeepOptions {
  concurrency: number;
  wait: boolean;
  waitTimeoutMs: number;
  signal: AbortSignal;
  stop: AbortSignal;
  log: Logger;
}

/**
 * Held files are skipped with the IDs the provider already holds; where the session has something left to do at
 * the destination (`keep`: ARCNM attaches the held upload to the part revision), it is done first, and a failure
 * there fails the file (it is not where it was asked to be).
 */
async function keepHeld(held: PlannedFile[], session: ProviderSession, options: KeepOptions, onFailure: (file: LocalFile, err: unknown) => void): Promise<void> {
  await inParallel(held, options.concurrency, async (p) => {
    const h = p.held!;
    const started = Date.now();
    const base = { path: p.file.path, bytes: p.file.bytes, sha256: p.sha256 };
    const stop = AbortSignal.any([options.stop, options.signal]);
    if (!session.keep) {
      options.log.info(`${p.file.path}: unchanged, ${h.held}; skipped`);
      p.result = { ...base, status: 'skipped', reason: 'unchanged', ids: h.ids, durationMs: 0 };
      return;
    }
    if (stop.aborted) {
      p.result = { ...base, status: 'skipped', error: { message: 'not started: the run was cancelled', code: 'cancelled' }, durationMs: 0 };
      return;
    }
    const ctx: StepContext = { signal: options.signal, stop, log: options.log, wait: options.wait, waitDeadline: started + options.waitTimeoutMs };
    try {
      const ids = await session.keep(p.file, h, ctx);
      options.log.info(`${p.file.path}: unchanged, ${h.held}; skipped`);
      p.result = { ...base, status: 'skipped', reason: 'unchanged', ids, durationMs: Date.now() - started };
    } catch (err) {
      const cancelled = stop.aborted;
      const message = cancelled ? `cancelled: ${errorMessage(stop.reason ?? err)}` : `unchanged (${h.held}), but ${h.toDo ?? 'finishing it'} failed: ${errorMessage(err)}`;
      if (!cancelled) onFailure(p.file, err);
      options.log.info(`${p.file.path}: failed: ${message}`);
      const code = cancelled ? 'cancelled' : err instanceof PublishError ? err.code : 'unexpected';
      const providerCode = !cancelled && err instanceof PublishError ? err.providerCode : undefined;
      p.result = { ...base, status: 'failed', ids: h.ids, error: providerCode === undefined ? { message, code } : { message, code, providerCode }, durationMs: Date.now() - started };
    }
  });
}
