// The engine: runs each file's chain (presign → upload → confirm, with the wait inside confirm) in a bounded
// pool and collects a result per file, so one failure never hides the others. It knows the chain, not vendors.
import { uploadFile } from '../http/upload.js';
import type { Http } from '../http/client.js';
import { PublishError, UploadUrlExpiredError, errorMessage } from '../core/errors.js';
import { inParallel } from '../core/pool.js';
import type { ErrorCode } from '../core/error-codes.js';
import type { FileResult, LocalFile, Logger, ProviderSession, StepContext, UploadTarget } from '../core/types.js';

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

/** The parameter (query or form field) that carries a presigned target's signature, in every scheme we know. */
const SIGNATURE_PARAM = /^(x-amz-signature|x-goog-signature|sig|signature)$/i;
/** What signs beside it: the same for every file of a run (one key, one session), so masked once a run. */
const CREDENTIAL_PARAM = /^(x-amz-credential|x-amz-security-token|x-goog-credential|awsaccesskeyid)$/i;

/**
 * Mask what makes a presigned target a credential: the signature in its query string or form fields and what
 * names the key that made it, each raw and as sent; or, where its query string carries no signature we know (a
 * scheme where any parameter may be the credential), the whole query string. The rest of a signed query
 * (algorithm, date, expiry, signed headers) grants nothing. Every value masked is also an `::add-mask::` for
 * the runner, which compares each later line of the log with every value it holds: a file adds one value (its
 * signature), where the whole query string, its encoded form and the signature were three (15,000 for a run of
 * 5,000 files).
 */
export function maskSignatures(target: Pick<UploadTarget, 'url' | 'fields'>, mask: (secret: string) => void): void {
  const query = target.url.indexOf('?');
  if (query >= 0) {
    const search = target.url.slice(query + 1).split('#')[0]!;
    const secret: string[] = [];
    let signed = false;
    for (const pair of search.split('&')) {
      const eq = pair.indexOf('=');
      const [name, sent] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
      const signature = SIGNATURE_PARAM.test(name);
      if (sent === '' || !(signature || CREDENTIAL_PARAM.test(name))) continue;
      signed ||= signature;
      secret.push(sent);
    }
    if (!signed) {
      if (search !== '') mask(search);
    } else {
      for (const sent of secret) {
        // The value decoded (the registry adds its URL-encoded and JSON forms), and as sent where that differs.
        const value = decoded(sent);
        mask(value);
        if (sent !== value && sent !== encodeURIComponent(value)) mask(sent);
      }
    }
  }
  for (const [name, value] of Object.entries(target.fields ?? {})) if ((SIGNATURE_PARAM.test(name) || CREDENTIAL_PARAM.test(name)) && value) mask(value);
}

/** A query value decoded as a form decodes it (`+` is a space), or as sent when it is not valid percent-encoding. */
function decoded(sent: string): string {
  try {
    return decodeURIComponent(sent.replace(/\+/g, ' '));
  } catch {
    return sent;
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
      maskSignatures(target, options.mask);
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
