// What the two ways of finishing a file have in common. Servers with the ingestion API (app.speckle.systems)
// start an ingestion and are polled through project.ingestion; open-source 2.x servers start a file import and
// are polled through the model's uploads. Which one a server speaks is found out once, when the session opens.
import type { LocalFile, Logger, PublishedIds, StepContext } from '../../core/types.js';
import { happenOnce } from '../../core/waiting.js';
import { isAlreadyRegistered, isAmbiguous } from './graphql.js';
import type { SpeckleOperation } from './operations.js';

/** What startFileIngestion and startFileImport take: the uploaded fileId, on a model, with storage's ETag. */
export interface StartInput {
  projectId: string;
  modelId: string;
  fileId: string;
  /** Exactly as storage sent it, quotes included: Speckle compares it with the stored object's. */
  etag: string;
}

/** A started ingestion or import: what to report before its verdict, and how to wait for it. */
export interface Started {
  /** For the log: `ingestion 9f…`, `file import 41…`. */
  label: string;
  /** The IDs while the verdict is not awaited (wait: false, or a run cancelled meanwhile). */
  submitted: PublishedIds;
  /** Wait for the verdict: the new version's ID, or the failure Speckle gave. */
  verdict(ctx: StepContext): Promise<string>;
  /** The IDs once the version exists. */
  accepted(versionId: string): PublishedIds;
}

export interface SpeckleProtocol {
  readonly generation: 'live' | '2.x';
  /** The upload-URL mutation this generation's schema accepts. */
  readonly generateUploadUrl: SpeckleOperation;
  /** How a file is finalised, for the plan: `ingested (startFileIngestion)`. */
  readonly finalisation: string;
  start(file: LocalFile, input: StartInput, modelUrl: string, ctx: StepContext): Promise<Started>;
}

const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 5_000;

/** The pause after a round of asking for a verdict: quick at first (imports often take moments), then slower. */
export function pollDelay(round: number): number {
  return Math.min(POLL_MAX_MS, POLL_FIRST_MS * 2 ** (round - 1));
}

/** How often something that must happen once is looked for and tried again after ambiguous failures. */
const MAX_START_ROUNDS = 3;

/**
 * Something that must happen once (a model created, an ingestion or import started) failed ambiguously: ask
 * whether it happened and follow it, else do it again; after MAX_START_ROUNDS, the outcome is unknown.
 */
export function startOnce<T>(what: string, firstError: unknown, find: () => Promise<T | undefined>, start: () => Promise<T>, log: Logger): Promise<T> {
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
    log,
  });
}
