/**
 * First Resonance ION emulator: the GraphQL API (a schema written from ION's file-upload guide, seed 001,
 * validated and executed with graphql-js), an auth server for the OAuth client-credentials grant, and
 * uploads going to a {@link BlobStore} through single-use SigV4 presigned PUT URLs signed for the
 * Content-Type ION derives from the file name (another Content-Type → 403 SignatureDoesNotMatch).
 *
 *   POST {url}/graphql            Authorization: Bearer <token> (or the legacy `Token <token>`)
 *     query    requestFileUploadUrl(filename) { uploadUrl s3Key contentType }
 *     mutation createFileAttachment(input: {filename, s3Key, s3Etag, entityId, validateUpload})
 *                { fileAttachment { id filename downloadUrl entityId } }
 *              validateUpload: a HEAD to storage, the object's ETag (quotes stripped) must equal s3Etag.
 *     query    fileAttachment(id) { id filename downloadUrl entityId s3Key s3Bucket contentType }
 *     query    runStep | run | procedure | step | part | runStepField (id) { id entity { id } }
 *   Entity IDs (7001, 7002, …) differ from object IDs (101, 201, …): passing an object's own ID as
 *   entityId answers `Entity 101 does not exist`.
 *   Failed operations answer HTTP 200 with `errors[]` (ION's documented behaviour); a missing permission
 *   names it (`missingPermissions`); a syntax or validation error answers 400; a missing, unknown or used-up
 *   token answers 401.
 *
 *   POST {authUrl}/realms/api-keys/protocol/openid-connect/token        (form-encoded; the older
 *   POST {authUrl}/auth/realms/api-keys/protocol/openid-connect/token   path works too, unless `authPaths`)
 *     grant_type=client_credentials, client_id, client_secret, audience (= the API URL)
 *     → {access_token, expires_in, token_type}; 401 invalid_client; 400 unsupported_grant_type /
 *       invalid_request; 403 access_denied for a wrong audience.
 *
 * Test hooks: `attachments`, `entities`, `objects`, `tokensIssued`, `operations` (every GraphQL operation
 * with its root fields and outcome), `requests` (API log), `authRequests`, `blob.requests`, `faults`;
 * `addObject`, `addToken`, `failNext(field, message)`, `rateLimit(n)`, `rateLimitNext(field, n)`, `expireNextUploadUrls(n)`,
 * `handOutUsedUploadUrls(n)`, `loseNextAnswer(field)`, `expireTokens()`, `tokenMaxUses`, `tokenTtlSec`,
 * `missingPermissions`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildSchema, execute, GraphQLError, parse, validate, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { BlobStore } from './blob.js';
import { Faults } from './faults.js';
import { Listener, readBody, sendJson } from './server.js';
import type { RequestLogEntry } from './server.js';

export const ION_KINDS = ['runStep', 'run', 'procedure', 'step', 'part', 'runStepField'] as const;
export type IonKind = (typeof ION_KINDS)[number];

export const ION_TOKEN_PATHS = ['/realms/api-keys/protocol/openid-connect/token', '/auth/realms/api-keys/protocol/openid-connect/token'];

export const ION_SDL = /* GraphQL */ `
  type Query {
    requestFileUploadUrl(filename: String!): FileUploadUrl
    fileAttachment(id: ID!): FileAttachment
    runStep(id: ID!): RunStep
    run(id: ID!): Run
    procedure(id: ID!): Procedure
    step(id: ID!): Step
    part(id: ID!): Part
    runStepField(id: ID!): RunStepField
  }

  type Mutation {
    createFileAttachment(input: CreateFileAttachmentInput!): CreateFileAttachmentPayload
  }

  type FileUploadUrl {
    uploadUrl: String!
    s3Key: String!
    contentType: String!
  }

  input CreateFileAttachmentInput {
    filename: String!
    s3Key: String!
    s3Etag: String
    entityId: ID!
    validateUpload: Boolean
  }

  type CreateFileAttachmentPayload {
    fileAttachment: FileAttachment
  }

  type FileAttachment {
    id: ID!
    filename: String!
    downloadUrl: String
    entityId: ID!
    s3Key: String
    s3Bucket: String
    contentType: String
  }

  type Entity {
    id: ID!
  }

  type RunStep { id: ID! entity: Entity }
  type Run { id: ID! entity: Entity }
  type Procedure { id: ID! entity: Entity }
  type Step { id: ID! entity: Entity }
  type Part { id: ID! entity: Entity }
  type RunStepField { id: ID! entity: Entity }
`;

const fullSchema = buildSchema(ION_SDL);

/** ION's SDL without `entity` on these object types (a server whose schema has moved on from the seed). */
export function ionSdlWithoutEntity(kinds: readonly IonKind[]): string {
  let sdl = ION_SDL;
  for (const kind of kinds) {
    const type = `${kind[0]!.toUpperCase()}${kind.slice(1)}`;
    sdl = sdl.replace(`type ${type} { id: ID! entity: Entity }`, `type ${type} { id: ID! entityId: ID }`);
  }
  return sdl;
}

/** ION derives the Content-Type from the extension; it does not know CAD types (octet-stream then). */
const ION_CONTENT_TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
};

export function ionContentType(filename: string): string {
  const ext = filename.includes('.') ? filename.slice(filename.lastIndexOf('.') + 1).toLowerCase() : '';
  return ION_CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

export interface IonAttachment {
  id: string;
  filename: string;
  s3Key: string;
  s3Etag: string | null;
  entityId: string;
  contentType: string;
  validated: boolean;
  createdAt: number;
}

export interface IonEntity {
  entityId: string;
  kind: IonKind;
  objectId: string;
}

export interface IonUpload {
  s3Key: string;
  filename: string;
  contentType: string;
  issuedAt: number;
}

export interface IonOperationRecord {
  /** Root fields of the executed operation, e.g. ['createFileAttachment']. */
  fields: string[];
  variables: Record<string, unknown>;
  /** HTTP status answered (0 when the answer was dropped on purpose; 429 when refused unrun). */
  status: number;
  errors: string[];
}

interface TokenState {
  uses: number;
  maxUses: number;
  expired: boolean;
  /** Date.now() after which an issued token is refused (its expires_in); static tokens have none. */
  expiresAt?: number;
  kind: 'client' | 'static';
}

export interface IonEmulatorOptions {
  clientId?: string;
  clientSecret?: string;
  /** Static access tokens accepted as they are (the `token` input). */
  tokens?: string[];
  /** Tokens issued by the auth server stop working after this many API requests (default: never). */
  tokenMaxUses?: number;
  /** Lifetime of an issued token, answered as expires_in and enforced (default 300 s). */
  tokenTtlSec?: number;
  /** Lifetime of an upload URL (default 300 s: "typically a few minutes"). */
  uploadUrlTtlSec?: number;
  /** Token paths the auth server answers (default both). */
  authPaths?: string[];
  faults?: Faults;
  blob?: BlobStore;
  /**
   * Object types whose schema has no `entity` field (a server that has moved on from the seed's
   * `entity { id }`): a lookup selecting it is a validation error, `Cannot query field "entity" on type "RunStep"`.
   */
  noEntityOn?: IonKind[];
  /** The HTTP status of a validation error: 400 (default, as graphql-js servers answer) or 200 (ION's "always 200"). */
  validationErrorStatus?: number;
}

export class IonEmulator {
  readonly faults: Faults;
  readonly blob: BlobStore;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly requests: RequestLogEntry[] = [];
  readonly authRequests: RequestLogEntry[] = [];
  readonly attachments: IonAttachment[] = [];
  /** entityId → entity. */
  readonly entities = new Map<string, IonEntity>();
  /** kind → object ID → entity ID. */
  readonly objects: Record<IonKind, Map<string, string>>;
  readonly uploads = new Map<string, IonUpload>();
  readonly tokensIssued: string[] = [];
  readonly operations: IonOperationRecord[] = [];
  /** Permissions the caller lacks: operations that need one answer a permission error naming it. */
  readonly missingPermissions = new Set<string>();
  tokenMaxUses: number;
  readonly tokenTtlSec: number;
  uploadUrlTtlSec: number;

  private readonly ownsBlob: boolean;
  private readonly authPaths: string[];
  private readonly tokens = new Map<string, TokenState>();
  private readonly api = new Listener((req, res, ctx) => this.routeApi(req, res, ctx.url), () => ({ faults: this.faults, name: 'ion', requests: this.requests }));
  private readonly auth = new Listener((req, res, ctx) => this.routeAuth(req, res, ctx.url), () => ({ faults: this.faults, name: 'ion-auth', requests: this.authRequests }));
  private nextObjectId: Record<IonKind, number>;
  private nextEntityId = 7001;
  private nextAttachmentId = 4242;
  private scriptedErrors: { field: string; message: string; remaining: number }[] = [];
  private lostAnswers: { field: string; remaining: number }[] = [];
  private rateLimited: { field: string; remaining: number; retryAfterSec: number }[] = [];
  private expireUrls = 0;
  private usedUrls = 0;
  private partialErrors: { field: string; message: string; remaining: number; status: number }[] = [];
  private readonly schema: typeof fullSchema;
  private readonly validationErrorStatus: number;

  constructor(opts: IonEmulatorOptions = {}) {
    this.faults = opts.faults ?? new Faults();
    this.ownsBlob = opts.blob === undefined;
    this.blob = opts.blob ?? new BlobStore({ bucket: 'ion-files' });
    this.clientId = opts.clientId ?? 'ion-client-7c1d0e';
    this.clientSecret = opts.clientSecret ?? 'ion-secret-Qm9zZ2FYb3JkZXItMjAyNi0xMS0yMw';
    this.tokenMaxUses = opts.tokenMaxUses ?? Infinity;
    this.tokenTtlSec = opts.tokenTtlSec ?? 300;
    this.uploadUrlTtlSec = opts.uploadUrlTtlSec ?? 300;
    this.authPaths = opts.authPaths ?? ION_TOKEN_PATHS;
    this.schema = opts.noEntityOn?.length ? buildSchema(ionSdlWithoutEntity(opts.noEntityOn)) : fullSchema;
    this.validationErrorStatus = opts.validationErrorStatus ?? 400;
    for (const t of opts.tokens ?? []) this.addToken(t);
    this.objects = Object.fromEntries(ION_KINDS.map((k) => [k, new Map<string, string>()])) as Record<IonKind, Map<string, string>>;
    this.nextObjectId = Object.fromEntries(ION_KINDS.map((k, i) => [k, (i + 1) * 100 + 1])) as Record<IonKind, number>;
    // One object of each kind to begin with: runStep 101, run 201, procedure 301, step 401, part 501,
    // runStepField 601, with entities 7001…7006.
    for (const kind of ION_KINDS) this.addObject(kind);
  }

  async start(): Promise<string> {
    await this.blob.start();
    await this.auth.start();
    return this.api.start();
  }

  async close(): Promise<void> {
    await Promise.all([this.api.close(), this.auth.close()]);
    if (this.ownsBlob) await this.blob.close();
  }

  /** The API base URL (server-url); GraphQL is at `${url}/graphql`. */
  get url(): string {
    return this.api.url;
  }

  /** The auth server's base URL (a bare host for auth-url). */
  get authUrl(): string {
    return this.auth.url;
  }

  /** The current token endpoint. */
  get tokenUrl(): string {
    return `${this.authUrl}${ION_TOKEN_PATHS[0]}`;
  }

  // ---- test hooks ----

  /** A new object of this kind with its own entity; answers both IDs. */
  addObject(kind: IonKind, objectId?: string): { id: string; entityId: string } {
    const id = objectId ?? String(this.nextObjectId[kind]++);
    const entityId = String(this.nextEntityId++);
    this.objects[kind].set(id, entityId);
    this.entities.set(entityId, { entityId, kind, objectId: id });
    return { id, entityId };
  }

  /** Accept this access token (as a user's token passed in `token`). */
  addToken(token: string): void {
    this.tokens.set(token, { uses: 0, maxUses: Infinity, expired: false, kind: 'static' });
  }

  /** Every token issued or added so far answers 401 from now on. */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expired = true;
  }

  /** The next `times` operations selecting `field` answer errors[] with this message (HTTP 200). */
  failNext(field: string, message: string, times = 1): void {
    this.scriptedErrors.push({ field, message, remaining: times });
  }

  /**
   * The next `times` operations selecting `field` run and succeed, and the answer carries both their `data`
   * and an `errors[]` item with this message (path: [field]): a partly successful answer, as a GraphQL server
   * gives when a side effect after the object was created fails (a notification, an audit hook). `status`:
   * the HTTP status of that answer (a gateway may turn it into a 5xx; the body still carries the object).
   */
  partialNext(field: string, message: string, times = 1, status = 200): void {
    this.partialErrors.push({ field, message, remaining: times, status });
  }

  /** The next `times` operations selecting `field` are executed, then the connection is dropped unanswered. */
  loseNextAnswer(field: string, times = 1): void {
    this.lostAnswers.push({ field, remaining: times });
  }

  /** The next `n` GraphQL requests answer 429 (before any work), with Retry-After. */
  rateLimit(n: number, retryAfterSec = 0): void {
    this.faults.add({
      method: 'POST',
      path: '/graphql',
      times: n,
      action: {
        kind: 'status',
        status: 429,
        body: JSON.stringify({ errors: [{ message: 'Too many requests' }] }),
        headers: { 'Content-Type': 'application/json', 'Retry-After': String(retryAfterSec) },
      },
    });
  }

  /** The next `n` operations selecting `field` answer 429 with Retry-After, without running. */
  rateLimitNext(field: string, n = 1, retryAfterSec = 0): void {
    this.rateLimited.push({ field, remaining: n, retryAfterSec });
  }

  /** The next `n` upload URLs handed out have already expired (as has every URL handed out before them). */
  expireNextUploadUrls(n = 1): void {
    this.expireUrls += n;
  }

  /** The next `n` upload URLs handed out have already been used once (single-use: a PUT answers 403). */
  handOutUsedUploadUrls(n = 1): void {
    this.usedUrls += n;
  }

  attachmentsFor(entityId: string): IonAttachment[] {
    return this.attachments.filter((a) => a.entityId === entityId);
  }

  // ---- auth server ----

  private async routeAuth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!this.authPaths.includes(url.pathname)) return sendJson(res, 404, { error: 'not_found', error_description: `no route ${url.pathname}` });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'HTTP method not allowed' });
    const contentType = String(req.headers['content-type'] ?? '');
    const body = (await readBody(req, 64 * 1024)).toString('utf8');
    if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'Request must be application/x-www-form-urlencoded' });
    }
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials') {
      return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: `Unsupported grant_type ${form.get('grant_type') ?? '(none)'}` });
    }
    if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' });
    }
    const audience = (form.get('audience') ?? '').replace(/\/+$/, '');
    if (audience !== this.url) {
      return sendJson(res, 403, { error: 'access_denied', error_description: `Service not found: ${audience || '(no audience)'}` });
    }
    const part = () => randomBytes(24).toString('base64url');
    const token = `eyJ${part()}.${part()}.${part()}`;
    this.tokens.set(token, { uses: 0, maxUses: this.tokenMaxUses, expired: false, expiresAt: Date.now() + this.tokenTtlSec * 1000, kind: 'client' });
    this.tokensIssued.push(token);
    sendJson(res, 200, { access_token: token, expires_in: this.tokenTtlSec, refresh_expires_in: 0, token_type: 'Bearer', 'not-before-policy': 0, scope: 'profile email' });
  }

  // ---- API ----

  private async routeApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname !== '/graphql') return sendJson(res, 404, { message: 'Not Found' });
    if (req.method !== 'POST') return sendJson(res, 405, { message: 'Method Not Allowed' });

    const auth = String(req.headers.authorization ?? '');
    const m = auth.match(/^(?:Bearer|Token)\s+(\S+)$/);
    const state = m ? this.tokens.get(m[1]!) : undefined;
    if (!state) {
      await readBody(req, 1024 * 1024);
      return sendJson(res, 401, { errors: [{ message: m ? 'Invalid token' : 'Authorization header is missing' }] });
    }
    if (state.expired || state.uses >= state.maxUses || (state.expiresAt !== undefined && Date.now() >= state.expiresAt)) {
      await readBody(req, 1024 * 1024);
      return sendJson(res, 401, { errors: [{ message: 'Token is expired' }] });
    }
    state.uses++;

    let payload: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      payload = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8')) as typeof payload;
    } catch {
      return sendJson(res, 400, { errors: [{ message: 'Request body is not valid JSON' }] });
    }
    if (typeof payload.query !== 'string') return sendJson(res, 400, { errors: [{ message: 'Must provide query string.' }] });
    let document: DocumentNode;
    try {
      document = parse(payload.query);
    } catch (err) {
      return sendJson(res, 400, { errors: [err instanceof GraphQLError ? err.toJSON() : { message: String(err) }] });
    }
    const validationErrors = validate(this.schema, document);
    if (validationErrors.length > 0) {
      this.operations.push({ fields: [], variables: {}, status: this.validationErrorStatus, errors: validationErrors.map((e) => e.message) });
      return sendJson(res, this.validationErrorStatus, { errors: validationErrors.map((e) => ({ ...e.toJSON(), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) });
    }

    const operationName = typeof payload.operationName === 'string' ? payload.operationName : undefined;
    const op = document.definitions.find(
      (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition' && (operationName === undefined || d.name?.value === operationName),
    );
    const fields = op ? op.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : [])) : [];
    const variables = (payload.variables ?? {}) as Record<string, unknown>;
    const record: IonOperationRecord = { fields, variables, status: 0, errors: [] };
    this.operations.push(record);

    const limited = this.rateLimited.find((l) => l.remaining > 0 && fields.some((f) => f === l.field));
    if (limited) {
      limited.remaining--;
      record.status = 429;
      return sendJson(res, 429, { errors: [{ message: 'Too many requests' }] }, { 'Retry-After': String(limited.retryAfterSec) });
    }
    const result = await execute({ schema: this.schema, document, rootValue: this.resolvers(), variableValues: variables, operationName });
    const partial = this.partialErrors.find((p) => p.remaining > 0 && fields.includes(p.field));
    let status: number | undefined;
    if (partial && result.data?.[partial.field] != null) {
      partial.remaining--;
      status = partial.status;
      (result as { errors?: readonly GraphQLError[] }).errors = [...(result.errors ?? []), new GraphQLError(partial.message, { path: [partial.field] })];
    }
    record.errors = (result.errors ?? []).map((e) => e.message);

    const lost = this.lostAnswers.find((l) => l.remaining > 0 && fields.includes(l.field));
    if (lost) {
      lost.remaining--;
      res.socket?.destroy();
      return;
    }
    // Variables that do not fit the schema are a malformed request; everything else is HTTP 200.
    record.status = status ?? (result.data === undefined ? 400 : 200);
    sendJson(res, record.status, { ...(result.data !== undefined ? { data: result.data } : {}), ...(result.errors ? { errors: result.errors.map((e) => e.toJSON()) } : {}) });
  }

  private scripted(field: string): void {
    const s = this.scriptedErrors.find((e) => e.remaining > 0 && e.field === field);
    if (s) {
      s.remaining--;
      throw new GraphQLError(s.message);
    }
  }

  private requirePermission(permission: string): void {
    if (this.missingPermissions.has(permission)) {
      throw new GraphQLError(`Permission denied: the ${permission} permission is required`, { extensions: { code: 'FORBIDDEN', permission } });
    }
  }

  private resolvers(): Record<string, unknown> {
    const lookup = (kind: IonKind) => (args: { id: string }) => {
      this.scripted(kind);
      const entityId = this.objects[kind].get(String(args.id));
      return entityId === undefined ? null : { id: String(args.id), entity: { id: entityId } };
    };
    return {
      ...Object.fromEntries(ION_KINDS.map((k) => [k, lookup(k)])),
      requestFileUploadUrl: async (args: { filename: string }) => {
        this.scripted('requestFileUploadUrl');
        const filename = args.filename.trim();
        if (filename === '' || filename.includes('/')) throw new GraphQLError('filename must be a file name without a path');
        const contentType = ionContentType(filename);
        const s3Key = `uploads/${randomBytes(8).toString('hex')}/${filename}`;
        const uploadUrl = this.blob.presignPut({ key: s3Key, contentType, expiresInSec: this.uploadUrlTtlSec, singleUse: true });
        this.uploads.set(s3Key, { s3Key, filename, contentType, issuedAt: Date.now() });
        if (this.expireUrls > 0) {
          this.expireUrls--;
          this.blob.expireAll();
        } else if (this.usedUrls > 0) {
          this.usedUrls--;
          // Someone (a retried PUT whose answer was lost, say) already used it.
          const put = await fetch(uploadUrl, { method: 'PUT', headers: { 'content-type': contentType }, body: 'already used' });
          if (!put.ok) throw new Error(`emulator could not pre-use the upload URL: HTTP ${put.status}`);
        }
        return { uploadUrl, s3Key, contentType };
      },
      createFileAttachment: async (args: { input: { filename: string; s3Key: string; s3Etag?: string | null; entityId: string; validateUpload?: boolean | null } }) => {
        this.scripted('createFileAttachment');
        const input = args.input;
        this.requirePermission('CreateFileAttachment');
        const entity = this.entities.get(String(input.entityId));
        if (!entity) throw new GraphQLError(`Entity ${input.entityId} does not exist`, { extensions: { code: 'NOT_FOUND' } });
        const upload = this.uploads.get(input.s3Key);
        if (!upload) throw new GraphQLError(`No upload was requested for s3Key ${input.s3Key}`);
        const validate = input.validateUpload ?? false;
        if (validate) {
          // As ION does: one HEAD to storage, the object's ETag against s3Etag.
          const head = await fetch(this.blob.presignGet(input.s3Key, { method: 'HEAD' }), { method: 'HEAD' });
          if (head.status === 404) throw new GraphQLError(`Upload validation failed: no object was uploaded to ${input.s3Key}`);
          if (!head.ok) throw new Error(`emulator HEAD to storage answered ${head.status}`);
          const stored = (head.headers.get('etag') ?? '').replace(/^"|"$/g, '');
          if (stored !== input.s3Etag) {
            throw new GraphQLError(`Upload validation failed: s3Etag ${input.s3Etag ?? '(none)'} does not match the uploaded object's ETag ${stored}`);
          }
        }
        const attachment: IonAttachment = {
          id: String(this.nextAttachmentId++),
          filename: input.filename,
          s3Key: input.s3Key,
          s3Etag: input.s3Etag ?? null,
          entityId: entity.entityId,
          contentType: upload.contentType,
          validated: validate,
          createdAt: Date.now(),
        };
        this.attachments.push(attachment);
        return { fileAttachment: this.view(attachment) };
      },
      fileAttachment: (args: { id: string }) => {
        this.scripted('fileAttachment');
        const a = this.attachments.find((x) => x.id === String(args.id));
        return a ? this.view(a) : null;
      },
    };
  }

  /** An attachment as the API shows it: with a fresh signed, short-lived download URL. */
  private view(a: IonAttachment) {
    return {
      id: a.id,
      filename: a.filename,
      entityId: a.entityId,
      s3Key: a.s3Key,
      s3Bucket: this.blob.bucket,
      contentType: a.contentType,
      downloadUrl: () => this.blob.presignGet(a.s3Key, { expiresInSec: 300 }),
    };
  }
}
