// Speckle's GraphQL failures, the same for both protocols: reads a partly successful answer, and words Speckle's
// failures for the user (the token, the scope, the project, the model), keeping Speckle's own codes for the
// provider's rules to branch on. No GraphQL client here (api.ts sends): the definition's run-failure rules use
// this module, and it stays in the main bundle while the session code loads only when a Speckle run opens.
import { statusCode, type ErrorCode } from '../../core/error-codes.js';
import { CorruptionError, HttpError, NetworkError, PublishError } from '../../core/errors.js';
import type { GraphQLErrorItem } from '../../http/graphql.js';
import { createModel, startFileImport, startFileIngestion, type SpeckleOperation } from './operations.js';
import type { SpeckleSettings } from './settings.js';

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
    op === createModel
      ? d?.['modelMutations']?.['create']?.['id']
      : op === startFileIngestion
        ? d?.['fileUploadMutations']?.['startFileIngestion']?.['id']
        : op === startFileImport
          ? d?.['fileUploadMutations']?.['startFileImport']?.['id']
          : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** Server text for a log line: one line, bounded. */
export function oneLine(text: string, max = 300): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export function isNotFound(e: GraphQLErrorItem): boolean {
  const code = String(e.extensions?.code ?? '');
  return /NOT_FOUND/.test(code) || /not found/i.test(e.message);
}

export function isAmbiguous(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof HttpError && err.status >= 500);
}

/** The server registers a fileId once; a second start of it answers this (speckle-server AlreadyRegisteredBlobError). */
export function isAlreadyRegistered(err: unknown): boolean {
  return err instanceof SpeckleError && err.graphqlCodes.includes('ALREADY_REGISTERED_BLOB_ERROR');
}

export function isValidationFailure(err: unknown, field: string): boolean {
  return err instanceof SpeckleError && err.reason === 'graphql_validation_failed' && err.errors.some((e) => e.message.includes(field));
}

/** Speckle checks the ETag against storage: a mismatch means storage holds other bytes than we sent. */
export function etagFailure(err: unknown, etag: string): CorruptionError | undefined {
  if (!(err instanceof SpeckleError) || !err.errors.some((e) => /etag/i.test(e.message))) return undefined;
  return new CorruptionError(`Speckle found different bytes in storage than were uploaded (our ETag ${etag}): ${err.errors.map((e) => e.message).join('; ')}`);
}

export function settingsHint(settings: SpeckleSettings) {
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
  if (err.status === 429) return new SpeckleError(`Speckle kept answering HTTP 429 (rate limited) to ${what} for longer than this run may wait; raise wait-timeout-minutes, or run again later`, 'rate_limited', [], [], statusCode(429));
  return err;
}
