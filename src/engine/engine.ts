// The engine: runs each file's chain (presign → upload → confirm, with the wait inside confirm) in a bounded
// pool and collects a result per file, so one failure never hides the others. It knows the chain, not vendors.
import { uploadFile } from '../http/upload.js';
import type { Http } from '../http/client.js';
import { PublishError, UploadUrlExpiredError, errorMessage } from '../core/errors.js';
import { inParallel } from '../core/pool.js';
import type { ErrorCode } from '../core/error-codes.js';
import type { FileResult, LocalFile, Logger, ProviderSession, StepContext } from '../core/types.js';

export interface EngineOptions {
  concurrency: number;
  wait: boolean;
  waitTimeoutMs: number;
  /** Hard stop: abort every request in flight. */
  signal: AbortSignal;
  /**
   * Soft stop (the runner's first cancellation signal): start no new file and no new stage, abort uploads
   * in flight, but let an API call already in flight finish, so what the provider did is what we report.
   */
  stop?: AbortSignal;
  log: Logger;
  /** Mask a value in everything printed from now on (presigned query strings). */
  mask: (secret: string) => void;
  /** How often one file may start again from presign after its upload URL expired. */
  maxPresigns?: number;
  /** `stop` and `signal` as one (publishAll makes it once for the run). */
  runStop?: AbortSignal;
  /** Told of every file's failure (the run may decide it is the whole run's and stop). */
  onFailure?: (file: LocalFile, err: unknown) => void;
}

/** Mask a presigned URL's query string, and each signature in it on its own, raw and decoded. */
export function maskSignatures(url: string, mask: (secret: string) => void): void {
  const { search, searchParams } = new URL(url);
  if (search.length > 1) mask(search.slice(1));
  for (const [name, value] of searchParams) {
    if (/^(x-amz-signature|sig|signature|x-goog-signature)$/i.test(name) && value) {
      mask(value);
      mask(encodeURIComponent(value));
    }
  }
}

/** Publish every file; never throws for a file's failure. */
export async function publishAll(files: readonly LocalFile[], session: ProviderSession, http: Http, options: EngineOptions): Promise<FileResult[]> {
  // One stop signal for the run, not one per file (AbortSignal.any keeps each it makes until a collection).
  const stop = options.stop ? AbortSignal.any([options.stop, options.signal]) : options.signal;
  return inParallel(files, options.concurrency, (file, _index, release, rejoin) => publishOne(file, session, http, { ...options, runStop: stop }, release, rejoin));
}

export async function publishOne(file: LocalFile, session: ProviderSession, http: Http, options: EngineOptions, release?: () => void, rejoin?: () => Promise<void>): Promise<FileResult> {
  const started = Date.now();
  const ctx: StepContext = {
    signal: options.signal,
    log: options.log,
    wait: options.wait,
    waitDeadline: started + options.waitTimeoutMs,
    ...(release ? { waiting: release } : {}),
    ...(rejoin ? { resume: rejoin } : {}),
  };
  const maxPresigns = options.maxPresigns ?? 3;
  const stop = options.runStop ?? (options.stop ? AbortSignal.any([options.stop, options.signal]) : options.signal);
  ctx.stop = stop;
  if (stop.aborted) {
    return { path: file.path, bytes: file.bytes, status: 'skipped', error: { message: 'not started: the run was cancelled', code: 'cancelled' }, durationMs: 0 };
  }
  let sha256: string | undefined;
  try {
    for (let round = 1; ; round++) {
      stop.throwIfAborted();
      const { target, pending } = await session.presign(file, ctx);
      maskSignatures(target.url, options.mask);
      options.log.info(`${file.path}: presigned (${target.method})`);
      try {
        stop.throwIfAborted();
        const receipt = await uploadFile(http, file, target, {
          signal: stop,
          label: file.path,
          onProgress: (line) => options.log.info(line),
        });
        sha256 = receipt.sha256Hex;
        options.log.info(`${file.path}: uploaded ${file.bytes} bytes, sha256 ${receipt.sha256Hex.slice(0, 12)}…`);
        stop.throwIfAborted();
        const { ids, outcome, evidence = [] } = await session.confirm(file, pending, receipt, ctx);
        const verifiedBy = [...new Set([...receipt.evidence, ...evidence])];
        if (outcome === 'submitted') {
          options.log.info(`${file.path}: submitted, id ${ids.id}; ${session.displayName}'s verdict not awaited`);
        } else {
          options.log.info(`${file.path}: done, id ${ids.id}${verifiedBy.length ? `, verified by ${verifiedBy.join(', ')}` : ''}`);
          if (verifiedBy.length === 0) options.log.warn(`${file.path}: ${session.displayName} accepted it, but neither storage nor ${session.displayName} gave a checksum that could verify its bytes`);
        }
        const status = outcome === 'submitted' ? 'submitted' : 'succeeded';
        return { path: file.path, bytes: file.bytes, sha256, status, ids, verifiedBy, durationMs: Date.now() - started };
      } catch (err) {
        if (session.abandon) await session.abandon(file, pending, ctx);
        // An expired or used URL says nothing about the file: ask for a new one and send it again.
        if (err instanceof UploadUrlExpiredError && round < maxPresigns && !stop.aborted) {
          options.log.info(`${file.path}: ${err.message}; starting again from presign`);
          continue;
        }
        throw err;
      }
    }
  } catch (err) {
    // Messages from deeper layers may start with the file's path; say it once.
    const raw = stop.aborted ? `cancelled: ${errorMessage(stop.reason ?? err)}` : errorMessage(err);
    const message = raw.startsWith(`${file.path}: `) ? raw.slice(file.path.length + 2) : raw;
    const code: ErrorCode = stop.aborted ? 'cancelled' : err instanceof PublishError ? err.code : 'unexpected';
    const providerCode = !stop.aborted && err instanceof PublishError ? err.providerCode : undefined;
    if (!stop.aborted) options.onFailure?.(file, err);
    options.log.info(`${file.path}: failed: ${message}`);
    return {
      path: file.path,
      bytes: file.bytes,
      sha256,
      status: 'failed',
      error: providerCode === undefined ? { message, code } : { message, code, providerCode },
      durationMs: Date.now() - started,
    };
  }
}
