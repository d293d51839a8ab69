// Coldstream (Diabatix): per file, create a file record on the file server (it answers a presigned PUT URL)
// → the engine uploads the bytes → start the job that makes the geometry usable on the case server:
// `convert` for a component's STEP file, `initialize` for a whole-case STEP file, none for STL. The service
// runs one job per case and answers "Job already runs for case" meanwhile: job requests for one case go one
// at a time, and a busy answer is waited out with a slow, jittered backoff until wait-timeout-minutes.
import * as z from '../core/schema.js';
import { whenAborted } from '../core/abort.js';
import { NetworkError, OutcomeUnknownError, PublishError } from '../core/errors.js';
import { codeForStatus, statusCode } from '../core/error-codes.js';
import { parseRetryAfter } from '../core/retry.js';
import { pollUntil, type Poll } from '../core/waiting.js';
import type { Confirmed, LocalFile, ProviderSession, StepContext, UploadReceipt } from '../core/types.js';
import type { Http, HttpResponse } from '../http/client.js';
import { nameIfAny, nameOf, nameProblem, readNameTemplate, type NameSetting } from '../files/names.js';
import { optionalId, parseInput, requireId, requireToken } from '../inputs.js';
import { wrongServerUrl } from './failures.js';
import { defineProvider, type OpenContext } from './types.js';
import { parseAnswer, tryJson } from './answers.js';

export const COLDSTREAM_REGIONS = ['eu1', 'us1', 'ap1'] as const;
export type ColdstreamRegion = (typeof COLDSTREAM_REGIONS)[number];
export const FINALIZE_MODES = ['auto', 'convert', 'initialize', 'none'] as const;
export type FinalizeMode = (typeof FINALIZE_MODES)[number];
export type JobKind = 'convert' | 'initialize' | 'none';

const STEP_EXTS = new Set(['step', 'stp']);
const ACCEPTED = ['step', 'stp', 'stl'];

/** The text the case server answers while a job of the same case runs (matched as the official SDK does). */
export const BUSY_TEXT = 'Job already runs for case';
/**
 * Busy-case backoff: the SDK asks again every 2 s; we start there, grow ×2 up to 30 s, and draw each wait
 * from [½, 1] of that ceiling, so parallel runs spread out and no wait is ever shorter than 1 s.
 */
export const BUSY_BASE_MS = 2_000;
export const BUSY_MAX_MS = 30_000;

export function busyDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BUSY_MAX_MS, BUSY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

export function regionHosts(region: ColdstreamRegion): { fileserverUrl: string; caseUrl: string } {
  return {
    fileserverUrl: `https://fileserver.${region}.coldstream.diabatix.com`,
    caseUrl: `https://case.${region}.coldstream.diabatix.com`,
  };
}

export interface ColdstreamSettings {
  token: string;
  fileserverUrl: string;
  caseUrl: string;
  region: ColdstreamRegion;
  caseId: string;
  componentId?: string;
  finalize: FinalizeMode;
  /** The `name` template: the file record's fileName. */
  name: NameSetting;
}

/**
 * Coldstream's fileName is a file name (the SDK passes a base name): a `/` of the
 * rendered name is sent as `_`, so `{path}` keeps a/part.step and b/part.step apart as a_part.step and b_part.step.
 */
export const COLDSTREAM_NAME_RULES = { separator: '_' } as const;

/** Which job a file needs: `auto` follows the upload guide; the other modes force it (STL never takes one). */
export function jobKindFor(file: LocalFile, settings: Pick<ColdstreamSettings, 'finalize' | 'componentId'>): JobKind {
  if (settings.finalize !== 'auto') return settings.finalize;
  if (!STEP_EXTS.has(file.ext)) return 'none';
  return settings.componentId === undefined ? 'initialize' : 'convert';
}

/**
 * The SDK documents case, component and file IDs as ints and sends them as JSON numbers; an ID of digits is
 * sent the same way, anything else (a GUID) as a string.
 */
export function idValue(id: string): number | string {
  return /^\d{1,15}$/.test(id) ? Number(id) : id;
}

/** The SDK reads `id`, `preSignedUrl` and `fileUrl`; the rest of the answer is not documented. */
const fileRecordAnswer = z.object({
  id: z.union([z.string().check(z.minLength(1)), z.int().check(z.nonnegative())]),
  preSignedUrl: z.url(),
  fileUrl: z.string().check(z.minLength(1)),
});

/**
 * The job answer. The upload guide says only "a json object with meta data for the job", and the official SDK
 * never reads it: it checks the status and nothing else. So a 2xx is the verdict (the job was accepted), and
 * the answer's body is read only for a job ID to report: under one of these fields, at the top level or in a
 * `job` or `data` object, as a string or a number. An empty body, a body that is not JSON, `{}` or an ID in
 * a shape we do not know all still mean "accepted": the file succeeds without a job ID.
 */
const JOB_ID_FIELDS = ['id', 'jobId', 'job_id', 'jobID', 'JobId', 'Id'] as const;
/** What we accept as an ID: it goes into outputs and the summary, so nothing but an ID's characters. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._:{}-]{0,127}$/;

export function jobIdFrom(text: string): string | undefined {
  const body = tryJson(text);
  const asId = (v: unknown): string | undefined => {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
    if (typeof v === 'string' && JOB_ID.test(v.trim())) return v.trim();
    return undefined;
  };
  const inObject = (o: unknown): string | undefined => {
    if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
    for (const f of JOB_ID_FIELDS) {
      const id = asId((o as Record<string, unknown>)[f]);
      if (id !== undefined) return id;
    }
    return undefined;
  };
  const root = body as Record<string, unknown> | undefined;
  return inObject(root) ?? inObject(root?.['job']) ?? inObject(root?.['data']);
}

interface Pending {
  /** The ID exactly as the file server answered it (number or string), sent back as is. */
  fileIdValue: string | number;
  fileId: string;
  fileUrl: string;
}

/** One-at-a-time sections keyed by case: FIFO, and a waiter that is cancelled leaves the queue intact. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await abortable(previous, signal);
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const stopListening = whenAborted(signal, () => reject(signal.reason));
    promise.then(
      () => {
        stopListening();
        resolve();
      },
      (err: unknown) => {
        stopListening();
        reject(err);
      },
    );
  });
}

const UNKNOWN_OUTCOME =
  'Coldstream may or may not have created it, and it is not sent again (that could make a duplicate): check the case in Coldstream before re-running';

class ColdstreamSession implements Omit<ProviderSession<Pending>, 'plan'> {
  readonly displayName = 'Coldstream';
  private readonly jobLocks = new KeyedMutex();

  constructor(
    private readonly settings: ColdstreamSettings,
    private readonly http: Http,
  ) {}

  private async api(url: string, body: unknown, label: string, ctx: StepContext): Promise<HttpResponse> {
    try {
      return await this.request(url, body, label, ctx);
    } catch (err) {
      if (err instanceof NetworkError) throw new OutcomeUnknownError(`${err.message}; ${UNKNOWN_OUTCOME}`);
      throw err;
    }
  }

  private request(url: string, body: unknown, label: string, ctx: StepContext): Promise<HttpResponse> {
    return this.http.request({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${this.settings.token}` },
      json: body,
      // Both the file record and the jobs are created by these POSTs and carry no idempotency key: after a
      // dropped connection or a 5xx we cannot know whether the record or job exists, and repeating could
      // make a second one (a second job even answers "busy" for the first). Only 429, which the server sends
      // before doing anything, is repeated (the client does that for non-idempotent requests).
      idempotent: false,
      signal: ctx.signal,
      label,
    });
  }

  private fail(res: HttpResponse, what: string, hint?: string): never {
    const text = res.text.trim().replace(/\s+/g, ' ').slice(0, 300);
    const known =
      res.status === 401 || res.status === 403
        ? 'check the token: a Coldstream access token that is valid for this region and has access to the case'
        : res.status === 404
          ? `check case-id${this.settings.componentId ? ' and component-id' : ''} and region (${this.settings.region})`
          : hint;
    // A 5xx to a POST that creates something leaves us not knowing whether it did.
    if (res.status >= 500) throw new OutcomeUnknownError(`Coldstream ${what}: HTTP ${res.status}${text ? `: ${text}` : ''}; ${UNKNOWN_OUTCOME}`, { providerCode: statusCode(res.status) });
    throw new PublishError(`Coldstream ${what}: HTTP ${res.status}${text ? `: ${text}` : ''}${known ? ` (${known})` : ''}`, codeForStatus(res.status), { providerCode: statusCode(res.status) });
  }

  async presign(file: LocalFile, ctx: StepContext) {
    const { caseId, componentId } = this.settings;
    const res = await this.api(
      `${this.settings.fileserverUrl}/cases/${encodeURIComponent(caseId)}/files`,
      // A whole-case file names the case itself as its component, as the official SDK does. When the engine
      // finds the URL expired it comes back here for a new record; the first stays behind, without bytes
      // (Coldstream has no documented way to delete a file record).
      { fileName: nameOf(this.settings.name, file), fileSize: file.bytes, caseComponentId: idValue(componentId ?? caseId) },
      `${file.path}: create file record`,
      ctx,
    );
    if (!res.ok) this.fail(res, `create file record for ${file.path}`);
    const answer = parseAnswer(fileRecordAnswer, res.json(), 'Coldstream create file record');
    return {
      // The presigned PUT is signed for this Content-Type and must carry no Authorization header: the
      // token never goes to storage (S3 would refuse a second credential anyway).
      target: { method: 'PUT' as const, url: answer.preSignedUrl, headers: { 'Content-Type': 'application/octet-stream' } },
      pending: { fileIdValue: answer.id, fileId: String(answer.id), fileUrl: answer.fileUrl },
    };
  }

  async confirm(file: LocalFile, pending: Pending, _receipt: UploadReceipt, ctx: StepContext): Promise<Confirmed> {
    // Coldstream has no verdict to wait for: the file record with its bytes, and the job accepted, are all it gives.
    const kind = jobKindFor(file, this.settings);
    if (kind === 'none') return { ids: { id: pending.fileId, fileId: pending.fileId, jobKind: 'none' }, outcome: 'accepted' };
    const jobId = await this.jobLocks.run(this.settings.caseId, ctx.signal, () => this.startJob(file, pending, kind, ctx));
    // Accepted either way; `jobId` (and job-ids) only when Coldstream's answer named one.
    const ids = jobId === undefined ? { id: pending.fileId, fileId: pending.fileId, jobKind: kind } : { id: jobId, fileId: pending.fileId, jobId, jobKind: kind };
    return { ids, outcome: 'accepted' };
  }

  /**
   * Runs under the case's lock: only this file asks the case server for a job of this case right now. Answers
   * the job's ID when Coldstream's answer has one. A 2xx is never followed by a second job request, whatever
   * its body looks like: the job was accepted, and asking again would start a second one (or answer busy).
   */
  private async startJob(file: LocalFile, pending: Pending, kind: 'convert' | 'initialize', ctx: StepContext): Promise<string | undefined> {
    const { caseId } = this.settings;
    const label = `${file.path}: ${kind}`;
    const body = { caseId: idValue(caseId), fileId: pending.fileIdValue, fileURL: pending.fileUrl };
    const notStarted = `${file.path} is uploaded as file ${pending.fileId} but its ${kind} job did not start`;
    const timeout = () => `Coldstream case ${caseId} was still running another job after wait-timeout-minutes, so ${notStarted}`;
    return pollUntil(ctx, timeout, async (attempt): Promise<Poll<string | undefined>> => {
      const res = await this.api(`${this.settings.caseUrl}/jobs/${kind}`, body, label, ctx);
      if (res.ok) {
        const jobId = jobIdFrom(res.text);
        ctx.log.info(
          jobId !== undefined
            ? `${label}: job ${jobId} started for file ${pending.fileId}`
            : `${label}: Coldstream accepted the job for file ${pending.fileId} (HTTP ${res.status}); its answer names no job ID`,
        );
        return { done: jobId };
      }
      if (!res.text.includes(BUSY_TEXT)) this.fail(res, `${kind} ${file.path} (file ${pending.fileId} is uploaded, its job did not start)`);
      // The case runs another job (ours or someone else's): ask again later, never in a tight loop.
      if (!ctx.wait) {
        throw new PublishError(`Coldstream case ${caseId} is running another job and wait is false, so ${notStarted}; set wait: true to wait for the case`, 'target_busy');
      }
      const delay = Math.max(busyDelay(attempt), Math.min(parseRetryAfter(res.headers['retry-after']) ?? 0, BUSY_MAX_MS));
      return { againInMs: delay, note: `${label}: case ${caseId} is running another job; asking again in ${(delay / 1000).toFixed(1)}s` };
    });
  }
}

export const coldstream = defineProvider<ColdstreamSettings>({
  id: 'coldstream',
  displayName: 'Coldstream',
  tokenEnv: 'COLDSTREAM_TOKEN',
  // Only for display: without server-url the two hosts come from `region` (regionHosts).
  defaultServerUrl: regionHosts('eu1').caseUrl,
  inputs: ['case-id', 'component-id', 'region', 'finalize', 'name'],
  idOutputs: [{ output: 'job-ids', field: 'jobId' }],
  readSettings(input, common) {
    const caseId = requireId(input, 'case-id', 'the Coldstream case to upload geometry to (the number in the case URL)');
    const componentId = optionalId(input, 'component-id', 'the component (region, subregion, ...) of case-id; empty for a whole-case file');
    const region = parseInput(
      input,
      'region',
      z.pipe(z.pipe(z.string(), z.transform((s: string) => (s === '' ? 'eu1' : s.toLowerCase()))), z.enum(COLDSTREAM_REGIONS)),
      `one of ${COLDSTREAM_REGIONS.join(', ')} (the hosting region of your Coldstream account)`,
    );
    const finalize = parseInput(
      input,
      'finalize',
      z.pipe(z.pipe(z.string(), z.transform((s: string) => (s === '' ? 'auto' : s.toLowerCase()))), z.enum(FINALIZE_MODES)),
      FINALIZE_MODES.join(', '),
    );
    const token = requireToken(common, 'COLDSTREAM_TOKEN', 'a Coldstream access token');
    const hosts = common.serverUrlGiven ? { fileserverUrl: common.serverUrl, caseUrl: common.serverUrl } : regionHosts(region);
    return { token, ...hosts, region, caseId, componentId, finalize, name: { template: readNameTemplate(input('name')), rules: COLDSTREAM_NAME_RULES } };
  },
  refuse(file, settings) {
    if (!ACCEPTED.includes(file.ext)) {
      return `Coldstream accepts STEP (.step, .stp) and STL (.stl) geometry; .${file.ext || '(none)'} is not accepted (change the path pattern to leave it out)`;
    }
    // Convert and initialize read STEP; an STL is already what convert would make.
    if (file.ext === 'stl' && settings.finalize !== 'auto' && settings.finalize !== 'none') {
      return `finalize is ${settings.finalize}, which applies to STEP files; an STL file needs no job (set finalize to auto or none, or leave .stl files out of path)`;
    }
    return nameProblem(settings.name, file);
  },
  fileName: (file, settings) => nameIfAny(settings.name, file),
  async open(settings, ctx: OpenContext) {
    if (ctx.dryRun) {
      // A dry run checks the token and the case with a read: the case's file list (GET, writes nothing).
      const res = await ctx.http.request({
        method: 'GET',
        url: `${settings.fileserverUrl}/cases/${encodeURIComponent(settings.caseId)}/files`,
        headers: { authorization: `Bearer ${settings.token}` },
        idempotent: true,
        signal: ctx.signal,
        label: `Coldstream list the files of case ${settings.caseId}`,
      });
      if (!res.ok) {
        const text = res.text.trim().replace(/\s+/g, ' ').slice(0, 300);
        throw new PublishError(`Coldstream list the files of case ${settings.caseId}: HTTP ${res.status}${text ? `: ${text}` : ''}`, codeForStatus(res.status), { providerCode: statusCode(res.status) });
      }
      ctx.log.info(`Coldstream: the token can read case ${settings.caseId} in region ${settings.region}`);
    }
    const where = `case ${settings.caseId}${settings.componentId ? `, component ${settings.componentId}` : ' (a whole-case file)'}`;
    const jobs: Record<JobKind, string> = { convert: 'then a convert job (builds the STL for viewing)', initialize: 'then an initialize job', none: 'no job' };
    return Object.assign(new ColdstreamSession(settings, ctx.http), { plan: (file: LocalFile) => ({ destination: `Coldstream ${where}, file "${nameOf(settings.name, file)}"; ${jobs[jobKindFor(file, settings)]}` }) });
  },
  describeTarget: (s) => `case ${s.caseId}, ${s.componentId ? `component ${s.componentId}` : 'whole-case files'} (region ${s.region}, finalize ${s.finalize})`,
  runFailure(err, settings, common) {
    if (!(err instanceof PublishError)) return undefined;
    const credential = `the token input (or COLDSTREAM_TOKEN) must hold a current Coldstream access token for region ${settings.region} whose user has access to case ${settings.caseId}`;
    if (err.providerCode === 'http_401' || err.providerCode === 'http_403') return { input: 'token', message: err.message, fix: credential, code: err.code };
    // Only the case's own routes (the file record, the dry run's file list) say anything about the case or the
    // URL: a 404 to a job may be about one file.
    if (err.providerCode !== 'http_404' || !/^Coldstream (create file record|list the files)/.test(err.message)) return undefined;
    // The file-record route names the case: a 404 whose answer names it says the case is missing; one that
    // does not, on a server-url given by hand, says the URL's path is wrong.
    if (/\bcase\b/i.test(err.message.replace(/ \(check case-id.*$/s, '')) || !common.serverUrlGiven) {
      return { input: 'case-id', message: err.message, fix: `check case-id${settings.componentId ? ' and component-id' : ''}: the case must exist in region ${settings.region} and be visible to the token's user`, code: err.code };
    }
    return wrongServerUrl(this, common, '/cases/{case-id}/files');
  },
});
