// ARCNM Uploads API: presign (PUT, or POST with form fields) → upload → confirm, then optionally attach the
// confirmed upload to a part revision. Every mutating request carries an Idempotency-Key that stays the same
// when that request is retried, so a retry is replayed by ARCNM instead of creating a second upload; presign and
// attach derive theirs from the workflow run (`runKey`), so a re-run attempt of the same run replays them too.
// skip-unchanged: one `GET /api/v1/uploads/` for the whole run finds the confirmed uploads of the same name and
// SHA-256, which are skipped (and still attached to part-id/revision-id).
import { createHash, randomUUID } from 'node:crypto';
import * as z from '../core/schema.js';
import { CorruptionError, PublishError, UsageError, WaitTimeoutError } from '../core/errors.js';
import { backoffDelay, parseRetryAfter } from '../core/retry.js';
import { codeForStatus, statusCode, type ErrorCode } from '../core/error-codes.js';
import type { Confirmed, Evidence, HashedFile, HeldFile, LocalFile, LookupContext, ProviderSession, PublishedIds, StepContext, UploadReceipt } from '../core/types.js';
import { SharedRounds, pollUntil, verdictUnlessCancelled, type Poll, type RoundWaiter } from '../core/waiting.js';
import type { Http, HttpResponse } from '../http/client.js';
import { formatBytes, monotonicMs } from '../core/units.js';
import { contentTypeFor } from '../files/content-type.js';
import { nameIfAny, nameOf, nameProblem, readNameTemplate, type NameSetting } from '../files/names.js';
import { optionalId, requireToken } from '../inputs.js';
import { wrongServerUrl } from './failures.js';
import { defineProvider, type CommonSettings, type OpenContext } from './types.js';
import { parseAnswer, tryJson } from './answers.js';

/** "Up to 512 MB each" (ARCNM uploads guide): 512 MiB, shown as such. */
export const ARCNM_MAX_BYTES = 512 * 1024 * 1024;
const ACCEPTED = ['step', 'stp', 'iges', 'igs', 'stl', 'pdf', 'dxf', 'png', 'jpg', 'jpeg'];
const CAD_3D = new Set(['step', 'stp', 'iges', 'igs', 'stl']);
const DRAWING_2D = new Set(['pdf', 'dxf']);

export interface ArcnmSettings {
  apiKey: string;
  baseUrl: string;
  attach?: { partId: string; revisionId: string };
  origin: CommonSettings['origin'];
  /** The `name` template: the upload's name. */
  name: NameSetting;
}

/** ARCNM's upload `name` may hold a `/` (its key is `uploads/<id>/<name>`): `{path}` is sent as a/sheet.pdf. */
export const ARCNM_NAME_RULES = { separator: '/' } as const;

const envelope = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.nullish(z.record(z.string(), z.unknown())) }),
  request_id: z.nullish(z.string()),
});

const presignAnswer = z.object({
  data_source_id: z.string().check(z.minLength(1)),
  url: z.url(),
  method: z.pipe(z.pipe(z.string(), z.transform((m: string) => m.toUpperCase())), z.enum(['PUT', 'POST'])),
  headers: z.nullish(z.record(z.string(), z.string())),
  fields: z.nullish(z.record(z.string(), z.string())),
  expires_in: z.nullish(z.number()),
});

/** ARCNM's IDs are strings in its docs; take numbers too, and keep a string. */
const arcnmId = z.pipe(z.union([z.string().check(z.minLength(1)), z.number()]), z.transform(String));

/**
 * Confirm's answer. The seed documents `{job_id}` (the background job checking the file: not a verdict); the
 * live service was seen answering the upload's `status` instead (`pending` first). Either, or both, may come.
 */
const confirmAnswer = z
  .object({
    job_id: z.nullish(arcnmId),
    status: z.nullish(z.string()),
    sha256: z.nullish(z.string()),
    size_bytes: z.nullish(z.number()),
  })
  .check(z.refine((a) => (a.job_id ?? a.status) != null, 'neither job_id nor status'));

/** A row of `GET /api/v1/uploads/`: where the upload's state lives. `sha256` and `size_bytes` are null until confirmed. */
const uploadRow = z.object({
  id: arcnmId,
  status: z.string(),
  sha256: z.nullish(z.string()),
  size_bytes: z.nullish(z.number()),
});
type UploadRow = z.infer<typeof uploadRow>;
/** What skip-unchanged reads of a row besides: the name it was uploaded under, and when. */
const namedRow = z.extend(uploadRow, { name: z.string(), created_at: z.nullish(z.string()) });

/** ARCNM's final states; anything else (`pending`, or a state ARCNM adds later) is still being checked. */
const FINAL_FAILURES = new Set(['failed', 'cancelled', 'rejected']);

/** ARCNM's codes in the shared vocabulary; any other follows the status. */
const ARCNM_CODES: Readonly<Record<string, ErrorCode>> = {
  invalid_api_key: 'auth_rejected',
  insufficient_scope: 'permission_denied',
  not_found: 'not_found',
  rate_limited: 'rate_limited',
  // ARCNM's magic-byte check refused the bytes.
  upload_rejected: 'invalid_content',
  upload_failed: 'rejected_by_provider',
  upload_cancelled: 'rejected_by_provider',
};

/** ARCNM's failure, with its code (as providerCode), message and request ID. */
export class ArcnmError extends PublishError {
  constructor(
    readonly status: number,
    arcnmCode: string,
    message: string,
    readonly details: Record<string, unknown>,
    readonly requestId?: string,
    readonly retryAfterMs?: number,
  ) {
    super(`ARCNM ${status} ${arcnmCode}: ${message}${requestId ? ` (request_id ${requestId})` : ''}`, ARCNM_CODES[arcnmCode] ?? codeForStatus(status), { providerCode: arcnmCode });
  }
}

interface Pending {
  dataSourceId: string;
  confirmed: boolean;
  /** An upload slot an earlier attempt of this workflow run was given (a replayed presign). */
  replayed?: boolean;
}

/**
 * An Idempotency-Key derived from the workflow run and the logical operation, so that every attempt of one
 * workflow run (a re-run, "re-run failed jobs") sends the same key for the same operation and ARCNM replays its
 * stored answer (for 24 hours) instead of acting again. The run ID is the same for every attempt of a run (the
 * attempt number is left out on purpose); the repository and commit keep runs of other repositories apart.
 * Shaped as a UUIDv4 (ARCNM asks for one per logical operation): SHA-256 of the parts, version and variant
 * bits set. Undefined without a run ID (the command line outside a workflow): each invocation is then a run
 * of its own and its keys are random, as a retry within the invocation still reuses them.
 */
export function runKey(origin: CommonSettings['origin'], operation: string, parts: readonly (string | number | undefined)[]): string | undefined {
  if (!origin?.runId) return undefined;
  const hex = createHash('sha256')
    .update(['model-publisher/arcnm', origin.repository ?? '', origin.runId, origin.sha ?? '', operation, ...parts.map((p) => String(p ?? ''))].join('\u0000'))
    .digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * ARCNM's confirmed row against what we sent: a different SHA-256 or size means ARCNM holds other bytes.
 * Answers what verified the file; nothing when ARCNM reported neither (both are null until confirmed).
 */
export function checkRow(row: UploadRow, file: LocalFile, receipt: UploadReceipt): Evidence[] {
  const sha256 = row.sha256?.toLowerCase();
  if ((row.size_bytes != null && row.size_bytes !== receipt.bytes) || (sha256 && sha256 !== receipt.sha256Hex)) {
    throw new CorruptionError(
      `ARCNM holds different bytes for upload ${row.id} (${row.size_bytes ?? '?'} bytes, sha256 ${sha256 ?? '?'}) than were uploaded from ${file.path} (${receipt.bytes} bytes, sha256 ${receipt.sha256Hex})`,
    );
  }
  if (sha256) return ['arcnm-sha256'];
  return row.size_bytes != null ? ['arcnm-size'] : [];
}

interface Waiter extends RoundWaiter<UploadRow> {
  lastStatus?: string;
  delayMs: number;
}

/** The first round after an upload starts waiting, and how each next one slows down, up to the longest. */
const FIRST_ROUND_MS = 100;
const ROUND_GROWTH = 1.5;
const LONGEST_ROUND_MS = 3_000;
/** A round's own work (reading the list) is at most this share of the time from one round to the next. */
const ROUND_WORK_SHARE = 1 / 20;

/**
 * Waits for ARCNM's verdict on every upload of the run that is waiting, with one `GET /api/v1/uploads/` per
 * round for all of them, not one request per file (SharedRounds). Each upload has its own schedule (a round soon
 * after it started waiting, as ARCNM's check usually takes moments, then slower, up to one every few seconds),
 * its own deadline and its own cancellation; a round comes when the first upload wants one, and serves all.
 * The list holds the whole organisation, so reading it costs more as it grows: rounds are held apart so that
 * reading takes at most a twentieth of the time (measured, each round), and never come sooner than `minGapMs`
 * after the last (longer while the server is rate limiting the run).
 */
export class VerdictWatcher {
  private readonly rounds: SharedRounds<UploadRow, Waiter>;
  private lastRoundAt = -Infinity;
  private gapMs = 0;

  constructor(
    /** The organisation's upload list, of which only the rows `keep` accepts are held. */
    private readonly list: (keep: (row: unknown) => boolean) => Promise<unknown[]>,
    signal: AbortSignal,
    /** The least time between rounds (longer while the server is rate limiting the run). */
    private readonly minGapMs: () => number = () => FIRST_ROUND_MS,
    /** Milliseconds the last list took to read (parse), beyond what a round does with its rows. */
    private readonly listMs: () => number = () => 0,
  ) {
    this.rounds = new SharedRounds(signal, (now, waiting) => this.round(now, waiting), () => this.lastRoundAt + Math.max(this.minGapMs(), this.gapMs));
  }

  verdict(dataSourceId: string, ctx: Pick<StepContext, 'signal' | 'stop' | 'waitDeadline'>): Promise<UploadRow> {
    return this.rounds.wait(
      dataSourceId.toLowerCase(),
      { dueAt: Date.now() + FIRST_ROUND_MS, delayMs: FIRST_ROUND_MS, round: 0 },
      ctx,
      (w) =>
        new WaitTimeoutError(`ARCNM's check of upload ${dataSourceId} had not finished after wait-timeout-minutes (${w.lastStatus ? `status ${w.lastStatus}` : "not yet in ARCNM's upload list"})`),
    );
  }

  private async round(now: number, waiting: Waiter[]): Promise<void> {
    this.lastRoundAt = now;
    // Every upload whose round this is moves on along its own schedule.
    for (const w of waiting) {
      if (w.dueAt > now) continue;
      w.round++;
      w.delayMs = Math.min(LONGEST_ROUND_MS, w.delayMs * ROUND_GROWTH);
      w.dueAt = now + w.delayMs;
    }
    const byId = this.rounds.waiting;
    let rows: unknown[];
    try {
      // The list holds every upload of the organisation: only the rows of waiting uploads are kept (by ID), and
      // only their shape is checked.
      rows = await this.list((raw) => {
        const rawId = (raw as { id?: unknown } | null)?.id;
        return (typeof rawId === 'string' || typeof rawId === 'number') && byId.has(String(rawId).toLowerCase());
      });
    } catch (err) {
      for (const w of waiting) w.settle(err);
      return;
    }
    const started = monotonicMs();
    for (const raw of rows) {
      const parsed = uploadRow.safeParse(raw);
      if (!parsed.success) continue;
      const waiter = byId.get(parsed.data.id.toLowerCase());
      if (!waiter) continue;
      const status = parsed.data.status.toLowerCase();
      waiter.lastStatus = status;
      if (status === 'confirmed' || FINAL_FAILURES.has(status)) waiter.settle(undefined, parsed.data);
    }
    this.gapMs = (this.listMs() + monotonicMs() - started) / ROUND_WORK_SHARE;
  }
}

class ArcnmSession implements Omit<ProviderSession<Pending>, 'plan'> {
  readonly displayName = 'ARCNM';
  private readonly watcher: VerdictWatcher;
  /** How long the last upload list took to parse (the verdict rounds are spaced by what they cost). */
  private listParseMs = 0;
  /** Each file's presigns so far in this run (the engine presigns again after an expired URL): part of the key. */
  private readonly presigns = new Map<string, number>();
  /** The SHA-256 of each file the lookup hashed: part of the presign key. */
  private readonly sha256s = new Map<string, string>();
  /**
   * Status of the uploads of our files' names, as the run's one list showed them (skip-unchanged) or as listed
   * when a presign was replayed: whether a replayed upload is still pending and usable.
   */
  private statuses?: Promise<Map<string, string>>;
  /** The same, as the lookup found them before this run presigned anything: what earlier attempts left. */
  private before?: Map<string, string>;

  constructor(
    private readonly settings: ArcnmSettings,
    private readonly http: Http,
    signal: AbortSignal,
  ) {
    // While ARCNM rate limits the run, the rounds take at most a fifth of the requests it allows.
    const limiter = http.limiterFor(settings.baseUrl);
    this.watcher = new VerdictWatcher(
      (keep) => this.listUploads(signal, keep),
      signal,
      () => (Number.isFinite(limiter.ratePerSec) ? Math.max(250, 5_000 / limiter.ratePerSec) : 250),
      () => this.listParseMs,
    );
  }

  /**
   * The uploads of the organisation (cancelled ones included: a cancelled upload is a verdict too) that `keep`
   * accepts. The list holds every upload the organisation ever made and has no filter: it is read row by row as
   * it arrives and only the kept rows are held, so neither memory nor a size cap grows with the organisation.
   */
  private async listUploads(signal: AbortSignal, keep: (row: unknown) => boolean): Promise<unknown[]> {
    const res = await this.http.requestList({
      method: 'GET',
      url: `${this.settings.baseUrl}/api/v1/uploads/?include_cancelled=true`,
      headers: { 'x-api-key': this.settings.apiKey },
      idempotent: true,
      signal,
      label: 'list uploads',
    }, keep);
    if (!res.ok) this.fail(res, 'list uploads');
    this.listParseMs = res.parseMs;
    return res.kept;
  }

  /** The name an upload of this file carries at ARCNM (presign's `name`), which the lookup matches. */
  private nameOf(file: LocalFile): string {
    return nameOf(this.settings.name, file);
  }

  /**
   * skip-unchanged: one `GET /api/v1/uploads/` for the whole run. A file is held when a **confirmed** upload
   * (ARCNM's check accepted it) has its name and its SHA-256 (and size): the newest such upload's ID is reused.
   * Pending, failed and cancelled uploads never count. The list shows no attachments, so with part-id the held
   * upload is still attached (`keep`), where ARCNM refuses a second link of the same upload.
   */
  async lookup(files: readonly HashedFile[], ctx: LookupContext): Promise<Map<LocalFile, HeldFile>> {
    for (const { file, sha256 } of files) this.sha256s.set(file.path, sha256);
    const names = new Set(files.map((f) => this.nameOf(f.file)));
    let rows: unknown[];
    try {
      rows = await this.listUploads(ctx.signal, (raw) => {
        const name = (raw as { name?: unknown } | null)?.name;
        return typeof name === 'string' && names.has(name);
      });
    } catch (err) {
      // A key with uploads:write but not uploads:read: publishing still works, only the lookup cannot.
      if (err instanceof ArcnmError && err.providerCode === 'insufficient_scope') {
        ctx.log.warn(`skip-unchanged: the ARCNM API key cannot list uploads (no uploads:read scope), so unchanged files cannot be found; every file is published`);
        return new Map();
      }
      throw err;
    }
    const ours = this.rowsNamed(rows);
    this.before = new Map(ours.map((r) => [r.id.toLowerCase(), r.status.toLowerCase()]));
    this.statuses = Promise.resolve(this.before);
    const held = new Map<LocalFile, HeldFile>();
    for (const { file, sha256 } of files) {
      const name = this.nameOf(file);
      const match = ours
        .filter((r) => r.name === name && r.status.toLowerCase() === 'confirmed' && r.sha256?.toLowerCase() === sha256 && (r.size_bytes == null || r.size_bytes === file.bytes))
        .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''))[0];
      if (!match) continue;
      const attach = this.settings.attach;
      held.set(file, {
        ids: { id: match.id, dataSourceId: match.id },
        held: `ARCNM upload ${match.id} (confirmed, same name and SHA-256)`,
        ...(attach ? { toDo: `attach it to part ${attach.partId} revision ${attach.revisionId} unless it is attached there already` } : {}),
      });
    }
    return held;
  }

  /** The rows of our files' names, shape-checked (the list kept only those; others are not looked at). */
  private rowsNamed(rows: unknown[]): z.infer<typeof namedRow>[] {
    const out: z.infer<typeof namedRow>[] = [];
    for (const raw of rows) {
      const parsed = namedRow.safeParse(raw);
      if (parsed.success) out.push(parsed.data);
    }
    return out;
  }

  /**
   * A held upload: attach it to the part revision when asked (ARCNM's list does not say whether it is attached
   * there already). The attach key is derived from the run (a re-run replays it), and ARCNM's `409 conflict` to
   * an attach means this upload is linked to the revision already: nothing to do, no second link.
   */
  async keep(file: LocalFile, held: HeldFile, ctx: StepContext): Promise<PublishedIds> {
    const attach = this.settings.attach;
    if (!attach) return held.ids;
    const dataSourceId = held.ids['dataSourceId'] ?? held.ids.id;
    await this.attach(file, dataSourceId, ctx, true);
    ctx.log.info(`${file.path}: upload ${dataSourceId} is attached to part ${attach.partId} revision ${attach.revisionId}`);
    return { ...held.ids, partId: attach.partId, revisionId: attach.revisionId };
  }

  /**
   * One logical mutating operation: the same Idempotency-Key on every retry of it, so ARCNM replays the
   * stored answer instead of acting twice. That is what makes a 5xx or a dropped connection safe to retry.
   * `derived`: a key from `runKey` (the same in every attempt of the workflow run); should ARCNM answer that it
   * was used with another body (`idempotency_conflict`: nothing was done for ours), the operation is sent once
   * more under a random key.
   */
  private async mutate(path: string, body: unknown, label: string, ctx: Pick<StepContext, 'signal' | 'stop' | 'log' | 'waitDeadline'>, derived?: string): Promise<HttpResponse> {
    const res = await this.mutateWithKey(path, body, label, ctx, derived ?? randomUUID());
    if (derived && res.status === 409 && errorCode(res) === 'idempotency_conflict') {
      ctx.log.info(`${label}: ARCNM holds another request under this run's key; sending it under a new key`);
      return this.mutateWithKey(path, body, label, ctx, randomUUID());
    }
    return res;
  }

  private mutateWithKey(path: string, body: unknown, label: string, ctx: Pick<StepContext, 'signal' | 'stop' | 'log' | 'waitDeadline'>, key: string): Promise<HttpResponse> {
    return pollUntil(ctx, () => `${label}: ARCNM was still processing the request after wait-timeout-minutes`, async (attempt): Promise<Poll<HttpResponse>> => {
      const res = await this.http.request({
        method: 'POST',
        url: `${this.settings.baseUrl}${path}`,
        headers: { 'x-api-key': this.settings.apiKey, 'idempotency-key': key },
        json: body,
        idempotent: true,
        signal: ctx.signal,
        label,
      });
      // The first request under this key is still running on ARCNM's side (or its lock after a 5xx is still held):
      // it may yet be carried out, so ask again with the same key until it finishes, never under a new key, for
      // as long as the run may wait. The replay then answers what that first request did.
      if (res.status === 409 && errorCode(res) === 'idempotency_in_flight') {
        const delay = backoffDelay(Math.min(attempt, 6), { ...this.http.settings.policy, baseDelayMs: 500, maxDelayMs: 5_000 }, parseRetryAfter(res.headers['retry-after']));
        return { againInMs: delay, note: `${label}: ARCNM is still processing the first attempt; asking again in ${(delay / 1000).toFixed(1)}s` };
      }
      return { done: res };
    });
  }

  private fail(res: HttpResponse, label: string): never {
    const parsed = envelope.safeParse(tryJson(res.text));
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      throw new ArcnmError(res.status, code, `${label}: ${message}`, details ?? {}, parsed.data.request_id ?? res.headers['x-request-id'] ?? undefined, parseRetryAfter(res.headers['retry-after']));
    }
    res.json(); // throws a clear error when the answer is not JSON at all (an HTML error page)
    throw new PublishError(`ARCNM ${label}: HTTP ${res.status}: ${res.text.slice(0, 200)}`, codeForStatus(res.status), { providerCode: statusCode(res.status) });
  }

  async presign(file: LocalFile, ctx: StepContext) {
    const contentType = contentTypeFor(file.ext);
    const body = { name: this.nameOf(file), content_type: contentType, size_bytes: file.bytes };
    const round = (this.presigns.get(file.path) ?? 0) + 1;
    this.presigns.set(file.path, round);
    // Why this key is safe: it covers everything the body holds (name, content type, size) and more (path,
    // SHA-256 when known, which presign of the file this is), so one key never carries two bodies; a replay
    // answers an upload slot an earlier attempt of this run was given, which is used only while it is still
    // pending (checked below), else a new slot is asked for under a key naming the old one.
    const parts: (string | number | undefined)[] = [file.path, this.sha256s.get(file.path), body.name, contentType, file.bytes, round];
    let answer: z.infer<typeof presignAnswer>;
    let replayed = false;
    // Each earlier attempt that failed this file left a slot (cancelled, or failed): the next key names the last one,
    // so every attempt finds the slots before it in order and then gets a new one. Bounded: a run has few attempts.
    for (let hop = 0; ; hop++) {
      const res = await this.mutate('/api/v1/uploads/presign', body, `${file.path}: presign`, ctx, runKey(this.settings.origin, 'presign', parts));
      if (!res.ok) this.fail(res, 'presign');
      answer = parseAnswer(presignAnswer, res.json(), 'ARCNM presign');
      if (!/^true$/i.test(res.headers['idempotent-replayed'] ?? '') || hop >= 20) break;
      // ARCNM replays an answer it gave before: to this process (a retry after a lost answer: the slot is ours) or
      // to an earlier attempt of the run (then it was in the list the lookup read before this run presigned).
      const earlier = this.before?.get(answer.data_source_id.toLowerCase());
      const status = earlier ?? (await this.statusOf(answer.data_source_id, ctx)) ?? 'unknown';
      if (status === 'pending') {
        if (earlier) {
          replayed = true;
          ctx.log.info(`${file.path}: continuing upload ${answer.data_source_id}, which an earlier attempt of this run presigned`);
        }
        break;
      }
      ctx.log.info(`${file.path}: an earlier attempt of this run was given upload ${answer.data_source_id}, now ${status}; asking for a new one`);
      parts.push(answer.data_source_id);
    }
    const target =
      answer.method === 'POST'
        ? { method: 'POST' as const, url: answer.url, headers: answer.headers ?? {}, fields: answer.fields ?? {} }
        : { method: 'PUT' as const, url: answer.url, headers: answer.headers ?? { 'Content-Type': contentType } };
    return { target, pending: { dataSourceId: answer.data_source_id, confirmed: false, ...(replayed ? { replayed } : {}) } };
  }

  async confirm(file: LocalFile, pending: Pending, receipt: UploadReceipt, ctx: StepContext): Promise<Confirmed> {
    const answer = await this.confirmReceived(file, pending, ctx);
    // The bytes are with ARCNM and its check is under way: the upload must not be cancelled from here on.
    pending.confirmed = true;
    const ids = { id: answer.job_id ?? pending.dataSourceId, ...(answer.job_id ? { jobId: answer.job_id } : {}), dataSourceId: pending.dataSourceId };
    const status = answer.status?.toLowerCase();
    if (status && FINAL_FAILURES.has(status)) await this.failWithReason(file, pending, status, ctx);
    // Attaching needs a confirmed upload, so a part revision makes the run wait for the verdict whatever `wait` says.
    if (!ctx.wait && !this.settings.attach) {
      ctx.log.info(`${file.path}: confirmed${answer.job_id ? ` (job ${answer.job_id})` : ''}; ARCNM's check is under way`);
      return { ids, outcome: 'submitted' };
    }
    const known = status === 'confirmed' && answer.sha256 && answer.size_bytes != null;
    // Waiting for the verdict sends nothing of this file's own (one list request a round serves every waiting
    // file): its place in the pool goes to the next file, and it takes one again (ctx.resume) for the confirm
    // that gives ARCNM's reason for a refusal. Not with an attach to follow: a file attached to a part revision
    // keeps its place, so that the first attach to a wrong part-id stops the run before the other files upload
    // (at concurrency 1, before any other starts).
    if (!known && !this.settings.attach) ctx.waiting?.();
    const row: UploadRow | undefined = known
      ? { id: pending.dataSourceId, status: status!, sha256: answer.sha256!, size_bytes: answer.size_bytes! }
      : await verdictUnlessCancelled(ctx, file.path, () => this.watcher.verdict(pending.dataSourceId, ctx));
    // Cancelled while ARCNM checks it: the upload is ARCNM's now, neither cancelled nor attached.
    if (!row) return { ids, outcome: 'submitted' };
    const rowStatus = row.status.toLowerCase();
    if (rowStatus !== 'confirmed') {
      await ctx.resume?.();
      await this.failWithReason(file, pending, rowStatus, ctx);
    }
    const evidence = checkRow(row, file, receipt);
    if (!this.settings.attach) return { ids, outcome: 'accepted', evidence };
    // Attaching is a new stage: none starts after the run was cancelled.
    ctx.stop?.throwIfAborted();
    await this.attach(file, pending.dataSourceId, ctx);
    // The results record the attach, so a reader sees where the file went, not only that it was uploaded.
    return { ids: { ...ids, partId: this.settings.attach.partId, revisionId: this.settings.attach.revisionId }, outcome: 'accepted', evidence };
  }

  /**
   * Confirm until ARCNM has the bytes: `409 upload_not_received` means storage is not consistent yet, so confirm
   * again, never upload again. Each confirm is its own logical operation (a new key): repeating confirm is safe and
   * answers the current state, whereas reusing one key would only replay the first answer.
   */
  private confirmReceived(file: LocalFile, pending: Pending, ctx: StepContext) {
    const label = `${file.path}: confirm`;
    return pollUntil(ctx, () => `ARCNM confirm: upload ${pending.dataSourceId} not received after wait-timeout-minutes`, async (round): Promise<Poll<z.infer<typeof confirmAnswer>>> => {
      const res = await this.mutate('/api/v1/uploads/confirm', { data_source_id: pending.dataSourceId }, label, ctx);
      if (res.ok) return { done: parseAnswer(confirmAnswer, res.json(), 'ARCNM confirm') };
      // upload_rejected, upload_failed, upload_cancelled and the rest are final.
      if (!(res.status === 409 && errorCode(res) === 'upload_not_received') || round >= this.http.settings.policy.maxAttempts) this.fail(res, 'confirm');
      return { againInMs: backoffDelay(round, { ...this.http.settings.policy, baseDelayMs: 250, maxDelayMs: 5_000 }), note: `${label}: ARCNM has not received the bytes yet; confirming again` };
    });
  }

  /**
   * ARCNM marked the upload failed or cancelled: confirming again answers the final error envelope with ARCNM's
   * own reason (`upload_rejected` and its message), which is what the user needs to see.
   */
  private async failWithReason(file: LocalFile, pending: Pending, status: string, ctx: StepContext): Promise<never> {
    const res = await this.mutate('/api/v1/uploads/confirm', { data_source_id: pending.dataSourceId }, `${file.path}: confirm`, ctx);
    if (!res.ok) this.fail(res, 'confirm');
    throw new PublishError(`ARCNM marked upload ${pending.dataSourceId} ${status}`, ARCNM_CODES[`upload_${status}`] ?? 'rejected_by_provider', { providerCode: `upload_${status}` });
  }

  /** The status of an upload as the run's list showed it; listed once more if the lookup did not run. */
  private async statusOf(dataSourceId: string, ctx: StepContext): Promise<string | undefined> {
    const id = dataSourceId.toLowerCase();
    const known = this.statuses ? await this.statuses.catch(() => undefined) : undefined;
    if (known?.has(id)) return known.get(id);
    // Not in the lookup's list (or no lookup): list once now, for this and any later replayed presign.
    // Each row's status is noted as the row is read, and no row is kept (a retried list notes the same again).
    const map = new Map<string, string>();
    this.statuses = this.listUploads(ctx.signal, (raw) => {
      const parsed = uploadRow.safeParse(raw);
      if (parsed.success) map.set(parsed.data.id.toLowerCase(), parsed.data.status.toLowerCase());
      return false;
    }).then(() => map);
    return (await this.statuses.catch(() => undefined))?.get(id);
  }

  private async attach(file: LocalFile, dataSourceId: string, ctx: StepContext, alreadyAttachedIsDone = false) {
    const { partId, revisionId } = this.settings.attach!;
    const role = CAD_3D.has(file.ext) ? 'cad_3d' : DRAWING_2D.has(file.ext) ? 'drawing_2d' : 'other';
    const origin = this.settings.origin;
    const attributes = Object.fromEntries(
      Object.entries({ source_path: file.path, commit_sha: origin?.sha, ref: origin?.ref, workflow_run: origin?.runUrl }).filter(([, v]) => v),
    );
    const label = `${file.path}: attach to part ${partId} revision ${revisionId}`;
    const body = { data_source_id: dataSourceId, role, attributes };
    // Why this key is safe: within one workflow run the body is a function of what the key covers (the upload, the
    // part revision, the file's path; the commit, ref and run URL are the run's), so a re-run attempt that attaches
    // the same upload again replays the first link instead of asking for a second one.
    const key = runKey(origin, 'attach', [partId, revisionId, dataSourceId, file.path, role]);
    await pollUntil(ctx, () => `${label}: upload still pending after wait-timeout-minutes`, async (): Promise<Poll<void>> => {
      const res = await this.mutate(`/api/v1/parts/${encodeURIComponent(partId)}/revisions/${encodeURIComponent(revisionId)}/datasets`, body, label, ctx, key);
      if (res.ok) return { done: undefined };
      // A held upload (skip-unchanged) may be linked to the revision already: ARCNM refuses a second link.
      if (alreadyAttachedIsDone && res.status === 409 && errorCode(res) === 'conflict') {
        ctx.log.info(`${label}: ARCNM answers that upload ${dataSourceId} is attached there already`);
        return { done: undefined };
      }
      const details = (tryJson(res.text) as { error?: { details?: { reason?: string; retry_after_s?: number } } } | undefined)?.error?.details;
      if (res.status === 409 && details?.reason === 'upload_pending') {
        // ARCNM is still checking the upload; it says how long to wait.
        const delay = parseRetryAfter(res.headers['retry-after']) ?? (details.retry_after_s ?? 1) * 1000;
        return { againInMs: delay, note: `${label}: upload pending, attaching again in ${(delay / 1000).toFixed(1)}s` };
      }
      this.fail(res, 'attach');
    });
  }

  /** Cancel an upload that never got confirmed, so nothing lingers (best effort). */
  async abandon(file: LocalFile, pending: Pending, ctx: StepContext) {
    if (pending.confirmed) return;
    // An earlier attempt may have confirmed this slot, its check still under way (the row still says pending):
    // cancelling it could undo that attempt's upload. ARCNM releases the slot itself if it was never used.
    if (pending.replayed) {
      ctx.log.info(`${file.path}: upload ${pending.dataSourceId} came from an earlier attempt of this run; left as it is, not cancelled`);
      return;
    }
    try {
      const res = await this.mutate(`/api/v1/uploads/${encodeURIComponent(pending.dataSourceId)}/cancel`, {}, `${file.path}: cancel`, { ...ctx, signal: AbortSignal.timeout(15_000), stop: undefined });
      ctx.log.info(`${file.path}: pending upload ${pending.dataSourceId} ${res.ok ? 'cancelled' : `not cancelled (HTTP ${res.status})`}`);
    } catch (err) {
      ctx.log.warn(`${file.path}: could not cancel pending upload ${pending.dataSourceId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function errorCode(res: HttpResponse): string | undefined {
  return envelope.safeParse(tryJson(res.text)).data?.error.code;
}

export const arcnm = defineProvider<ArcnmSettings>({
  id: 'arcnm',
  displayName: 'ARCNM',
  tokenEnv: 'ARCNM_API_KEY',
  defaultServerUrl: 'https://api.arcnm.io',
  inputs: ['part-id', 'revision-id', 'name'],
  idOutputs: [{ output: 'job-ids', field: 'jobId' }],
  readSettings(input, common) {
    const apiKey = requireToken(common, 'ARCNM_API_KEY', 'an ARCNM API key (ak_live_… or ak_test_…, with the uploads:write scope)');
    const partId = optionalId(input, 'part-id', 'the ARCNM part to attach uploads to');
    const revisionId = optionalId(input, 'revision-id', 'the revision of part-id to attach uploads to');
    if ((partId === undefined) !== (revisionId === undefined)) {
      throw new UsageError(partId ? 'revision-id' : 'part-id', 'part-id and revision-id go together: set both to attach uploads to a part revision, or neither');
    }
    return { apiKey, baseUrl: common.serverUrl, attach: partId && revisionId ? { partId, revisionId } : undefined, origin: common.origin, name: { template: readNameTemplate(input('name')), rules: ARCNM_NAME_RULES } };
  },
  refuse(file, settings) {
    if (!ACCEPTED.includes(file.ext)) {
      return `ARCNM accepts ${ACCEPTED.map((e) => `.${e}`).join(', ')}; .${file.ext || '(none)'} is not accepted (change the path pattern to leave it out)`;
    }
    if (file.bytes > ARCNM_MAX_BYTES) return `ARCNM accepts files up to ${formatBytes(ARCNM_MAX_BYTES)}; this one has ${formatBytes(file.bytes)} (${file.bytes} bytes)`;
    return nameProblem(settings.name, file);
  },
  fileName: (file, settings) => nameIfAny(settings.name, file),
  async open(settings, ctx: OpenContext) {
    if (ctx.dryRun) {
      // A dry run checks the key with a read (GET /api/v1/uploads/, writes nothing). A key without uploads:read
      // may still hold uploads:write: ARCNM has no read call that proves that, so it is a warning, not a failure.
      // The list is read through and none of it kept (an organisation's list has no size limit).
      const res = await ctx.http.requestList({ method: 'GET', url: `${settings.baseUrl}/api/v1/uploads/`, headers: { 'x-api-key': settings.apiKey }, idempotent: true, signal: ctx.signal, label: 'ARCNM list uploads' }, () => false);
      const code = errorCode(res);
      if (res.status === 403 && code === 'insufficient_scope') ctx.log.warn('ARCNM: the API key is valid but cannot list uploads (no uploads:read scope); whether it has uploads:write shows only in a real run');
      else if (!res.ok) {
        const parsed = envelope.safeParse(tryJson(res.text));
        if (parsed.success) throw new ArcnmError(res.status, parsed.data.error.code, `list uploads: ${parsed.data.error.message}`, parsed.data.error.details ?? {}, parsed.data.request_id ?? undefined);
        throw new PublishError(`ARCNM list uploads: HTTP ${res.status}: ${res.text.slice(0, 200)}`, codeForStatus(res.status), { providerCode: statusCode(res.status) });
      } else ctx.log.info('ARCNM: the API key is valid');
      if (settings.attach) ctx.log.info(`ARCNM: part ${settings.attach.partId} revision ${settings.attach.revisionId} is not checked: ARCNM documents no read call for a part revision`);
    }
    const attach = settings.attach;
    return Object.assign(new ArcnmSession(settings, ctx.http, ctx.signal), {
      plan: (file: LocalFile) => ({
        destination: `ARCNM upload "${nameOf(settings.name, file)}" as ${contentTypeFor(file.ext)}, confirmed${attach ? `, then attached to part ${attach.partId} revision ${attach.revisionId} as ${CAD_3D.has(file.ext) ? 'cad_3d' : DRAWING_2D.has(file.ext) ? 'drawing_2d' : 'other'}` : ''}`,
      }),
    });
  },
  describeTarget: (s) => (s.attach ? `part ${s.attach.partId} revision ${s.attach.revisionId} (each confirmed upload is attached to it) on ${s.baseUrl}` : `uploads on ${s.baseUrl} (not attached to a part)`),
  runFailure(err, settings, common) {
    if (!(err instanceof PublishError)) return undefined;
    const credential = 'the token input (or ARCNM_API_KEY) must hold a current ARCNM API key (ak_live_… or ak_test_…) with the uploads:write scope';
    // ARCNM's own codes decide (not every 403 is the key's scope).
    switch (err.providerCode) {
      case 'invalid_api_key':
        return { input: 'token', message: err.message, fix: credential, code: err.code };
      case 'insufficient_scope':
        return { input: 'token', message: err.message, fix: `${credential}; create a key with that scope in ARCNM's settings`, code: err.code };
      case 'not_found':
      case 'http_404':
        // Presign and the list have no ID in their route: a 404 there is server-url's; attach names the part. (A
        // 404 to confirm may be about one upload, so it stays that file's.)
        if (/: attach: /.test(err.message) && settings.attach) {
          return { input: 'part-id', message: err.message, fix: `check part-id (${settings.attach.partId}) and revision-id (${settings.attach.revisionId}): the part revision must exist in the API key's organisation`, code: err.code };
        }
        if (/(: | )(presign|list uploads)\b/.test(err.message)) return wrongServerUrl(this, common, /list uploads/.test(err.message) ? '/api/v1/uploads/' : '/api/v1/uploads/presign');
        return undefined;
      default:
        return undefined;
    }
  },
});
