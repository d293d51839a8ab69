// Small typed errors whose messages tell the user what to do. The engine branches on the class, the
// GitHub edge prints `message` and `code`. `code` is one of the closed list of error-codes.ts; the vendor's
// own word for the failure, when it gave one, is `providerCode`.
import { codeForStatus, statusCode, type ErrorCode } from './error-codes.js';

/** Bad input: names the input and the accepted form. Raised before anything is sent. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(`Input '${input}': ${message}`);
  }
}

export interface PublishErrorOptions {
  cause?: unknown;
  /** The vendor's own code (`upload_rejected`, `FORBIDDEN`, `SignatureDoesNotMatch`, `http_404`...). */
  providerCode?: string;
}

/** A failure of one file (or of the run), with one of the shared codes and, when the vendor gave one, its own. */
export class PublishError extends Error {
  override name = 'PublishError';
  readonly providerCode?: string;
  constructor(
    message: string,
    readonly code: ErrorCode,
    options?: PublishErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.providerCode !== undefined) this.providerCode = options.providerCode;
  }
}

/**
 * An HTTP answer that is not a success, after any retries. `url` never carries a query string. Its code follows
 * the status (codeForStatus) unless the caller knows better; its providerCode is the vendor's, or `http_<status>`.
 */
export class HttpError extends PublishError {
  override name = 'HttpError';
  readonly retryAfterMs?: number;
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    options?: { code?: ErrorCode; providerCode?: string; retryAfterMs?: number },
  ) {
    super(message, options?.code ?? codeForStatus(status), { providerCode: options?.providerCode ?? statusCode(status) });
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** The presigned URL expired (or was already used): the engine starts the file again from presign. */
export class UploadUrlExpiredError extends PublishError {
  override name = 'UploadUrlExpiredError';
  constructor(message: string) {
    super(message, 'upload_url_expired');
  }
}

/** Storage holds bytes that differ from ours. Never retried silently: reported as corruption. */
export class CorruptionError extends PublishError {
  override name = 'CorruptionError';
  constructor(message: string) {
    super(message, 'corrupted');
  }
}

/**
 * A request that must happen once (create, start, attach) lost its answer, and it is not sent again: it may or may
 * not have happened. The message says where to check before re-running.
 */
export class OutcomeUnknownError extends PublishError {
  override name = 'OutcomeUnknownError';
  constructor(message: string, options?: PublishErrorOptions) {
    super(message, 'outcome_unknown', options);
  }
}

/** Waiting for the provider's processing took longer than `wait-timeout-minutes`. */
export class WaitTimeoutError extends PublishError {
  override name = 'WaitTimeoutError';
  constructor(message: string) {
    super(message, 'timeout');
  }
}

/** A connection dropped, reset or timed out: retryable for idempotent requests. */
export class NetworkError extends PublishError {
  override name = 'NetworkError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'network', options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
