// The vocabulary shared by the engine and the providers. Nothing here knows a vendor or GitHub.
import type { ErrorCode } from './error-codes.js';

/**
 * A file the `path` patterns matched, as the walk found it: where it is and what it is called. The walk reads no
 * sizes (src/files/match.ts); the run reads each size when it plans the file (LocalFile).
 */
export interface MatchedFile {
  /** Absolute path on disk. */
  absolutePath: string;
  /** Path relative to the workspace, with `/` separators: what users see and what results are keyed by. */
  path: string;
  /** Base name with extension, e.g. `tower.ifc`. */
  name: string;
  /** Lower-case extension without the dot, e.g. `ifc`; empty when the file has none. */
  ext: string;
  /** Why this matched entry cannot be published (a name that is not UTF-8, a dangling or looping link). */
  problem?: string;
}

/** A matched file with its size on disk, read before anything is decided about it: checked and ready to publish. */
export interface LocalFile extends MatchedFile {
  bytes: number;
}

/** Where and how the bytes go: what a provider's presign step answers. */
export interface UploadTarget {
  method: 'PUT' | 'POST';
  url: string;
  /** Headers the signature covers or the storage requires (Content-Type included). */
  headers: Record<string, string>;
  /** Form fields for a presigned multipart POST; the file goes last, in the field `file`. */
  fields?: Record<string, string>;
}

/** What storage answered to the upload, with the hashes computed from the same read. */
export interface UploadReceipt {
  status: number;
  /** The ETag exactly as storage returned it (quotes included), when it returned one. */
  etag?: string;
  md5Hex: string;
  sha256Hex: string;
  bytes: number;
  /** What storage's answer proved about the stored bytes (`etag-md5`, `content-md5`); empty when nothing could. */
  evidence: Evidence[];
}

/**
 * What showed that the provider holds the file intact, as `results[].verifiedBy` lists it:
 * - `etag-md5`: storage's ETag is the MD5 of the stored bytes (unencrypted S3-style store) and equals ours;
 * - `content-md5`: storage echoed a Content-MD5 equal to ours;
 * - `speckle-etag`: Speckle compared the ETag we passed with the stored object's at startFileIngestion;
 * - `ion-validate-upload`: ION compared the stored object's ETag with ours (validateUpload);
 * - `arcnm-sha256`: ARCNM's confirmed upload reports our SHA-256 and size;
 * - `arcnm-size`: ARCNM's confirmed upload reports our size (it gave no SHA-256).
 */
export type Evidence = 'etag-md5' | 'content-md5' | 'speckle-etag' | 'ion-validate-upload' | 'arcnm-sha256' | 'arcnm-size';

/**
 * A provider's answer once a file is handed over: the IDs it created, and how far its verdict went.
 * `accepted`: the provider holds the file and has accepted it (its processing finished, or it has none to do).
 * `submitted`: handed over, but its verdict was not awaited (`wait: false`); never reported as verified.
 */
export interface Confirmed {
  ids: PublishedIds;
  outcome: 'accepted' | 'submitted';
  /** Evidence the provider's own checks added to storage's. */
  evidence?: Evidence[];
}

/**
 * The IDs a provider created for a file. `id` is the file's primary ID (the interface's `ids` output); the
 * others are the vendor's own names (`versionId`, `attachmentId`, ...), copied into the results as they are.
 */
export interface PublishedIds {
  id: string;
  url?: string;
  [vendorField: string]: string | undefined;
}

/** A line of progress the engine or a provider wants the user to see. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export interface StepContext {
  signal: AbortSignal;
  /**
   * Aborts on the first cancellation signal too (or with `signal`): a provider's waits between polls and the
   * start of a new stage (attach after confirm) end on it, while a request already sent still finishes.
   */
  stop?: AbortSignal;
  log: Logger;
  /** Epoch ms after which waiting for the provider's processing must give up. */
  waitDeadline: number;
  /** Whether to wait for the provider's processing at all (`wait` input). */
  wait: boolean;
  /**
   * Say that from now on the file only waits for a verdict that requests shared with other files check (ARCNM's
   * upload list, Speckle's status reads): it sends nothing of its own, so its place among the `concurrency` files
   * in flight goes to the next file. Call it only where nothing of the file's own follows, or call `resume` before
   * what follows.
   */
  waiting?: () => void;
  /**
   * After `waiting`, take a place among the files in flight again before sending a request of the file's own
   * (Speckle's version message once the ingestion made a version): waits until one is free.
   */
  resume?: () => Promise<void>;
}

/**
 * A provider's answer for one file before anything is written: where it would go (one line, for the dry run's
 * list and the log), or why the provider refuses it (a size over the server's limit). Whether it is skipped as
 * unchanged is the session's `lookup` (it reads the server, so it is asked once for every planned file).
 */
export interface FilePlan {
  destination: string;
  refusal?: string;
}

/** A planned file with the SHA-256 of its bytes on disk, computed before anything is decided. */
export interface HashedFile {
  file: LocalFile;
  sha256: string;
}

/**
 * What the provider already holds at a file's destination, byte for byte: the file is skipped and these
 * IDs reported (Speckle: the model's latest version; ARCNM: a confirmed upload of that name and SHA-256).
 */
export interface HeldFile {
  ids: PublishedIds;
  /** One line for the log and the dry run: where it is held (`version 1a2b on model 3c4d`). */
  held: string;
  /** What `keep` still has to do for it (ARCNM: attach the held upload to part-id/revision-id), for the plan. */
  toDo?: string;
}

/**
 * One vendor's chain, opened for one run. The run asks `plan` for every file first; the engine then calls, per
 * file not refused: presign → (engine uploads to the target) → confirm → (if `wait`) the provider waits inside
 * confirm. When the upload finds the URL expired the engine starts the file again from presign. When anything
 * fails after presign, `abandon` lets the provider clean up (e.g. cancel a pending upload).
 */
export interface ProviderSession<P extends object = object> {
  /** Human name for logs, e.g. `ARCNM`. */
  readonly displayName: string;
  /** Where this file would go, or why it is refused, from what opening read (no request). */
  plan(file: LocalFile): FilePlan;
  /** Ask for an upload target. `P` is what the provider needs to carry from presign to confirm. */
  presign(file: LocalFile, ctx: StepContext): Promise<{ target: UploadTarget; pending: P }>;
  /** Register / confirm / start processing, and (when ctx.wait) wait for its verdict; answers the IDs created. */
  confirm(file: LocalFile, pending: P, receipt: UploadReceipt, ctx: StepContext): Promise<Confirmed>;
  /** Best effort clean-up after a failure between presign and confirmation. Must not throw. */
  abandon?(file: LocalFile, pending: P, ctx: StepContext): Promise<void>;
  /**
   * Which planned files the provider already holds byte for byte at their destination (`skip-unchanged`), asked
   * once for the whole run with every file's SHA-256 (batched: as few read requests as the vendor allows).
   * Read-only, so a dry run asks it too. A file it does not name is published. Absent: the vendor offers no way
   * to look a file up by content, and every file is published.
   */
  lookup?(files: readonly HashedFile[], ctx: LookupContext): Promise<Map<LocalFile, HeldFile>>;
  /**
   * Finish what a held file still lacks at its destination (ARCNM: attach it to the part revision), and answer
   * its IDs. Writes, so never called in a dry run. Absent: a held file needs nothing.
   */
  keep?(file: LocalFile, held: HeldFile, ctx: StepContext): Promise<PublishedIds>;
}

/** What a lookup needs: the run's signal and log. */
export interface LookupContext {
  signal: AbortSignal;
  log: Logger;
}

/**
 * `succeeded`: the provider holds the file and accepted it; `submitted`: handed over with `wait: false`, the
 * provider's verdict not awaited; `failed`; `skipped`: not sent (unchanged, dry run, cancelled before it started).
 */
export type FileStatus = 'succeeded' | 'submitted' | 'failed' | 'skipped';

/**
 * Why a file was skipped: `unchanged` (the provider already holds these bytes at its destination: its IDs are
 * the existing ones), `dry-run` (nothing is sent in a dry run). A file a cancelled run never started carries
 * the `cancelled` error instead.
 */
export type SkipReason = 'unchanged' | 'dry-run';

export interface FileResult {
  path: string;
  bytes: number;
  sha256?: string;
  status: FileStatus;
  /** Set when `status` is `skipped` for a reason other than a cancellation. */
  reason?: SkipReason;
  ids?: PublishedIds;
  /** What verified the bytes the provider holds (see Evidence); empty when nothing could. */
  verifiedBy?: Evidence[];
  /** `code`: one of error-codes.ts; `providerCode`: the vendor's own, when it gave one. */
  error?: { message: string; code: ErrorCode; providerCode?: string };
  durationMs: number;
}
