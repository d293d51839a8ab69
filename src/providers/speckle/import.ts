// Finishing a file on an open-source 2.x server (no ingestion API): startFileImport, then the model's uploads
// polled until ours is converted into a version or fails. A start whose answer was lost is looked for among the
// model's uploads before it is ever sent again.
import * as z from '../../core/schema.js';
import type { LocalFile, StepContext } from '../../core/types.js';
import { pollUntil, type Poll } from '../../core/waiting.js';
import { etagFailure, isAmbiguous, SpeckleError } from './graphql.js';
import type { SpeckleApi } from './api.js';
import { generateUploadUrlLegacy, modelUploads, startFileImport } from './operations.js';
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

  constructor(private readonly api: SpeckleApi) {}

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

  private async findUpload(modelId: string, uploadId: string, ctx: StepContext): Promise<FileUpload | undefined> {
    let cursor: string | null | undefined = null;
    for (let page = 0; page < 20; page++) {
      const answer: z.infer<typeof uploadsAnswer> = await this.api.call(
        modelUploads,
        { projectId: this.api.settings.projectId, modelId, cursor },
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

  private waitForImport(file: LocalFile, modelId: string, started: FileUpload, ctx: StepContext): Promise<string> {
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
}
