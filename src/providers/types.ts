// The contract between a provider and the rest of the action. A provider knows its vendor (endpoints, payloads,
// error words) and nothing of GitHub. It is configured once from its inputs (read by name through InputReader,
// so the GitHub edge and the command line feed it alike) into typed settings that stay inside it; the run then
// asks the configured provider to refuse, open (a session that plans each file, then presign → confirm), and
// say which failures are the whole run's. `defineProvider` turns one vendor's typed definition into that contract.
import type { ErrorCode } from '../core/error-codes.js';
import type { LocalFile, Logger, MatchedFile, ProviderSession } from '../core/types.js';
import type { Http } from '../http/client.js';
import type { CommonSettings, InputReader } from '../inputs.js';

export type { CommonSettings, InputReader } from '../inputs.js';

export interface OpenContext {
  http: Http;
  log: Logger;
  signal: AbortSignal;
  mask: (secret: string) => void;
  /** True for `dry-run`: opening may read, never write. */
  dryRun: boolean;
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

/** The output listing a provider's job/version/attachment IDs, and which result field fills it. */
export interface IdOutput {
  output: 'version-ids' | 'attachment-ids' | 'job-ids';
  field: string;
}

/** What the action knows of a provider before configuring it: its name, inputs, defaults and outputs. */
export interface ProviderInfo {
  readonly id: string;
  readonly displayName: string;
  /** Environment variable read when `token` is empty. */
  readonly tokenEnv: string;
  readonly defaultServerUrl: string;
  /** Inputs only this provider reads (documented in action.yml); others' inputs are ignored. */
  readonly inputs: readonly string[];
  readonly idOutputs: readonly IdOutput[];
}

/** A provider in the registry: configured from its inputs once per run. */
export interface ProviderModule extends ProviderInfo {
  /** Read and check this provider's inputs; throws a UsageError naming the input. No network. */
  configure(input: InputReader, common: CommonSettings): ConfiguredProvider;
}

/** A provider with its settings read: everything the run asks of it. */
export interface ConfiguredProvider extends ProviderInfo {
  /** Values to mask besides the token (client secrets). */
  readonly secrets: readonly string[];
  /** Where this run publishes, for the summary's first line (e.g. `case 1001, component 2001`). */
  readonly target: string;
  /** A reason to refuse this file without asking the server (extension, size limit), or undefined. */
  refuse(file: LocalFile): string | undefined;
  /**
   * The name the file is given at the target (the `name` input), where two files of one run must not share one:
   * the run refuses such a pair before any request. Absent where the provider names nothing (Speckle's versions
   * stack in a model). From the path alone, without the size (read only for files that share a name, to ask
   * `refuse`); undefined where the file cannot be named (`refuse` refuses it).
   */
  fileName?(file: MatchedFile): string | undefined;
  /** Start a run: authenticate and read what the chain needs. May read from the server, never write. */
  open(ctx: OpenContext): Promise<ProviderSession>;
  /** Whether an error is the whole run's (see RunFailure), with the fix; undefined when it is one file's. */
  runFailure(err: unknown, stage: 'open' | 'file'): RunFailure | undefined;
}

/** One vendor, written against its own typed settings `S`. */
export interface ProviderDefinition<S> extends ProviderInfo {
  readSettings(input: InputReader, common: CommonSettings): S;
  secrets?(settings: S): string[];
  refuse(file: LocalFile, settings: S): string | undefined;
  fileName?(file: MatchedFile, settings: S): string | undefined;
  open(settings: S, ctx: OpenContext): Promise<ProviderSession>;
  describeTarget(settings: S): string;
  runFailure?(err: unknown, settings: S, common: CommonSettings, stage: 'open' | 'file'): RunFailure | undefined;
}

/** The registry's view of a vendor's definition: its settings are read once and stay inside. */
export function defineProvider<S>(def: ProviderDefinition<S>): ProviderModule {
  const info: ProviderInfo = {
    id: def.id,
    displayName: def.displayName,
    tokenEnv: def.tokenEnv,
    defaultServerUrl: def.defaultServerUrl,
    inputs: def.inputs,
    idOutputs: def.idOutputs,
  };
  return {
    ...info,
    configure(input, common) {
      const settings = def.readSettings(input, common);
      return {
        ...info,
        secrets: def.secrets?.(settings) ?? [],
        target: def.describeTarget(settings),
        refuse: (file) => def.refuse(file, settings),
        ...(def.fileName ? { fileName: (file: MatchedFile) => def.fileName!(file, settings) } : {}),
        open: (ctx) => def.open(settings, ctx),
        runFailure: (err, stage) => def.runFailure?.(err, settings, common, stage),
      };
    },
  };
}
