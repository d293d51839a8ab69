// What a provider module offers the rest of the action. A provider knows its vendor (endpoints, payloads,
// error words) and nothing of GitHub: it reads its settings through `InputReader`, by input name, so the
// GitHub edge and the command line feed it alike.
import type { Http } from '../http/client.js';
import type { LocalFile, Logger, ProviderSession } from '../core/types.js';
import type { CommonSettings, InputReader } from '../inputs.js';
import type { ErrorCode } from '../core/error-codes.js';

export const PROVIDER_IDS = ['speckle', 'ion', 'coldstream', 'arcnm'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export type { CommonSettings, InputReader } from '../inputs.js';

export interface OpenContext {
  http: Http;
  log: Logger;
  signal: AbortSignal;
  mask: (secret: string) => void;
  /** True for `dry-run`: opening may read, never write. */
  dryRun: boolean;
}

/** A session plus the per-file checks that need the server's answer (e.g. Speckle's blob size limit). */
export interface OpenedProvider<P = unknown> extends ProviderSession<P> {
  /** A reason to refuse this file before any upload, or undefined. */
  refuse?(file: LocalFile): string | undefined;
  /** Where this file would go and how it would be finalised, for a dry run's plan (one line). */
  plan?(file: LocalFile): string;
}

/**
 * A failure that is the whole run's, not one file's: every file would meet it (the provider refused the
 * credential, the target does not exist, server-url points at no API). One message, the input to change and how.
 */
export interface RunFailure {
  /** The input to change, as action.yml names it. */
  input: string;
  /** What happened, without a file's path. */
  message: string;
  /** How to fix it: for a credential, which one, its environment variable and the scope or role it needs. */
  fix: string;
  code: ErrorCode;
  /** The vendor's own code, when it gave one. */
  providerCode?: string;
}

export interface ProviderModule<S = unknown> {
  id: ProviderId;
  displayName: string;
  /** Environment variable read when `token` is empty. */
  tokenEnv: string;
  defaultServerUrl: string;
  /** Inputs only this provider reads (documented in action.yml); others' inputs are ignored. */
  inputs: readonly string[];
  /** Validate this provider's inputs; throws UsageError naming the input. No network. */
  readSettings(input: InputReader, common: CommonSettings, env: Record<string, string | undefined>): S;
  /** Values to mask besides the token (client secrets). */
  secrets(settings: S): string[];
  /** A reason to refuse this file without asking the server (extension, size limit), or undefined. */
  refuse(file: LocalFile, settings: S): string | undefined;
  /** Start a run: authenticate and read what the chain needs. May read from the server, never write. */
  open(settings: S, common: CommonSettings, ctx: OpenContext): Promise<OpenedProvider>;
  /** Where this run publishes, for the summary's first line (e.g. `case 1001, component 2001`). */
  describeTarget?(settings: S): string;
  /** Whether an error is the whole run's (see RunFailure), with the fix; undefined when it is one file's. */
  runFailure?(err: unknown, settings: S, common: CommonSettings, stage: 'open' | 'file'): RunFailure | undefined;
  /** The output listing this provider's job/version/attachment IDs, if any, and which result field fills it. */
  idOutputs: { output: 'version-ids' | 'attachment-ids' | 'job-ids'; field: string }[];
}
