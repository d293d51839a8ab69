/**
 * S3-style blob store with REAL AWS Signature Version 4 presigned URLs (query-string auth) and
 * S3 presigned POST (browser-form upload with a signed policy).
 *
 * It is deliberately as strict as Amazon S3 so client bugs show up in tests:
 *  - the signature is recomputed from the actual request (method, path, query, signed headers), so a
 *    different Content-Type than the one signed fails with 403 SignatureDoesNotMatch, exactly as on S3;
 *  - expired URLs answer 403 AccessDenied "Request has expired";
 *  - query auth + an Authorization header answers 400 InvalidArgument "Only one auth mechanism allowed"
 *    (this is how tests catch a client leaking its API bearer token to storage);
 *  - PUT needs Content-Length (411 MissingContentLength), chunked PUT answers 501 NotImplemented;
 *  - an aborted body stores nothing.
 * Errors are S3 XML: <Error><Code>…</Code><Message>…</Message>…</Error>.
 *
 * Only path-style addressing (`/{bucket}/{key}`) and a single bucket are emulated.
 * Signature references: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 * and https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html ;
 * blob.test.ts checks the signatures against @smithy/signature-v4 (the AWS SDK's signer).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Faults } from './faults.js';
import { BodyTooLargeError, Listener, readBody } from './server.js';
import type { RequestLogEntry } from './server.js';

export type { RequestLogEntry } from './server.js';

export interface BlobObject {
  key: string;
  bytes: Buffer;
  contentType: string;
  /**
   * The ETag as the store sends it: the quoted MD5 hex ("\"9c11…\"") on a plain store; see `BlobStore.integrity`
   * for the others. Empty when the store sends none.
   */
  etag: string;
  /** Server-side encryption headers the store answers with (SSE-KMS, SSE-C). */
  sse: Record<string, string>;
  md5Hex: string;
  sha256Hex: string;
  /** How many successful writes this key received. */
  puts: number;
  lastModified: Date;
  /** x-amz-meta-* headers (PUT) or form fields (POST), lower-cased names without the prefix. */
  metadata: Record<string, string>;
}

export interface PresignOptions {
  key: string;
  /** presignPut only. */
  method?: 'PUT';
  /** When given, a signed header: the request must send exactly it (else 403 SignatureDoesNotMatch). */
  contentType?: string;
  /** Default 900; max 604800 (one week) as on S3. */
  expiresInSec?: number;
  /** A second successful write with the same URL answers 403 AccessDenied "Request has expired or was already used". (Not an S3 feature; some vendors' storage proxies behave like this.) */
  singleUse?: boolean;
  /** Extra headers the request must carry exactly (e.g. x-amz-meta-*, x-ms-blob-type). For POST they become signed form fields. */
  signedHeaders?: Record<string, string>;
  /** Larger body → 400 EntityTooLarge (PUT: checked against Content-Length; POST: policy content-length-range). */
  maxBytes?: number;
}

export interface PresignGetOptions {
  expiresInSec?: number;
  /** S3 signs the method: a HEAD needs a HEAD-signed URL (a GET-signed one fails with SignatureDoesNotMatch). */
  method?: 'GET' | 'HEAD';
}

export interface BlobStoreOptions {
  faults?: Faults;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  bucket?: string;
}

/**
 * How the store's answers look, for the integrity suite. S3 gives the MD5 as the ETag only for a single-part,
 * unencrypted (or SSE-S3) object:
 * - 'md5': that plain store (the default);
 * - 'sse-kms': SSE-KMS, whose ETag is 32 hex digits that are NOT the MD5, with `x-amz-server-side-encryption: aws:kms`;
 * - 'sse-c': customer-provided keys: the same, with `x-amz-server-side-encryption-customer-algorithm: AES256`;
 * - 'multipart': a multipart-style ETag, `"…-1"`;
 * - 'none': no ETag at all (some proxies and gateways drop it).
 */
export type BlobIntegrityStyle = 'md5' | 'sse-kms' | 'sse-c' | 'multipart' | 'none';

/** What the store remembers about each URL/policy it issued (keyed by signature). */
interface IssuedGrant {
  kind: 'PUT' | 'GET' | 'HEAD' | 'POST';
  key: string;
  singleUse: boolean;
  maxBytes?: number;
  used: number;
  revoked: boolean;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const MAX_EXPIRES = 604800; // S3: presigned URLs live at most 7 days
const MAX_SINGLE_PUT = 5 * 1024 ** 3; // S3: 5 GiB per PUT
const MAX_POST_BODY = 1024 ** 3; // emulator buffering cap for form uploads
const MAX_POST_PRE_DATA = 20 * 1024; // S3: form fields before the file are limited to 20 KB
const DEFAULT_CONTENT_TYPE = 'binary/octet-stream'; // what S3 stores when no Content-Type was sent

// ---------------------------------------------------------------------------------------------
// SigV4 primitives
// ---------------------------------------------------------------------------------------------

/** RFC 3986 encoding as SigV4 requires (encodeURIComponent leaves !'()* alone; AWS escapes them). */
export function awsEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** S3 object key → URI path (each segment escaped once, '/' kept; S3 does not double-encode). */
export function awsEscapePath(key: string): string {
  return key.split('/').map(awsEscape).join('/');
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function signingKey(secret: string, shortDate: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secret}`, shortDate);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** 20240102T030405Z */
function toAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Canonical query: every parameter except X-Amz-Signature, names and values escaped, sorted. */
function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => [awsEscape(k), awsEscape(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** SigV4 header value canonicalisation: trim, collapse runs of whitespace. */
function canonicalHeaderValue(v: string): string {
  return v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim();
}

function signatureFor(
  secret: string,
  amzDate: string,
  scope: { shortDate: string; region: string; service: string },
  canonicalRequest: string,
): { signature: string; stringToSign: string } {
  const credentialScope = `${scope.shortDate}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${credentialScope}\n${sha256Hex(canonicalRequest)}`;
  const signature = hmac(signingKey(secret, scope.shortDate, scope.region, scope.service), stringToSign).toString('hex');
  return { signature, stringToSign };
}

function safeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parse a raw query string without losing order or duplicates ('+' is a space, as S3 decodes it). */
function parseQuery(raw: string): [string, string][] | undefined {
  if (!raw) return [];
  const out: [string, string][] = [];
  try {
    for (const part of raw.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? '' : part.slice(eq + 1);
      out.push([decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))]);
    }
  } catch {
    return undefined;
  }
  return out;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

// ---------------------------------------------------------------------------------------------
// multipart/form-data (S3 presigned POST)
// ---------------------------------------------------------------------------------------------

interface FormPart {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
  /** Byte offset of the part in the body (for S3's 20 KB pre-data rule). */
  offset: number;
}

/** Parse a complete multipart/form-data body (RFC 7578). Returns undefined when malformed. */
function parseMultipart(body: Buffer, boundary: string): FormPart[] | undefined {
  const delim = Buffer.from(`--${boundary}`);
  const crlf = Buffer.from('\r\n');
  const parts: FormPart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) return undefined;
  for (;;) {
    pos += delim.length;
    // "--" after a delimiter closes the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    // Transport padding (spaces/tabs) is allowed before the CRLF.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (!body.subarray(pos, pos + 2).equals(crlf)) return undefined;
    pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) return undefined;
    const headerLines = body.subarray(pos, headerEnd).toString('utf8').split('\r\n');
    const dataStart = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([crlf, delim]), dataStart);
    if (next < 0) return undefined;
    let name: string | undefined;
    let filename: string | undefined;
    let contentType: string | undefined;
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      if (colon < 0) return undefined;
      const hname = line.slice(0, colon).trim().toLowerCase();
      const hval = line.slice(colon + 1).trim();
      if (hname === 'content-disposition') {
        if (!/^form-data\b/i.test(hval)) return undefined;
        name = /\bname="((?:[^"\\]|\\.)*)"/i.exec(hval)?.[1] ?? /\bname=([^;\s]+)/i.exec(hval)?.[1];
        filename = /\bfilename="((?:[^"\\]|\\.)*)"/i.exec(hval)?.[1] ?? /\bfilename=([^;\s]+)/i.exec(hval)?.[1];
      } else if (hname === 'content-type') {
        contentType = hval;
      }
    }
    if (name === undefined) return undefined;
    parts.push({
      name,
      data: body.subarray(dataStart, next),
      offset: pos,
      ...(filename !== undefined ? { filename } : {}),
      ...(contentType !== undefined ? { contentType } : {}),
    });
    pos = next + 2; // now at the delimiter
  }
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/** Thrown internally to answer an S3 error. */
class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

export class BlobStore {
  readonly faults: Faults;
  readonly requests: RequestLogEntry[] = [];
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;

  /** How ETags and encryption headers look (see BlobIntegrityStyle). */
  integrity: BlobIntegrityStyle = 'md5';
  /** A broken store: keep only this many bytes of every upload, and answer 200 all the same. */
  keepBytes?: number;
  /** A broken store: keep every upload with the byte at this offset flipped, and answer 200 all the same. */
  corruptAt?: number;

  private readonly store = new Map<string, BlobObject>();
  /** Every URL / POST policy issued, keyed by its signature. */
  private readonly grants = new Map<string, IssuedGrant>();
  /** expireAll(): URLs signed elsewhere (e.g. by @smithy in tests) at or before this second are expired. */
  private expiredUpTo = 0;
  private readonly listener = new Listener((req, res) => this.handle(req, res), () => ({ faults: this.faults, name: 'blob', requests: this.requests }));

  constructor(opts: BlobStoreOptions = {}) {
    this.faults = opts.faults ?? new Faults();
    this.region = opts.region ?? 'us-east-1';
    this.accessKeyId = opts.accessKeyId ?? 'AKIAEMULATOR00000000';
    this.secretAccessKey = opts.secretAccessKey ?? 'emulator/secret/access/key/000000000000';
    this.bucket = opts.bucket ?? 'model-publisher-emulator';
  }

  /** Starts listening (idempotent); returns the base URL http://127.0.0.1:PORT. */
  start(): Promise<string> {
    return this.listener.start();
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  get started(): boolean {
    return this.listener.started;
  }

  /** Base URL; throws before start(). */
  get url(): string {
    return this.listener.url;
  }

  private get host(): string {
    return new URL(this.url).host;
  }

  // ---- inspection / test hooks ----

  get(key: string): BlobObject | undefined {
    return this.store.get(key);
  }

  objects(): BlobObject[] {
    return [...this.store.values()];
  }

  /** Seed or overwrite an object directly (no HTTP). */
  putObject(key: string, bytes: Buffer, contentType = DEFAULT_CONTENT_TYPE): BlobObject {
    return this.write(key, bytes, contentType, {});
  }

  deleteObject(key: string): boolean {
    return this.store.delete(key);
  }

  /** Test hook: make every URL / POST policy issued so far expire now. */
  expireAll(): void {
    for (const g of this.grants.values()) g.revoked = true;
    this.expiredUpTo = Math.floor(Date.now() / 1000) * 1000;
  }

  // ---- presigning ----

  /** SigV4 query-auth presigned PUT URL (path-style, payload UNSIGNED-PAYLOAD). */
  presignPut(opts: PresignOptions): string {
    const headers: Record<string, string> = {};
    if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
    for (const [k, v] of Object.entries(opts.signedHeaders ?? {})) headers[k.toLowerCase()] = v;
    return this.presign('PUT', opts.key, headers, opts.expiresInSec ?? 900, {
      singleUse: opts.singleUse ?? false,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    });
  }

  /** SigV4 presigned GET (or HEAD) URL. */
  presignGet(key: string, opts: PresignGetOptions = {}): string {
    return this.presign(opts.method ?? 'GET', key, {}, opts.expiresInSec ?? 900, { singleUse: false });
  }

  /**
   * S3 presigned POST: `url` is the bucket URL; send multipart/form-data with every field first
   * and the file LAST in a field named `file`. The policy carries exact-match conditions for every
   * field and `content-length-range` when maxBytes is given.
   */
  presignPost(opts: PresignOptions): { url: string; fields: Record<string, string> } {
    const now = new Date();
    const amzDate = toAmzDate(now);
    const shortDate = amzDate.slice(0, 8);
    const credential = `${this.accessKeyId}/${shortDate}/${this.region}/s3/aws4_request`;
    const expiresInSec = opts.expiresInSec ?? 900;
    this.checkExpiresArg(expiresInSec);

    const fields: Record<string, string> = { bucket: this.bucket, key: opts.key };
    if (opts.contentType !== undefined) fields['Content-Type'] = opts.contentType;
    for (const [k, v] of Object.entries(opts.signedHeaders ?? {})) fields[k] = v;
    fields['x-amz-algorithm'] = ALGORITHM;
    fields['x-amz-credential'] = credential;
    fields['x-amz-date'] = amzDate;

    const conditions: unknown[] = Object.entries(fields).map(([k, v]) => ({ [k]: v }));
    if (opts.maxBytes !== undefined) conditions.push(['content-length-range', 0, opts.maxBytes]);
    const policy = Buffer.from(
      JSON.stringify({ expiration: new Date(now.getTime() + expiresInSec * 1000).toISOString(), conditions }),
    ).toString('base64');
    // SigV4 POST: the string to sign is the base64 policy itself.
    const signature = hmac(signingKey(this.secretAccessKey, shortDate, this.region, 's3'), policy).toString('hex');
    fields['policy'] = policy;
    fields['x-amz-signature'] = signature;
    this.grants.set(signature, {
      kind: 'POST',
      key: opts.key,
      singleUse: opts.singleUse ?? false,
      used: 0,
      revoked: false,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    });
    return { url: `${this.url}/${awsEscape(this.bucket)}`, fields };
  }

  private checkExpiresArg(expiresInSec: number): void {
    if (!Number.isInteger(expiresInSec) || expiresInSec < 1 || expiresInSec > MAX_EXPIRES) {
      throw new Error(`expiresInSec must be an integer within 1..${MAX_EXPIRES}`);
    }
  }

  private presign(
    method: 'PUT' | 'GET' | 'HEAD',
    key: string,
    signedHeaders: Record<string, string>,
    expiresInSec: number,
    grant: { singleUse: boolean; maxBytes?: number },
  ): string {
    this.checkExpiresArg(expiresInSec);
    const amzDate = toAmzDate(new Date());
    const shortDate = amzDate.slice(0, 8);
    const headers: Record<string, string> = { host: this.host, ...signedHeaders };
    const names = Object.keys(headers).sort();
    const query: [string, string][] = [
      ['X-Amz-Algorithm', ALGORITHM],
      ['X-Amz-Credential', `${this.accessKeyId}/${shortDate}/${this.region}/s3/aws4_request`],
      ['X-Amz-Date', amzDate],
      ['X-Amz-Expires', String(expiresInSec)],
      ['X-Amz-SignedHeaders', names.join(';')],
    ];
    const path = `/${awsEscape(this.bucket)}/${awsEscapePath(key)}`;
    const canonicalRequest = [
      method,
      path,
      canonicalQuery(query),
      names.map((n) => `${n}:${canonicalHeaderValue(headers[n] ?? '')}\n`).join(''),
      names.join(';'),
      UNSIGNED_PAYLOAD,
    ].join('\n');
    const { signature } = signatureFor(
      this.secretAccessKey,
      amzDate,
      { shortDate, region: this.region, service: 's3' },
      canonicalRequest,
    );
    this.grants.set(signature, { kind: method, key, used: 0, revoked: false, ...grant });
    const qs = [...query, ['X-Amz-Signature', signature] as [string, string]]
      .map(([k, v]) => `${awsEscape(k)}=${awsEscape(v)}`)
      .join('&');
    return `${this.url}${path}?${qs}`;
  }

  // ---- HTTP ----

  private write(key: string, received: Buffer, contentType: string, metadata: Record<string, string>, digests?: { md5Hex: string; sha256Hex: string }): BlobObject {
    let bytes = this.keepBytes !== undefined && received.length > this.keepBytes ? received.subarray(0, this.keepBytes) : received;
    if (this.corruptAt !== undefined && this.corruptAt < bytes.length) {
      bytes = Buffer.from(bytes);
      bytes[this.corruptAt] = bytes[this.corruptAt]! ^ 0xff;
    }
    const kept = bytes === received ? digests : undefined;
    const md5Hex = kept?.md5Hex ?? createHash('md5').update(bytes).digest('hex');
    // An encrypted object's ETag is 32 hex digits too, but not the MD5 of the bytes (S3 docs, "Checking object integrity").
    const opaque = createHash('md5').update(`encrypted:${key}:`).update(bytes).digest('hex');
    const etag = {
      md5: `"${md5Hex}"`,
      'sse-kms': `"${opaque}"`,
      'sse-c': `"${opaque}"`,
      multipart: `"${createHash('md5').update(Buffer.from(md5Hex, 'hex')).digest('hex')}-1"`,
      none: '',
    }[this.integrity];
    const sse: Record<string, string> =
      this.integrity === 'sse-kms'
        ? { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/emulator' }
        : this.integrity === 'sse-c'
          ? { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key-md5': 'ZW11bGF0b3Iga2V5IG1kNQ==' }
          : {};
    const obj: BlobObject = {
      key,
      bytes,
      contentType,
      etag,
      sse,
      md5Hex,
      sha256Hex: kept?.sha256Hex ?? sha256Hex(bytes),
      puts: (this.store.get(key)?.puts ?? 0) + 1,
      lastModified: new Date(),
      metadata,
    };
    this.store.set(key, obj);
    return obj;
  }

  /** The ETag (when the store sends one) and encryption headers of every answer about `obj`. */
  private objectHeaders(obj: BlobObject): Record<string, string> {
    return { ...(obj.etag ? { ETag: obj.etag } : {}), ...obj.sse };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    res.setHeader('Server', 'AmazonS3');
    try {
      await this.route(req, res);
    } catch (err) {
      if (!(err instanceof S3Error)) throw err;
      this.sendError(req, res, err, requestId);
    }
  }

  private sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, requestId: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const extra = Object.entries(err.extra)
      .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
      .join('');
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${extra}` +
      `<RequestId>${requestId}</RequestId><HostId>${xmlEscape(String(res.getHeader('x-amz-id-2')))}</HostId></Error>`;
    // S3 answers HEAD errors with the status only.
    const body = req.method === 'HEAD' ? '' : xml;
    res.writeHead(err.status, { 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(xml)) });
    res.end(body);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const qIdx = rawUrl.indexOf('?');
    const rawPath = qIdx < 0 ? rawUrl : rawUrl.slice(0, qIdx);
    const query = parseQuery(qIdx < 0 ? '' : rawUrl.slice(qIdx + 1));
    if (!query) throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");

    const m = /^\/([^/]*)(?:\/(.*))?$/s.exec(rawPath);
    let bucket: string;
    let key: string;
    try {
      bucket = decodeURIComponent(m?.[1] ?? '');
      key = decodeURIComponent(m?.[2] ?? '');
    } catch {
      throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: rawPath });
    }
    if (!bucket) throw new S3Error(403, 'AccessDenied', 'Access Denied');
    if (bucket !== this.bucket) {
      throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    }

    if (method === 'POST' && key === '' && !query.some(([k]) => k.startsWith('X-Amz-'))) {
      return this.handlePost(req, res);
    }
    if (key === '') throw new S3Error(403, 'AccessDenied', 'Access Denied'); // bucket-level ops are not emulated

    const auth = this.verifyQueryAuth(req, method, `/${awsEscape(bucket)}/${awsEscapePath(key)}`, query);
    if (auth.grant && auth.grant.key !== key) {
      // Cannot happen for a valid signature (the path is signed), kept as a guard.
      throw new S3Error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    switch (method) {
      case 'PUT':
        return this.handlePut(req, res, key, auth.grant, auth.payloadHash);
      case 'GET':
      case 'HEAD':
        return this.handleGet(req, res, key);
      default:
        throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
          Method: method,
          ResourceType: 'OBJECT',
        });
    }
  }

  /**
   * S3 query-string authentication (SigV4). Throws S3Error like S3 does; returns the grant this
   * emulator issued for the signature (undefined for URLs signed elsewhere, e.g. by @smithy).
   */
  private verifyQueryAuth(
    req: IncomingMessage,
    method: string,
    canonicalUri: string,
    query: [string, string][],
  ): { grant: IssuedGrant | undefined; payloadHash: string } {
    const q = new Map(query);
    const hasQueryAuth = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'Signature', 'AWSAccessKeyId'].some((k) =>
      q.has(k),
    );
    const authHeader = req.headers.authorization;
    // S3: one auth mechanism per request.
    if (hasQueryAuth && authHeader !== undefined) {
      throw new S3Error(
        400,
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        { ArgumentName: 'Authorization', ArgumentValue: authHeader },
      );
    }
    if (!hasQueryAuth) {
      if (authHeader !== undefined && !authHeader.startsWith(ALGORITHM)) {
        // S3 answers a Bearer / Basic token like this.
        throw new S3Error(400, 'InvalidArgument', 'Unsupported Authorization Type', {
          ArgumentName: 'Authorization',
          ArgumentValue: authHeader,
        });
      }
      // Anonymous access to a private bucket (header-signed SigV4 is not emulated).
      throw new S3Error(403, 'AccessDenied', 'Access Denied');
    }

    const algorithm = q.get('X-Amz-Algorithm');
    const credential = q.get('X-Amz-Credential');
    const amzDate = q.get('X-Amz-Date');
    const expires = q.get('X-Amz-Expires');
    const signedHeadersParam = q.get('X-Amz-SignedHeaders');
    const signature = q.get('X-Amz-Signature');
    if (!algorithm || !credential || !amzDate || !expires || !signedHeadersParam || !signature) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    if (algorithm !== ALGORITHM) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    const date = parseAmzDate(amzDate);
    if (!date) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
      );
    }
    const expiresSec = Number(expires);
    if (!/^\d+$/.test(expires) || expiresSec > MAX_EXPIRES) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'X-Amz-Expires must be less than a week (in seconds) that is 604800',
      );
    }
    const [akid, shortDate, region, service, terminator, ...rest] = credential.split('/');
    if (!akid || !shortDate || !region || !service || terminator !== 'aws4_request' || rest.length > 0) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
      );
    }
    if (shortDate !== amzDate.slice(0, 8)) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; incorrect date format "${shortDate}". This date in the credential must be in the format "yyyyMMdd".`,
      );
    }
    if (region !== this.region) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; the region '${region}' is wrong; expecting '${this.region}'`,
        { Region: this.region },
      );
    }
    if (service !== 's3') {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; incorrect service "${service}". This endpoint belongs to "s3".`,
      );
    }
    if (akid !== this.accessKeyId) {
      throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
        AWSAccessKeyId: akid,
      });
    }

    // S3 checks expiry before the signature.
    const now = Date.now();
    const expiresAt = date.getTime() + expiresSec * 1000;
    const grant = this.grants.get(signature);
    const revoked = grant ? grant.revoked : date.getTime() <= this.expiredUpTo;
    if (now > expiresAt || revoked) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': expires,
        Expires: new Date(revoked ? Math.min(expiresAt, now) : expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        ServerTime: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    }
    if (date.getTime() > now + 15 * 60 * 1000) {
      throw new S3Error(403, 'AccessDenied', 'Request is not valid yet');
    }

    // Recompute the signature from what was actually received.
    const signedNames = signedHeadersParam.split(';');
    const payloadHash = q.get('X-Amz-Content-Sha256') ?? headerString(req, 'x-amz-content-sha256') ?? UNSIGNED_PAYLOAD;
    const canonicalHeaders = signedNames
      .map((n) => `${n}:${canonicalHeaderValue(headerString(req, n) ?? '')}\n`)
      .join('');
    const canonicalRequest = [method, canonicalUri, canonicalQuery(query), canonicalHeaders, signedHeadersParam, payloadHash].join(
      '\n',
    );
    const expected = signatureFor(this.secretAccessKey, amzDate, { shortDate, region, service }, canonicalRequest);
    if (!safeEqualHex(expected.signature, signature)) {
      throw new S3Error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        {
          AWSAccessKeyId: akid,
          StringToSign: expected.stringToSign,
          SignatureProvided: signature,
          CanonicalRequest: canonicalRequest,
        },
      );
    }
    // S3: host must be signed, and every x-amz-* header sent must be signed.
    const unsigned = Object.keys(req.headers).filter(
      (h) => (h === 'host' || h.startsWith('x-amz-')) && !signedNames.includes(h),
    );
    if (unsigned.length > 0) {
      throw new S3Error(403, 'AccessDenied', 'There were headers present in the request which were not signed', {
        HeadersNotSigned: unsigned.join(', '),
      });
    }
    if (grant?.singleUse && grant.used > 0) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired or was already used');
    }
    return { grant, payloadHash };
  }

  private async handlePut(
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    grant: IssuedGrant | undefined,
    payloadHash: string,
  ): Promise<void> {
    // S3 does not take chunked transfer encoding on a plain (presigned) PUT.
    if (req.headers['transfer-encoding'] !== undefined) {
      throw new S3Error(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', {
        Header: 'Transfer-Encoding',
      });
    }
    const lengthHeader = req.headers['content-length'];
    if (lengthHeader === undefined) {
      throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    const length = Number(lengthHeader);
    const limit = Math.min(grant?.maxBytes ?? MAX_SINGLE_PUT, MAX_SINGLE_PUT);
    if (length > limit) {
      throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
        ProposedSize: length,
        MaxSizeAllowed: limit,
      });
    }
    const md5Header = headerString(req, 'content-md5');
    let expectedMd5: Buffer | undefined;
    if (md5Header !== undefined) {
      expectedMd5 = Buffer.from(md5Header, 'base64');
      if (expectedMd5.length !== 16 || expectedMd5.toString('base64') !== md5Header) {
        throw new S3Error(400, 'InvalidDigest', 'The Content-MD5 you specified was not valid.', { 'Content-MD5': md5Header });
      }
    }

    // An aborted / short body rejects with BodyAbortedError: nothing is stored. As S3 does, the digests are
    // computed while the body streams in, not after.
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    const bytes = await readBody(req, length, (chunk) => {
      md5.update(chunk);
      sha256.update(chunk);
    });
    const digests = { md5Hex: md5.digest('hex'), sha256Hex: sha256.digest('hex') };

    if (expectedMd5 && expectedMd5.toString('hex') !== digests.md5Hex) {
      throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', {
        ExpectedDigest: expectedMd5.toString('hex'),
        CalculatedDigest: Buffer.from(digests.md5Hex, 'hex').toString('base64'),
      });
    }
    if (payloadHash !== UNSIGNED_PAYLOAD && payloadHash !== digests.sha256Hex) {
      throw new S3Error(400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
        ClientComputedContentSHA256: payloadHash,
        S3ComputedContentSHA256: digests.sha256Hex,
      });
    }
    if (grant?.singleUse && grant.used > 0) {
      // Two uploads raced on a single-use URL; the first to finish won.
      throw new S3Error(403, 'AccessDenied', 'Request has expired or was already used');
    }
    const metadata: Record<string, string> = {};
    for (const [h, v] of Object.entries(req.headers)) {
      if (h.startsWith('x-amz-meta-') && typeof v === 'string') metadata[h.slice('x-amz-meta-'.length)] = v;
    }
    const obj = this.write(key, bytes, headerString(req, 'content-type') ?? DEFAULT_CONTENT_TYPE, metadata, digests);
    if (grant) grant.used += 1;
    res.writeHead(200, { ...this.objectHeaders(obj), 'Content-Length': '0' });
    res.end();
  }

  private handleGet(req: IncomingMessage, res: ServerResponse, key: string): void {
    const obj = this.store.get(key);
    if (!obj) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    const headers: Record<string, string> = {
      'Content-Type': obj.contentType,
      'Content-Length': String(obj.bytes.length),
      ...this.objectHeaders(obj),
      'Last-Modified': obj.lastModified.toUTCString(),
      'Accept-Ranges': 'bytes',
    };
    for (const [k, v] of Object.entries(obj.metadata)) headers[`x-amz-meta-${k}`] = v;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : obj.bytes);
  }

  /** S3 browser-based upload: POST /{bucket} with multipart/form-data and a SigV4-signed policy. */
  private async handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.authorization !== undefined) {
      // The form carries its own signature; a second credential is refused like on a presigned URL.
      throw new S3Error(400, 'InvalidArgument', 'Only one auth mechanism allowed; the POST policy or the Authorization header should be specified', {
        ArgumentName: 'Authorization',
        ArgumentValue: req.headers.authorization,
      });
    }
    const ctype = headerString(req, 'content-type') ?? '';
    const boundary = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]+)"|([^;\s]+))/i.exec(ctype);
    const boundaryValue = boundary?.[1] ?? boundary?.[2];
    if (!boundaryValue) {
      throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'Bucket POST must be of the enclosure-type multipart/form-data',
      });
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_POST_BODY);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
          MaxSizeAllowed: MAX_POST_BODY,
        });
      }
      throw err;
    }
    const parts = parseMultipart(body, boundaryValue);
    if (!parts) {
      throw new S3Error(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.');
    }

    // Form field names are case-insensitive on S3.
    const fields = new Map<string, { name: string; value: string }>();
    let file: FormPart | undefined;
    for (const part of parts) {
      const lname = part.name.toLowerCase();
      if (file) {
        // S3 silently ignores everything after the file; the emulator refuses it so clients that put
        // signed fields after the file (and would lose them on S3) fail loudly.
        throw new S3Error(400, 'InvalidArgument', `Form field '${part.name}' comes after the file field; the file must be the last field.`, {
          ArgumentName: part.name,
        });
      }
      if (lname === 'file') {
        file = part;
        if (part.offset > MAX_POST_PRE_DATA) {
          throw new S3Error(400, 'MaxPostPreDataLengthExceeded', 'Your POST request fields preceeding the upload file was too large.');
        }
        continue;
      }
      fields.set(lname, { name: part.name, value: part.data.toString('utf8') });
    }
    const field = (n: string): string | undefined => fields.get(n.toLowerCase())?.value;

    const keyField = field('key');
    if (keyField === undefined) {
      throw new S3Error(400, 'InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", {
        ArgumentName: 'key',
      });
    }
    const policyB64 = field('policy');
    if (policyB64 === undefined) throw new S3Error(403, 'AccessDenied', 'Access Denied');
    for (const required of ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature']) {
      if (field(required) === undefined) {
        throw new S3Error(400, 'InvalidArgument', `Bucket POST must contain a field named '${required}'.  If it is specified, please check the order of the fields.`, {
          ArgumentName: required,
        });
      }
    }
    if (!file) {
      throw new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.', { ArgumentName: 'file' });
    }
    if (field('x-amz-algorithm') !== ALGORITHM) {
      throw new S3Error(400, 'InvalidArgument', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"', { ArgumentName: 'x-amz-algorithm' });
    }
    const [akid, shortDate, region, service, terminator] = (field('x-amz-credential') ?? '').split('/');
    if (!akid || !shortDate || !region || service !== 's3' || terminator !== 'aws4_request' || region !== this.region) {
      throw new S3Error(400, 'InvalidArgument', 'Error parsing the X-Amz-Credential parameter', { ArgumentName: 'x-amz-credential' });
    }
    if (akid !== this.accessKeyId) {
      throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
        AWSAccessKeyId: akid,
      });
    }
    const signature = field('x-amz-signature') ?? '';
    const expected = hmac(signingKey(this.secretAccessKey, shortDate, region, 's3'), policyB64).toString('hex');
    if (!safeEqualHex(expected, signature)) {
      throw new S3Error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        { AWSAccessKeyId: akid, StringToSign: policyB64, SignatureProvided: signature },
      );
    }

    let policy: { expiration?: unknown; conditions?: unknown };
    try {
      policy = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8')) as typeof policy;
    } catch {
      throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
    }
    if (typeof policy.expiration !== 'string' || Number.isNaN(Date.parse(policy.expiration))) {
      throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Policy missing expiration.');
    }
    if (!Array.isArray(policy.conditions)) {
      throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Policy missing conditions.');
    }
    const grant = this.grants.get(signature);
    const revoked = grant ? grant.revoked : (parseAmzDate(field('x-amz-date') ?? '')?.getTime() ?? 0) <= this.expiredUpTo;
    if (Date.now() > Date.parse(policy.expiration) || revoked) {
      throw new S3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
    }
    if (grant?.singleUse && grant.used > 0) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired or was already used');
    }

    // Every condition must hold, and every field (except the signature, policy, file and x-ignore-*) must be covered.
    const covered = new Set<string>(['x-amz-signature', 'policy', 'file']);
    const failed = (c: unknown): S3Error =>
      new S3Error(403, 'AccessDenied', `Invalid according to Policy: Policy Condition failed: ${JSON.stringify(c)}`);
    const valueOf = (name: string): string | undefined => (name.toLowerCase() === 'bucket' ? this.bucket : field(name));
    let lengthRange: [number, number] | undefined;
    for (const c of policy.conditions) {
      if (Array.isArray(c)) {
        const [op, a, b] = c as unknown[];
        if (op === 'content-length-range' && typeof a === 'number' && typeof b === 'number') {
          lengthRange = [a, b];
          continue;
        }
        if ((op === 'eq' || op === 'starts-with') && typeof a === 'string' && a.startsWith('$') && typeof b === 'string') {
          const name = a.slice(1).toLowerCase();
          covered.add(name);
          const v = valueOf(name);
          if (v === undefined || (op === 'eq' ? v !== b : !v.startsWith(b))) throw failed(c);
          continue;
        }
        throw new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: Invalid Condition: ${JSON.stringify(c)}`);
      } else if (c && typeof c === 'object' && Object.keys(c).length === 1) {
        const [name, expectedValue] = Object.entries(c)[0] as [string, unknown];
        covered.add(name.toLowerCase());
        if (valueOf(name) !== expectedValue) throw failed(c);
      } else {
        throw new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: Invalid Condition: ${JSON.stringify(c)}`);
      }
    }
    const extra = [...fields.values()].filter((f) => !covered.has(f.name.toLowerCase()) && !f.name.toLowerCase().startsWith('x-ignore-'));
    if (extra.length > 0) {
      throw new S3Error(403, 'AccessDenied', `Invalid according to Policy: Extra input fields: ${extra.map((f) => f.name).join(', ')}`);
    }
    const size = file.data.length;
    if (lengthRange && size > lengthRange[1]) {
      throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
        ProposedSize: size,
        MaxSizeAllowed: lengthRange[1],
      });
    }
    if (lengthRange && size < lengthRange[0]) {
      throw new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
        ProposedSize: size,
        MinSizeAllowed: lengthRange[0],
      });
    }

    // S3 substitutes ${filename} in the key with the uploaded file's name.
    const key = keyField.replace(/\$\{filename\}/g, file.filename ?? '');
    const metadata: Record<string, string> = {};
    for (const f of fields.values()) {
      const l = f.name.toLowerCase();
      if (l.startsWith('x-amz-meta-')) metadata[l.slice('x-amz-meta-'.length)] = f.value;
    }
    const obj = this.write(key, Buffer.from(file.data), field('content-type') ?? DEFAULT_CONTENT_TYPE, metadata);
    if (grant) grant.used += 1;

    const location = `${this.url}/${awsEscape(this.bucket)}/${awsEscapePath(key)}`;
    const status = field('success_action_status');
    if (status === '201') {
      const xml =
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<PostResponse><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(this.bucket)}</Bucket>` +
        `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(obj.etag)}</ETag></PostResponse>`;
      res.writeHead(201, { ...this.objectHeaders(obj), Location: location, 'Content-Type': 'application/xml', 'Content-Length': String(Buffer.byteLength(xml)) });
      res.end(xml);
      return;
    }
    if (status === '200') {
      res.writeHead(200, { ...this.objectHeaders(obj), Location: location, 'Content-Length': '0' });
    } else {
      res.writeHead(204, { ...this.objectHeaders(obj), Location: location }); // S3's default success_action_status
    }
    res.end();
  }
}

function headerString(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}
