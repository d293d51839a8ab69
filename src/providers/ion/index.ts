// First Resonance ION: attach files to a run step, run, procedure, step, part or run step field.
// Per file: requestFileUploadUrl → (the engine PUTs the bytes with exactly the returned contentType) →
// createFileAttachment with the ETag storage answered. Authentication is a ready access token, or an API
// key pair exchanged once per run for a token with the OAuth client-credentials grant, renewed once when
// ION answers 401. The attachment's downloadUrl is a signed URL: it is never asked for, so it cannot leak.
import { z } from 'zod';
import { HttpError, NetworkError, OutcomeUnknownError, PublishError, UsageError } from '../../core/errors.js';
import { codeForStatus, statusCode } from '../../core/error-codes.js';
import type { LocalFile, ProviderSession, StepContext, UploadReceipt } from '../../core/types.js';
import { describeNetworkFailure, isNetworkFailure, redactUrl, type Http } from '../../http/client.js';
import { GraphQLEndpoint, type GraphQLErrorItem, type GraphQLResult } from '../../http/graphql.js';
import { booleanInput, checkCredential, idInput, parseInput, requireToken } from '../../inputs.js';
import { wrongServerUrl } from '../failures.js';
import { defineProvider, type OpenContext } from '../types.js';
import { parseAnswer, tryJson } from '../answers.js';
import { IonCredentials, ionTokenUrls, type IonAuth } from './auth.js';
import { ATTACH_KINDS, createFileAttachment, entityLookup, requestFileUploadUrl, type AttachKind, type IonOperation } from './operations.js';

export { ION_AUTH_SERVERS, ION_LEGACY_TOKEN_PATH, ION_TOKEN_PATH, ionTokenUrls, type IonAuth } from './auth.js';

export type IonTarget = { kind: 'entity'; entityId: string } | { kind: AttachKind; id: string };

export interface IonSettings {
  serverUrl: string;
  auth: IonAuth;
  target: IonTarget;
  validateUpload: boolean;
}

interface Pending {
  s3Key: string;
}

/** ION's IDs are integers in its examples and `ID` in its schema: take either, keep a string. */
const ionId = z.union([z.string().min(1), z.number().int()]).transform(String);

const uploadUrlAnswer = z.object({
  requestFileUploadUrl: z.object({ uploadUrl: z.url(), s3Key: z.string().min(1), contentType: z.string().min(1) }),
});

const attachmentAnswer = z.object({
  createFileAttachment: z.object({
    fileAttachment: z.object({ id: ionId, entityId: ionId.nullish(), filename: z.string().nullish() }),
  }),
});

const entityAnswer = z.object({ id: ionId, entity: z.object({ id: ionId }).nullable() }).nullable();

/** An ION object ID as attach-to takes it. */
const OBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ATTACH_FORM = `<kind>:<id> with kind one of ${ATTACH_KINDS.join(', ')} (e.g. runStep:1234)`;

export function parseAttachTo(raw: string): IonTarget {
  const m = raw.match(/^([A-Za-z]+)\s*:\s*(\S+)$/);
  const kind = ATTACH_KINDS.find((k) => k.toLowerCase() === m?.[1]?.toLowerCase());
  const id = m?.[2];
  if (!kind || id === undefined || !OBJECT_ID.test(id)) throw new UsageError('attach-to', `got ${JSON.stringify(raw)}; expected ${ATTACH_FORM}`);
  return { kind, id };
}

/** errors[] of a GraphQL answer body, or none. */
function graphqlErrorsIn(body: string): GraphQLErrorItem[] {
  const parsed = tryJson(body) as { errors?: unknown } | undefined;
  if (!parsed || !Array.isArray(parsed.errors)) return [];
  return parsed.errors.filter((e): e is GraphQLErrorItem => !!e && typeof (e as { message?: unknown }).message === 'string');
}

function stripEtag(etag: string | undefined): string | undefined {
  const stripped = etag?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return stripped === '' ? undefined : stripped;
}

/**
 * Partly successful answers. A GraphQL answer may carry both `data` and `errors`: the operation ran, and
 * something else went wrong on the way (a notification, an audit hook, a field resolved after the object was
 * made). When the mutation's object came back, it exists on ION: failing the file would drop its ID, and a
 * re-run would attach the file a second time. So these fields decide, per operation, and nothing else:
 *  - createFileAttachment: `data.createFileAttachment.fileAttachment.id` is an ID → the attachment exists;
 *    the file succeeds with a warning carrying ION's errors.
 * Every other operation (the queries) with `errors` fails, whatever `data` holds: a query made nothing.
 */
export function createdDespiteErrors(op: IonOperation, data: unknown): string | undefined {
  if (op !== createFileAttachment) return undefined;
  const id = (data as { createFileAttachment?: { fileAttachment?: { id?: unknown } | null } | null } | null | undefined)?.createFileAttachment?.fileAttachment?.id;
  const parsed = ionId.safeParse(id);
  return parsed.success ? parsed.data : undefined;
}

/** Server text for a log line or a message: one line, bounded. */
function oneLine(text: string, max = 300): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** The fields a GraphQL validation error says the server's schema lacks: `Cannot query field "entity" on type "RunStep"`. */
export function unknownFields(messages: readonly string[]): { field: string; type: string }[] {
  const found: { field: string; type: string }[] = [];
  for (const m of messages) {
    for (const hit of m.matchAll(/Cannot query field "([_A-Za-z][_0-9A-Za-z]*)" on type "([_A-Za-z][_0-9A-Za-z]*)"/g)) found.push({ field: hit[1]!, type: hit[2]! });
  }
  return found;
}

/** The object attach-to names does not exist, or has no entity: the run's target is wrong. */
class IonTargetError extends PublishError {
  constructor(message: string) {
    super(message, 'not_found');
  }
}

/** ION's own code for a GraphQL failure: the first `extensions.code` it gave. */
function providerCode(errors: GraphQLErrorItem[]): { providerCode: string } | undefined {
  const code = errors.map((e) => e.extensions?.code).find((c): c is string => typeof c === 'string' && c !== '');
  return code === undefined ? undefined : { providerCode: code };
}

const PERMISSION_WORDS = /permission|not authori[sz]ed|forbidden|access denied|unauthori[sz]ed/i;
const ENTITY_MISSING = /entity\b.*\b(not found|does not exist|doesn't exist|no such)|no entity/i;

class IonSession implements Omit<ProviderSession<Pending>, 'plan'> {
  readonly displayName = 'ION';
  private readonly graphqlUrl: string;
  /** The entity every attachment goes to: entity-id, or attach-to resolved in open(). */
  entityId = '';
  /** Attachments ION created while also answering errors: attachment ID → ION's errors (the file's warning). */
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly settings: IonSettings,
    private readonly http: Http,
    private readonly ctx: OpenContext,
    private readonly credentials: IonCredentials,
  ) {
    this.graphqlUrl = `${settings.serverUrl}/graphql`;
  }

  /**
   * Send one operation; answers its data or throws a PublishError worded in ION's terms. `label` names the
   * request in retry lines (with the file's path); `subject` starts error messages (the engine adds the path).
   */
  async execute(op: IonOperation, variables: Record<string, unknown>, label: string, signal: AbortSignal, subject = `ION ${op.field}`): Promise<unknown> {
    for (let refreshed = false; ; refreshed = true) {
      const { token, generation } = this.credentials.current();
      const endpoint = new GraphQLEndpoint(this.http, this.graphqlUrl, () => ({ authorization: `Bearer ${token}` }));
      let result: GraphQLResult<unknown>;
      try {
        result = await endpoint.execute<unknown>(op.document, variables, { label, signal, idempotent: op.idempotent });
      } catch (err) {
        // A 401 is answered before the operation runs, so sending it again with a new token is safe.
        if (err instanceof HttpError && err.status === 401) {
          if (this.settings.auth.kind === 'client' && !refreshed) {
            await this.credentials.refresh(generation, signal);
            continue;
          }
          throw new PublishError(
            this.settings.auth.kind === 'client'
              ? `${subject}: ION answered 401 Unauthorized even with a freshly issued token; check that the API key belongs to the environment at ${this.settings.serverUrl} and that auth-url is that environment's auth server`
              : `${subject}: ION answered 401 Unauthorized: the access token is missing, expired or invalid, or belongs to another environment than ${this.settings.serverUrl}; pass a current token, or client-id and client-secret so the action fetches one`,
            'auth_rejected',
            { providerCode: statusCode(401) },
          );
        }
        if (err instanceof HttpError && err.status === 403) {
          throw new PublishError(`${subject}: ION answered 403 Forbidden${op.permission ? ` (${op.field} needs the ${op.permission} permission)` : ''}; check the role's permissions on the target (an API key keeps the permissions its creator had when the key was created)`, 'permission_denied', { providerCode: statusCode(403) });
        }
        // Not JSON at all (a login page where the API should be): the message already says what to check.
        if (err instanceof HttpError && err.code === 'invalid_response') throw new PublishError(`${subject}: ${err.message}`, err.code, { providerCode: err.providerCode });
        // A validation error (HTTP 400 with errors[]): the document asks for something this server lacks.
        if (err instanceof HttpError && err.status === 400) {
          const errors = graphqlErrorsIn(err.body);
          if (errors.length > 0) throw this.failure(op, errors, subject);
        }
        // An error status whose body still carries the created object (a gateway that turns errors[] into a
        // 5xx): the object exists, so the same rule as for a 200 with errors applies.
        if (err instanceof HttpError && err.status >= 500) {
          const body = tryJson(err.body) as { data?: unknown; errors?: unknown } | undefined;
          const created = createdDespiteErrors(op, body?.data);
          if (created !== undefined) {
            this.warnPartial(label, op, created, `HTTP ${err.status}${graphqlErrorsIn(err.body).length > 0 ? `: ${graphqlErrorsIn(err.body).map((e) => e.message).join('; ')}` : ''}`);
            return body!.data;
          }
        }
        const dropped = isNetworkFailure(err);
        if (!dropped && !(err instanceof HttpError)) throw err;
        const why = err instanceof HttpError ? `ION answered HTTP ${err.status}` : `the connection dropped (${describeNetworkFailure(err instanceof NetworkError && err.cause !== undefined ? err.cause : err)})`;
        if (!op.idempotent && (dropped || (err instanceof HttpError && err.status >= 500))) {
          throw new OutcomeUnknownError(
            `${subject}: ${why}, so ION may or may not have created the attachment; ${op.field} is not sent again, to avoid a duplicate: check the entity's attachments before re-running`,
            err instanceof HttpError ? { providerCode: statusCode(err.status) } : undefined,
          );
        }
        if (err instanceof HttpError && err.status === 429) {
          throw new PublishError(`${subject}: ION kept answering 429 Too Many Requests; lower concurrency or raise max-attempts`, 'rate_limited', { providerCode: statusCode(429) });
        }
        const detail = err instanceof HttpError && err.body ? `: ${err.body.slice(0, 200).replace(/\s+/g, ' ')}` : '';
        throw new PublishError(
          `${subject}: ${why} at ${redactUrl(this.graphqlUrl)}${detail}`,
          err instanceof HttpError ? codeForStatus(err.status) : 'network',
          err instanceof HttpError ? { providerCode: statusCode(err.status) } : undefined,
        );
      }
      if (result.errors && result.errors.length > 0) {
        const created = createdDespiteErrors(op, result.data);
        if (created === undefined) throw this.failure(op, result.errors, subject);
        this.warnPartial(label, op, created, result.errors.map((e) => e.message).join('; '));
      }
      return result.data;
    }
  }

  /** Remember and log a partly successful answer: the object exists, and ION also said something went wrong. */
  private warnPartial(label: string, op: IonOperation, created: string, errors: string): void {
    const said = oneLine(errors);
    this.partial.set(created, said);
    this.ctx.log.warn(
      `${label}: ION created ${op === createFileAttachment ? 'attachment' : 'object'} ${created} but also answered errors: ${said}. The file counts as published (its ID is kept, so a re-run does not attach it twice); check it in ION`,
    );
  }

  /** ION answers HTTP 200 with errors[] when an operation fails: ION's message, plus what to do about it. */
  private failure(op: IonOperation, errors: GraphQLErrorItem[], subject: string): PublishError {
    const text = errors.map((e) => e.message).join('; ');
    // The seed's `<kind>(id) { id entity { id } }` lookup against a server whose schema differs: say which
    // field it refused, and that entity-id skips the lookup.
    const missing = unknownFields(errors.map((e) => e.message));
    if (missing.length > 0 && op.field === this.settings.target.kind) {
      const target = this.settings.target as { kind: AttachKind; id: string };
      const fields = missing.map((m) => `"${m.field}" on type "${m.type}"`).join(', ');
      return new PublishError(
        `${subject}: this ION server does not accept the field ${fields} (${oneLine(text)}), so the action cannot look up the entity of ${target.kind} ${target.id} with ${target.kind}(id) { id entity { id } }; pass entity-id instead of attach-to: the entity ID of ${target.kind} ${target.id}, as ION shows it`,
        'unsupported_by_server',
        providerCode(errors),
      );
    }
    const codes = errors.map((e) => String(e.extensions?.code ?? '')).join(' ');
    if (PERMISSION_WORDS.test(text) || /forbidden|permission/i.test(codes)) {
      const named = op.permission && !text.includes(op.permission) ? ` (${op.field} needs the ${op.permission} permission)` : '';
      return new PublishError(
        `${subject}: ${text}${named}; give the user or API key that permission on the target (an API key keeps the permissions its creator had when the key was created)`,
        'permission_denied',
        providerCode(errors),
      );
    }
    if (op === createFileAttachment && this.settings.target.kind === 'entity' && ENTITY_MISSING.test(text)) {
      return new PublishError(
        `${subject}: ${text}; entity-id takes an entity ID (the parent's entity { id }), not the parent's own ID: use attach-to (e.g. runStep:<id>) and the action looks the entity up`,
        'not_found',
        providerCode(errors),
      );
    }
    return new PublishError(`${subject}: ${text}`, 'rejected_by_provider', providerCode(errors));
  }

  /** attach-to → entity { id }, once per run (a query: read-only, safe in dry-run). */
  async resolveTarget(signal: AbortSignal): Promise<void> {
    const target = this.settings.target;
    if (target.kind === 'entity') {
      this.entityId = target.entityId;
      return;
    }
    const label = `attach-to ${target.kind}:${target.id}`;
    const data = await this.execute(entityLookup(target.kind), { id: target.id }, label, signal, label);
    const entity = parseAnswer(entityAnswer, (data as Record<string, unknown> | undefined)?.[target.kind] ?? null, `ION ${label}`);
    if (entity === null) {
      throw new IonTargetError(`${label}: ION has no ${target.kind} with ID ${target.id}, or the credentials cannot see it`);
    }
    if (entity.entity === null) throw new IonTargetError(`${label}: ION's ${target.kind} ${target.id} has no entity to attach files to`);
    this.entityId = entity.entity.id;
    this.ctx.log.info(`ION: attaching to ${target.kind} ${target.id} (entity ${this.entityId})`);
  }

  async presign(file: LocalFile, ctx: StepContext) {
    const answer = parseAnswer(uploadUrlAnswer, await this.execute(requestFileUploadUrl, { filename: file.name }, `${file.path}: requestFileUploadUrl`, ctx.signal), 'ION requestFileUploadUrl');
    const { uploadUrl, s3Key, contentType } = answer.requestFileUploadUrl;
    // The URL is signed for this Content-Type: send exactly it, whatever our own table would say.
    return { target: { method: 'PUT' as const, url: uploadUrl, headers: { 'Content-Type': contentType } }, pending: { s3Key } };
  }

  async confirm(file: LocalFile, pending: Pending, receipt: UploadReceipt, ctx: StepContext) {
    const s3Etag = stripEtag(receipt.etag);
    if (s3Etag === undefined) throw new PublishError(`ION createFileAttachment: storage answered the upload without an ETag, which ION needs as s3Etag`, 'missing_etag');
    const input = { filename: file.name, s3Key: pending.s3Key, s3Etag, entityId: this.entityId, validateUpload: this.settings.validateUpload };
    const answer = parseAnswer(attachmentAnswer, await this.execute(createFileAttachment, { input }, `${file.path}: createFileAttachment`, ctx.signal), 'ION createFileAttachment');
    const attachment = answer.createFileAttachment.fileAttachment;
    const warning = this.partial.get(attachment.id);
    const ids = {
      id: attachment.id,
      attachmentId: attachment.id,
      entityId: attachment.entityId ?? this.entityId,
      ...(warning !== undefined ? { warning: `ION created the attachment but also answered errors: ${warning}` } : {}),
    };
    // With validateUpload ION compared the stored object's ETag with ours before creating the attachment.
    return { ids, outcome: 'accepted' as const, evidence: this.settings.validateUpload ? ['ion-validate-upload' as const] : [] };
  }
}

export const ion = defineProvider<IonSettings>({
  id: 'ion',
  displayName: 'ION',
  tokenEnv: 'ION_TOKEN',
  defaultServerUrl: 'https://api.firstresonance.io',
  inputs: ['entity-id', 'attach-to', 'client-id', 'client-secret', 'auth-url', 'validate-upload'],
  idOutputs: [{ output: 'attachment-ids', field: 'attachmentId' }],
  readSettings(input, common) {
    const clientId = input('client-id');
    const clientSecret = input('client-secret');
    let auth: IonAuth;
    if (clientId !== '' || clientSecret !== '') {
      if (clientId === '') throw new UsageError('client-id', "is required with client-secret: pass the ION API key's client ID");
      if (clientSecret === '') throw new UsageError('client-secret', "is required with client-id: pass the ION API key's client secret (from a secret)");
      if (input('token') !== '') throw new UsageError('token', 'give either token or client-id/client-secret, not both');
      auth = {
        kind: 'client',
        clientId: checkCredential('client-id', clientId),
        clientSecret: checkCredential('client-secret', clientSecret),
        tokenUrls: ionTokenUrls(input('auth-url'), common.serverUrl),
        // ION's examples send the API URL as the audience.
        audience: common.serverUrl,
      };
    } else {
      auth = { kind: 'token', token: requireToken(common, 'ION_TOKEN', 'an ION access token (or client-id and client-secret of an ION API key)') };
    }

    const entityIdRaw = input('entity-id');
    const attachToRaw = input('attach-to');
    if (entityIdRaw !== '' && attachToRaw !== '') throw new UsageError('attach-to', 'give exactly one of entity-id and attach-to, not both');
    let target: IonTarget;
    if (attachToRaw !== '') target = parseAttachTo(attachToRaw);
    else if (entityIdRaw !== '') target = { kind: 'entity', entityId: parseInput(input, 'entity-id', idInput, "an ION entity ID (an object's entity { id })") };
    else throw new UsageError('entity-id', `is required for ION: pass entity-id (an entity ID) or attach-to (${ATTACH_FORM})`);

    return {
      serverUrl: common.serverUrl,
      auth,
      target,
      validateUpload: parseInput(input, 'validate-upload', booleanInput(true), 'true or false'),
    };
  },
  secrets: (settings) => (settings.auth.kind === 'client' ? [settings.auth.clientSecret] : []),
  // ION takes any file and derives its Content-Type from the name.
  refuse: () => undefined,
  async open(settings, ctx) {
    const credentials = await IonCredentials.signIn(settings.auth, ctx);
    const session = new IonSession(settings, ctx.http, ctx, credentials);
    await session.resolveTarget(ctx.signal);
    const target = settings.target.kind === 'entity' ? 'entity' : `${settings.target.kind} ${settings.target.id}, entity`;
    return Object.assign(session, {
      plan: () => ({ destination: `ION ${target} ${session.entityId}; an attachment registered with createFileAttachment${settings.validateUpload ? ' (ION verifies the stored object against its ETag first)' : ''}` }),
    });
  },
  describeTarget: (s) => `${s.target.kind === 'entity' ? `entity ${s.target.entityId}` : `the entity of ${s.target.kind} ${s.target.id}`} on ${s.serverUrl}`,
  runFailure(err, settings, common, stage) {
    if (!(err instanceof PublishError)) return undefined;
    const client = settings.auth.kind === 'client';
    const credential = client
      ? `client-id and client-secret must be an ION API key created in the environment at ${settings.serverUrl}, whose creator had the permissions to read the target and create file attachments on it (auth-url: that environment's auth server)`
      : `the token input (or ION_TOKEN) must hold a current ION access token for the environment at ${settings.serverUrl}, whose role may read the target and create file attachments on it; or pass client-id and client-secret so the action fetches one`;
    const targetInput = settings.target.kind === 'entity' ? 'entity-id' : 'attach-to';
    if (/^ION token request/.test(err.message)) {
      return err.providerCode === 'http_404'
        ? { input: 'auth-url', message: err.message, fix: `set auth-url to the token endpoint of the environment's auth server`, code: err.code }
        : { input: 'client-id', message: err.message, fix: credential, code: err.code };
    }
    if (err instanceof IonTargetError) {
      return { input: targetInput, message: err.message, fix: `check ${targetInput}: the ${settings.target.kind === 'entity' ? 'entity' : settings.target.kind} must exist in the environment at ${settings.serverUrl} and be visible to the credential`, code: err.code };
    }
    if (err.providerCode === 'http_404') return wrongServerUrl(this, common, '/graphql');
    switch (err.code) {
      case 'auth_rejected':
      case 'permission_denied':
        return { input: client ? 'client-id' : 'token', message: err.message, fix: credential, code: err.code };
      case 'invalid_response':
        return stage === 'open' ? { input: 'server-url', message: err.message, fix: `set server-url to the ION API's base URL (e.g. ${this.defaultServerUrl})`, code: err.code } : undefined;
      default:
        return undefined;
    }
  },
});
