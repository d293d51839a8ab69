// ION's session: sign-in, GraphQL and its failures worded in ION's terms, the target's entity, attachments.
// Loaded with a dynamic import() when an ION run opens (ncc makes it a chunk), so that no other run loads
// GraphQL; the definition (inputs, settings, the run's failures) is index.ts.
import * as z from '../../core/schema.js';
import { HttpError, NetworkError, OutcomeUnknownError, PublishError } from '../../core/errors.js';
import { codeForStatus, statusCode } from '../../core/error-codes.js';
import type { LocalFile, ProviderSession, StepContext, UploadReceipt } from '../../core/types.js';
import { nameOf } from '../../files/names.js';
import { describeNetworkFailure, isNetworkFailure, redactUrl, type Http } from '../../http/client.js';
import { GraphQLEndpoint, type GraphQLErrorItem, type GraphQLResult } from '../../http/graphql.js';
import type { OpenContext } from '../types.js';
import { parseAnswer, tryJson } from '../answers.js';
import { IonCredentials } from './auth.js';
import { createdDespiteErrors, ionId, IonTargetError, unknownFields, type IonSettings } from './index.js';
import { createFileAttachment, entityLookup, requestFileUploadUrl, type AttachKind, type IonOperation } from './operations.js';

interface Pending {
  s3Key: string;
}

const uploadUrlAnswer = z.object({
  requestFileUploadUrl: z.object({ uploadUrl: z.url(), s3Key: z.string().check(z.minLength(1)), contentType: z.string().check(z.minLength(1)) }),
});

const attachmentAnswer = z.object({
  createFileAttachment: z.object({
    fileAttachment: z.object({ id: ionId, entityId: z.nullish(ionId), filename: z.nullish(z.string()) }),
  }),
});

const entityAnswer = z.nullable(z.object({ id: ionId, entity: z.nullable(z.object({ id: ionId })) }));

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

/** Server text for a log line or a message: one line, bounded. */
function oneLine(text: string, max = 300): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
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
          throw new PublishError(`${subject}: ION kept answering 429 Too Many Requests for longer than this run may wait; raise wait-timeout-minutes, or run again later`, 'rate_limited', { providerCode: statusCode(429) });
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
    const answer = parseAnswer(uploadUrlAnswer, await this.execute(requestFileUploadUrl, { filename: nameOf(this.settings.name, file) }, `${file.path}: requestFileUploadUrl`, ctx.signal), 'ION requestFileUploadUrl');
    const { uploadUrl, s3Key, contentType } = answer.requestFileUploadUrl;
    // The URL is signed for this Content-Type: send exactly it, whatever our own table would say.
    return { target: { method: 'PUT' as const, url: uploadUrl, headers: { 'Content-Type': contentType } }, pending: { s3Key } };
  }

  async confirm(file: LocalFile, pending: Pending, receipt: UploadReceipt, ctx: StepContext) {
    const s3Etag = stripEtag(receipt.etag);
    if (s3Etag === undefined) throw new PublishError(`ION createFileAttachment: storage answered the upload without an ETag, which ION needs as s3Etag`, 'missing_etag');
    const input = { filename: nameOf(this.settings.name, file), s3Key: pending.s3Key, s3Etag, entityId: this.entityId, validateUpload: this.settings.validateUpload };
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

export async function openIon(settings: IonSettings, ctx: OpenContext): Promise<ProviderSession<Pending>> {
  const credentials = await IonCredentials.signIn(settings.auth, ctx);
  const session = new IonSession(settings, ctx.http, ctx, credentials);
  await session.resolveTarget(ctx.signal);
  const target = settings.target.kind === 'entity' ? 'entity' : `${settings.target.kind} ${settings.target.id}, entity`;
  return Object.assign(session, {
    plan: (file: LocalFile) => ({ destination: `ION ${target} ${session.entityId}; an attachment named "${nameOf(settings.name, file)}" registered with createFileAttachment${settings.validateUpload ? ' (ION verifies the stored object against its ETag first)' : ''}` }),
  });
}
