// Finishing a file on an open-source 2.x server (no ingestion API): startFileImport, then the model's uploads
// polled until ours is converted into a version or fails. A start whose answer was lost is looked for among the
// model's uploads before it is ever sent again.
import * as z from '../../core/schema.js';
import type { LocalFile, StepContext } from '../../core/types.js';
import { WaitTimeoutError } from '../../core/errors.js';
import { SharedRounds, type RoundWaiter } from '../../core/waiting.js';
import { etagFailure, graphqlFailure, isAmbiguous, SpeckleError } from './graphql.js';
import { readAliased, type SpeckleApi } from './api.js';
import { generateUploadUrlLegacy, modelsUploads, MODELS_PER_UPLOADS_READ, modelUploads, startFileImport, type SpeckleOperation } from './operations.js';
import { pollDelay, startOnce, type SpeckleProtocol, type StartInput, type Started } from './protocol.js';

const fileUpload = z.object({
  id: z.string().check(z.minLength(1)),
  convertedStatus: z.int(),
  convertedMessage: z.nullish(z.string()),
  convertedVersionId: z.nullish(z.string()),
});
const startImportAnswer = z.object({ fileUploadMutations: z.object({ startFileImport: z.extend(fileUpload, { modelId: z.nullish(z.string()) }) }) });
const uploadsAnswer = z.object({
  project: z.object({ model: z.object({ uploads: z.object({ cursor: z.nullish(z.string()), items: z.array(fileUpload) }) }) }),
});

/** FileUpload.convertedStatus on 2.x servers. */
const CONVERTED = { queued: 0, processing: 1, success: 2, error: 3 } as const;
type FileUpload = z.infer<typeof fileUpload>;

export class FileImport implements SpeckleProtocol {
  readonly generation = '2.x';
  readonly generateUploadUrl = generateUploadUrlLegacy;
  readonly finalisation = 'imported (startFileImport, server 2.x)';

  private readonly watcher: ImportWatcher;

  /** `signal`: the run's (hard) cancellation, which ends the watcher's requests. */
  constructor(
    private readonly api: SpeckleApi,
    signal: AbortSignal,
  ) {
    this.watcher = new ImportWatcher(api, signal, (modelId, ids, ctx, cursor) => this.findUploads(modelId, ids, ctx, cursor));
  }

  async start(file: LocalFile, input: StartInput, modelUrl: string, ctx: StepContext): Promise<Started> {
    const upload = await this.startImport(input, ctx);
    const { modelId } = input;
    return {
      label: `file import ${upload.id}`,
      submitted: { id: upload.id, fileId: upload.id, modelId, url: modelUrl },
      verdict: (waitCtx) => this.waitForImport(file, modelId, upload, waitCtx),
      accepted: (versionId) => ({ id: versionId, versionId, modelId, fileId: upload.id, url: `${modelUrl}@${versionId}` }),
    };
  }

  private async startImport(input: StartInput, ctx: StepContext): Promise<FileUpload> {
    const what = 'start the file import';
    const start = async () => (await this.api.call(startFileImport, { input }, what, startImportAnswer, ctx.signal)).fileUploadMutations.startFileImport;
    try {
      return await start();
    } catch (err) {
      const etag = etagFailure(err, input.etag);
      if (etag) throw etag;
      if (!isAmbiguous(err)) throw err;
      // The import may have been registered before the answer was lost: look for our fileId first.
      return startOnce(what, err, () => this.findUpload(input.modelId, input.fileId, ctx), start, ctx.log);
    }
  }

  private async findUpload(modelId: string, uploadId: string, ctx: Pick<StepContext, 'signal'>): Promise<FileUpload | undefined> {
    return (await this.findUploads(modelId, new Set([uploadId]), ctx)).get(uploadId);
  }

  /** The model's uploads paged (bounded: 20 pages of 25) until every one of `ids` is found. */
  private async findUploads(modelId: string, ids: ReadonlySet<string>, ctx: Pick<StepContext, 'signal'>, from: string | null = null): Promise<Map<string, FileUpload>> {
    const found = new Map<string, FileUpload>();
    let cursor: string | null | undefined = from;
    for (let page = 0; page < 20; page++) {
      const answer: z.infer<typeof uploadsAnswer> = await this.api.call(
        modelUploads,
        { projectId: this.api.settings.projectId, modelId, cursor },
        'file import status',
        uploadsAnswer,
        ctx.signal,
      );
      const { items, cursor: next } = answer.project.model.uploads;
      for (const u of items) if (ids.has(u.id)) found.set(u.id, u);
      if (found.size === ids.size || !next || items.length === 0) break;
      cursor = next;
    }
    return found;
  }

  private waitForImport(file: LocalFile, modelId: string, started: FileUpload, ctx: StepContext): Promise<string> {
    // The start's own answer is the first round's.
    const outcome = importOutcome(started);
    if (outcome instanceof Error) return Promise.reject(outcome);
    if (outcome !== undefined) return Promise.resolve(outcome);
    return this.watcher.verdict(file, modelId, started, ctx);
  }
}

/** success → the version ID; an error → its error; still queued or processing → undefined. */
function importOutcome(upload: FileUpload): string | Error | undefined {
  if (upload.convertedStatus === CONVERTED.success) {
    return upload.convertedVersionId ? upload.convertedVersionId : new SpeckleError(`Speckle reports file import ${upload.id} done but names no version`, 'invalid_response');
  }
  if (upload.convertedStatus === CONVERTED.error) return new SpeckleError(`Speckle could not import the file: ${upload.convertedMessage || 'no reason given'}`, 'ingestion_failed');
  return undefined;
}

interface ImportWaiter extends RoundWaiter<string> {
  file: LocalFile;
  modelId: string;
  uploadId: string;
  log: StepContext['log'];
  lastStatus: number;
}

const uploadsPage = z.object({ uploads: z.object({ cursor: z.nullish(z.string()), items: z.array(fileUpload) }) });
const readsOf = new Map<number, SpeckleOperation>();
function modelsRead(count: number): SpeckleOperation {
  let op = readsOf.get(count);
  if (!op) readsOf.set(count, (op = modelsUploads(count)));
  return op;
}

/**
 * 2.x: waits for every file import of the run at once. A round reads the newest uploads of every model that has
 * an import waiting, in one ModelsUploads request (one aliased `model` field a model, up to
 * MODELS_PER_UPLOADS_READ), not one request per file; a model whose waiting imports are not all on that first
 * page is paged on once for all of them. Each file keeps its own schedule (pollDelay), deadline and
 * cancellation; an error naming one model's alias fails that model's files only.
 */
export class ImportWatcher {
  private readonly rounds: SharedRounds<string, ImportWaiter>;

  constructor(
    private readonly api: Pick<SpeckleApi, 'execute' | 'settings'>,
    private readonly signal: AbortSignal,
    /** The rest of a model's uploads, paged from `cursor`, for the imports not on its first page. */
    private readonly page: (modelId: string, ids: ReadonlySet<string>, ctx: Pick<StepContext, 'signal'>, cursor: string) => Promise<Map<string, FileUpload>>,
  ) {
    this.rounds = new SharedRounds(signal, (now, waiting) => this.round(now, waiting));
  }

  verdict(file: LocalFile, modelId: string, started: FileUpload, ctx: Pick<StepContext, 'signal' | 'stop' | 'waitDeadline' | 'log'>): Promise<string> {
    const uploadId = started.id;
    const fields = { file, modelId, uploadId, log: ctx.log, lastStatus: -1, dueAt: Date.now() + pollDelay(1), round: 1 };
    this.note(fields, started);
    return this.rounds.wait(
      uploadId,
      fields,
      ctx,
      () => new WaitTimeoutError(`Speckle was still importing the file (file import ${uploadId}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`),
    );
  }

  private note(w: Pick<ImportWaiter, 'file' | 'log' | 'lastStatus'>, upload: FileUpload): void {
    if (upload.convertedStatus === w.lastStatus) return;
    w.log.info(`${w.file.path}: Speckle import ${upload.convertedStatus === CONVERTED.queued ? 'queued' : 'processing'}${upload.convertedMessage ? `: ${upload.convertedMessage}` : ''}`);
    w.lastStatus = upload.convertedStatus;
  }

  /**
   * Every model with an import due is read, and the documents are filled with the models due next (asking costs
   * nothing more); every import waiting on a model read is answered by it.
   */
  private async round(now: number, waiting: ImportWaiter[]): Promise<void> {
    const byDue = waiting.sort((x, y) => x.dueAt - y.dueAt);
    const dueModels = new Set(byDue.filter((w) => w.dueAt <= now).map((w) => w.modelId));
    const all = [...new Set(byDue.map((w) => w.modelId))];
    const models = all.slice(0, Math.min(all.length, Math.ceil(dueModels.size / MODELS_PER_UPLOADS_READ) * MODELS_PER_UPLOADS_READ));
    const asked = waiting.filter((w) => models.includes(w.modelId));
    for (const w of asked) {
      w.round += 1;
      w.dueAt = now + pollDelay(w.round);
    }
    for (let at = 0; at < models.length; at += MODELS_PER_UPLOADS_READ) {
      const batch = models.slice(at, at + MODELS_PER_UPLOADS_READ);
      await this.read(batch, asked.filter((w) => batch.includes(w.modelId)));
    }
  }

  private async read(models: string[], waiters: ImportWaiter[]): Promise<void> {
    const variables: Record<string, unknown> = { projectId: this.api.settings.projectId };
    models.forEach((m, i) => (variables[`m${i}`] = m));
    const what = 'file import status';
    const answer = await readAliased(this.api, modelsRead(models.length), variables, what, this.signal, 'm', models.length);
    if ('failure' in answer) {
      for (const w of waiters) w.settle(answer.failure);
      return;
    }
    const { project, own } = answer;
    for (const [i, modelId] of models.entries()) {
      const mine = waiters.filter((w) => w.modelId === modelId);
      const refused = own.get(i);
      if (refused) {
        const failure = graphqlFailure(refused, `read the uploads of model ${modelId}`, this.api.settings);
        for (const w of mine) w.settle(failure);
        continue;
      }
      const parsed = project ? uploadsPage.safeParse(project[`m${i}`]) : undefined;
      if (!parsed?.success) {
        for (const w of mine) w.settle(new SpeckleError(`Speckle, asked for the uploads of model ${modelId}: unexpected answer shape`, 'invalid_response'));
        continue;
      }
      const found = new Map(parsed.data.uploads.items.map((u) => [u.id, u]));
      const missing = new Set(mine.filter((w) => !found.has(w.uploadId)).map((w) => w.uploadId));
      if (missing.size > 0 && parsed.data.uploads.cursor) {
        try {
          for (const [id, u] of await this.page(modelId, missing, { signal: this.signal }, parsed.data.uploads.cursor)) found.set(id, u);
        } catch (err) {
          for (const w of mine) if (missing.has(w.uploadId)) w.settle(err);
        }
      }
      for (const w of mine) {
        const upload = found.get(w.uploadId);
        if (!upload) {
          // Not listed yet; after a few rounds, Speckle does not know it.
          if (w.round > 3) w.settle(new SpeckleError(`Speckle does not list file import ${w.uploadId} among the uploads of model ${modelId}`, 'ingestion_missing'));
          continue;
        }
        const outcome = importOutcome(upload);
        if (outcome instanceof Error) w.settle(outcome);
        else if (outcome !== undefined) w.settle(undefined, outcome);
        else this.note(w, upload);
      }
    }
  }
}
