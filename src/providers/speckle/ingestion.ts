// Finishing a file on a server with the ingestion API (app.speckle.systems): startFileIngestion, then
// project.ingestion polled until it ends in a version or Speckle's reason. A start whose answer was lost is
// looked up (the model's latest ingestion, then its history) before it is ever sent again.
import * as z from '../../core/schema.js';
import type { LocalFile, StepContext } from '../../core/types.js';
import { WaitTimeoutError } from '../../core/errors.js';
import { SharedRounds, type RoundWaiter } from '../../core/waiting.js';
import { etagFailure, graphqlFailure, isAmbiguous, isValidationFailure, SpeckleError } from './graphql.js';
import { readAliased, type SpeckleApi } from './api.js';
import { generateUploadUrlLive, ingestionHistory, ingestionStatuses, INGESTIONS_PER_STATUS_READ, latestIngestion, startFileIngestion, type SpeckleOperation } from './operations.js';
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
const ingestionState = z.nullish(z.object({ id: z.string(), modelId: z.string(), statusData }));

export class LiveIngestion implements SpeckleProtocol {
  readonly generation = 'live';
  readonly generateUploadUrl = generateUploadUrlLive;
  readonly finalisation = 'ingested (startFileIngestion)';
  /** False once the server answered that Model.ingestionHistory does not exist: not asked again. */
  private hasIngestionHistory: boolean | undefined;
  private readonly watcher: IngestionWatcher;

  /** `signal`: the run's (hard) cancellation, which ends the watcher's requests. */
  constructor(
    private readonly api: SpeckleApi,
    signal: AbortSignal,
  ) {
    this.watcher = new IngestionWatcher(api, signal);
  }

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
    return this.watcher.verdict(file, ingestionId, ctx);
  }
}

interface Waiter extends RoundWaiter<string> {
  file: LocalFile;
  ingestionId: string;
  log: StepContext['log'];
  lastLine: string;
  status: string;
}

/**
 * Waits for every ingestion of the run at once: a round sends one IngestionStatus request for up to
 * INGESTIONS_PER_STATUS_READ waiting ingestions (aliased fields), not one request per file; more wait, more
 * documents. Each ingestion has its own schedule (pollDelay: soon after it started, then slower); a round comes
 * when the first one wants it and asks for those that are due, filling the document with the ones due next.
 * Each file's wait ends at its own deadline (wait-timeout-minutes) or cancellation. An error whose path names
 * one alias fails that file only; a failure of the whole request (after the HTTP client's retries) fails the
 * files it asked for, as a failed poll did before.
 */
export class IngestionWatcher {
  private readonly rounds: SharedRounds<string, Waiter>;

  constructor(
    private readonly api: Pick<SpeckleApi, 'execute' | 'settings'>,
    private readonly signal: AbortSignal,
  ) {
    this.rounds = new SharedRounds(signal, (now, waiting) => this.round(now, waiting));
  }

  verdict(file: LocalFile, ingestionId: string, ctx: Pick<StepContext, 'signal' | 'stop' | 'waitDeadline' | 'log'>): Promise<string> {
    return this.rounds.wait(
      ingestionId,
      {
        file,
        ingestionId,
        log: ctx.log,
        lastLine: '',
        status: '',
        // The start's answer said it is queued: the first read comes a moment later, with those of the files
        // that start meanwhile (at once, files starting one after another would each cost a request).
        dueAt: Date.now() + pollDelay(1),
        round: 1,
      },
      ctx,
      (w) =>
        new WaitTimeoutError(
          `Speckle was still ingesting the file (ingestion ${ingestionId}${w.status ? `, ${w.status}` : ''}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`,
        ),
    );
  }

  /** Those due first, then the documents filled with the ones due next (asking costs nothing more). */
  private async round(now: number, waiting: Waiter[]): Promise<void> {
    const all = waiting.sort((x, y) => x.dueAt - y.dueAt);
    const dueCount = all.findIndex((w) => w.dueAt > now);
    const count = dueCount < 0 ? all.length : Math.min(all.length, Math.ceil(dueCount / INGESTIONS_PER_STATUS_READ) * INGESTIONS_PER_STATUS_READ);
    const asked = all.slice(0, count);
    for (const w of asked) {
      w.round += 1;
      w.dueAt = now + pollDelay(w.round);
    }
    for (let at = 0; at < asked.length; at += INGESTIONS_PER_STATUS_READ) {
      await this.read(asked.slice(at, at + INGESTIONS_PER_STATUS_READ));
    }
  }

  /** One IngestionStatus request for `batch`, each waiter settled or moved on by its own answer. */
  private async read(batch: Waiter[]): Promise<void> {
    const projectId = this.api.settings.projectId;
    const variables: Record<string, unknown> = { projectId };
    batch.forEach((w, i) => (variables[`id${i}`] = w.ingestionId));
    const what = batch.length === 1 ? 'read the ingestion status' : `read the status of ${batch.length} ingestions`;
    // An error whose path names an alias (project.i3…) is that ingestion's; any other is the whole request's.
    const answer = await readAliased(this.api, statusRead(batch.length), variables, what, this.signal, 'i', batch.length);
    if ('failure' in answer) {
      for (const w of batch) w.settle(answer.failure);
      return;
    }
    const { project, own } = answer;
    batch.forEach((w, i) => {
      const mine = own.get(i);
      if (mine) return w.settle(graphqlFailure(mine, `read the status of ingestion ${w.ingestionId}`, this.api.settings));
      const parsed = project ? ingestionState.safeParse(project[`i${i}`]) : undefined;
      if (!parsed?.success) {
        return w.settle(new SpeckleError(`Speckle, asked to read the status of ingestion ${w.ingestionId}: unexpected answer shape`, 'invalid_response'));
      }
      if (!parsed.data) return w.settle(new SpeckleError(`Speckle no longer knows ingestion ${w.ingestionId}`, 'ingestion_missing'));
      const s = parsed.data.statusData;
      const outcome = ingestionOutcome(w.ingestionId, s);
      if (outcome instanceof Error) return w.settle(outcome);
      if (outcome !== undefined) return w.settle(undefined, outcome);
      const line = progressLine(s);
      if (line !== w.lastLine) {
        w.log.info(`${w.file.path}: Speckle ${line}`);
        w.lastLine = line;
      }
      w.status = s.status;
    });
  }
}

const statusReads = new Map<number, SpeckleOperation>();
/** The IngestionStatus document for `count` ingestions, built once per count. */
function statusRead(count: number): SpeckleOperation {
  let op = statusReads.get(count);
  if (!op) statusReads.set(count, (op = ingestionStatuses(count)));
  return op;
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
