// Streams a file from disk to a presigned URL: a PUT of the raw bytes, or a multipart POST with the form
// fields first and the file last in the field `file`. MD5 and SHA-256 are computed from the same read that
// feeds the socket (hasher.ts), memory stays flat whatever the size, and what storage answers is checked against our
// hashes before the file can be reported as uploaded.
import { whenAborted } from '../core/abort.js';
import { formatBytes, formatRate } from '../core/units.js';
import { randomBytes } from 'node:crypto';
import { request as undiciRequest } from './undici.js';
import { CorruptionError, HttpError, NetworkError, PublishError, UploadUrlExpiredError } from '../core/errors.js';
import { parseRetryAfter, withRetry } from '../core/retry.js';
import { codeForStatus } from '../core/error-codes.js';
import type { Evidence, LocalFile, UploadReceipt, UploadTarget } from '../core/types.js';
import { FileChangedError, readAndHash } from './hasher.js';
import { ERROR_BODY_CAP, readCapped } from './bounded.js';
import { untilAborted } from './deadline.js';
import { flattenHeaders, isRetryableStatus, redactUrl, transportError, type Http } from './client.js';

const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;
const PROGRESS_EVERY_MS = 5_000;

export interface MultipartLayout {
  boundary: string;
  head: Buffer;
  tail: Buffer;
  contentLength: number;
}

/** The bytes around the file in a multipart/form-data body: every field first, then `file`. */
export function multipartLayout(fields: Record<string, string>, fileName: string, contentType: string, fileBytes: number, boundary?: string): MultipartLayout {
  const b = boundary ?? `----model-publisher-${randomBytes(12).toString('hex')}`;
  const quote = (s: string) => s.replace(/["\r\n]/g, (c) => encodeURIComponent(c));
  let head = '';
  for (const [name, value] of Object.entries(fields)) {
    head += `--${b}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`;
  }
  head += `--${b}\r\nContent-Disposition: form-data; name="file"; filename="${quote(fileName)}"\r\nContent-Type: ${contentType}\r\n\r\n`;
  const headBuf = Buffer.from(head, 'utf8');
  const tailBuf = Buffer.from(`\r\n--${b}--\r\n`, 'utf8');
  return { boundary: b, head: headBuf, tail: tailBuf, contentLength: headBuf.length + fileBytes + tailBuf.length };
}

/**
 * What storage's answer proves about the bytes it stored, checked against our MD5. An ETag is the MD5 of the
 * bytes only for a single-part upload to an S3-style store without SSE-KMS or SSE-C: S3 then gives another
 * value (so does a multipart upload, `"…-N"`, and Azure, `"0x…"`). Such ETags are no evidence either way:
 * they never fail an intact upload and never verify one. A mismatch of real evidence is corruption.
 */
export function verifyStoredDigest(headers: Record<string, string>, md5Hex: string, where: string): Evidence[] {
  const evidence: Evidence[] = [];
  const etag = headers['etag'];
  const encrypted = /^aws:kms/i.test(headers['x-amz-server-side-encryption'] ?? '') || headers['x-amz-server-side-encryption-customer-algorithm'] !== undefined;
  // A weak ETag (W/) promises only equivalence, not the bytes: no evidence.
  const md5Form = etag?.match(/^"?([0-9a-fA-F]{32})"?$/);
  if (md5Form && !encrypted) {
    if (md5Form[1]!.toLowerCase() !== md5Hex) {
      throw new CorruptionError(`${where}: storage holds different bytes (ETag ${etag}, our MD5 ${md5Hex}); the file was corrupted in transit`);
    }
    evidence.push('etag-md5');
  }
  const contentMd5 = headers['content-md5'];
  if (contentMd5) {
    const theirs = Buffer.from(contentMd5, 'base64').toString('hex');
    if (theirs !== md5Hex) {
      throw new CorruptionError(`${where}: storage reports Content-MD5 ${theirs}, our MD5 is ${md5Hex}; the file was corrupted in transit`);
    }
    evidence.push('content-md5');
  }
  return evidence;
}

/** The error of our own read of the file, wherever undici put it (as it is, or as the cause). */
function localReadFailure(err: unknown, label: string): PublishError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof FileChangedError) return new PublishError(`${label}: ${e.message}`, 'file_changed');
    // A file system error names the path it failed on; a socket's (ECONNRESET on read) does not.
    const { code, syscall, path } = e as NodeJS.ErrnoException;
    if (code && syscall && typeof path === 'string') return new PublishError(`${label}: the file cannot be read: ${code}`, 'unreadable');
  }
  return undefined;
}

/** S3, GCS and Azure word an expired or used URL differently; all answer 403 with one of these. */
const EXPIRED = /request has expired|expired|already used|AuthenticationFailed[\s\S]*(?:expir|Signed expiry|not valid in the specified time frame)/i;

export interface UploadOptions {
  signal: AbortSignal;
  label: string;
  onProgress?: (line: string) => void;
}

/** Upload `file` to `target`, retrying dropped connections, 429 and 5xx with a fresh read each time. */
export async function uploadFile(http: Http, file: LocalFile, target: UploadTarget, options: UploadOptions): Promise<UploadReceipt> {
  const where = `${target.method} ${redactUrl(target.url)}`;
  // A presigned PUT or POST writes one object key: repeating it replaces the same object, so it is safe.
  return withRetry(
    () => uploadOnce(http, file, target, options, where),
    (outcome) => {
      if (outcome.error instanceof NetworkError) return { retry: true, reason: outcome.error.message };
      if (outcome.error instanceof HttpError && isRetryableStatus(outcome.error.status)) {
        return { retry: true, retryAfterMs: outcome.error.retryAfterMs, reason: `HTTP ${outcome.error.status}` };
      }
      return { retry: false, reason: 'final' };
    },
    {
      policy: http.settings.policy,
      signal: options.signal,
      onRetry: ({ attempt, delayMs, reason }) =>
        http.settings.log.info(`${options.label}: upload ${reason}, retry ${attempt + 1}/${http.settings.policy.maxAttempts} in ${(delayMs / 1000).toFixed(1)}s`),
    },
  );
}

/** The errno code of a failed read of the local file (ENOENT, EACCES, EISDIR, EIO...), found in the cause chain. */
async function uploadOnce(http: Http, file: LocalFile, target: UploadTarget, options: UploadOptions, where: string): Promise<UploadReceipt> {
  const hashed = readAndHash(file.absolutePath, file.bytes);
  const headers: Record<string, string> = { 'user-agent': http.settings.userAgent };
  for (const [k, v] of Object.entries(target.headers)) headers[k.toLowerCase()] = v;

  let layout: MultipartLayout | undefined;
  if (target.method === 'POST') {
    const contentType = headers['content-type'] ?? target.fields?.['Content-Type'] ?? 'application/octet-stream';
    layout = multipartLayout(target.fields ?? {}, file.name, contentType, file.bytes);
    headers['content-type'] = `multipart/form-data; boundary=${layout.boundary}`;
    headers['content-length'] = String(layout.contentLength);
  } else {
    headers['content-length'] = String(file.bytes);
  }

  // The watchdog aborts when no byte has moved (or, once sent, no answer came) for stallTimeoutMs. Its signal is the
  // request's, following the run's too (no AbortSignal.any: a composite signal per upload costs more to follow).
  const stall = new AbortController();
  const stopFollowing = whenAborted(options.signal, () => stall.abort(options.signal.reason));
  let timer: NodeJS.Timeout | undefined;
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(() => stall.abort(new NetworkError(`${options.label}: upload stalled for ${http.settings.stallTimeoutMs / 1000}s`)), http.settings.stallTimeoutMs);
  };

  let sent = 0;
  const started = Date.now();
  let lastReport = started;
  const report = file.bytes >= PROGRESS_MIN_BYTES && options.onProgress;
  async function* body(): AsyncGenerator<Buffer> {
    if (layout) yield layout.head;
    for await (const chunk of hashed.chunks()) {
      sent += chunk.length;
      kick();
      if (report && Date.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = Date.now();
        report(`${options.label}: ${((sent / file.bytes) * 100).toFixed(0)}% of ${formatBytes(file.bytes)} (${formatRate(sent, (lastReport - started) / 1000)})`);
      }
      yield chunk;
    }
    if (layout) yield layout.tail;
  }

  kick();
  let statusCode: number;
  let resHeaders: Record<string, string>;
  let text: string;
  try {
    const signal = stall.signal;
    // Raced against the signal as well: undici ignores it while a proxy sits on the CONNECT (deadline.ts).
    const res = await untilAborted(undiciRequest(target.url, {
      method: target.method,
      headers,
      // An iterable, not a stream: undici pulls the next chunk only once the last one is written (hasher.ts).
      // undici takes iterables (core/request.js) though its types do not say so.
      body: body() as unknown as Uint8Array,
      dispatcher: http.dispatcher,
      signal,
      // Time limits are the stall watchdog's: a large body can take long, but never sit still.
      headersTimeout: 0,
      bodyTimeout: 0,
    }), signal, (late) => late.body.destroy());
    statusCode = res.statusCode;
    resHeaders = flattenHeaders(res.headers);
    // Storage answers are small; an endless one is cut (bounded.ts) instead of filling memory.
    text = (await readCapped(res.body, ERROR_BODY_CAP)).text;
  } catch (err) {
    hashed.abort();
    if (options.signal.aborted) throw err;
    if (stall.signal.aborted) throw stall.signal.reason;
    // Our own read failed (the file changed, vanished or cannot be read): a local error, which another attempt
    // would not change.
    const local = localReadFailure(err, options.label);
    if (local) throw local;
    throw transportError(err, options.label, where);
  } finally {
    clearTimeout(timer);
    stopFollowing();
  }

  if (statusCode < 200 || statusCode >= 300) {
    hashed.abort();
    // S3 and Azure put the code in the XML body, and Azure (or an empty body) in a header too.
    const code = text.match(/<Code>([^<]+)<\/Code>/)?.[1] ?? resHeaders['x-ms-error-code'] ?? resHeaders['x-amz-error-code'];
    const message = (text.match(/<Message>([^<]+)<\/Message>/)?.[1] ?? text.slice(0, 200)).trim() || '(no body)';
    if (statusCode === 403 && EXPIRED.test(text)) {
      throw new UploadUrlExpiredError(`${options.label}: the upload URL expired or was already used (${message})`);
    }
    throw new HttpError(
      `${options.label}: storage refused the upload: HTTP ${statusCode}${code ? ` ${code}` : ''}: ${message}`,
      statusCode,
      text.slice(0, 500),
      {
        // Storage's own refusal (a signature, a policy) is storage's; throttling and outages are the usual ones.
        code: statusCode === 429 || statusCode >= 500 ? codeForStatus(statusCode) : 'rejected_by_storage',
        ...(code ? { providerCode: code } : {}),
        retryAfterMs: parseRetryAfter(resHeaders['retry-after']),
      },
    );
  }
  if (sent !== file.bytes) {
    hashed.abort();
    throw new CorruptionError(`${options.label}: read ${sent} bytes but the file has ${file.bytes}; it changed while uploading`);
  }
  const { md5Hex, sha256Hex } = await hashed.digest();
  const evidence = verifyStoredDigest(resHeaders, md5Hex, options.label);
  if (report) {
    const secs = (Date.now() - started) / 1000;
    report(`${options.label}: 100% of ${formatBytes(file.bytes)} (${formatRate(file.bytes, secs)})`);
  }
  // Storage's other headers are not kept: a file waiting for its verdict holds its receipt, and nothing reads them.
  return { status: statusCode, etag: resHeaders['etag'], md5Hex, sha256Hex, bytes: sent, evidence };
}
