/**
 * Coldstream (Diabatix) emulator: the file server and the case server on one HTTP server, with the uploads
 * going to a {@link BlobStore} through SigV4 presigned PUT URLs, as the upload guide (seed 002) and the
 * official SDK (pyColdStream 1.0.3) describe them.
 *
 *   POST /cases/{caseId}/files   {fileName, fileSize, caseComponentId}
 *        → 200 {id, caseId, caseComponentId, fileName, fileSize, preSignedUrl, fileUrl, createdAt}
 *        caseComponentId is a component of the case or, for a whole-case file, the case id itself (what the
 *        SDK sends); the preSignedUrl is signed for `Content-Type: application/octet-stream`, and the blob
 *        store refuses a PUT that also carries an Authorization header (400 InvalidArgument, as S3 does).
 *   GET  /cases/{caseId}/files   → 200 [file records without preSignedUrl]
 *   POST /jobs/convert | /jobs/initialize   {caseId, fileId, fileURL}
 *        → 200 {id, type, caseId, fileId, status: "Created"}
 *        checks the case, that the file belongs to it, that fileURL is the record's fileUrl, that the bytes
 *        were uploaded (size as declared) and that the file is STEP. While a job of the same case runs
 *        (`jobDurationMs` after it was accepted), or while `answerBusy(n)` has answers left, the answer is
 *        `busyStatus` (400 by default: the SDK only tells us "not ok", and an ASP.NET `BadRequest("…")`
 *        is the plausible source) with the JSON string body "Job already runs for case {caseId}".
 *
 *        The answer's shape is a switch (`jobAnswer`, `jobAnswerStatus`): the docs promise only "a json object
 *        with meta data for the job" and the SDK never reads it, so tests cover every shape that promise
 *        allows: numeric or string IDs under `id` or `jobId`, a nested `job.id`, `{}`, an empty body, plain
 *        text, and 201/202/204 statuses. The job is accepted (in `jobs`) whatever the shape.
 *
 * Every API request needs `Authorization: Bearer <token>` (401 otherwise) and a JSON body
 * (`application/json` or the SDK's `application/*+json`; 415 otherwise). IDs in bodies may be JSON numbers
 * (as the SDK sends ints) or strings; file IDs are answered as numbers, job IDs as UUID strings.
 *
 * Test hooks: `files`, `jobs`, `jobRequests` (each job request with its start, end and outcome),
 * `maxConcurrentJobRequests(caseId)`, `answerBusy(n)`, `rateLimit(n)`, `faults`, `requests` (the API log)
 * and `blob.requests` (the storage log).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlobStore } from './blob.js';
import { Faults } from './faults.js';
import { Listener, readBody, sendJson } from './server.js';
import type { RequestLogEntry } from './server.js';

export const BUSY_TEXT = 'Job already runs for case';

export interface ColdstreamFileRecord {
  id: number;
  caseId: string;
  /** As the client sent it (number or string). */
  caseComponentId: string | number;
  fileName: string;
  fileSize: number;
  key: string;
  fileUrl: string;
  createdAt: number;
}

/**
 * How the job answer looks (all are 2xx, all mean "accepted"):
 *  - `full`: `{id: "<uuid>", type, caseId, fileId, status: "Created", createdAt}` (the default);
 *  - `numeric-id`: the same with `id` a JSON number;
 *  - `jobId`: `{jobId: "<uuid>", status}`; `job_id-number`: `{job_id: <number>}`;
 *  - `nested`: `{job: {id: "<uuid>", status}}`;
 *  - `no-id`: `{status: "Created", caseId, fileId}` (meta data, but no ID);
 *  - `empty-object`: `{}`; `empty-body`: no body at all; `text`: `text/plain` "Job queued".
 */
export type JobAnswerShape = 'full' | 'numeric-id' | 'jobId' | 'job_id-number' | 'nested' | 'no-id' | 'empty-object' | 'empty-body' | 'text';

export interface ColdstreamJob {
  id: string;
  /** The ID the answer carried (as text), or undefined when its shape carried none. */
  answeredId: string | undefined;
  type: 'convert' | 'initialize';
  caseId: string;
  fileId: number;
  startedAt: number;
  /** Until then the case answers busy to any other job request. */
  endsAt: number;
}

export interface JobRequestRecord {
  caseId: string;
  type: 'convert' | 'initialize';
  /** Date.now() when the request's body was read, and when the answer went out. */
  start: number;
  end: number;
  status: number;
  outcome: 'started' | 'busy' | 'refused';
}

export interface ColdstreamEmulatorOptions {
  token?: string;
  /** Case id → its component ids. Default: case 1001 with components 2001 and 2002. */
  cases?: Record<string, string[]>;
  /** Share a blob store; one is created (and closed with the emulator) when absent. */
  blob?: BlobStore;
  faults?: Faults;
  /** How long an accepted job keeps its case busy. Default 0 (never busy unless told). */
  jobDurationMs?: number;
  /** How long a job request takes to answer, so overlapping requests would be seen. Default 25 ms. */
  jobRequestLatencyMs?: number;
  /** Status of the busy answer. Default 400. */
  busyStatus?: number;
  /** Lifetime of presigned PUT URLs. Default 900 s. */
  presignExpiresInSec?: number;
  /** The shape of the answer to an accepted job (default `full`). */
  jobAnswer?: JobAnswerShape;
  /** The status of that answer (default 200; 204 always has an empty body). */
  jobAnswerStatus?: number;
}

const JSON_TYPES = /^(application\/json|text\/json|application\/[*a-z0-9.+-]*\+json)\s*(;|$)/i;
const STEP = /\.(step|stp)$/i;

/** An answer body sent as it is (not JSON): empty, or plain text. */
class RawAnswer {
  constructor(readonly text: string) {}
}

export class ColdstreamEmulator {
  readonly token: string;
  readonly faults: Faults;
  readonly blob: BlobStore;
  readonly requests: RequestLogEntry[] = [];
  readonly cases: Map<string, Set<string>>;
  readonly files: ColdstreamFileRecord[] = [];
  readonly jobs: ColdstreamJob[] = [];
  readonly jobRequests: JobRequestRecord[] = [];
  jobDurationMs: number;
  jobRequestLatencyMs: number;
  busyStatus: number;
  presignExpiresInSec: number;
  jobAnswer: JobAnswerShape;
  jobAnswerStatus: number;

  private readonly ownsBlob: boolean;
  private readonly listener = new Listener((req, res, ctx) => this.route(req, res, ctx.url), () => ({ faults: this.faults, name: 'coldstream', requests: this.requests }));
  private nextFileId = 5001;
  private nextJobNumber = 88001;
  private busyLeft = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly maxInFlight = new Map<string, number>();

  constructor(opts: ColdstreamEmulatorOptions = {}) {
    this.token = opts.token ?? 'cs_emulator_token_7f3a9c';
    this.faults = opts.faults ?? new Faults();
    this.ownsBlob = opts.blob === undefined;
    this.blob = opts.blob ?? new BlobStore();
    this.cases = new Map(Object.entries(opts.cases ?? { '1001': ['2001', '2002'] }).map(([c, comps]) => [c, new Set(comps)]));
    this.jobDurationMs = opts.jobDurationMs ?? 0;
    this.jobRequestLatencyMs = opts.jobRequestLatencyMs ?? 25;
    this.busyStatus = opts.busyStatus ?? 400;
    this.presignExpiresInSec = opts.presignExpiresInSec ?? 900;
    this.jobAnswer = opts.jobAnswer ?? 'full';
    this.jobAnswerStatus = opts.jobAnswerStatus ?? 200;
  }

  async start(): Promise<string> {
    await this.blob.start();
    return this.listener.start();
  }

  async close(): Promise<void> {
    await this.listener.close();
    if (this.ownsBlob) await this.blob.close();
  }

  get url(): string {
    return this.listener.url;
  }

  // ---- test hooks ----

  /** The next `n` job requests (any case) answer busy, whatever runs. */
  answerBusy(n: number): void {
    this.busyLeft = n;
  }

  /** The next `n` API requests matching `path` (default: all) answer 429 with Retry-After. */
  rateLimit(n: number, opts: { path?: string | RegExp; method?: string; retryAfterSec?: number } = {}): void {
    this.faults.add({
      ...(opts.method ? { method: opts.method } : {}),
      path: opts.path ?? /^\/(cases|jobs)\//,
      times: n,
      action: {
        kind: 'status',
        status: 429,
        body: JSON.stringify({ title: 'Too Many Requests', status: 429 }),
        headers: { 'Retry-After': String(opts.retryAfterSec ?? 1), 'Content-Type': 'application/problem+json' },
      },
    });
  }

  /** The most job requests of one case the emulator was answering at the same time. */
  maxConcurrentJobRequests(caseId: string): number {
    return this.maxInFlight.get(caseId) ?? 0;
  }

  /** Whether the bytes of a file record are in storage, complete. */
  uploaded(file: ColdstreamFileRecord): boolean {
    return this.blob.get(file.key)?.bytes.length === file.fileSize;
  }

  addCase(caseId: string, componentIds: string[] = []): void {
    this.cases.set(caseId, new Set(componentIds));
  }

  // ---- HTTP ----

  private async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const files = /^\/cases\/([^/]+)\/files\/?$/.exec(url.pathname);
    const job = /^\/jobs\/(convert|initialize)\/?$/.exec(url.pathname);
    if (!files && !job) return sendJson(res, 404, { title: 'Not Found', status: 404 });
    if (!this.authorized(req)) {
      await readBody(req, 1024 * 1024).catch(() => undefined);
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer error="invalid_token"', 'Content-Length': '0' });
      res.end();
      return;
    }
    if (files && method === 'GET') return this.listFiles(res, decodeURIComponent(files[1]!));
    if (method !== 'POST') return sendJson(res, 405, { title: 'Method Not Allowed', status: 405 });
    const body = await this.readJson(req, res);
    if (body === undefined) return;
    if (files) return this.createFile(res, decodeURIComponent(files[1]!), body);
    return this.startJob(res, job![1] as 'convert' | 'initialize', body);
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  /** The body as an object, or undefined after answering 415/400. */
  private async readJson(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
    const type = req.headers['content-type'] ?? '';
    const raw = await readBody(req, 1024 * 1024);
    if (!JSON_TYPES.test(type)) {
      sendJson(res, 415, { title: 'Unsupported Media Type', status: 415, detail: `content-type ${type || '(none)'}` });
      return undefined;
    }
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      /* answered below */
    }
    sendJson(res, 400, { title: 'One or more validation errors occurred.', status: 400, errors: { $: ['The JSON value could not be converted.'] } });
    return undefined;
  }

  private badRequest(res: ServerResponse, field: string, message: string): void {
    sendJson(res, 400, { title: 'One or more validation errors occurred.', status: 400, errors: { [field]: [message] } });
  }

  private createFile(res: ServerResponse, caseId: string, body: Record<string, unknown>): void {
    const components = this.cases.get(caseId);
    if (!components) return sendJson(res, 404, { title: 'Not Found', status: 404, detail: `Case ${caseId} not found` });
    const { fileName, fileSize, caseComponentId } = body;
    if (typeof fileName !== 'string' || fileName === '' || /[/\\]/.test(fileName)) return this.badRequest(res, 'fileName', 'The fileName field is required and has no path.');
    if (typeof fileSize !== 'number' || !Number.isInteger(fileSize) || fileSize <= 0) return this.badRequest(res, 'fileSize', 'The fileSize field must be a positive integer.');
    if (typeof caseComponentId !== 'number' && typeof caseComponentId !== 'string') {
      return this.badRequest(res, 'caseComponentId', 'The caseComponentId field is required (a component of the case, or the case id for a whole-case file).');
    }
    const componentKey = String(caseComponentId);
    if (componentKey !== caseId && !components.has(componentKey)) {
      return sendJson(res, 404, { title: 'Not Found', status: 404, detail: `Component ${componentKey} not found in case ${caseId}` });
    }
    const id = this.nextFileId++;
    const key = `cases/${caseId}/files/${id}/${fileName}`;
    const preSignedUrl = this.blob.presignPut({ key, contentType: 'application/octet-stream', expiresInSec: this.presignExpiresInSec });
    const fileUrl = `${this.blob.url}/${this.blob.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
    const record: ColdstreamFileRecord = { id, caseId, caseComponentId, fileName, fileSize, key, fileUrl, createdAt: Date.now() };
    this.files.push(record);
    sendJson(res, 200, { id, caseId: Number(caseId) || caseId, caseComponentId, fileName, fileSize, preSignedUrl, fileUrl, createdAt: new Date(record.createdAt).toISOString() });
  }

  private listFiles(res: ServerResponse, caseId: string): void {
    if (!this.cases.has(caseId)) return sendJson(res, 404, { title: 'Not Found', status: 404, detail: `Case ${caseId} not found` });
    sendJson(
      res,
      200,
      this.files.filter((f) => f.caseId === caseId).map(({ id, caseComponentId, fileName, fileSize, fileUrl }) => ({ id, caseComponentId, fileName, fileSize, fileUrl })),
    );
  }

  private async startJob(res: ServerResponse, type: 'convert' | 'initialize', body: Record<string, unknown>): Promise<void> {
    const caseId = body['caseId'];
    const key = typeof caseId === 'number' || typeof caseId === 'string' ? String(caseId) : '';
    const record: JobRequestRecord = { caseId: key, type, start: Date.now(), end: 0, status: 0, outcome: 'refused' };
    this.jobRequests.push(record);
    const inFlight = (this.inFlight.get(key) ?? 0) + 1;
    this.inFlight.set(key, inFlight);
    this.maxInFlight.set(key, Math.max(this.maxInFlight.get(key) ?? 0, inFlight));
    try {
      await new Promise((r) => setTimeout(r, this.jobRequestLatencyMs));
      const [status, answer] = this.decideJob(type, key, body, record);
      record.status = status;
      record.end = Date.now();
      if (answer instanceof RawAnswer) {
        res.writeHead(status, answer.text === '' ? { 'Content-Length': '0' } : { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(answer.text)) });
        res.end(answer.text);
      } else {
        sendJson(res, status, answer);
      }
    } finally {
      this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1);
    }
  }

  private decideJob(type: 'convert' | 'initialize', caseId: string, body: Record<string, unknown>, record: JobRequestRecord): [number, unknown] {
    const invalid = (field: string, message: string): [number, unknown] => [400, { title: 'One or more validation errors occurred.', status: 400, errors: { [field]: [message] } }];
    if (caseId === '') return invalid('caseId', 'The caseId field is required.');
    if (!this.cases.has(caseId)) return [404, { title: 'Not Found', status: 404, detail: `Case ${caseId} not found` }];
    const fileId = body['fileId'];
    const file = this.files.find((f) => String(f.id) === String(fileId) && f.caseId === caseId);
    if (!file) return [404, { title: 'Not Found', status: 404, detail: `File ${String(fileId)} not found in case ${caseId}` }];
    if (body['fileURL'] !== file.fileUrl) return invalid('fileURL', 'The fileURL does not match the file record.');
    if (!this.uploaded(file)) return invalid('fileURL', `File ${file.id} has not been uploaded.`);
    if (!STEP.test(file.fileName)) return invalid('fileId', `Only STEP files can be ${type === 'convert' ? 'converted' : 'initialized'}.`);
    const now = Date.now();
    const running = this.jobs.some((j) => j.caseId === caseId && j.endsAt > now);
    if (this.busyLeft > 0 || running) {
      if (!running) this.busyLeft -= 1;
      record.outcome = 'busy';
      return [this.busyStatus, `${BUSY_TEXT} ${caseId}`];
    }
    const numeric = this.jobAnswer === 'numeric-id' || this.jobAnswer === 'job_id-number';
    const id = numeric ? String(this.nextJobNumber++) : randomUUID();
    const [answer, carried] = this.jobAnswerFor(id, type, caseId, file.id, now);
    // A 204 has no body, so it carries no ID whatever the shape.
    const answeredId = this.jobAnswerStatus === 204 ? undefined : carried;
    const job: ColdstreamJob = { id, answeredId, type, caseId, fileId: file.id, startedAt: now, endsAt: now + this.jobDurationMs };
    this.jobs.push(job);
    record.outcome = 'started';
    return [this.jobAnswerStatus, this.jobAnswerStatus === 204 ? new RawAnswer('') : answer];
  }

  /** The accepted job's answer in the shape `jobAnswer` asks for, and the ID it carries (if any). */
  private jobAnswerFor(id: string, type: string, caseId: string, fileId: number, now: number): [unknown, string | undefined] {
    const meta = { type, caseId: Number(caseId) || caseId, fileId, status: 'Created', createdAt: new Date(now).toISOString() };
    switch (this.jobAnswer) {
      case 'full':
        return [{ id, ...meta }, id];
      case 'numeric-id':
        return [{ id: Number(id), ...meta }, id];
      case 'jobId':
        return [{ jobId: id, status: 'Created' }, id];
      case 'job_id-number':
        return [{ job_id: Number(id) }, id];
      case 'nested':
        return [{ job: { id, status: 'Created' } }, id];
      case 'no-id':
        return [meta, undefined];
      case 'empty-object':
        return [{}, undefined];
      case 'empty-body':
        return [new RawAnswer(''), undefined];
      case 'text':
        return [new RawAnswer('Job queued'), undefined];
    }
  }
}
