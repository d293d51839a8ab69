/**
 * ARCNM Uploads API emulator (https://api.arcnm.io).
 *
 * Contract: /work/shared/seeds/003_e1c96b91a6d36d30-arcnm.txt (the "Uploads" OpenAPI page).
 * Extra real-service behaviour from the reference notes (providers.md §3, "ARCNM"):
 *  - auth with `X-API-Key`, 401 `invalid_api_key`, 403 `insufficient_scope` (uploads:write);
 *  - one error envelope everywhere: {"error":{code,message,details,doc_url},"request_id"} + X-Request-ID;
 *  - presign → direct upload to storage (BlobStore, PUT or multipart POST) → confirm, which checks the
 *    magic bytes AFTER the reply, asynchronously (`confirmDelayMs`): the seed's confirm answers `{job_id}` (the
 *    job checking the file, not a verdict); `confirmMode: 'status'` gives the live service's status answer
 *    ("first confirm answers pending") and `'both'` an answer with both; the verdict is the upload's row
 *    (`GET /api/v1/uploads/`, or confirming again, which answers the final error once it failed);
 *  - attach to a part revision, with 409 `upload_pending` + Retry-After while the check runs;
 *  - Idempotency-Key replay / in-flight / conflict semantics;
 *  - 429 `rate_limited` WITHOUT Retry-After (inject it with `arcnmRateLimited()` as a fault), and the per-caller
 *    limiter itself when switched on (`rateLimit`: at most `limit` requests in any `windowMs`, a sliding window;
 *    refused requests do not count; Retry-After only when asked, as the real service sends none).
 *
 * State (uploads, datasets, counters) is public so tests can assert on it and tweak it.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlobStore } from './blob.js';
import { Faults } from './faults.js';
import type { FaultAction } from './faults.js';
import { BodyTooLargeError, Listener, readBody } from './server.js';
import type { HandlerContext, RequestLogEntry } from './server.js';

export type { RequestLogEntry } from './server.js';

export type ArcnmUploadStatus = 'pending' | 'confirmed' | 'failed' | 'cancelled';

export interface ArcnmUpload {
  id: string;
  name: string;
  content_type: string | null;
  /** size_bytes the client declared at presign (null when not given). */
  declared_size_bytes: number | null;
  /** Actual size; null until confirmed (as the API reports it). */
  size_bytes: number | null;
  status: ArcnmUploadStatus;
  /** Hex SHA-256 of the stored bytes; null until confirmed. */
  sha256: string | null;
  /** Storage key in the BlobStore. */
  key: string;
  created_at: string;
  /** Upload method handed out at presign. */
  method: 'PUT' | 'POST';
  /** Confirm calls actually executed for this upload (idempotent replays excluded). */
  confirmCalls: number;
  jobId?: string;
  /** When the confirm worker was queued (first successful confirm / retry). */
  confirmRequestedAt?: number;
  /** When the queued check completes; undefined when nothing is queued. */
  checkDueAt?: number;
  /** Why the upload is `failed`: upload_rejected (refused) or upload_failed (could not be checked). */
  failure?: { code: 'upload_rejected' | 'upload_failed'; message: string; details: Record<string, unknown> };
}

export interface ArcnmDataset {
  id: string;
  part_id: string;
  revision_id: string;
  data_source_id: string;
  role: string;
  is_primary: boolean;
  attributes?: unknown;
  created_at: string;
}

export interface ArcnmStats {
  /** Presigns executed (each created an upload); replays excluded. */
  presigns: number;
  /** Confirms executed; replays excluded. */
  confirms: number;
  /** Dataset links created. */
  attaches: number;
  /** Responses replayed from the idempotency store. */
  replays: number;
  /** 409 idempotency_in_flight + idempotency_conflict answers. */
  idempotencyRejections: number;
}

export interface ArcnmEmulatorOptions {
  blob: BlobStore;
  apiKey: string;
  faults?: Faults;
  /** Upload method presign hands out (default PUT). */
  uploadMethod?: 'PUT' | 'POST';
  /**
   * 'job' = the seed contract ({job_id}); 'status' = the live service ({data_source_id, status}); 'both' = an
   * answer with job_id and status. In every mode the check runs after the reply. Default 'job'.
   */
  confirmMode?: 'job' | 'status' | 'both';
  /** How long the confirm worker takes after the first confirm (default 150 ms: the check is never done by the reply). */
  confirmDelayMs?: number;
  /** Scopes of the API key (default ['uploads:read', 'uploads:write']). */
  scopes?: string[];
  /** Per-file limit (default 512 MB). */
  maxBytes?: number;
  /** Extra time every (non-replayed) mutating API call spends in the handler, while its idempotency key is held (default 0). */
  processingDelayMs?: number;
  /** How long a key stays locked after a 5xx (reference: "about 60 s"). Default 60000. */
  idempotencyLockMs?: number;
  /** The per-caller limiter (reference: 600 a minute, sliding window, no Retry-After); off by default. */
  rateLimit?: RateLimitOptions;
}

export interface RateLimitOptions {
  /** Requests accepted in any window. */
  limit: number;
  windowMs: number;
  /** Answer Retry-After (seconds until a request would be accepted); the real service does not. */
  retryAfter?: boolean;
  /** The clock (Date.now), for tests that move the window without waiting. */
  now?: () => number;
}

/** A sliding window over accepted requests: a request is refused when `limit` were accepted in the last `windowMs`. */
export class SlidingWindowLimit {
  private readonly accepted: number[] = [];
  private head = 0;
  /** Requests refused (429) so far. */
  refused = 0;
  constructor(readonly options: RateLimitOptions) {}

  /** Undefined when the request is accepted (and counted); else the milliseconds until one would be. */
  admit(): number | undefined {
    const now = (this.options.now ?? Date.now)();
    while (this.head < this.accepted.length && this.accepted[this.head]! <= now - this.options.windowMs) this.head++;
    if (this.head > 4096) this.accepted.splice(0, this.head), (this.head = 0);
    if (this.accepted.length - this.head < this.options.limit) {
      this.accepted.push(now);
      return undefined;
    }
    this.refused++;
    return Math.max(1, this.accepted[this.head]! + this.options.windowMs - now);
  }
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface IdempotencyEntry {
  fingerprint: string;
  state: 'in_flight' | 'done' | 'locked';
  reply?: Reply;
  expiresAt: number;
}

type Scope = 'uploads:read' | 'uploads:write';

interface Route {
  method: string;
  pattern: RegExp;
  scope: Scope;
  run: (ctx: CallContext, params: string[]) => Reply | Promise<Reply>;
}

interface CallContext {
  url: URL;
  body: Buffer;
  headers: IncomingMessage['headers'];
}

const MB = 1024 * 1024;
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const MAX_API_BODY = 1 * MB;
const PRESIGN_EXPIRES_IN = 900;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Accepted file types (uploads guide: STEP/STP, IGES, STL, PDF, DXF, PNG/JPEG), by extension. */
const FILE_TYPES: Record<string, { kind: string; mime: string }> = {
  step: { kind: 'step', mime: 'model/step' },
  stp: { kind: 'step', mime: 'model/step' },
  iges: { kind: 'iges', mime: 'model/iges' },
  igs: { kind: 'iges', mime: 'model/iges' },
  stl: { kind: 'stl', mime: 'model/stl' },
  pdf: { kind: 'pdf', mime: 'application/pdf' },
  dxf: { kind: 'dxf', mime: 'image/vnd.dxf' },
  png: { kind: 'png', mime: 'image/png' },
  jpg: { kind: 'jpeg', mime: 'image/jpeg' },
  jpeg: { kind: 'jpeg', mime: 'image/jpeg' },
};

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/**
 * ARCNM's confirm check ("ARCNM checks the magic bytes"). Returns a rejection reason or undefined.
 */
export function checkMagicBytes(name: string, bytes: Buffer): string | undefined {
  const kind = FILE_TYPES[extensionOf(name)]?.kind;
  const head = bytes.subarray(0, 4096).toString('latin1');
  const text = head.replace(/^\uFEFF|^\xEF\xBB\xBF/, '').replace(/^\s+/, '');
  switch (kind) {
    case 'pdf':
      return bytes.subarray(0, 5).toString('latin1') === '%PDF-' ? undefined : 'expected a PDF (%PDF-)';
    case 'step':
      return text.startsWith('ISO-10303-21;') ? undefined : 'expected a STEP file (ISO-10303-21;)';
    case 'stl': {
      if (/^solid\b/.test(text)) return undefined; // ASCII STL
      // Binary STL: 80-byte header, uint32 triangle count, 50 bytes per triangle.
      if (bytes.length >= 84 && bytes.length === 84 + 50 * bytes.readUInt32LE(80)) return undefined;
      return 'expected an STL file (ASCII "solid" or binary 84 + 50·n bytes)';
    }
    case 'png':
      return bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
        ? undefined
        : 'expected a PNG signature';
    case 'jpeg':
      return bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) ? undefined : 'expected a JPEG signature';
    case 'dxf':
      if (head.startsWith('AutoCAD Binary DXF\r\n\x1a\0')) return undefined;
      return /^0\r?\n\s*SECTION\b/.test(text) ? undefined : 'expected a DXF file (0 / SECTION)';
    case 'iges': {
      // IGES: fixed 80-column records, section letter in column 73; the file starts with the Start section ('S').
      const first = head.split(/\r?\n/, 1)[0] ?? '';
      return first.length === 80 && first[72] === 'S' ? undefined : 'expected an IGES file (80-column records, S in column 73)';
    }
    default:
      return 'unsupported file type';
  }
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function validationError(errors: { loc: (string | number)[]; msg: string; type: string }[]): ApiError {
  return new ApiError(422, 'validation_error', 'Request validation failed.', { errors });
}

/** The ARCNM error envelope (errors page): {"error":{code,message,details,doc_url},"request_id"}. */
function envelope(code: string, message: string, details: Record<string, unknown>, requestId: string): unknown {
  return {
    error: { code, message, details, doc_url: `https://arcnm.io/docs/errors#${code}` },
    request_id: requestId,
  };
}

function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}

/**
 * FaultAction for the per-caller limiter's answer: 429 `rate_limited` with details{limit, window_seconds}
 * and deliberately NO Retry-After / X-RateLimit-* headers (reference "Rate limits").
 */
export function arcnmRateLimited(opts: { limit?: number; windowSeconds?: number } = {}): FaultAction {
  const requestId = newRequestId();
  return {
    kind: 'status',
    status: 429,
    body: JSON.stringify(
      envelope(
        'rate_limited',
        'Rate limit exceeded. Back off with jitter and retry.',
        { limit: opts.limit ?? 600, window_seconds: opts.windowSeconds ?? 60 },
        requestId,
      ),
    ),
    headers: { 'Content-Type': 'application/json', 'X-Request-ID': requestId },
  };
}

export class ArcnmEmulator {
  readonly faults: Faults;
  readonly requests: RequestLogEntry[] = [];
  readonly uploads = new Map<string, ArcnmUpload>();
  readonly datasets: ArcnmDataset[] = [];
  readonly stats: ArcnmStats = { presigns: 0, confirms: 0, attaches: 0, replays: 0, idempotencyRejections: 0 };
  readonly blob: BlobStore;
  readonly apiKey: string;
  // Switchable per test:
  uploadMethod: 'PUT' | 'POST';
  confirmMode: 'job' | 'status' | 'both';
  confirmDelayMs: number;
  scopes: string[];
  maxBytes: number;
  processingDelayMs: number;
  idempotencyLockMs: number;
  /** The per-caller limiter, when on (switchable: assign a new one, or undefined). */
  rateLimit: SlidingWindowLimit | undefined;

  /** part id → revision ids */
  private readonly parts = new Map<string, Set<string>>();
  private readonly idempotency = new Map<string, IdempotencyEntry>();
  private readonly routes: Route[];
  private readonly listener = new Listener((req, res, ctx) => this.handle(req, res, ctx), () => ({ faults: this.faults, name: 'arcnm', requests: this.requests }));

  constructor(opts: ArcnmEmulatorOptions) {
    this.blob = opts.blob;
    this.apiKey = opts.apiKey;
    this.faults = opts.faults ?? new Faults();
    this.uploadMethod = opts.uploadMethod ?? 'PUT';
    this.confirmMode = opts.confirmMode ?? 'job';
    this.confirmDelayMs = opts.confirmDelayMs ?? 150;
    this.scopes = opts.scopes ?? ['uploads:read', 'uploads:write'];
    this.maxBytes = opts.maxBytes ?? 512 * MB;
    this.processingDelayMs = opts.processingDelayMs ?? 0;
    this.idempotencyLockMs = opts.idempotencyLockMs ?? 60_000;
    this.rateLimit = opts.rateLimit ? new SlidingWindowLimit(opts.rateLimit) : undefined;

    const id = '([^/]+)';
    this.routes = [
      { method: 'POST', pattern: /^\/api\/v1\/uploads\/presign$/, scope: 'uploads:write', run: (c) => this.presign(c) },
      { method: 'POST', pattern: /^\/api\/v1\/uploads\/confirm$/, scope: 'uploads:write', run: (c) => this.confirm(c) },
      { method: 'POST', pattern: /^\/api\/v1\/uploads\/bulk-cancel$/, scope: 'uploads:write', run: (c) => this.bulk(c, 'cancel') },
      { method: 'POST', pattern: /^\/api\/v1\/uploads\/bulk-retry$/, scope: 'uploads:write', run: (c) => this.bulk(c, 'retry') },
      { method: 'GET', pattern: /^\/api\/v1\/uploads\/$/, scope: 'uploads:read', run: (c) => this.list(c) },
      { method: 'POST', pattern: new RegExp(`^/api/v1/uploads/${id}/cancel$`), scope: 'uploads:write', run: (_c, p) => this.cancelReply(p[0] ?? '') },
      { method: 'POST', pattern: new RegExp(`^/api/v1/uploads/${id}/retry$`), scope: 'uploads:write', run: (_c, p) => this.retryReply(p[0] ?? '') },
      { method: 'GET', pattern: new RegExp(`^/api/v1/uploads/${id}/download-url$`), scope: 'uploads:read', run: (_c, p) => this.downloadUrl(p[0] ?? '') },
      {
        method: 'POST',
        pattern: new RegExp(`^/api/v1/parts/${id}/revisions/${id}/datasets$`),
        scope: 'uploads:write',
        run: (c, p) => this.attach(c, p[0] ?? '', p[1] ?? ''),
      },
    ];
  }

  /** Starts listening (and the BlobStore too if it is not running yet; the caller still closes it). */
  async start(): Promise<string> {
    if (!this.blob.started) await this.blob.start();
    return this.listener.start();
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  get url(): string {
    return this.listener.url;
  }

  addPartRevision(partId: string, revisionId: string): void {
    let revs = this.parts.get(partId);
    if (!revs) this.parts.set(partId, (revs = new Set()));
    revs.add(revisionId);
  }

  /** The upload once its queued check has run (at its due time, as a read then would see it). */
  async whenChecked(id: string): Promise<ArcnmUpload> {
    const u = this.uploads.get(id);
    if (!u) throw new Error(`no upload ${id}`);
    // A timer may fire a millisecond before Date.now() reaches the due time: wait until it has.
    while (u.checkDueAt !== undefined && Date.now() < u.checkDueAt) await new Promise((r) => setTimeout(r, Math.max(1, u.checkDueAt! - Date.now())));
    this.settle(u);
    return u;
  }

  /** Whether a request under this Idempotency-Key has arrived (running, locked or stored): tests wait on it. */
  holdsIdempotencyKey(key: string): boolean {
    return this.idempotency.has(`${this.apiKey}\u0000${key}`);
  }

  /** Uploads in a given state (after letting due confirm checks complete). */
  uploadsWithStatus(status: ArcnmUploadStatus): ArcnmUpload[] {
    return [...this.uploads.values()].filter((u) => (this.settle(u), u.status === status));
  }

  // -------------------------------------------------------------------------------------------
  // HTTP pipeline: auth → route → scope → idempotency → handler
  // -------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse, ctx: HandlerContext): Promise<void> {
    const requestId = newRequestId();
    let reply: Reply;
    try {
      reply = await this.pipeline(req, ctx, requestId);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      reply = this.errorReply(err, requestId);
    }
    this.write(res, reply, requestId);
  }

  private write(res: ServerResponse, reply: Reply, requestId: string): void {
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Request-ID': requestId,
      ...(reply.headers ?? {}),
    });
    res.end(body);
  }

  private errorReply(err: ApiError, requestId: string): Reply {
    return { status: err.status, body: envelope(err.code, err.message, err.details, requestId), headers: err.headers };
  }

  private async pipeline(req: IncomingMessage, ctx: HandlerContext, requestId: string): Promise<Reply> {
    const method = req.method ?? 'GET';
    let body: Buffer;
    try {
      body = await readBody(req, MAX_API_BODY);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new ApiError(413, 'payload_too_large', 'Request body too large.', {
          observed_bytes: Number(req.headers['content-length'] ?? err.observedBytes),
          limit_bytes: MAX_API_BODY,
        });
      }
      throw err;
    }

    // Authentication (X-API-Key).
    const key = req.headers['x-api-key'];
    if (typeof key !== 'string' || key !== this.apiKey) {
      throw new ApiError(401, 'invalid_api_key', 'Missing, malformed, or revoked API key.');
    }

    // The per-caller limiter answers before any work is done.
    const waitMs = this.rateLimit?.admit();
    if (waitMs !== undefined) {
      const { limit, windowMs, retryAfter } = this.rateLimit!.options;
      throw new ApiError(429, 'rate_limited', 'Rate limit exceeded. Back off with jitter and retry.', { limit, window_seconds: windowMs / 1000 }, retryAfter ? { 'Retry-After': String(Math.ceil(waitMs / 1000)) } : {});
    }

    // Routing. FastAPI redirects the slash-less collection path.
    const path = ctx.url.pathname;
    if (path === '/api/v1/uploads') {
      return { status: 307, headers: { Location: `/api/v1/uploads/${ctx.url.search}` } };
    }
    let matched: { route: Route; params: string[] } | undefined;
    let pathKnown = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (route.method === method) {
        matched = { route, params: m.slice(1).map((p) => decodeURIComponent(p)) };
        break;
      }
    }
    if (!matched) {
      if (pathKnown) throw new ApiError(405, 'method_not_allowed', `Method ${method} not allowed.`);
      throw new ApiError(404, 'not_found', 'Not found.');
    }

    // Scope.
    const { route, params } = matched;
    const allowed = route.scope === 'uploads:read' ? this.scopes.includes('uploads:read') || this.scopes.includes('uploads:write') : this.scopes.includes(route.scope);
    if (!allowed) {
      throw new ApiError(403, 'insufficient_scope', `This API key lacks the '${route.scope}' scope.`, { required_scope: route.scope });
    }

    const call: CallContext = { url: ctx.url, body, headers: req.headers };
    const mutating = method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
    const run = async (): Promise<Reply> => {
      if (this.processingDelayMs > 0 && mutating) await new Promise((r) => setTimeout(r, this.processingDelayMs));
      try {
        return await route.run(call, params);
      } catch (err) {
        if (err instanceof ApiError) return this.errorReply(err, requestId);
        throw err;
      }
    };

    const idemKey = req.headers['idempotency-key'];
    if (!mutating || typeof idemKey !== 'string') return run();
    return this.withIdempotency(method, path, idemKey, body, run);
  }

  /**
   * Idempotency (reference "Idempotency"): fingerprint = method + path + caller + exact body bytes.
   * Same key+body after completion → stored reply replayed with `Idempotent-Replayed: true`; while the
   * original runs → 409 idempotency_in_flight; different body → 409 idempotency_conflict. A 4xx releases
   * the key; a 5xx (or a body over 1 MB, which only gets a lock) holds it for ~60 s, during which a retry
   * gets 409. Stored replies last 24 h.
   */
  private async withIdempotency(method: string, path: string, idemKey: string, body: Buffer, run: () => Promise<Reply>): Promise<Reply> {
    if (idemKey.length === 0 || idemKey.length > 255) {
      throw validationError([{ loc: ['header', 'Idempotency-Key'], msg: 'Idempotency-Key must be 1..255 characters', type: 'value_error' }]);
    }
    const storeKey = `${this.apiKey}\u0000${idemKey}`;
    const fingerprint = createHash('sha256').update(`${method}\n${path}\n${this.apiKey}\n`).update(body).digest('hex');
    const now = Date.now();
    let entry = this.idempotency.get(storeKey);
    if (entry && entry.state !== 'in_flight' && entry.expiresAt <= now) {
      this.idempotency.delete(storeKey);
      entry = undefined;
    }
    if (entry) {
      if (entry.fingerprint !== fingerprint) {
        this.stats.idempotencyRejections++;
        throw new ApiError(409, 'idempotency_conflict', 'Idempotency-Key was already used with a different request.');
      }
      if (entry.state !== 'done' || !entry.reply) {
        this.stats.idempotencyRejections++;
        throw new ApiError(409, 'idempotency_in_flight', 'A request with this Idempotency-Key is still being processed.');
      }
      this.stats.replays++;
      return { ...entry.reply, headers: { ...(entry.reply.headers ?? {}), 'Idempotent-Replayed': 'true' } };
    }

    entry = { fingerprint, state: 'in_flight', expiresAt: Number.POSITIVE_INFINITY };
    this.idempotency.set(storeKey, entry);
    let reply: Reply;
    try {
      reply = await run();
    } catch (err) {
      entry.state = 'locked';
      entry.expiresAt = Date.now() + this.idempotencyLockMs;
      throw err;
    }
    if (reply.status >= 400 && reply.status < 500) {
      this.idempotency.delete(storeKey);
    } else if (reply.status >= 500 || body.length > MAX_API_BODY) {
      entry.state = 'locked';
      entry.expiresAt = Date.now() + this.idempotencyLockMs;
    } else {
      entry.state = 'done';
      entry.reply = reply;
      entry.expiresAt = Date.now() + IDEMPOTENCY_TTL_MS;
    }
    return reply;
  }

  // -------------------------------------------------------------------------------------------
  // Upload state machine
  // -------------------------------------------------------------------------------------------

  /** Let a queued confirm check finish if its time has come (the real check runs after the reply). */
  private settle(u: ArcnmUpload): void {
    if (u.status !== 'pending' || u.checkDueAt === undefined || Date.now() < u.checkDueAt) return;
    u.checkDueAt = undefined;
    const obj = this.blob.get(u.key);
    if (!obj) {
      u.status = 'failed';
      u.failure = { code: 'upload_failed', message: 'The uploaded file could not be read.', details: { reason: 'object_missing' } };
      return;
    }
    const magic = checkMagicBytes(u.name, obj.bytes);
    if (magic) {
      u.status = 'failed';
      u.failure = { code: 'upload_rejected', message: `The file was rejected: ${magic}.`, details: { reason: 'magic_bytes_mismatch', expected: magic } };
      return;
    }
    if (u.declared_size_bytes !== null && obj.bytes.length !== u.declared_size_bytes) {
      u.status = 'failed';
      u.failure = {
        code: 'upload_rejected',
        message: 'The file size does not match the declared size_bytes.',
        details: { reason: 'size_mismatch', declared_bytes: u.declared_size_bytes, observed_bytes: obj.bytes.length },
      };
      return;
    }
    u.status = 'confirmed';
    u.sha256 = obj.sha256Hex;
    u.size_bytes = obj.bytes.length;
  }

  private getUpload(id: string): ArcnmUpload {
    const u = this.uploads.get(id);
    if (!u) throw new ApiError(404, 'not_found', 'Upload not found.', { data_source_id: id });
    this.settle(u);
    return u;
  }

  private finalError(u: ArcnmUpload): ApiError | undefined {
    if (u.status === 'cancelled') return new ApiError(409, 'upload_cancelled', 'The upload was cancelled.', { data_source_id: u.id });
    if (u.status === 'failed') {
      const f = u.failure ?? { code: 'upload_failed' as const, message: 'The upload could not be checked.', details: {} };
      return new ApiError(409, f.code, f.message, { data_source_id: u.id, ...f.details });
    }
    return undefined;
  }

  private row(u: ArcnmUpload): Record<string, unknown> {
    return {
      id: u.id,
      name: u.name,
      content_type: u.content_type,
      size_bytes: u.size_bytes,
      status: u.status,
      sha256: u.sha256,
      created_at: u.created_at,
    };
  }

  private queueCheck(u: ArcnmUpload): void {
    u.jobId ??= `job_${randomUUID()}`;
    u.confirmRequestedAt = Date.now();
    u.checkDueAt = Date.now() + this.confirmDelayMs;
  }

  // -------------------------------------------------------------------------------------------
  // Endpoints
  // -------------------------------------------------------------------------------------------

  /** POST /api/v1/uploads/presign {name, content_type?, size_bytes?} */
  private presign(c: CallContext): Reply {
    const body = parseJsonObject(c);
    const errors: { loc: (string | number)[]; msg: string; type: string }[] = [];
    const name = body['name'];
    if (name === undefined || name === null) errors.push({ loc: ['body', 'name'], msg: 'Field required', type: 'missing' });
    else if (typeof name !== 'string') errors.push({ loc: ['body', 'name'], msg: 'Input should be a valid string', type: 'string_type' });
    else if (name.trim() === '') errors.push({ loc: ['body', 'name'], msg: 'String should have at least 1 character', type: 'string_too_short' });
    const contentType = body['content_type'];
    if (contentType !== undefined && contentType !== null && typeof contentType !== 'string') {
      errors.push({ loc: ['body', 'content_type'], msg: 'Input should be a valid string', type: 'string_type' });
    }
    const size = body['size_bytes'];
    if (size !== undefined && size !== null && (typeof size !== 'number' || !Number.isInteger(size))) {
      errors.push({ loc: ['body', 'size_bytes'], msg: 'Input should be a valid integer', type: 'int_type' });
    } else if (typeof size === 'number' && size < 0) {
      errors.push({ loc: ['body', 'size_bytes'], msg: 'Input should be greater than or equal to 0', type: 'greater_than_equal' });
    }
    if (errors.length > 0 || typeof name !== 'string') throw validationError(errors);

    const ext = extensionOf(name);
    const type = FILE_TYPES[ext];
    if (!type) {
      throw new ApiError(415, 'unsupported_media_type', `Unsupported file type '.${ext}'.`, {
        extension: ext,
        accepted: Object.keys(FILE_TYPES),
      });
    }
    const declared = typeof size === 'number' ? size : null;
    if (declared !== null && declared > this.maxBytes) {
      throw new ApiError(413, 'payload_too_large', `File exceeds the ${this.maxBytes}-byte limit.`, {
        observed_bytes: declared,
        limit_bytes: this.maxBytes,
      });
    }

    const id = randomUUID();
    const ct = typeof contentType === 'string' && contentType !== '' ? contentType : type.mime;
    const upload: ArcnmUpload = {
      id,
      name,
      content_type: ct,
      declared_size_bytes: declared,
      size_bytes: null,
      status: 'pending',
      sha256: null,
      key: `uploads/${id}/${name}`,
      created_at: new Date().toISOString(),
      method: this.uploadMethod,
      confirmCalls: 0,
    };
    // "A file larger than declared is refused": storage enforces the declared size (or the type maximum).
    const maxBytes = declared ?? this.maxBytes;
    this.uploads.set(id, upload);
    this.stats.presigns++;
    if (this.uploadMethod === 'POST') {
      const post = this.blob.presignPost({ key: upload.key, contentType: ct, expiresInSec: PRESIGN_EXPIRES_IN, maxBytes });
      return {
        status: 200,
        body: { data_source_id: id, url: post.url, method: 'POST', headers: null, fields: post.fields, expires_in: PRESIGN_EXPIRES_IN },
      };
    }
    const url = this.blob.presignPut({ key: upload.key, contentType: ct, expiresInSec: PRESIGN_EXPIRES_IN, maxBytes });
    return {
      status: 200,
      body: { data_source_id: id, url, method: 'PUT', headers: { 'Content-Type': ct }, fields: null, expires_in: PRESIGN_EXPIRES_IN },
    };
  }

  /** POST /api/v1/uploads/confirm {data_source_id} */
  private confirm(c: CallContext): Reply {
    const id = requireUuidField(parseJsonObject(c), 'data_source_id');
    const u = this.getUpload(id);
    this.stats.confirms++;
    u.confirmCalls++;
    const ok = (): Reply => {
      const status = { data_source_id: u.id, status: u.status };
      if (this.confirmMode === 'status') return { status: 200, body: status };
      return { status: 200, body: this.confirmMode === 'both' ? { job_id: u.jobId, ...status } : { job_id: u.jobId } };
    };

    const final = this.finalError(u);
    if (final) throw final;
    if (u.status === 'confirmed') return ok();
    // pending
    if (u.checkDueAt === undefined) {
      if (!this.blob.get(u.key)) {
        throw new ApiError(409, 'upload_not_received', 'The file has not been uploaded yet. Upload it, then confirm again.', {
          data_source_id: u.id,
        });
      }
      // The check (the seed's background job) runs after the reply: the first answer never carries a verdict.
      this.queueCheck(u);
    }
    return ok();
  }

  private cancel(id: string): ArcnmUpload {
    const u = this.getUpload(id);
    if (u.status === 'cancelled') return u; // idempotent
    if (u.status !== 'pending') {
      throw new ApiError(409, 'conflict', `Only pending uploads can be cancelled (status is ${u.status}).`, { status: u.status });
    }
    u.status = 'cancelled';
    u.checkDueAt = undefined;
    return u;
  }

  private cancelReply(id: string): Reply {
    return { status: 200, body: this.row(this.cancel(id)) };
  }

  /** Re-queue the confirm worker for a non-confirmed upload. */
  private retry(id: string): ArcnmUpload {
    const u = this.getUpload(id);
    if (u.status === 'confirmed') throw new ApiError(409, 'conflict', 'The upload is already confirmed.', { status: u.status });
    if (u.status === 'cancelled') throw new ApiError(409, 'upload_cancelled', 'The upload was cancelled.', { data_source_id: u.id });
    if (!this.blob.get(u.key)) {
      throw new ApiError(409, 'upload_not_received', 'The file has not been uploaded yet.', { data_source_id: u.id });
    }
    u.status = 'pending';
    delete u.failure;
    this.queueCheck(u);
    return u;
  }

  private retryReply(id: string): Reply {
    return { status: 200, body: this.row(this.retry(id)) };
  }

  private bulk(c: CallContext, op: 'cancel' | 'retry'): Reply {
    const body = parseJsonObject(c);
    const ids = body['ids'];
    if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string')) {
      throw validationError([{ loc: ['body', 'ids'], msg: 'Input should be a valid list of strings', type: 'list_type' }]);
    }
    if (ids.length === 0 || ids.length > 100) {
      throw validationError([{ loc: ['body', 'ids'], msg: 'List should have 1..100 items', type: 'too_long' }]);
    }
    const done: string[] = [];
    const skipped: { id: string; reason: string }[] = [];
    for (const id of ids as string[]) {
      try {
        if (op === 'cancel') this.cancel(id);
        else this.retry(id);
        done.push(id);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        skipped.push({ id, reason: err.code });
      }
    }
    return { status: 200, body: { cancelled: op === 'cancel' ? done : [], retried: op === 'retry' ? done : [], skipped } };
  }

  /** GET /api/v1/uploads/ — cancelled rows hidden unless include_cancelled=true. */
  private list(c: CallContext): Reply {
    const raw = c.url.searchParams.get('include_cancelled');
    let includeCancelled = false;
    if (raw !== null) {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on', 't', 'y'].includes(v)) includeCancelled = true;
      else if (['false', '0', 'no', 'off', 'f', 'n'].includes(v)) includeCancelled = false;
      else throw validationError([{ loc: ['query', 'include_cancelled'], msg: 'Input should be a valid boolean', type: 'bool_parsing' }]);
    }
    const rows = [...this.uploads.values()]
      .map((u) => (this.settle(u), u))
      .filter((u) => includeCancelled || u.status !== 'cancelled')
      .reverse()
      .map((u) => this.row(u));
    return { status: 200, body: rows };
  }

  /** GET /api/v1/uploads/{id}/download-url — status gate is `confirmed` only. */
  private downloadUrl(id: string): Reply {
    const u = this.getUpload(id);
    if (u.status !== 'confirmed') {
      throw new ApiError(409, 'conflict', `The upload is not confirmed (status is ${u.status}).`, { status: u.status });
    }
    return { status: 200, body: { url: this.blob.presignGet(u.key, { expiresInSec: PRESIGN_EXPIRES_IN }) } };
  }

  /** POST /api/v1/parts/{part_id}/revisions/{revision_id}/datasets {data_source_id, role?, is_primary?, attributes?} */
  private attach(c: CallContext, partId: string, revisionId: string): Reply {
    const revisions = this.parts.get(partId);
    if (!revisions) throw new ApiError(404, 'not_found', 'Part not found.', { part_id: partId });
    if (!revisions.has(revisionId)) throw new ApiError(404, 'not_found', 'Revision not found.', { part_id: partId, revision_id: revisionId });

    const body = parseJsonObject(c);
    const dsId = requireUuidField(body, 'data_source_id');
    const errors: { loc: (string | number)[]; msg: string; type: string }[] = [];
    const role = body['role'] ?? 'other';
    if (typeof role !== 'string' || role === '') errors.push({ loc: ['body', 'role'], msg: 'Input should be a valid string', type: 'string_type' });
    const isPrimary = body['is_primary'] ?? false;
    if (typeof isPrimary !== 'boolean') errors.push({ loc: ['body', 'is_primary'], msg: 'Input should be a valid boolean', type: 'bool_type' });
    const attributes = body['attributes'];
    if (attributes !== undefined && attributes !== null && (typeof attributes !== 'object' || Array.isArray(attributes))) {
      errors.push({ loc: ['body', 'attributes'], msg: 'Input should be a valid dictionary', type: 'dict_type' });
    }
    if (errors.length > 0) throw validationError(errors);

    const u = this.getUpload(dsId);
    if (u.status === 'pending') {
      // Reference: 409 with details.reason = upload_pending, Retry-After and details.retry_after_s.
      const retryAfter = Math.max(1, Math.ceil(((u.checkDueAt ?? Date.now()) - Date.now()) / 1000));
      throw new ApiError(
        409,
        'upload_pending',
        'The upload has not been confirmed yet; retry later.',
        { reason: 'upload_pending', retry_after_s: retryAfter, data_source_id: u.id },
        { 'Retry-After': String(retryAfter) },
      );
    }
    const final = this.finalError(u);
    if (final) throw final;
    if (this.datasets.some((d) => d.part_id === partId && d.revision_id === revisionId && d.data_source_id === dsId)) {
      throw new ApiError(409, 'conflict', 'This data source is already attached to the revision.', { data_source_id: dsId });
    }
    // Only one primary dataset per revision.
    if (isPrimary === true) {
      for (const d of this.datasets) if (d.part_id === partId && d.revision_id === revisionId) d.is_primary = false;
    }
    const link: ArcnmDataset = {
      id: randomUUID(),
      part_id: partId,
      revision_id: revisionId,
      data_source_id: dsId,
      role: role as string,
      is_primary: isPrimary === true,
      ...(attributes !== undefined && attributes !== null ? { attributes } : {}),
      created_at: new Date().toISOString(),
    };
    this.datasets.push(link);
    this.stats.attaches++;
    return { status: 201, body: link };
  }
}

/** FastAPI-style JSON body parsing: a JSON object with an application/json content type, else 422. */
function parseJsonObject(c: CallContext): Record<string, unknown> {
  const ct = String(c.headers['content-type'] ?? '');
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(ct)) {
    throw validationError([{ loc: ['body'], msg: 'Input should be a valid dictionary or object', type: 'model_attributes_type' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(c.body.toString('utf8'));
  } catch {
    throw validationError([{ loc: ['body', 0], msg: 'JSON decode error', type: 'json_invalid' }]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw validationError([{ loc: ['body'], msg: 'Input should be a valid dictionary or object', type: 'model_attributes_type' }]);
  }
  return parsed as Record<string, unknown>;
}

function requireUuidField(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (v === undefined || v === null) throw validationError([{ loc: ['body', field], msg: 'Field required', type: 'missing' }]);
  if (typeof v !== 'string' || !UUID_RE.test(v)) {
    throw validationError([{ loc: ['body', field], msg: 'Input should be a valid UUID', type: 'uuid_parsing' }]);
  }
  return v.toLowerCase();
}
