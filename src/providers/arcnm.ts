// ARCNM Uploads API: presign (PUT, or POST with form fields) → upload → confirm, then optionally attach the
// confirmed upload to a part revision. Every mutating request carries an Idempotency-Key that stays the same
// when that request is retried, so a retry is replayed by ARCNM instead of creating a second upload.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { PublishError, UsageError, WaitTimeoutError } from '../engine/errors.js';
import { backoffDelay, parseRetryAfter, sleep } from '../engine/retry.js';
import type { LocalFile, StepContext, UploadReceipt } from '../engine/types.js';
import type { Http, HttpResponse } from '../http/client.js';
import { contentTypeFor } from '../files/content-type.js';
import { optionalId, requireToken } from '../inputs.js';
import type { CommonSettings, OpenContext, OpenedProvider, ProviderModule } from './types.js';
import { parseAnswer, tryJson } from './answers.js';

/** "Up to 512 MB each" (ARCNM uploads guide). */
export const ARCNM_MAX_BYTES = 512 * 1024 * 1024;
const ACCEPTED = ['step', 'stp', 'iges', 'igs', 'stl', 'pdf', 'dxf', 'png', 'jpg', 'jpeg'];
const CAD_3D = new Set(['step', 'stp', 'iges', 'igs', 'stl']);
const DRAWING_2D = new Set(['pdf', 'dxf']);

export interface ArcnmSettings {
  apiKey: string;
  baseUrl: string;
  attach?: { partId: string; revisionId: string };
  origin: CommonSettings['origin'];
}

const envelope = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).nullish() }),
  request_id: z.string().nullish(),
});

const presignAnswer = z.object({
  data_source_id: z.string().min(1),
  url: z.string().url(),
  method: z.string().transform((m) => m.toUpperCase()).pipe(z.enum(['PUT', 'POST'])),
  headers: z.record(z.string(), z.string()).nullish(),
  fields: z.record(z.string(), z.string()).nullish(),
  expires_in: z.number().nullish(),
});

/** The seed answers `{job_id}`; the live service answers the upload's status (`pending` first). */
const confirmAnswer = z.union([
  z.object({ job_id: z.string().min(1) }),
  z.object({ status: z.string(), data_source_id: z.string().nullish(), id: z.string().nullish() }),
]);

/** ARCNM's failure, with its code, message and request ID. */
export class ArcnmError extends PublishError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details: Record<string, unknown>,
    readonly requestId?: string,
    readonly retryAfterMs?: number,
  ) {
    super(`ARCNM ${status} ${code}: ${message}${requestId ? ` (request_id ${requestId})` : ''}`, code);
  }
}

interface Pending {
  dataSourceId: string;
  confirmed: boolean;
}

class ArcnmSession implements OpenedProvider<Pending> {
  readonly displayName = 'ARCNM';
  constructor(
    private readonly settings: ArcnmSettings,
    private readonly http: Http,
  ) {}

  /**
   * One logical mutating operation: the same Idempotency-Key on every retry of it, so ARCNM replays the
   * stored answer instead of acting twice. That is what makes a 5xx or a dropped connection safe to retry.
   */
  private async mutate(path: string, body: unknown, label: string, ctx: StepContext): Promise<HttpResponse> {
    const key = randomUUID();
    for (let attempt = 1; ; attempt++) {
      const res = await this.http.request({
        method: 'POST',
        url: `${this.settings.baseUrl}${path}`,
        headers: { 'x-api-key': this.settings.apiKey, 'idempotency-key': key },
        json: body,
        idempotent: true,
        signal: ctx.signal,
        label,
      });
      // The first request under this key is still running on ARCNM's side: wait and ask again.
      if (res.status === 409 && errorCode(res) === 'idempotency_in_flight' && attempt < this.http.settings.policy.maxAttempts) {
        await sleep(backoffDelay(attempt, this.http.settings.policy, parseRetryAfter(res.headers['retry-after'])), ctx.signal);
        continue;
      }
      return res;
    }
  }

  private fail(res: HttpResponse, label: string): never {
    const parsed = envelope.safeParse(tryJson(res.text));
    if (parsed.success) {
      const { code, message, details } = parsed.data.error;
      throw new ArcnmError(res.status, code, `${label}: ${message}`, details ?? {}, parsed.data.request_id ?? res.headers['x-request-id'] ?? undefined, parseRetryAfter(res.headers['retry-after']));
    }
    res.json(); // throws a clear error when the answer is not JSON at all (an HTML error page)
    throw new PublishError(`ARCNM ${label}: HTTP ${res.status}: ${res.text.slice(0, 200)}`, `http_${res.status}`);
  }

  async presign(file: LocalFile, ctx: StepContext) {
    const contentType = contentTypeFor(file.ext);
    const res = await this.mutate('/api/v1/uploads/presign', { name: file.name, content_type: contentType, size_bytes: file.bytes }, `${file.path}: presign`, ctx);
    if (!res.ok) this.fail(res, 'presign');
    const answer = parseAnswer(presignAnswer, res.json(), 'ARCNM presign');
    const target =
      answer.method === 'POST'
        ? { method: 'POST' as const, url: answer.url, headers: answer.headers ?? {}, fields: answer.fields ?? {} }
        : { method: 'PUT' as const, url: answer.url, headers: answer.headers ?? { 'Content-Type': contentType } };
    return { target, pending: { dataSourceId: answer.data_source_id, confirmed: false } };
  }

  async confirm(file: LocalFile, pending: Pending, _receipt: UploadReceipt, ctx: StepContext) {
    const ids = await this.confirmUntilDone(file, pending, ctx);
    // Attaching is a new stage: none starts after the run was cancelled.
    if (this.settings.attach) {
      ctx.stop?.throwIfAborted();
      await this.attach(file, pending, ctx);
    }
    return ids;
  }

  private async confirmUntilDone(file: LocalFile, pending: Pending, ctx: StepContext) {
    const label = `${file.path}: confirm`;
    for (let round = 1; ; round++) {
      // Each confirm is its own logical operation (a new key): repeating confirm is safe and answers the
      // current status, whereas reusing one key would only replay the first `pending`.
      const res = await this.mutate('/api/v1/uploads/confirm', { data_source_id: pending.dataSourceId }, label, ctx);
      if (res.ok) {
        const answer = parseAnswer(confirmAnswer, res.json(), 'ARCNM confirm');
        if ('job_id' in answer) {
          pending.confirmed = true;
          return { id: answer.job_id, jobId: answer.job_id, dataSourceId: pending.dataSourceId };
        }
        const status = answer.status.toLowerCase();
        if (status === 'confirmed') {
          pending.confirmed = true;
          return { id: pending.dataSourceId, dataSourceId: pending.dataSourceId };
        }
        if (status !== 'pending') throw new PublishError(`ARCNM confirm: upload is ${status}`, `upload_${status}`);
        if (!ctx.wait) {
          // Not waiting: the bytes are with ARCNM and its check is under way; it must not be cancelled now.
          pending.confirmed = true;
          return { id: pending.dataSourceId, dataSourceId: pending.dataSourceId, status: 'pending' };
        }
        ctx.log.debug(`${label}: pending`);
      } else if (!(res.status === 409 && errorCode(res) === 'upload_not_received')) {
        // upload_rejected, upload_failed, upload_cancelled and the rest are final.
        this.fail(res, 'confirm');
      } else {
        // The bytes are not visible yet (storage is eventually consistent): confirm again, never re-upload.
        ctx.log.info(`${label}: ARCNM has not received the bytes yet; confirming again`);
        if (round >= this.http.settings.policy.maxAttempts) this.fail(res, 'confirm');
      }
      const delay = backoffDelay(Math.min(round, 6), { ...this.http.settings.policy, baseDelayMs: 250, maxDelayMs: 5_000 });
      if (Date.now() + delay > ctx.waitDeadline) {
        throw new WaitTimeoutError(`ARCNM confirm: upload ${pending.dataSourceId} still pending after wait-timeout-minutes`);
      }
      await sleep(delay, ctx.stop ?? ctx.signal);
    }
  }

  private async attach(file: LocalFile, pending: Pending, ctx: StepContext) {
    const { partId, revisionId } = this.settings.attach!;
    const role = CAD_3D.has(file.ext) ? 'cad_3d' : DRAWING_2D.has(file.ext) ? 'drawing_2d' : 'other';
    const origin = this.settings.origin;
    const attributes = Object.fromEntries(
      Object.entries({ source_path: file.path, commit_sha: origin?.sha, ref: origin?.ref, workflow_run: origin?.runUrl }).filter(([, v]) => v),
    );
    const label = `${file.path}: attach to part ${partId} revision ${revisionId}`;
    for (let round = 1; ; round++) {
      const res = await this.mutate(
        `/api/v1/parts/${encodeURIComponent(partId)}/revisions/${encodeURIComponent(revisionId)}/datasets`,
        { data_source_id: pending.dataSourceId, role, attributes },
        label,
        ctx,
      );
      if (res.ok) return;
      const details = (tryJson(res.text) as { error?: { details?: { reason?: string; retry_after_s?: number } } } | undefined)?.error?.details;
      if (res.status === 409 && details?.reason === 'upload_pending') {
        // ARCNM is still checking the upload; it says how long to wait.
        const delay = parseRetryAfter(res.headers['retry-after']) ?? (details.retry_after_s ?? 1) * 1000;
        if (Date.now() + delay > ctx.waitDeadline) throw new WaitTimeoutError(`${label}: upload still pending after wait-timeout-minutes`);
        ctx.log.info(`${label}: upload pending, attaching again in ${(delay / 1000).toFixed(1)}s`);
        await sleep(delay, ctx.stop ?? ctx.signal);
        continue;
      }
      this.fail(res, 'attach');
    }
  }

  /** Cancel an upload that never got confirmed, so nothing lingers (best effort). */
  async abandon(file: LocalFile, pending: Pending, ctx: StepContext) {
    if (pending.confirmed) return;
    try {
      const res = await this.mutate(`/api/v1/uploads/${encodeURIComponent(pending.dataSourceId)}/cancel`, {}, `${file.path}: cancel`, { ...ctx, signal: AbortSignal.timeout(15_000) });
      ctx.log.info(`${file.path}: pending upload ${pending.dataSourceId} ${res.ok ? 'cancelled' : `not cancelled (HTTP ${res.status})`}`);
    } catch (err) {
      ctx.log.warn(`${file.path}: could not cancel pending upload ${pending.dataSourceId}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

function errorCode(res: HttpResponse): string | undefined {
  return envelope.safeParse(tryJson(res.text)).data?.error.code;
}

export const arcnm: ProviderModule<ArcnmSettings> = {
  id: 'arcnm',
  displayName: 'ARCNM',
  tokenEnv: 'ARCNM_API_KEY',
  defaultServerUrl: 'https://api.arcnm.io',
  inputs: ['part-id', 'revision-id'],
  idOutputs: [{ output: 'job-ids', field: 'jobId' }],
  readSettings(input, common) {
    const apiKey = requireToken(common, 'ARCNM_API_KEY', 'an ARCNM API key (ak_live_… or ak_test_…, with the uploads:write scope)');
    const partId = optionalId(input, 'part-id', 'the ARCNM part to attach uploads to');
    const revisionId = optionalId(input, 'revision-id', 'the revision of part-id to attach uploads to');
    if ((partId === undefined) !== (revisionId === undefined)) {
      throw new UsageError(partId ? 'revision-id' : 'part-id', 'part-id and revision-id go together: set both to attach uploads to a part revision, or neither');
    }
    return { apiKey, baseUrl: common.serverUrl, attach: partId && revisionId ? { partId, revisionId } : undefined, origin: common.origin };
  },
  secrets: () => [],
  refuse(file) {
    if (!ACCEPTED.includes(file.ext)) {
      return `ARCNM accepts ${ACCEPTED.map((e) => `.${e}`).join(', ')}; .${file.ext || '(none)'} is not accepted (change the path pattern to leave it out)`;
    }
    if (file.bytes > ARCNM_MAX_BYTES) return `ARCNM accepts files up to 512 MB; this one has ${file.bytes} bytes`;
    return undefined;
  },
  async open(settings, _common, ctx: OpenContext) {
    return new ArcnmSession(settings, ctx.http);
  },
};
