// Speckle: each file becomes a new version of a model. The chain on servers with the ingestion API
// (app.speckle.systems): generateUploadUrl → PUT to storage with the headers Speckle asks for → resolve (or
// create) the model → startFileIngestion with the fileId and the ETag exactly as storage sent it → poll
// project.ingestion until it ends. Open-source 2.x servers have no ingestion API: the same chain ends in
// startFileImport and polling the model's uploads. Which one a server speaks is read once, in open().
import path from 'node:path';
import { z } from 'zod';
import { CorruptionError, HttpError, NetworkError, PublishError, UsageError, errorMessage } from '../core/errors.js';
import { statusCode, type ErrorCode } from '../core/error-codes.js';
import { formatBytes } from '../core/units.js';
import type { Confirmed, LocalFile, Logger, ProviderSession, StepContext, UploadReceipt, UploadTarget } from '../core/types.js';
import { happenOnce, pollUntil, verdictUnlessCancelled, type Poll } from '../core/waiting.js';
import { GraphQLEndpoint, type GraphQLErrorItem } from '../http/graphql.js';
import { optionalId, requireId, requireToken } from '../inputs.js';
import * as ops from './speckle-operations.js';
import type { SpeckleOperation } from './speckle-operations.js';
import { wrongServerUrl } from './failures.js';
import { defineProvider, type CommonSettings, type OpenContext } from './types.js';
import { parseAnswer } from './answers.js';

export interface SpeckleSettings {
  token: string;
  serverUrl: string;
  projectId: string;
  /** The `model` template; unused when modelId is set. */
  modelTemplate: string;
  modelId?: string;
  origin: CommonSettings['origin'];
}

const PLACEHOLDERS = ['path', 'dir', 'name', 'stem', 'ext'] as const;

/** The template filled in for one file: {path} is the workspace-relative path without its extension. */
export function expandModelTemplate(template: string, file: Pick<LocalFile, 'path' | 'name'>): string {
  const dot = file.name.lastIndexOf('.');
  const stem = dot > 0 ? file.name.slice(0, dot) : file.name;
  const ext = dot > 0 ? file.name.slice(dot + 1) : '';
  const dir = path.posix.dirname(file.path) === '.' ? '' : path.posix.dirname(file.path);
  const values: Record<(typeof PLACEHOLDERS)[number], string> = { path: dir ? `${dir}/${stem}` : stem, dir, name: file.name, stem, ext };
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? values[key as keyof typeof values] : whole));
}

/**
 * Speckle keeps model names lowercased, with `/` between nesting levels, and refuses empty levels and
 * leading or trailing slashes. Normalising the same way means the name we look up is the name the server
 * stores, so a second run finds the model the first one created.
 */
export function normaliseModelName(raw: string): string {
  return raw
    .replace(/\\/g, '/')
    .split('/')
    .map((segment) => segment.trim().replace(/\s+/g, ' '))
    .filter((segment) => segment !== '')
    .join('/')
    .toLowerCase();
}

/** Why Speckle would refuse this model name (its validation rules), or undefined. */
export function modelNameProblem(name: string): string | undefined {
  if (name === '') return 'the model name is empty';
  if (/^[#$]/.test(name)) return `Speckle model names cannot start with # or $ (got "${name}")`;
  if (name.includes(',')) return `Speckle model names cannot contain commas (got "${name}")`;
  if (name.length > 512) return `the model name is longer than 512 characters`;
  return undefined;
}

function modelNameFor(settings: SpeckleSettings, file: Pick<LocalFile, 'path' | 'name'>): string {
  return normaliseModelName(expandModelTemplate(settings.modelTemplate, file));
}

/** What went wrong, in the provider's terms: what its rules (retry, switch protocol, the run's failure) branch on. */
export type SpeckleReason =
  | 'invalid_token'
  | 'forbidden'
  | 'project_not_found'
  | 'model_not_found'
  | 'graphql_validation_failed'
  | 'invalid_response'
  | 'rate_limited'
  | 'ingestion_failed'
  | 'ingestion_cancelled'
  | 'ingestion_invalid_input'
  | 'ingestion_timeout'
  | 'ingestion_missing'
  | 'outcome_unknown'
  | 'other';

const SPECKLE_CODES: Readonly<Record<SpeckleReason, ErrorCode>> = {
  invalid_token: 'auth_rejected',
  forbidden: 'permission_denied',
  project_not_found: 'not_found',
  model_not_found: 'not_found',
  graphql_validation_failed: 'unsupported_by_server',
  invalid_response: 'invalid_response',
  rate_limited: 'rate_limited',
  ingestion_failed: 'invalid_content',
  ingestion_invalid_input: 'invalid_content',
  ingestion_cancelled: 'rejected_by_provider',
  ingestion_timeout: 'rejected_by_provider',
  ingestion_missing: 'not_found',
  outcome_unknown: 'outcome_unknown',
  other: 'rejected_by_provider',
};

/**
 * A GraphQL or HTTP failure worded for the user: `reason` for this provider's rules to branch on, the shared
 * `code`, and Speckle's own code (the first GraphQL `extensions.code`, or an ingestion's status) as providerCode.
 */
export class SpeckleError extends PublishError {
  override name = 'SpeckleError';
  constructor(
    message: string,
    readonly reason: SpeckleReason,
    readonly graphqlCodes: string[] = [],
    readonly errors: GraphQLErrorItem[] = [],
    providerCode: string | undefined = graphqlCodes.find((c) => c !== ''),
  ) {
    super(message, SPECKLE_CODES[reason], providerCode === undefined ? undefined : { providerCode });
  }
}

interface Capabilities {
  /** True: startFileIngestion and project.ingestion exist. Undefined: introspection was refused; probe. */
  ingestionApi: boolean | undefined;
  blobSizeLimitBytes?: number;
  version?: string;
  /** False once the server answered that Model.ingestionHistory does not exist: not asked again. */
  ingestionHistory?: boolean;
}

interface Pending {
  fileId: string;
}

const capabilitiesAnswer = z.object({
  serverInfo: z.object({ version: z.string().nullish(), configuration: z.object({ blobSizeLimitBytes: z.number().nullish() }) }),
  project: z.object({ id: z.string(), name: z.string(), role: z.string().nullish() }),
  fileUploadMutationsType: z.object({ fields: z.array(z.object({ name: z.string() })).nullish() }).nullish(),
  projectType: z.object({ fields: z.array(z.object({ name: z.string() })).nullish() }).nullish(),
});

const uploadUrlAnswer = z.object({
  fileUploadMutations: z.object({
    generateUploadUrl: z.object({
      url: z.string().url(),
      fileId: z.string().min(1),
      additionalRequestHeaders: z.array(z.object({ header: z.string().min(1), value: z.string() })).nullish(),
    }),
  }),
});

const modelAnswer = z.object({ project: z.object({ modelByName: z.object({ id: z.string().min(1), name: z.string() }) }) });
const createModelAnswer = z.object({ modelMutations: z.object({ create: z.object({ id: z.string().min(1), name: z.string() }) }) });

const STATUSES = ['queued', 'processing', 'success', 'failed', 'cancelled', 'invalidInput', 'timeout'] as const;
const statusData = z.object({
  __typename: z.string(),
  // Read through HasModelIngestionStatus; a status this client does not know yet stays a string.
  status: z.string(),
  progressMessage: z.string().nullish(),
  progress: z.number().nullish(),
  versionId: z.string().nullish(),
  errorReason: z.string().nullish(),
  cancellationMessage: z.string().nullish(),
  validationMessage: z.string().nullish(),
});
type StatusData = z.infer<typeof statusData>;

const startIngestionAnswer = z.object({
  fileUploadMutations: z.object({
    startFileIngestion: z.object({ id: z.string().min(1), modelId: z.string(), statusData: z.object({ __typename: z.string(), status: z.string() }) }),
  }),
});
const latestIngestionAnswer = z.object({
  project: z.object({
    model: z.object({
      latestIngestion: z.object({ id: z.string(), handler: z.object({ __typename: z.string(), blobId: z.string().nullish() }) }).nullish(),
    }),
  }),
});
const ingestionHistoryAnswer = z.object({
  project: z.object({
    model: z.object({
      ingestionHistory: z.object({
        cursor: z.string().nullish(),
        items: z.array(z.object({ id: z.string(), handler: z.object({ __typename: z.string(), blobId: z.string().nullish() }) })),
      }),
    }),
  }),
});
const ingestionAnswer = z.object({
  project: z.object({ ingestion: z.object({ id: z.string(), modelId: z.string(), statusData }).nullish() }),
});

const fileUpload = z.object({
  id: z.string().min(1),
  convertedStatus: z.number().int(),
  convertedMessage: z.string().nullish(),
  convertedVersionId: z.string().nullish(),
});
const startImportAnswer = z.object({ fileUploadMutations: z.object({ startFileImport: fileUpload.extend({ modelId: z.string().nullish() }) }) });
const uploadsAnswer = z.object({
  project: z.object({ model: z.object({ uploads: z.object({ cursor: z.string().nullish(), items: z.array(fileUpload) }) }) }),
});

/** FileUpload.convertedStatus on 2.x servers. */
const CONVERTED = { queued: 0, processing: 1, success: 2, error: 3 } as const;

const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 5_000;

/** The pause after a round of asking for a verdict: quick at first (imports often take moments), then slower. */
function pollDelay(round: number): number {
  return Math.min(POLL_MAX_MS, POLL_FIRST_MS * 2 ** (round - 1));
}

class SpeckleSession implements Omit<ProviderSession<Pending>, 'plan'> {
  readonly displayName = 'Speckle';
  /** One lookup-or-create per model name, shared by every file that targets it: a new model is created once. */
  private readonly models = new Map<string, Promise<string>>();

  constructor(
    private readonly settings: SpeckleSettings,
    private readonly gql: GraphQLEndpoint,
    private readonly caps: Capabilities,
    private readonly log: Logger,
  ) {}

  refuse(file: LocalFile): string | undefined {
    const limit = this.caps.blobSizeLimitBytes;
    if (limit && file.bytes > limit) {
      return `the file has ${formatBytes(file.bytes)} (${file.bytes} bytes); this Speckle server accepts files up to ${formatBytes(limit)} (${limit} bytes, serverInfo.configuration.blobSizeLimitBytes)`;
    }
    return undefined;
  }

  // ---- GraphQL, with Speckle's failures worded for the user ----

  private async call<T>(op: SpeckleOperation, variables: Record<string, unknown>, what: string, schema: z.ZodType<T>, signal: AbortSignal): Promise<T> {
    const { data, errors } = await this.execute(op, variables, what, signal);
    if (errors?.length) {
      const created = createdDespiteErrors(op, data);
      if (created === undefined) throw this.graphqlFailure(errors, what);
      const said = oneLine([...new Set(errors.map((e) => e.message))].join('; '));
      this.log.warn(
        `Speckle, asked to ${what}: it did (${created}) but also answered errors: ${said}. Carrying on with ${created} (a repeat would make a duplicate or be refused)`,
      );
    }
    return parseAnswer(schema, data, `Speckle, asked to ${what}`);
  }

  private async execute(op: SpeckleOperation, variables: Record<string, unknown>, what: string, signal: AbortSignal) {
    try {
      return await this.gql.execute<unknown>(op.document, variables, { label: `Speckle ${op.name}`, idempotent: op.idempotent, signal });
    } catch (err) {
      throw httpFailure(err, what, this.settings);
    }
  }

  private graphqlFailure(errors: GraphQLErrorItem[], what: string): SpeckleError {
    return graphqlFailure(errors, what, this.settings);
  }

  // ---- presign ----

  async presign(file: LocalFile, ctx: StepContext): Promise<{ target: UploadTarget; pending: Pending }> {
    const input = { projectId: this.settings.projectId, fileName: file.name };
    let answer: z.infer<typeof uploadUrlAnswer>;
    try {
      answer = await this.call(this.caps.ingestionApi === false ? ops.generateUploadUrlLegacy : ops.generateUploadUrlLive, { input }, 'get an upload URL', uploadUrlAnswer, ctx.signal);
    } catch (err) {
      // Introspection was refused and this server turns out to have no additionalRequestHeaders: it is 2.x.
      if (this.caps.ingestionApi === undefined && isValidationFailure(err, 'additionalRequestHeaders')) {
        this.switchToLegacy('generateUploadUrl has no additionalRequestHeaders');
        return this.presign(file, ctx);
      }
      throw err;
    }
    const { url, fileId, additionalRequestHeaders } = answer.fileUploadMutations.generateUploadUrl;
    // Storage checks the headers the URL was signed with: send every one Speckle lists, exactly, besides
    // the Content-Type (Speckle's guide uploads as application/octet-stream).
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    for (const { header, value } of additionalRequestHeaders ?? []) headers[header.toLowerCase()] = value;
    return { target: { method: 'PUT' as const, url, headers }, pending: { fileId } };
  }

  private switchToLegacy(why: string) {
    if (this.caps.ingestionApi !== false) this.log.info(`Speckle: this server has no ingestion API (${why}); using startFileImport (server 2.x)`);
    this.caps.ingestionApi = false;
  }

  // ---- confirm: model, start, wait ----

  async confirm(file: LocalFile, pending: Pending, receipt: UploadReceipt, ctx: StepContext): Promise<Confirmed> {
    // Speckle compares this with storage's own ETag, quotes included: pass it on exactly as storage sent it.
    const etag = receipt.etag;
    if (!etag) throw new PublishError('storage answered the upload without an ETag, which Speckle needs to start the import', 'missing_etag');
    const modelId = this.settings.modelId ?? (await this.resolveModel(file, ctx));
    const modelUrl = `${this.settings.serverUrl}/projects/${this.settings.projectId}/models/${modelId}`;
    const input = { projectId: this.settings.projectId, modelId, fileId: pending.fileId, etag };

    if (this.caps.ingestionApi !== false) {
      const ingestionId = await this.startIngestion(file, input, ctx);
      if (ingestionId === undefined) return this.confirm(file, pending, receipt, ctx); // turned out to be 2.x
      ctx.log.info(`${file.path}: Speckle ingestion ${ingestionId} started on model ${modelId}`);
      // Speckle started the ingestion only after comparing our ETag with the stored object's.
      const submitted: Confirmed = { ids: { id: ingestionId, ingestionId, modelId, fileId: pending.fileId, url: modelUrl }, outcome: 'submitted', evidence: ['speckle-etag'] };
      if (!ctx.wait) return submitted;
      const versionId = await verdictUnlessCancelled(ctx, file.path, () => this.waitForIngestion(file, ingestionId, ctx));
      if (versionId === undefined) return submitted;
      await this.describeVersion(file, versionId, ctx);
      const ids = { id: versionId, versionId, modelId, ingestionId, fileId: pending.fileId, url: `${modelUrl}@${versionId}` };
      return { ids, outcome: 'accepted', evidence: ['speckle-etag'] };
    }

    const upload = await this.startImport(file, input, ctx);
    ctx.log.info(`${file.path}: Speckle file import ${upload.id} started on model ${modelId}`);
    const submitted: Confirmed = { ids: { id: upload.id, fileId: upload.id, modelId, url: modelUrl }, outcome: 'submitted', evidence: ['speckle-etag'] };
    if (!ctx.wait) return submitted;
    const versionId = await verdictUnlessCancelled(ctx, file.path, () => this.waitForImport(file, modelId, upload, ctx));
    if (versionId === undefined) return submitted;
    await this.describeVersion(file, versionId, ctx);
    return { ids: { id: versionId, versionId, modelId, fileId: upload.id, url: `${modelUrl}@${versionId}` }, outcome: 'accepted', evidence: ['speckle-etag'] };
  }

  private resolveModel(file: LocalFile, ctx: StepContext): Promise<string> {
    const name = modelNameFor(this.settings, file);
    let modelId = this.models.get(name);
    if (!modelId) {
      modelId = this.findOrCreateModel(name, ctx);
      this.models.set(name, modelId);
      // A failed attempt is not remembered: the next file that targets the model tries again.
      modelId.catch(() => this.models.delete(name));
    }
    return modelId;
  }

  private async findModel(name: string, ctx: StepContext): Promise<string | undefined> {
    const { data, errors } = await this.execute(ops.modelByName, { projectId: this.settings.projectId, name }, `look up model "${name}"`, ctx.signal);
    if (errors?.length) {
      // A missing model is an error on modelByName (BRANCH_NOT_FOUND), not null.
      if (errors.every((e) => e.path?.includes('modelByName') && isNotFound(e))) return undefined;
      throw this.graphqlFailure(errors, `look up model "${name}"`);
    }
    const parsed = modelAnswer.safeParse(data);
    if (!parsed.success) throw new SpeckleError(`Speckle look up model "${name}": unexpected answer shape`, 'invalid_response');
    return parsed.data.project.modelByName.id;
  }

  private async findOrCreateModel(name: string, ctx: StepContext): Promise<string> {
    const existing = await this.findModel(name, ctx);
    if (existing) return existing;
    const origin = this.settings.origin;
    const description = origin?.sha
      ? `Created by Model Publisher from ${origin.repository ?? 'a GitHub workflow'} at ${origin.sha}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}`
      : undefined;
    const create = async () => {
      const answer = await this.call(
        ops.createModel,
        { input: { projectId: this.settings.projectId, name, ...(description ? { description } : {}) } },
        `create model "${name}"`,
        createModelAnswer,
        ctx.signal,
      );
      this.log.info(`Speckle: created model "${answer.modelMutations.create.name}" (${answer.modelMutations.create.id})`);
      return answer.modelMutations.create.id;
    };
    try {
      return await create();
    } catch (err) {
      if (err instanceof SpeckleError && (err.reason === 'forbidden' || err.reason === 'project_not_found' || err.reason === 'invalid_token')) throw err;
      if (isAmbiguous(err)) {
        // The create may have gone through before the answer was lost: the name tells.
        return this.startOnce(`create model "${name}"`, err, () => this.findModel(name, ctx), create, ctx);
      }
      // Another run may have created the model meanwhile (the name is then taken): use the one the name finds.
      const again = await this.findModel(name, ctx).catch(() => undefined);
      if (again) {
        this.log.info(`Speckle: model "${name}" exists (${again}); using it (${errorMessage(err)})`);
        return again;
      }
      throw err;
    }
  }

  /**
   * Something that must happen once (a model created, an ingestion started) failed ambiguously: ask whether it
   * happened and follow it, else do it again; after MAX_START_ROUNDS, say plainly that the outcome is unknown.
   */
  private startOnce<T>(what: string, firstError: unknown, find: () => Promise<T | undefined>, start: () => Promise<T>, ctx: StepContext): Promise<T> {
    return happenOnce({
      what,
      who: 'Speckle',
      firstError,
      find,
      start,
      ambiguous: isAmbiguous,
      // The server registers a fileId once: an earlier start did go through. Never start it a third time.
      alreadyDone: (err) => (isAlreadyRegistered(err) ? 'the file was already registered' : undefined),
      lookedUpWhere: 'on the model',
      rounds: MAX_START_ROUNDS,
      checkHint: 'check the project in Speckle before re-running',
      log: ctx.log,
    });
  }

  /** Answers the ingestion ID, or undefined when the server turned out to have no ingestion API. */
  private async startIngestion(file: LocalFile, input: Record<string, string>, ctx: StepContext): Promise<string | undefined> {
    const start = async () => {
      try {
        const answer = await this.call(ops.startFileIngestion, { input }, 'start the ingestion', startIngestionAnswer, ctx.signal);
        return answer.fileUploadMutations.startFileIngestion.id;
      } catch (err) {
        throw etagFailure(err, input['etag']!) ?? err;
      }
    };
    try {
      return await start();
    } catch (err) {
      if (this.caps.ingestionApi === undefined && isValidationFailure(err, 'startFileIngestion')) {
        this.switchToLegacy('no startFileIngestion');
        return undefined;
      }
      if (!isAmbiguous(err)) throw err;
      // The ingestion may have started before the answer was lost: follow it rather than start a second.
      return this.startOnce('start the ingestion', err, () => this.adoptIngestion(input, ctx), start, ctx);
    }
  }

  /**
   * After a 5xx or a dropped connection, look up the ingestion of our fileId (an ingestion's handler names the
   * fileId as its blobId): the model's latest ingestion first; when that is another one (another file or run
   * started one since), the model's ingestion history. Found: it is ours and we follow it. Not found: it did
   * not start, and starting it is safe (the server would refuse a second start of a registered fileId anyway).
   */
  private async adoptIngestion(input: Record<string, string>, ctx: StepContext): Promise<string | undefined> {
    const { projectId, modelId, fileId } = input as { projectId: string; modelId: string; fileId: string };
    const answer = await this.call(ops.latestIngestion, { projectId, modelId }, 'check whether the ingestion started', latestIngestionAnswer, ctx.signal);
    const latest = answer.project.model.latestIngestion;
    let found = latest && latest.handler.blobId === fileId ? latest.id : undefined;
    // No ingestion on the model at all: ours did not start. Another one is the latest: ours may be older.
    if (found === undefined && latest) found = await this.findInHistory(projectId, modelId, fileId, ctx);
    if (found !== undefined) {
      ctx.log.info(`Speckle: ingestion ${found} of file ${fileId} had started; following it`);
      return found;
    }
    ctx.log.info(`Speckle: the ingestion of file ${fileId} did not start; starting it again`);
    return undefined;
  }

  /** The model's ingestion history searched for our fileId (bounded: 20 pages of 50). */
  private async findInHistory(projectId: string, modelId: string, fileId: string, ctx: StepContext): Promise<string | undefined> {
    if (this.caps.ingestionHistory === false) return undefined;
    let cursor: string | null | undefined = null;
    for (let page = 0; page < 20; page++) {
      let answer: z.infer<typeof ingestionHistoryAnswer>;
      try {
        answer = await this.call(ops.ingestionHistory, { projectId, modelId, cursor }, 'look up the ingestion of the file', ingestionHistoryAnswer, ctx.signal);
      } catch (err) {
        // A server without ingestionHistory: latestIngestion was all it could tell.
        if (isValidationFailure(err, 'ingestionHistory')) {
          this.caps.ingestionHistory = false;
          return undefined;
        }
        throw err;
      }
      const { items, cursor: next } = answer.project.model.ingestionHistory;
      const mine = items.find((i) => i.handler.blobId === fileId);
      if (mine) return mine.id;
      if (!next || items.length === 0) return undefined;
      cursor = next;
    }
    return undefined;
  }

  private waitForIngestion(file: LocalFile, ingestionId: string, ctx: StepContext): Promise<string> {
    let lastLine = '';
    let status = '';
    const timeout = () =>
      `Speckle was still ingesting the file (ingestion ${ingestionId}, ${status}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`;
    return pollUntil(ctx, timeout, async (round): Promise<Poll<string>> => {
      const answer = await this.call(
        ops.ingestionStatus,
        { projectId: this.settings.projectId, ingestionId },
        'read the ingestion status',
        ingestionAnswer,
        ctx.signal,
      );
      const ingestion = answer.project.ingestion;
      if (!ingestion) throw new SpeckleError(`Speckle no longer knows ingestion ${ingestionId}`, 'ingestion_missing');
      const s = ingestion.statusData;
      const outcome = ingestionOutcome(ingestionId, s);
      if (outcome instanceof Error) throw outcome;
      if (outcome !== undefined) return { done: outcome };
      const line = progressLine(s);
      if (line !== lastLine) {
        ctx.log.info(`${file.path}: Speckle ${line}`);
        lastLine = line;
      }
      status = s.status;
      return { againInMs: pollDelay(round) };
    });
  }

  private async startImport(file: LocalFile, input: Record<string, string>, ctx: StepContext) {
    const what = 'start the file import';
    try {
      return (await this.call(ops.startFileImport, { input }, what, startImportAnswer, ctx.signal)).fileUploadMutations.startFileImport;
    } catch (err) {
      const etag = etagFailure(err, input['etag']!);
      if (etag) throw etag;
      if (!isAmbiguous(err)) throw err;
      // The import may have been registered before the answer was lost: look for our fileId first.
      return this.startOnce(
        what,
        err,
        async () => (await this.findUpload(input['modelId']!, input['fileId']!, ctx)) ?? undefined,
        async () => (await this.call(ops.startFileImport, { input }, what, startImportAnswer, ctx.signal)).fileUploadMutations.startFileImport,
        ctx,
      );
    }
  }

  private async findUpload(modelId: string, uploadId: string, ctx: StepContext) {
    let cursor: string | null | undefined = null;
    for (let page = 0; page < 20; page++) {
      const answer: z.infer<typeof uploadsAnswer> = await this.call(
        ops.modelUploads,
        { projectId: this.settings.projectId, modelId, cursor },
        'file import status',
        uploadsAnswer,
        ctx.signal,
      );
      const { items, cursor: next } = answer.project.model.uploads;
      const found = items.find((u) => u.id === uploadId);
      if (found) return found;
      if (!next || items.length === 0) return undefined;
      cursor = next;
    }
    return undefined;
  }

  private waitForImport(file: LocalFile, modelId: string, started: z.infer<typeof fileUpload>, ctx: StepContext): Promise<string> {
    let lastStatus = -1;
    const timeout = () =>
      `Speckle was still importing the file (file import ${started.id}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`;
    return pollUntil(ctx, timeout, async (round): Promise<Poll<string>> => {
      // The start's own answer is the first round's.
      const upload = round === 1 ? started : await this.findUpload(modelId, started.id, ctx);
      if (upload) {
        if (upload.convertedStatus === CONVERTED.success) {
          if (!upload.convertedVersionId) throw new SpeckleError(`Speckle reports file import ${upload.id} done but names no version`, 'invalid_response');
          return { done: upload.convertedVersionId };
        }
        if (upload.convertedStatus === CONVERTED.error) {
          throw new SpeckleError(`Speckle could not import the file: ${upload.convertedMessage || 'no reason given'}`, 'ingestion_failed');
        }
        if (upload.convertedStatus !== lastStatus) {
          ctx.log.info(`${file.path}: Speckle import ${upload.convertedStatus === CONVERTED.queued ? 'queued' : 'processing'}${upload.convertedMessage ? `: ${upload.convertedMessage}` : ''}`);
          lastStatus = upload.convertedStatus;
        }
      } else if (round > 3) {
        throw new SpeckleError(`Speckle does not list file import ${started.id} among the uploads of model ${modelId}`, 'ingestion_missing');
      }
      return { againInMs: pollDelay(round) };
    });
  }

  /**
   * Traceability: the version message names the commit, ref and workflow run. The start mutations take no
   * message, so it is set afterwards; a failure here never fails a file whose version exists.
   */
  private async describeVersion(file: LocalFile, versionId: string, ctx: StepContext) {
    const origin = this.settings.origin;
    if (!origin?.sha) return;
    const message = `${file.path} from ${origin.repository ?? 'GitHub'}@${origin.sha.slice(0, 12)}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}`;
    try {
      await this.call(
        ops.updateVersionMessage,
        { input: { projectId: this.settings.projectId, versionId, message } },
        `set the message of version ${versionId}`,
        z.object({ versionMutations: z.object({ update: z.object({ id: z.string() }) }) }),
        ctx.signal,
      );
    } catch (err) {
      ctx.log.info(`${file.path}: version ${versionId} exists, but its message could not be set (${errorMessage(err)})`);
    }
  }
}

/** success → the version ID; a final failure → its error; still running → undefined. */
function ingestionOutcome(ingestionId: string, s: StatusData): string | Error | undefined {
  switch (s.status as (typeof STATUSES)[number]) {
    case 'queued':
    case 'processing':
      return undefined;
    case 'success':
      return s.versionId ? s.versionId : new SpeckleError(`Speckle reports ingestion ${ingestionId} done but names no version`, 'invalid_response');
    case 'failed':
      return new SpeckleError(`Speckle could not ingest the file: ${s.errorReason || 'no reason given'}`, 'ingestion_failed', [], [], s.status);
    case 'cancelled':
      return new SpeckleError(`Speckle cancelled the ingestion${s.cancellationMessage ? `: ${s.cancellationMessage}` : ''}`, 'ingestion_cancelled', [], [], s.status);
    case 'invalidInput':
      return new SpeckleError(`Speckle refused the file as invalid input: ${s.validationMessage || 'no reason given'}`, 'ingestion_invalid_input', [], [], s.status);
    case 'timeout':
      return new SpeckleError("Speckle gave up: its importer timed out (the model may be too large or complex for the server's import limits)", 'ingestion_timeout', [], [], s.status);
    default:
      return undefined; // a status this client does not know yet: keep waiting, wait-timeout-minutes bounds it
  }
}

function progressLine(s: StatusData): string {
  const pct = typeof s.progress === 'number' ? ` ${Math.round((s.progress <= 1 ? s.progress * 100 : s.progress))}%` : '';
  return `${s.status}${pct}${s.progressMessage ? `: ${s.progressMessage}` : ''}`;
}

function isNotFound(e: GraphQLErrorItem): boolean {
  const code = String(e.extensions?.code ?? '');
  return /NOT_FOUND/.test(code) || /not found/i.test(e.message);
}

/**
 * Partly successful answers: GraphQL may answer `data` and `errors` together (a resolver after the create
 * failed, a subscription publish, a hook). When the mutation's object came back, it exists on the server:
 * failing would drop its ID, and the next attempt or run would make a second one (a second model is refused
 * as a taken name; a second start of the fileId is refused as already registered). These fields decide, and
 * nothing else:
 *  - CreateModel: `data.modelMutations.create.id`;
 *  - StartFileIngestion: `data.fileUploadMutations.startFileIngestion.id` (the ingestion, followed as usual:
 *    its own verdict still decides whether the file succeeds);
 *  - StartFileImport (2.x): `data.fileUploadMutations.startFileImport.id`.
 * Any other operation with `errors` fails, whatever `data` holds.
 */
export function createdDespiteErrors(op: SpeckleOperation, data: unknown): string | undefined {
  const d = data as Record<string, Record<string, Record<string, unknown> | null | undefined> | null | undefined> | null | undefined;
  const id =
    op === ops.createModel
      ? d?.['modelMutations']?.['create']?.['id']
      : op === ops.startFileIngestion
        ? d?.['fileUploadMutations']?.['startFileIngestion']?.['id']
        : op === ops.startFileImport
          ? d?.['fileUploadMutations']?.['startFileImport']?.['id']
          : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** Server text for a log line: one line, bounded. */
function oneLine(text: string, max = 300): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** How often something that must happen once is looked for and tried again after ambiguous failures. */
const MAX_START_ROUNDS = 3;

function isAmbiguous(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof HttpError && err.status >= 500);
}

/** The server registers a fileId once; a second start of it answers this (speckle-server AlreadyRegisteredBlobError). */
function isAlreadyRegistered(err: unknown): boolean {
  return err instanceof SpeckleError && err.graphqlCodes.includes('ALREADY_REGISTERED_BLOB_ERROR');
}

function isValidationFailure(err: unknown, field: string): boolean {
  return err instanceof SpeckleError && err.reason === 'graphql_validation_failed' && err.errors.some((e) => e.message.includes(field));
}

/** Speckle checks the ETag against storage: a mismatch means storage holds other bytes than we sent. */
function etagFailure(err: unknown, etag: string): CorruptionError | undefined {
  if (!(err instanceof SpeckleError) || !err.errors.some((e) => /etag/i.test(e.message))) return undefined;
  return new CorruptionError(`Speckle found different bytes in storage than were uploaded (our ETag ${etag}): ${err.errors.map((e) => e.message).join('; ')}`);
}

function settingsHint(settings: SpeckleSettings) {
  return {
    scope: `The token needs the streams:write scope (with streams:read; create it under Avatar → Profile → Personal Access Tokens on ${settings.serverUrl}), and its user needs the "Can edit" role (owner or contributor) on project ${settings.projectId}.`,
    project: `check the project-id input: it is the ID in the project's URL, ${settings.serverUrl}/projects/<project-id>, and the token's user must be a member of that project`,
  };
}

export function graphqlFailure(errors: GraphQLErrorItem[], what: string, settings: SpeckleSettings): SpeckleError {
  const codes = errors.map((e) => String(e.extensions?.code ?? ''));
  const messages = [...new Set(errors.map((e) => e.message))].join('; ');
  const hint = settingsHint(settings);
  if (codes.includes('FORBIDDEN') || codes.includes('UNAUTHORIZED_ACCESS_ERROR')) {
    return new SpeckleError(`Speckle refused to ${what}: ${messages}. ${hint.scope}`, 'forbidden', codes, errors);
  }
  if (codes.includes('UNAUTHENTICATED')) {
    return new SpeckleError(`Speckle refused to ${what} without a valid token (${messages}): check the token input or SPECKLE_TOKEN`, 'invalid_token', codes, errors);
  }
  if (codes.includes('STREAM_NOT_FOUND') || codes.includes('PROJECT_NOT_FOUND') || errors.some((e) => e.path?.length === 1 && e.path[0] === 'project' && isNotFound(e))) {
    return new SpeckleError(`Speckle has no project "${settings.projectId}" (${messages}): ${hint.project}`, 'project_not_found', codes, errors);
  }
  if (settings.modelId && (codes.includes('BRANCH_NOT_FOUND') || codes.includes('MODEL_NOT_FOUND'))) {
    return new SpeckleError(
      `Speckle has no model "${settings.modelId}" in project ${settings.projectId} (${messages}): check the model-id input; it is the ID in the model's URL, ${settings.serverUrl}/projects/${settings.projectId}/models/<model-id>`,
      'model_not_found',
      codes,
      errors,
    );
  }
  if (codes.includes('GRAPHQL_VALIDATION_FAILED')) {
    return new SpeckleError(`Speckle rejected the request to ${what} as invalid for this server's schema: ${messages}`, 'graphql_validation_failed', codes, errors);
  }
  return new SpeckleError(`Speckle could not ${what}: ${messages}`, 'other', codes, errors);
}

/** HTTP-level failures: the token check (403 before GraphQL runs), schema validation (400), the rest. */
export function httpFailure(err: unknown, what: string, settings: SpeckleSettings): unknown {
  if (!(err instanceof HttpError)) return err;
  let body: { error?: unknown; errors?: GraphQLErrorItem[] } | undefined;
  try {
    body = JSON.parse(err.body) as typeof body;
  } catch {
    body = undefined;
  }
  if ((err.status === 401 || err.status === 403) && (typeof body?.error === 'string' || /token/i.test(err.body))) {
    const said = typeof body?.error === 'string' ? body.error : err.body.slice(0, 100);
    return new SpeckleError(
      `Speckle did not accept the token (HTTP ${err.status}: "${said}"): the token input (or SPECKLE_TOKEN) must hold a current personal access token issued by ${settings.serverUrl}; it may be revoked, expired, or from another server`,
      'invalid_token',
      [],
      [],
      statusCode(err.status),
    );
  }
  if (Array.isArray(body?.errors) && body.errors.length > 0) return graphqlFailure(body.errors, what, settings);
  if (err.status === 429) return new SpeckleError(`Speckle kept answering HTTP 429 (rate limited) to ${what} after every attempt; lower concurrency or raise max-attempts`, 'rate_limited', [], [], statusCode(429));
  return err;
}

export const speckle = defineProvider<SpeckleSettings>({
  id: 'speckle',
  displayName: 'Speckle',
  tokenEnv: 'SPECKLE_TOKEN',
  defaultServerUrl: 'https://app.speckle.systems',
  inputs: ['project-id', 'model', 'model-id'],
  idOutputs: [{ output: 'version-ids', field: 'versionId' }],
  readSettings(input, common) {
    const token = requireToken(common, 'SPECKLE_TOKEN', 'a Speckle personal access token (scopes streams:read and streams:write)');
    const projectId = requireId(input, 'project-id', "the ID in the project's URL, .../projects/<project-id>");
    const modelId = optionalId(input, 'model-id', "the ID in the model's URL, .../models/<model-id>");
    const modelTemplate = input('model') || '{path}';
    for (const [, key] of modelTemplate.matchAll(/\{([^}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(key!)) {
        throw new UsageError('model', `has an unknown placeholder {${key}}; use {path}, {dir}, {name}, {stem} and {ext} (e.g. "ci/{path}")`);
      }
    }
    if (!modelId && normaliseModelName(modelTemplate.replace(/\{\w+\}/g, 'x')) === '') {
      throw new UsageError('model', `got ${JSON.stringify(modelTemplate)}; expected a model name template such as {path} or "ci/{dir}/{stem}"`);
    }
    return { token, serverUrl: common.serverUrl, projectId, modelTemplate, ...(modelId ? { modelId } : {}), origin: common.origin };
  },
  refuse(file, settings) {
    if (file.ext === '') {
      return 'Speckle picks its importer by the file extension, and this file has none (rename it, e.g. to model.ifc, or leave it out of path)';
    }
    if (!settings.modelId) {
      const problem = modelNameProblem(modelNameFor(settings, file));
      if (problem) return `${problem}; change the model template (input model) or use model-id`;
    }
    return undefined;
  },
  async open(settings, ctx: OpenContext) {
    const gql = new GraphQLEndpoint(ctx.http, `${settings.serverUrl}/graphql`, () => ({ authorization: `Bearer ${settings.token}` }));
    const what = `read project ${settings.projectId}`;
    const read = async (op: SpeckleOperation) => {
      try {
        const { data, errors } = await gql.execute<unknown>(op.document, { projectId: settings.projectId }, { label: `Speckle ${op.name}`, idempotent: op.idempotent, signal: ctx.signal });
        if (errors?.length) throw graphqlFailure(errors, what, settings);
        const parsed = capabilitiesAnswer.safeParse(data);
        if (!parsed.success) throw new SpeckleError(`Speckle at ${settings.serverUrl}: unexpected answer to ${op.name}; is server-url a Speckle server?`, 'invalid_response');
        return parsed.data;
      } catch (err) {
        throw httpFailure(err, what, settings);
      }
    };
    let answer: z.infer<typeof capabilitiesAnswer>;
    try {
      answer = await read(ops.serverCapabilities);
    } catch (err) {
      // A server that refuses introspection rejects the whole query; ask without it and find out later.
      if (!(err instanceof SpeckleError && err.reason === 'graphql_validation_failed' && /introspection|__type/i.test(err.message))) throw err;
      answer = await read(ops.serverAndProject);
    }
    const { serverInfo, project, fileUploadMutationsType, projectType } = answer;
    const has = (t: typeof fileUploadMutationsType, field: string) => t?.fields?.some((f) => f.name === field);
    const ingestionApi =
      fileUploadMutationsType?.fields && projectType?.fields ? Boolean(has(fileUploadMutationsType, 'startFileIngestion') && has(projectType, 'ingestion')) : undefined;
    if (project.role === 'stream:reviewer') {
      throw new SpeckleError(`Speckle: the token's user can only view project "${project.name}" (${project.id}). ${settingsHint(settings).scope}`, 'forbidden');
    }
    const limit = serverInfo.configuration.blobSizeLimitBytes ?? undefined;
    const api =
      ingestionApi === undefined ? 'ingestion API unknown (introspection refused)' : ingestionApi ? 'ingestion API' : 'no ingestion API (server 2.x): using startFileImport';
    ctx.log.info(
      `Speckle${serverInfo.version ? ` ${serverInfo.version}` : ''} at ${settings.serverUrl}: project "${project.name}"; ${api}${limit ? `; files up to ${formatBytes(limit)}` : ''}`,
    );
    const session = new SpeckleSession(settings, gql, { ingestionApi, ...(limit ? { blobSizeLimitBytes: limit } : {}), ...(serverInfo.version ? { version: serverInfo.version } : {}) }, ctx.log);
    const finalisation =
      ingestionApi === undefined ? 'ingested (startFileIngestion, or startFileImport on a 2.x server)' : ingestionApi ? 'ingested (startFileIngestion)' : 'imported (startFileImport, server 2.x)';
    return Object.assign(session, {
      plan: (file: LocalFile) => ({
        destination: `Speckle project "${project.name}" (${project.id}), ${settings.modelId ? `model ${settings.modelId}` : `model "${modelNameFor(settings, file)}" (created if missing)`}; ${finalisation} into a new version`,
        refusal: session.refuse(file),
      }),
    });
  },
  describeTarget: (s) => `project ${s.projectId} on ${s.serverUrl}, ${s.modelId ? `model ${s.modelId}` : `models named by the template "${s.modelTemplate}"`}`,
  runFailure(err, settings, common, stage) {
    const credential = `the token input (or SPECKLE_TOKEN) must hold a personal access token issued by ${settings.serverUrl} with the streams:read and streams:write scopes, whose user has the "Can edit" role on project ${settings.projectId}`;
    if (err instanceof HttpError && err.status === 404 && stage === 'open') return wrongServerUrl(this, common, '/graphql');
    if (!(err instanceof PublishError)) return undefined;
    // Speckle's own reasons decide; an answer of the wrong shape may come from any layer.
    switch (err instanceof SpeckleError ? err.reason : err.code) {
      case 'invalid_token':
      case 'forbidden':
        return { input: 'token', message: err.message, fix: credential, code: err.code };
      case 'project_not_found':
        return { input: 'project-id', message: err.message, fix: settingsHint(settings).project, code: err.code };
      case 'model_not_found':
        return { input: 'model-id', message: err.message, fix: `set model-id to the ID in the model's URL, ${settings.serverUrl}/projects/${settings.projectId}/models/<model-id>, or leave it empty to use the model template`, code: err.code };
      case 'invalid_response':
        return stage === 'open' ? { input: 'server-url', message: err.message, fix: `set server-url to the Speckle server's base URL (e.g. ${this.defaultServerUrl})`, code: err.code } : undefined;
      default:
        return undefined;
    }
  },
});
