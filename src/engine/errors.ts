// Small typed errors whose messages tell the user what to do. The engine branches on the class, the
// GitHub edge prints `message` and `code`.

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

/** A failure with a vendor code (e.g. `upload_rejected`), shown to the user as it is. */
export class PublishError extends Error {
  override name = 'PublishError';
  constructor(
    message: string,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An HTTP answer that is not a success, after any retries. `url` never carries a query string. */
export class HttpError extends PublishError {
  override name = 'HttpError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    code?: string,
    readonly retryAfterMs?: number,
  ) {
    super(message, code);
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
    super(message, 'network_error', options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
