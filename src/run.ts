// One publishing run, whatever drives it (the GitHub edge or the command line): match the files, refuse
// what the provider would refuse, open the provider, run the engine, and answer one result per file.
import { UsageError } from './engine/errors.js';
import { publishAll } from './engine/engine.js';
import { DEFAULT_RETRY_POLICY } from './engine/retry.js';
import type { FileResult, LocalFile, Logger } from './engine/types.js';
import { matchFiles } from './files/match.js';
import { checkContent } from './files/validate.js';
import { Http } from './http/client.js';
import type { Config } from './config.js';

export interface RunHooks {
  log: Logger;
  mask: (secret: string) => void;
  /** Hard stop: abort requests in flight. */
  signal: AbortSignal;
  /** Soft stop: start nothing new, let API calls in flight finish (see EngineOptions.stop). */
  stop?: AbortSignal;
  /** Shown when no file matched and `if-no-files-found` is `warn`. */
  warnNoFiles: (message: string) => void;
}

export interface RunReport {
  files: LocalFile[];
  results: FileResult[];
}

/** A file that vanished or cannot be read between matching and checking fails alone, as a local error. */
const localReadError = (err: unknown): string => `the file cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;

/** Sent with every request, so a vendor can tell this client apart in its logs. */
const USER_AGENT = 'model-publisher/0.1.0';

export async function publish(config: Config, hooks: RunHooks): Promise<RunReport> {
  const { run, provider } = config;
  const files = await matchFiles(run.patterns, { workspace: run.workspace, includeHiddenFiles: run.includeHiddenFiles, shard: run.shard });
  if (files.length === 0) {
    const message = `no files matched ${run.patterns.map((p) => JSON.stringify(p)).join(', ')} in ${run.workspace}${run.shard ? ` for shard ${run.shard.index}/${run.shard.total}` : ''}`;
    if (run.ifNoFilesFound === 'error') throw new UsageError('path', `${message}; check the patterns, or set if-no-files-found to warn or ignore`);
    if (run.ifNoFilesFound === 'warn') hooks.warnNoFiles(message);
    else hooks.log.info(message);
    return { files, results: [] };
  }
  hooks.log.info(`${files.length} file(s) to publish to ${provider.displayName}${run.shard ? ` (shard ${run.shard.index}/${run.shard.total})` : ''}`);

  // Refuse locally what the provider would refuse, before any request.
  const refusals = new Map<string, string>();
  for (const file of files) {
    const reason =
      file.problem ??
      (file.bytes === 0
        ? 'the file is empty (0 bytes); an empty export is almost always a failed one'
        : (provider.refuse(file, config.settings) ?? (run.validate ? await checkContent(file).catch(localReadError) : undefined)));
    if (reason) refusals.set(file.path, reason);
  }

  const http = new Http({
    // A Retry-After is waited out only within the time the run allows for waiting (and MAX_RETRY_AFTER_MS).
    policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: run.maxAttempts, maxRetryAfterMs: run.waitTimeoutMs },
    requestTimeoutMs: run.requestTimeoutMs,
    stallTimeoutMs: run.requestTimeoutMs,
    userAgent: USER_AGENT,
    log: hooks.log,
  });
  try {
    const accepted = files.filter((f) => !refusals.has(f.path));
    const session = accepted.length > 0 ? await provider.open(config.settings, config.common, { http, log: hooks.log, signal: hooks.signal, mask: hooks.mask, dryRun: run.dryRun }) : undefined;
    for (const file of accepted) {
      const reason = session?.refuse?.(file);
      if (reason) refusals.set(file.path, reason);
    }
    const toPublish = files.filter((f) => !refusals.has(f.path));

    let published: FileResult[] = [];
    if (run.dryRun) {
      for (const f of toPublish) hooks.log.info(`dry-run: would publish ${f.path} (${f.bytes} bytes)`);
      published = toPublish.map((f) => ({ path: f.path, bytes: f.bytes, status: 'skipped', durationMs: 0 }));
    } else if (session) {
      try {
        published = await publishAll(toPublish, session, http, {
          concurrency: run.concurrency,
          wait: run.wait,
          waitTimeoutMs: run.waitTimeoutMs,
          signal: hooks.signal,
          stop: hooks.stop,
          log: hooks.log,
          mask: hooks.mask,
        });
      } finally {
        await session.close?.();
      }
    }
    const byPath = new Map(published.map((r) => [r.path, r]));
    const results = files.map((f): FileResult => {
      const refusal = refusals.get(f.path);
      if (refusal) {
        hooks.log.info(`${f.path}: refused: ${refusal}`);
        return { path: f.path, bytes: f.bytes, status: 'failed', error: { message: refusal, code: f.problem ? 'unreadable' : 'refused' }, durationMs: 0 };
      }
      return byPath.get(f.path)!;
    });
    return { files, results };
  } finally {
    await http.close();
  }
}
