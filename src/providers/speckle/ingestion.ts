// Finishing a file on a server with the ingestion API (app.speckle.systems): startFileIngestion, then
// project.ingestion polled until it ends in a version or Speckle's reason. A start whose answer was lost is
// looked up (the model's latest ingestion, then its history) before it is ever sent again.
import * as z from '../../core/schema.js';
import type { LocalFile, StepContext } from '../../core/types.js';
import { pollUntil, type Poll } from '../../core/waiting.js';
import { etagFailure, isAmbiguous, isValidationFailure, SpeckleError } from './graphql.js';
import type { SpeckleApi } from './api.js';
import { generateUploadUrlLive, ingestionHistory, ingestionStatus, latestIngestion, startFileIngestion } from './operations.js';
import { pollDelay, startOnce, type SpeckleProtocol, type StartInput, type Started } from './protocol.js';

const STATUSES = ['queued', 'processing', 'success', 'failed', 'cancelled', 'invalidInput', 'timeout'] as const;
const statusData = z.object({
  __typename: z.string(),
  // Read through HasModelIngestionStatus; a status this client does not know yet stays a string.
  status: z.string(),
  progressMessage: z.nullish(z.string()),
  progress: z.nullish(z.number()),
  versionId: z.nullish(z.string()),
  errorReason: z.nullish(z.string()),
  cancellationMessage: z.nullish(z.string()),
  validationMessage: z.nullish(z.string()),
});
type StatusData = z.infer<typeof statusData>;

const startIngestionAnswer = z.object({
  fileUploadMutations: z.object({
    startFileIngestion: z.object({ id: z.string().check(z.minLength(1)), modelId: z.string(), statusData: z.object({ __typename: z.string(), status: z.string() }) }),
  }),
});
const latestIngestionAnswer = z.object({
  project: z.object({
    model: z.object({
      latestIngestion: z.nullish(z.object({ id: z.string(), handler: z.object({ __typename: z.string(), blobId: z.nullish(z.string()) }) })),
    }),
  }),
});
const ingestionHistoryAnswer = z.object({
  project: z.object({
    model: z.object({
      ingestionHistory: z.object({
        cursor: z.nullish(z.string()),
        items: z.array(z.object({ id: z.string(), handler: z.object({ __typename: z.string(), blobId: z.nullish(z.string()) }) })),
      }),
    }),
  }),
});
const ingestionAnswer = z.object({
  project: z.object({ ingestion: z.nullish(z.object({ id: z.string(), modelId: z.string(), statusData })) }),
});

export class LiveIngestion implements SpeckleProtocol {
  readonly generation = 'live';
  readonly generateUploadUrl = generateUploadUrlLive;
  readonly finalisation = 'ingested (startFileIngestion)';
  /** False once the server answered that Model.ingestionHistory does not exist: not asked again. */
  private hasIngestionHistory: boolean | undefined;

  constructor(private readonly api: SpeckleApi) {}

  async start(file: LocalFile, input: StartInput, modelUrl: string, ctx: StepContext): Promise<Started> {
    const ingestionId = await this.startIngestion(input, ctx);
    const { modelId, fileId } = input;
    return {
      label: `ingestion ${ingestionId}`,
      submitted: { id: ingestionId, ingestionId, modelId, fileId, url: modelUrl },
      verdict: (waitCtx) => this.waitForIngestion(file, ingestionId, waitCtx),
      accepted: (versionId) => ({ id: versionId, versionId, modelId, ingestionId, fileId, url: `${modelUrl}@${versionId}` }),
    };
  }

  private async startIngestion(input: StartInput, ctx: StepContext): Promise<string> {
    const start = async () => {
      try {
        const answer = await this.api.call(startFileIngestion, { input }, 'start the ingestion', startIngestionAnswer, ctx.signal);
        return answer.fileUploadMutations.startFileIngestion.id;
      } catch (err) {
        throw etagFailure(err, input.etag) ?? err;
      }
    };
    try {
      return await start();
    } catch (err) {
      if (!isAmbiguous(err)) throw err;
      // The ingestion may have started before the answer was lost: follow it rather than start a second.
      return startOnce('start the ingestion', err, () => this.adoptIngestion(input, ctx), start, ctx.log);
    }
  }

  /**
   * After a 5xx or a dropped connection, look up the ingestion of our fileId (an ingestion's handler names the
   * fileId as its blobId): the model's latest ingestion first; when that is another one (another file or run
   * started one since), the model's ingestion history. Found: it is ours and we follow it. Not found: it did
   * not start, and starting it is safe (the server would refuse a second start of a registered fileId anyway).
   */
  private async adoptIngestion(input: StartInput, ctx: StepContext): Promise<string | undefined> {
    const { projectId, modelId, fileId } = input;
    const answer = await this.api.call(latestIngestion, { projectId, modelId }, 'check whether the ingestion started', latestIngestionAnswer, ctx.signal);
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
    if (this.hasIngestionHistory === false) return undefined;
    let cursor: string | null | undefined = null;
    for (let page = 0; page < 20; page++) {
      let answer: z.infer<typeof ingestionHistoryAnswer>;
      try {
        answer = await this.api.call(ingestionHistory, { projectId, modelId, cursor }, 'look up the ingestion of the file', ingestionHistoryAnswer, ctx.signal);
      } catch (err) {
        // A server without ingestionHistory: latestIngestion was all it could tell.
        if (isValidationFailure(err, 'ingestionHistory')) {
          this.hasIngestionHistory = false;
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
      const answer = await this.api.call(
        ingestionStatus,
        { projectId: this.api.settings.projectId, ingestionId },
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
