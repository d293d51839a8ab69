/**
 * Speckle server emulator: a real GraphQL server built from Speckle's own schema files.
 *
 * Schema: every SDL file of speckle-server 2.31 (test/fixtures/speckle/schema) plus, in mode `live`,
 * the ingestion API of app.speckle.systems (live-supplement/ingestion-api.reconstructed.graphql). Mode
 * `2.x` serves the public schema alone: startFileImport and FileUpload polling, no ingestion. Every request
 * is parsed and validated by graphql-js against that schema, so an operation the real server would reject
 * is rejected here the same way: HTTP 400 `{"errors":[{"message", "extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`.
 *
 * What it enforces, like the server:
 *  - a bearer token that is not valid answers HTTP 403 `{"error":"Your token is not valid."}` before GraphQL
 *    runs; no Authorization header means an anonymous caller;
 *  - `@hasScope` / `@hasScopes` directives of the schema itself: a token without `streams:write` gets a
 *    FORBIDDEN error on fileUploadMutations / modelMutations; writes need the project role owner or
 *    contributor ("Can edit"), a reviewer gets FORBIDDEN;
 *  - a missing project is a STREAM_NOT_FOUND error, a missing model (modelByName) BRANCH_NOT_FOUND;
 *  - generateUploadUrl presigns a PUT on the BlobStore with `additionalRequestHeaders` signed into the URL
 *    (storage refuses the PUT without them), or on other `storage` (e.g. Azurite: a SAS URL that Azure
 *    refuses without `x-ms-blob-type`);
 *  - generateUploadUrl refuses a file name without an extension (`File name must have a valid extension`,
 *    USER_INPUT_ERROR), as the server's generatePresignedUrl does;
 *  - startFileIngestion / startFileImport register the upload once, in the server's order
 *    (blobstorage registerCompletedUpload): a fileId already registered is refused with
 *    ALREADY_REGISTERED_BLOB_ERROR `Blob already registered and completed` (or the stored error); then the
 *    stored object and its ETag, compared verbatim (quotes included) with storage's (a mismatch leaves the
 *    upload unregistered, so it can be started again); then the upload is registered, and only then is the
 *    model looked up (a missing model leaves a registered upload behind, as on the server);
 *  - model names are stored lowercased, with Speckle's naming rules;
 *  - ingestion is asynchronous: queued → processing → success (a new version) or failed with a reason when
 *    the bytes are not IFC (no `ISO-10303-21;` header, or no IFC2X3/IFC4/IFC4X3 FILE_SCHEMA);
 *  - rate limiting, when switched on: HTTP 429 with a fractional Retry-After;
 *  - API latency, when switched on (`latencyMs`, default none): every GraphQL request waits that long before it
 *    is handled, as a remote server's round trip adds (the benchmark's 25 ms);
 *  - `project.models` and `model.versions` newest first, paged, at most 100 a page (the server's limit);
 *    `filter.search` keeps the models whose name contains it, ignoring case (our reading of the server's ILIKE);
 *    a version's `message` is what updateVersionMessage last set.
 *
 * State (models, versions, ingestions, uploads, fileImports, the request and operation logs) is public.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GraphQLError,
  Kind,
  buildASTSchema,
  defaultFieldResolver,
  NoSchemaIntrospectionCustomRule,
  execute,
  parse,
  specifiedRules,
  print,
  specifiedDirectives,
  validate,
  type DefinitionNode,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import type { BlobStore } from './blob.js';
import { Faults } from './faults.js';
import { Listener, readBody, sendJson } from './server.js';
import type { RequestLogEntry } from './server.js';

export type { RequestLogEntry } from './server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The real server's schema, vendored from the project's shared reference (../shared/reference/speckle) so the
 * repository tests itself anywhere; test/unit/speckle-operations.test.ts fails when the two drift apart.
 */
export const SPECKLE_REFERENCE = path.join(ROOT, 'test/fixtures/speckle');
export const SPECKLE_SCHEMA_DIR = path.join(SPECKLE_REFERENCE, 'schema');
export const SPECKLE_LIVE_SUPPLEMENT = path.join(SPECKLE_REFERENCE, 'live-supplement/ingestion-api.reconstructed.graphql');
/** Live fields beyond the shared reference's supplement, with their source (Model.ingestionHistory). */
export const SPECKLE_LIVE_EXTRA = path.join(ROOT, 'test/fixtures/speckle-live-extra/ingestion-history.graphql');

export type SpeckleMode = 'live' | '2.x';

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

function sdlFiles(p: string): string[] {
  if (statSync(p).isFile()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((name) => {
      const full = path.join(p, name);
      if (statSync(full).isDirectory()) return sdlFiles(full);
      return /\.(graphql|gql|graphqls)$/.test(name) ? [full] : [];
    });
}

/**
 * What speckle-server defines in TypeScript rather than SDL (see schema/README.md), each added only when
 * the SDL does not define it.
 */
const STUBS: [string, string][] = [
  ['DateTime', 'scalar DateTime'],
  ['BigInt', 'scalar BigInt'],
  ['JSONObject', 'scalar JSONObject'],
  ['Query', 'type Query { _: String }'],
  ['Mutation', 'type Mutation { _: String }'],
  ['Subscription', 'type Subscription { _: String }'],
  ['ServerRole', 'enum ServerRole { SERVER_USER SERVER_ADMIN SERVER_GUEST SERVER_ARCHIVED_USER }'],
  ['@hasServerRole', 'directive @hasServerRole(role: ServerRole!) on FIELD_DEFINITION'],
  ['StreamRole', 'enum StreamRole { STREAM_OWNER STREAM_CONTRIBUTOR STREAM_REVIEWER }'],
  ['@hasStreamRole', 'directive @hasStreamRole(role: StreamRole!) on FIELD_DEFINITION'],
  ['@hasScope', 'directive @hasScope(scope: String!) on FIELD_DEFINITION'],
  ['@hasScopes', 'directive @hasScopes(scopes: [String]!) on FIELD_DEFINITION'],
  ['@isOwner', 'directive @isOwner on FIELD_DEFINITION'],
  ['WorkspaceRole', 'enum WorkspaceRole { ADMIN MEMBER GUEST }'],
  ['@hasWorkspaceRole', 'directive @hasWorkspaceRole(role: WorkspaceRole!) on FIELD_DEFINITION'],
  ['@oneOf', 'directive @oneOf on INPUT_OBJECT'],
];

const schemas = new Map<string, GraphQLSchema>();

/**
 * The schema a server of this generation serves. speckle-server merges its type definitions with
 * @graphql-tools, which tolerates the same field declared twice with the same signature
 * (Workspace.defaultSeatType); plain graphql-js does not, so exact duplicates are dropped.
 */
export function loadSpeckleSchema(mode: SpeckleMode, opts: { ingestionHistory?: boolean } = {}): GraphQLSchema {
  const history = mode === 'live' && opts.ingestionHistory !== false;
  const cacheKey = `${mode}${history ? '+history' : ''}`;
  const cached = schemas.get(cacheKey);
  if (cached) return cached;
  const files = [...sdlFiles(SPECKLE_SCHEMA_DIR), ...(mode === 'live' ? [SPECKLE_LIVE_SUPPLEMENT] : []), ...(history ? [SPECKLE_LIVE_EXTRA] : [])];
  const seen = new Map<string, string>();
  const definitions: DefinitionNode[] = [];
  for (const file of files) {
    for (const def of parse(readFileSync(file, 'utf8')).definitions) {
      if (!('fields' in def) || !def.name || !Array.isArray(def.fields)) {
        definitions.push(def);
        continue;
      }
      const fields = (def.fields as { name: { value: string } }[]).filter((f) => {
        const key = `${def.name!.value}.${f.name.value}`;
        const sig = print({ ...(f as object), description: undefined, directives: [] } as never).replace(/\s+/g, ' ');
        if (seen.get(key) === sig) return false;
        seen.set(key, sig);
        return true;
      });
      definitions.push({ ...def, fields } as unknown as DefinitionNode);
    }
  }
  const defined = new Set(
    definitions
      .filter((d) => 'name' in d && d.name && !d.kind.endsWith('Extension'))
      .map((d) => (d.kind === Kind.DIRECTIVE_DEFINITION ? '@' : '') + (d as { name: { value: string } }).name.value),
  );
  const builtIn = new Set(specifiedDirectives.map((d) => `@${d.name}`));
  const stubs = STUBS.filter(([name]) => !defined.has(name) && !builtIn.has(name)).map(([, sdl]) => sdl);
  const schema = buildASTSchema({ kind: Kind.DOCUMENT, definitions: [...parse(stubs.join('\n')).definitions, ...definitions] });
  schemas.set(cacheKey, schema);
  return schema;
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

export type ProjectRole = 'stream:owner' | 'stream:contributor' | 'stream:reviewer';

export interface SpeckleToken {
  scopes: string[];
  /** The token's user's role on every project (default stream:owner). */
  role: ProjectRole;
  userId: string;
}

export interface SpeckleProject {
  id: string;
  name: string;
}

export interface SpeckleModel {
  id: string;
  projectId: string;
  /** As stored: lowercased. */
  name: string;
  description: string | null;
  createdAt: string;
}

export interface SpeckleVersion {
  id: string;
  projectId: string;
  modelId: string;
  message: string;
  sourceApplication: string;
  /** The upload this version was made from. */
  fileId: string;
  fileName: string;
  createdAt: string;
}

/** A URL handed out by generateUploadUrl. */
export interface SpeckleUpload {
  fileId: string;
  /** Set by the first start that got past the storage checks; a second start is refused. */
  registered?: 'completed' | 'error';
  registrationError?: string;
  projectId: string;
  fileName: string;
  key: string;
  additionalRequestHeaders: Record<string, string>;
  createdAt: string;
}

export type IngestionStatus = 'queued' | 'processing' | 'success' | 'failed' | 'cancelled' | 'invalidInput' | 'timeout';

/** What ends an ingestion (or a 2.x file import) instead of the IFC check. */
export interface ForcedOutcome {
  status: Exclude<IngestionStatus, 'queued' | 'processing'>;
  message?: string;
}

export interface SpeckleIngestion {
  id: string;
  projectId: string;
  modelId: string;
  fileId: string;
  fileName: string;
  /** Snapshot of the stored bytes when the ingestion started. */
  bytes: Buffer;
  startedAt: number;
  /** How many times its state was shown (see processingReads). */
  reads?: number;
  status: IngestionStatus;
  progress?: number;
  versionId?: string;
  reason?: string;
  forced?: ForcedOutcome;
  /** Which API started it. */
  via: 'startFileIngestion' | 'startFileImport';
  userId: string;
  updatedAt: string;
}

export interface SpeckleOperationLog {
  operationName: string | null;
  variables: Record<string, unknown>;
  status: number;
  errors?: { message: string; code?: string }[];
}

/** Where generateUploadUrl sends uploads, and where the start mutations read what was stored. */
export interface SpeckleStorage {
  /** A URL for one PUT of `key` that storage accepts only with `headers` (the additionalRequestHeaders). */
  presignPut(key: string, headers: Record<string, string>, opts: { expiresInSec: number; maxBytes: number }): string;
  /** The stored object: its ETag exactly as storage sends it, and its bytes; undefined when there is none. */
  stored(key: string): Promise<{ etag: string; bytes: Buffer } | undefined>;
}

/** The S3-style BlobStore as Speckle's storage: the headers are signed into the URL. */
export function blobStoreStorage(blob: BlobStore): SpeckleStorage {
  return {
    presignPut: (key, headers, opts) => blob.presignPut({ key, signedHeaders: headers, ...opts }),
    stored: async (key) => blob.get(key),
  };
}

export interface SpeckleEmulatorOptions {
  /** The storage behind the upload URLs: this BlobStore, unless `storage` is given. */
  blob?: BlobStore;
  /** Other storage behind the upload URLs (e.g. Azurite); takes precedence over `blob`. */
  storage?: SpeckleStorage;
  mode?: SpeckleMode;
  /** Valid tokens (default: none; add with `addToken`). */
  tokens?: Record<string, Partial<SpeckleToken>>;
  /** Projects that exist (default one: `p0ject1d`). */
  projects?: SpeckleProject[];
  faults?: Faults;
  /** serverInfo.configuration.blobSizeLimitBytes (default 100 MB). */
  blobSizeLimitBytes?: number;
  /** How long an ingestion stays queued, then processing (default 50 ms and 150 ms). */
  queuedMs?: number;
  processingMs?: number;
  /**
   * An ingestion is shown in flight (processing) at least this many times before its end, however long it took
   * (default 0: time alone decides); every view counts, the start mutation's own answer too. Tests that must see a
   * client poll again set it, instead of racing a timer.
   */
  processingReads?: number;
  /** Headers the upload URL is signed with and that generateUploadUrl lists (default an x-amz-meta-* per file). */
  additionalRequestHeaders?: (fileId: string) => Record<string, string>;
  /** Presigned URL lifetime (default 900 s). */
  uploadUrlExpiresInSec?: number;
  /** false: refuse introspection as a locked-down server does (a validation error). Default true. */
  introspection?: boolean;
  /** false (live only): a server without Model.ingestionHistory (the shared supplement alone). Default true. */
  ingestionHistory?: boolean;
  /** Milliseconds every request to /graphql waits before it is handled: a remote server's latency (default 0, none). */
  latencyMs?: number;
}

/** Called when startFileIngestion / startFileImport arrives, before any check (e.g. to overwrite the stored object). */
export type StartHook = (upload: SpeckleUpload) => void;

const DEFAULT_PROJECT: SpeckleProject = { id: 'p0ject1d', name: 'Tower' };
const WRITE_ROLES: ProjectRole[] = ['stream:owner', 'stream:contributor'];
/** The schemas the importer reads, with an optional addendum suffix (IFC2X3_TC1, IFC4X3_ADD2); not IFC4FOO. */
const IFC_SCHEMAS = /FILE_SCHEMA\s*\(\s*\(\s*'(IFC2X3|IFC4|IFC4X1|IFC4X2|IFC4X3)(?:_[A-Z0-9]+)?'/i;

interface CallContext {
  token?: SpeckleToken;
}

const id10 = () => randomBytes(5).toString('hex');
const now = () => new Date().toISOString();

function gqlError(message: string, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** Why Speckle would refuse to create a model of this name (its branch-name rules), or undefined. */
export function speckleModelNameError(name: string): string | undefined {
  if (name.trim() === '') return 'Model name cannot be empty';
  if (/^[#$]/.test(name) || name.includes('//') || name.includes(',') || /^\/|\/$/.test(name)) {
    return 'Model names cannot start with "#" or "$", start or end with "/", have multiple slashes next to each other (e.g., "//") or contain commas.';
  }
  return undefined;
}

/** The importer's verdict on the bytes: undefined when they are an IFC model it can read. */
export function ifcProblem(bytes: Buffer): string | undefined {
  const head = bytes.subarray(0, 64 * 1024).toString('latin1');
  if (!/^\uFEFF?\s*ISO-10303-21\s*;/.test(head)) return 'The file is not a valid IFC file: it does not start with the ISO-10303-21; header.';
  if (!IFC_SCHEMAS.test(head)) return 'Unsupported IFC schema: the header has no FILE_SCHEMA naming IFC2X3, IFC4 or IFC4X3.';
  return undefined;
}

/**
 * What app.speckle.systems imports, as the upload guide lists it ("IFC, DWG, DXF, OBJ, STL, 3DM, and others
 * depending on server version"): the named ones only, since the others are not named. Our reading; anything
 * else fails its ingestion as unsupported.
 */
const LIVE_IMPORTS = ['ifc', 'dwg', 'dxf', 'obj', 'stl', '3dm'];

export class SpeckleEmulator {
  readonly mode: SpeckleMode;
  readonly faults: Faults;
  readonly requests: RequestLogEntry[] = [];
  readonly operations: SpeckleOperationLog[] = [];
  readonly tokens = new Map<string, SpeckleToken>();
  readonly projects = new Map<string, SpeckleProject>();
  readonly models = new Map<string, SpeckleModel>();
  readonly versions = new Map<string, SpeckleVersion>();
  readonly uploads = new Map<string, SpeckleUpload>();
  /** Ingestions (live) and file imports (2.x), keyed by their ID (a file import's ID is its fileId). */
  readonly ingestions = new Map<string, SpeckleIngestion>();
  /** Outcomes forced by file name (e.g. `cancelled` for `slow.ifc`), instead of the IFC check. */
  readonly outcomes = new Map<string, ForcedOutcome>();
  /** File names whose ingestion, read through project.ingestion, answers this error (its field alone: a GraphQL error with its path). */
  readonly ingestionReadErrors = new Map<string, string>();
  blobSizeLimitBytes: number;
  queuedMs: number;
  processingMs: number;
  processingReads: number;
  /** Milliseconds every request to /graphql waits before it is handled (see SpeckleEmulatorOptions.latencyMs). */
  latencyMs: number;
  /** The next `remaining` GraphQL requests answer HTTP 429 with this Retry-After. */
  rateLimit = { remaining: 0, retryAfter: '0.35', answered: 0 };
  /** Test hook run as a start mutation arrives, before its checks. */
  onStart: StartHook | undefined;
  /**
   * Operations whose answer is lost: the operation runs (state changes), then the connection is reset
   * instead of answering, as when a proxy drops it. Keyed by operation name, value = how many times.
   */
  readonly lostAnswers = new Map<string, number>();
  /**
   * Partly successful answers: the next operation of this name runs, and its answer carries its `data` and
   * also an `errors[]` item with this message (INTERNAL_SERVER_ERROR), as Apollo answers when something after
   * the create failed. Keyed by operation name, value = the message and how many times.
   */
  readonly partialAnswers = new Map<string, { message: string; times: number }>();
  /** Test hook run right after an operation ran whose answer is then lost (e.g. another run starts an ingestion). */
  onLostAnswer: ((operationName: string, variables: Record<string, unknown>) => void) | undefined;

  private readonly storage: SpeckleStorage;
  private readonly schema: GraphQLSchema;
  private readonly additionalHeaders: (fileId: string) => Record<string, string>;
  private readonly expiresInSec: number;
  private readonly introspection: boolean;
  private readonly listener = new Listener((req, res) => this.handle(req, res), () => ({ faults: this.faults, name: `speckle-${this.mode}`, requests: this.requests }));

  constructor(opts: SpeckleEmulatorOptions) {
    if (!opts.storage && !opts.blob) throw new Error('SpeckleEmulator: give it a blob store or storage');
    this.storage = opts.storage ?? blobStoreStorage(opts.blob!);
    this.mode = opts.mode ?? 'live';
    this.faults = opts.faults ?? new Faults();
    this.schema = loadSpeckleSchema(this.mode, { ingestionHistory: opts.ingestionHistory ?? true });
    for (const [token, t] of Object.entries(opts.tokens ?? {})) this.addToken(token, t);
    for (const p of opts.projects ?? [DEFAULT_PROJECT]) this.projects.set(p.id, p);
    this.blobSizeLimitBytes = opts.blobSizeLimitBytes ?? 100 * 1024 * 1024;
    this.queuedMs = opts.queuedMs ?? 50;
    this.processingMs = opts.processingMs ?? 150;
    this.processingReads = opts.processingReads ?? 0;
    this.latencyMs = opts.latencyMs ?? 0;
    this.additionalHeaders = opts.additionalRequestHeaders ?? ((fileId) => ({ 'x-amz-meta-speckle-file-id': fileId }));
    this.expiresInSec = opts.uploadUrlExpiresInSec ?? 900;
    this.introspection = opts.introspection ?? true;
  }

  /** The next `times` operations named `operationName` run, and answer their data and an error with this message. */
  answerPartly(operationName: string, message: string, times = 1): void {
    this.partialAnswers.set(operationName, { message, times });
  }

  /** Run the next `times` operations named `operationName`, then reset the connection instead of answering. */
  loseAnswer(operationName: string, times = 1): void {
    this.lostAnswers.set(operationName, times);
  }

  addToken(token: string, t: Partial<SpeckleToken> = {}): void {
    this.tokens.set(token, { scopes: t.scopes ?? ['streams:read', 'streams:write', 'profile:read'], role: t.role ?? 'stream:owner', userId: t.userId ?? id10() });
  }

  /** Answer the next `times` GraphQL requests with HTTP 429 and `Retry-After: retryAfter` (seconds, may be fractional). */
  limitRate(times: number, retryAfter = '0.35'): void {
    this.rateLimit.remaining = times;
    this.rateLimit.retryAfter = retryAfter;
  }

  start(): Promise<string> {
    return this.listener.start();
  }

  get url(): string {
    return this.listener.url;
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  /** Versions of a model, oldest first. */
  versionsOf(modelId: string): SpeckleVersion[] {
    return [...this.versions.values()].filter((v) => v.modelId === modelId);
  }

  modelByName(projectId: string, name: string): SpeckleModel | undefined {
    return [...this.models.values()].find((m) => m.projectId === projectId && m.name === name.toLowerCase());
  }

  /**
   * Another client (another run, the web app) uploads a file to this model and starts its ingestion now: it
   * becomes the model's latestIngestion. Answers the ingestion.
   */
  addForeignIngestion(modelId: string, fileName = 'other.ifc'): SpeckleIngestion {
    const model = this.models.get(modelId);
    if (!model) throw new Error(`no model ${modelId}`);
    const fileId = id10();
    this.uploads.set(fileId, { fileId, projectId: model.projectId, fileName, key: `${model.projectId}/uploads/${fileId}/${fileName}`, additionalRequestHeaders: {}, createdAt: now(), registered: 'completed' });
    const ingestion: SpeckleIngestion = {
      id: this.mode === 'live' ? id10() : fileId,
      projectId: model.projectId,
      modelId,
      fileId,
      fileName,
      bytes: Buffer.from("ISO-10303-21;\nHEADER;\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"),
      startedAt: Date.now(),
      status: 'queued',
      via: this.mode === 'live' ? 'startFileIngestion' : 'startFileImport',
      userId: 'someone-else',
      updatedAt: now(),
    };
    this.ingestions.set(ingestion.id, ingestion);
    return ingestion;
  }

  /** Seed a model directly. */
  createModel(projectId: string, name: string): SpeckleModel {
    const model: SpeckleModel = { id: id10(), projectId, name: name.toLowerCase(), description: null, createdAt: now() };
    this.models.set(model.id, model);
    return model;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/graphql') return sendJson(res, 404, { error: 'Not found' });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'Use POST' });
    const body = await readBody(req, 2 * 1024 * 1024);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));

    if (this.rateLimit.remaining > 0) {
      this.rateLimit.remaining -= 1;
      this.rateLimit.answered += 1;
      return sendJson(res, 429, { error: 'You are sending too many requests. Please slow down.' }, { 'Retry-After': this.rateLimit.retryAfter });
    }

    // The server checks the token before GraphQL runs.
    let token: SpeckleToken | undefined;
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      token = m ? this.tokens.get(m[1]!) : undefined;
      if (!token) return sendJson(res, 403, { error: 'Your token is not valid.' });
    }

    let request: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      request = JSON.parse(body.toString('utf8')) as typeof request;
    } catch {
      return sendJson(res, 400, { errors: [{ message: 'POST body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
    }
    const operationName = typeof request.operationName === 'string' ? request.operationName : null;
    const variables = (request.variables && typeof request.variables === 'object' ? request.variables : {}) as Record<string, unknown>;
    const answer = (status: number, payload: { data?: unknown; errors?: readonly GraphQLError[] | { message: string; extensions?: { code?: string } }[] }) => {
      const errors = payload.errors?.map((e) => (e instanceof GraphQLError ? e.toJSON() : e));
      this.operations.push({
        operationName,
        variables,
        status,
        ...(errors ? { errors: errors.map((e) => ({ message: e.message, ...(e.extensions?.['code'] ? { code: String(e.extensions['code']) } : {}) })) } : {}),
      });
      sendJson(res, status, { ...(payload.data !== undefined ? { data: payload.data } : {}), ...(errors ? { errors } : {}) });
    };
    if (typeof request.query !== 'string') return answer(400, { errors: [{ message: 'GraphQL operations must contain a non-empty `query`.', extensions: { code: 'BAD_REQUEST' } }] });

    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (err) {
      return answer(400, { errors: [{ message: (err as Error).message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    }
    const invalid = validate(this.schema, document, this.introspection ? specifiedRules : [...specifiedRules, NoSchemaIntrospectionCustomRule]);
    if (invalid.length > 0) {
      return answer(400, { errors: invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })) });
    }
    const result = await execute({
      schema: this.schema,
      document,
      rootValue: this.rootValue(),
      contextValue: { token } satisfies CallContext,
      variableValues: variables,
      operationName,
      fieldResolver: this.checkScopes,
    });
    const lost = operationName ? (this.lostAnswers.get(operationName) ?? 0) : 0;
    if (lost > 0) {
      this.lostAnswers.set(operationName!, lost - 1);
      this.operations.push({ operationName, variables, status: 0 });
      this.onLostAnswer?.(operationName!, variables);
      res.destroy();
      return;
    }
    const partial = operationName ? this.partialAnswers.get(operationName) : undefined;
    const errors = [...(result.errors ?? [])];
    if (partial && partial.times > 0 && !result.errors && result.data) {
      partial.times -= 1;
      errors.push(gqlError(partial.message, 'INTERNAL_SERVER_ERROR'));
    }
    answer(200, { data: result.data, ...(errors.length > 0 ? { errors: errors.map(withCode) } : {}) });
  }

  /** The schema's own @hasScope / @hasScopes directives decide, as on the server. */
  private checkScopes: GraphQLFieldResolver<unknown, CallContext> = (source, args, ctx, info) => {
    const directives = info.parentType.getFields()[info.fieldName]?.astNode?.directives ?? [];
    for (const d of directives) {
      const arg = d.arguments?.[0]?.value;
      const needed =
        d.name.value === 'hasScope' && arg?.kind === Kind.STRING
          ? [arg.value]
          : d.name.value === 'hasScopes' && arg?.kind === Kind.LIST
            ? arg.values.flatMap((v) => (v.kind === Kind.STRING ? [v.value] : []))
            : [];
      for (const scope of needed) {
        if (!ctx.token?.scopes.includes(scope)) throw gqlError(`Your auth token does not have the required scope: ${scope}.`, 'FORBIDDEN');
      }
    }
    return defaultFieldResolver(source, args, ctx, info);
  };

  // ---- resolvers: plain objects whose functions graphql-js's default resolver calls with (args, ctx) ----

  private rootValue() {
    return {
      serverInfo: () => ({
        name: `Speckle emulator (${this.mode})`,
        version: this.mode === 'live' ? '3.0.0-emulator' : '2.31.14',
        canonicalUrl: this.listener.started ? this.listener.url : undefined,
        guestModeEnabled: false,
        scopes: [],
        roles: [],
        serverRoles: [],
        configuration: {
          blobSizeLimitBytes: this.blobSizeLimitBytes,
          objectSizeLimitBytes: 10 * 1024 * 1024,
          objectMultipartUploadSizeLimitBytes: 50 * 1024 * 1024,
          isEmailEnabled: false,
          emailVerificationTimeoutMinutes: 5,
          featureFlags: {},
        },
      }),
      project: (args: { id: string }, ctx: CallContext) => this.projectView(this.readableProject(args.id, ctx), ctx),
      fileUploadMutations: () => ({
        generateUploadUrl: (a: { input: { projectId: string; fileName: string } }, ctx: CallContext) => this.generateUploadUrl(a.input, ctx),
        startFileIngestion: async (a: { input: StartInput }, ctx: CallContext) => this.ingestionView(await this.startUpload(a.input, ctx, 'startFileIngestion')),
        startFileImport: async (a: { input: StartInput }, ctx: CallContext) => this.fileUploadView(await this.startUpload(a.input, ctx, 'startFileImport')),
      }),
      modelMutations: () => ({
        create: (a: { input: { projectId: string; name: string; description?: string } }, ctx: CallContext) => this.modelView(this.createModelFor(a.input, ctx)),
      }),
      versionMutations: () => ({
        update: (a: { input: { projectId: string; versionId: string; message?: string } }, ctx: CallContext) => {
          this.writableProject(a.input.projectId, ctx);
          const v = this.versions.get(a.input.versionId);
          if (!v || v.projectId !== a.input.projectId) throw gqlError('Version not found', 'COMMIT_NOT_FOUND');
          if (typeof a.input.message === 'string') v.message = a.input.message;
          return this.versionView(v);
        },
      }),
    };
  }

  private readableProject(id: string, ctx: CallContext): SpeckleProject {
    const p = this.projects.get(id);
    if (!p) throw gqlError('Project not found', 'STREAM_NOT_FOUND');
    if (!ctx.token) throw gqlError('You do not have access to this project.', 'FORBIDDEN');
    return p;
  }

  private writableProject(id: string, ctx: CallContext): SpeckleProject {
    const p = this.readableProject(id, ctx);
    if (!WRITE_ROLES.includes(ctx.token!.role)) throw gqlError('You do not have the required privileges.', 'FORBIDDEN');
    return p;
  }

  private projectView(p: SpeckleProject, ctx: CallContext) {
    return {
      id: p.id,
      name: p.name,
      role: ctx.token?.role ?? null,
      visibility: 'PRIVATE',
      allowPublicComments: false,
      createdAt: now(),
      updatedAt: now(),
      sourceApps: [],
      modelByName: ({ name }: { name: string }) => {
        const m = this.modelByName(p.id, name.trim());
        if (!m) throw gqlError('Model not found', 'BRANCH_NOT_FOUND');
        return this.modelView(m);
      },
      // Every model of the project, newest first, paged; `filter.search` keeps names that contain it, ignoring case
      // (the server's ILIKE), `filter.ids` those IDs, `onlyWithVersions` models with a version. The server refuses
      // more than 100 a page.
      models: ({ limit, cursor, filter }: { limit?: number; cursor?: string | null; filter?: { search?: string | null; ids?: string[] | null; onlyWithVersions?: boolean | null } | null }) => {
        const size = limit ?? 25;
        if (size > 100) throw gqlError('Cannot return more than 100 items, please use pagination.', 'BAD_USER_INPUT');
        const search = filter?.search?.toLowerCase();
        const all = [...this.models.values()]
          .filter((m) => m.projectId === p.id)
          .filter((m) => !search || m.name.includes(search))
          .filter((m) => !filter?.ids || filter.ids.includes(m.id))
          .filter((m) => !filter?.onlyWithVersions || this.versionsOf(m.id).length > 0)
          .reverse();
        return this.page(all, size, cursor, (m) => this.modelView(m));
      },
      model: ({ id }: { id: string }) => {
        const m = this.models.get(id);
        if (!m || m.projectId !== p.id) throw gqlError('Model not found', 'BRANCH_NOT_FOUND');
        return this.modelView(m);
      },
      version: ({ id }: { id: string }) => {
        const v = this.versions.get(id);
        if (!v || v.projectId !== p.id) throw gqlError('Version not found', 'COMMIT_NOT_FOUND');
        return this.versionView(v);
      },
      ingestion: ({ id }: { id: string }) => {
        const ing = this.ingestions.get(id);
        const refused = ing ? this.ingestionReadErrors.get(ing.fileName) : undefined;
        if (refused !== undefined) throw gqlError(refused, 'INTERNAL_SERVER_ERROR');
        return ing && ing.projectId === p.id && ing.via === 'startFileIngestion' ? this.ingestionView(ing) : null;
      },
    };
  }

  private modelView(m: SpeckleModel) {
    const segments = m.name.split('/');
    return {
      id: m.id,
      name: m.name,
      displayName: segments[segments.length - 1],
      description: m.description,
      createdAt: m.createdAt,
      updatedAt: m.createdAt,
      projectId: m.projectId,
      // Newest first, paged; each carries the message the version was given (updateVersionMessage sets it).
      versions: ({ limit, cursor }: { limit?: number; cursor?: string | null }) => {
        const size = limit ?? 25;
        if (size > 100) throw gqlError('Cannot return more than 100 items, please use pagination.', 'BAD_USER_INPUT');
        return this.page(this.versionsOf(m.id).reverse(), size, cursor, (v) => this.versionView(v));
      },
      latestIngestion: () => {
        const latest = [...this.ingestions.values()].filter((i) => i.modelId === m.id && i.via === 'startFileIngestion').at(-1);
        return latest ? this.ingestionView(latest) : null;
      },
      // Newest first, paged by an opaque cursor (our reading: the codegen gives the shape, not the order).
      ingestionHistory: ({ input }: { input?: { limit?: number | null; cursor?: string | null } | null }) => {
        const all = [...this.ingestions.values()].filter((i) => i.modelId === m.id && i.via === 'startFileIngestion').reverse();
        const offset = input?.cursor ? Number(Buffer.from(input.cursor, 'base64').toString('utf8')) || 0 : 0;
        const limit = Math.min(100, Math.max(1, input?.limit ?? 25));
        const items = all.slice(offset, offset + limit);
        const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64') : null;
        return { totalCount: all.length, cursor: next, items: items.map((i) => this.ingestionView(i)) };
      },
      uploads: ({ input }: { input?: { limit?: number; cursor?: string | null } }) => {
        const all = [...this.ingestions.values()].filter((i) => i.modelId === m.id && i.via === 'startFileImport').reverse();
        const offset = input?.cursor ? Number(Buffer.from(input.cursor, 'base64').toString('utf8')) || 0 : 0;
        const limit = input?.limit ?? 25;
        const items = all.slice(offset, offset + limit);
        const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64') : null;
        return { totalCount: all.length, cursor: next, items: items.map((i) => this.fileUploadView(i)) };
      },
    };
  }

  /** One page of `all` after the opaque cursor (an offset), with the cursor of the next page. */
  private page<T, V>(all: T[], limit: number, cursor: string | null | undefined, view: (item: T) => V) {
    const offset = cursor ? Number(Buffer.from(cursor, 'base64').toString('utf8')) || 0 : 0;
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64') : null;
    return { totalCount: all.length, cursor: next, items: all.slice(offset, offset + limit).map(view) };
  }

  private versionView(v: SpeckleVersion) {
    return { id: v.id, message: v.message, sourceApplication: v.sourceApplication, createdAt: v.createdAt, referencedObject: v.id, previewUrl: null };
  }

  private generateUploadUrl(input: { projectId: string; fileName: string }, ctx: CallContext) {
    this.writableProject(input.projectId, ctx);
    // speckle-server blobstorage/services/presigned.ts (generatePresignedUrlFactory), word for word.
    const fileType = input.fileName.split('.').pop();
    if (!fileType || fileType === input.fileName) throw gqlError('File name must have a valid extension', 'USER_INPUT_ERROR');
    const fileId = id10();
    const key = `${input.projectId}/uploads/${fileId}/${input.fileName}`;
    // 2.x has no additionalRequestHeaders to tell the client about, so it signs none.
    const headers = this.mode === 'live' ? this.additionalHeaders(fileId) : {};
    const url = this.storage.presignPut(key, headers, { expiresInSec: this.expiresInSec, maxBytes: this.blobSizeLimitBytes });
    this.uploads.set(fileId, { fileId, projectId: input.projectId, fileName: input.fileName, key, additionalRequestHeaders: headers, createdAt: now() });
    return { url, fileId, additionalRequestHeaders: Object.entries(headers).map(([header, value]) => ({ header, value })) };
  }

  private createModelFor(input: { projectId: string; name: string; description?: string }, ctx: CallContext): SpeckleModel {
    this.writableProject(input.projectId, ctx);
    const name = input.name.trim();
    const problem = speckleModelNameError(name);
    if (problem) throw gqlError(problem, 'BRANCH_CREATE_ERROR');
    if (this.modelByName(input.projectId, name)) throw gqlError('A model with this name already exists', 'BRANCH_CREATE_ERROR');
    const model = this.createModel(input.projectId, name);
    model.description = input.description ?? null;
    return model;
  }

  private async startUpload(input: StartInput, ctx: CallContext, via: SpeckleIngestion['via']): Promise<SpeckleIngestion> {
    this.writableProject(input.projectId, ctx);
    const upload = this.uploads.get(input.fileId);
    if (!upload || upload.projectId !== input.projectId) throw gqlError(`File upload ${input.fileId} not found`, 'FILE_UPLOAD_NOT_FOUND');
    // registerCompletedUpload: an upload is registered once; a second start of the same fileId is refused.
    if (upload.registered === 'completed') throw gqlError('Blob already registered and completed', 'ALREADY_REGISTERED_BLOB_ERROR');
    if (upload.registered === 'error') throw gqlError(upload.registrationError ?? 'Blob already registered with an error', 'ALREADY_REGISTERED_BLOB_ERROR');
    this.onStart?.(upload);
    const stored = await this.storage.stored(upload.key);
    if (!stored) throw gqlError(`The file ${input.fileId} has not been uploaded to storage`, 'BAD_REQUEST_ERROR');
    // Verbatim: storage's ETag (S3: a quoted MD5; Azure: a quoted "0x…"), and the request must carry it with its quotes.
    if (stored.etag !== input.etag) {
      throw gqlError(`The provided etag ${input.etag} does not match the etag of the uploaded file in storage`, 'BAD_REQUEST_ERROR');
    }
    upload.registered = 'completed';
    // The server looks the model up only after registering the upload.
    const model = this.models.get(input.modelId);
    if (!model || model.projectId !== input.projectId) throw gqlError('Model not found', 'BRANCH_NOT_FOUND');
    const id = via === 'startFileImport' ? input.fileId : id10();
    const ingestion: SpeckleIngestion = {
      id,
      projectId: input.projectId,
      modelId: model.id,
      fileId: input.fileId,
      fileName: upload.fileName,
      bytes: Buffer.from(stored.bytes),
      startedAt: Date.now(),
      status: 'queued',
      via,
      userId: ctx.token!.userId,
      updatedAt: now(),
      ...(this.outcomes.has(upload.fileName) ? { forced: this.outcomes.get(upload.fileName)! } : {}),
    };
    this.ingestions.set(id, ingestion);
    return ingestion;
  }

  /** Ingestion moves on with time, computed when read: queued, then processing, then its end. */
  private advance(ing: SpeckleIngestion): void {
    if (ing.status !== 'queued' && ing.status !== 'processing') return;
    ing.reads = (ing.reads ?? 0) + 1;
    const elapsed = Date.now() - ing.startedAt;
    if (elapsed < this.queuedMs && ing.reads > this.processingReads) return;
    if (elapsed < this.queuedMs + this.processingMs || ing.reads <= this.processingReads) {
      ing.status = 'processing';
      ing.progress = Math.max(0, Math.min(0.99, (elapsed - this.queuedMs) / Math.max(1, this.processingMs)));
      ing.updatedAt = now();
      return;
    }
    ing.updatedAt = now();
    ing.progress = 1;
    if (ing.forced) {
      ing.status = ing.forced.status;
      ing.reason = ing.forced.message ?? `forced ${ing.forced.status}`;
    } else {
      const ext = ing.fileName.split('.').pop()?.toLowerCase() ?? '';
      const problem =
        ext === 'ifc'
          ? ifcProblem(ing.bytes)
          : this.mode === '2.x'
            ? `Unsupported file type: .${ext} (this server imports IFC only)`
            : LIVE_IMPORTS.includes(ext)
              ? undefined
              : `Unsupported file type: .${ext}`;
      if (problem) {
        ing.status = 'failed';
        ing.reason = problem;
      } else {
        ing.status = 'success';
      }
    }
    if (ing.status === 'success') {
      const version: SpeckleVersion = {
        id: id10(),
        projectId: ing.projectId,
        modelId: ing.modelId,
        message: `Uploaded file: ${ing.fileName}`,
        sourceApplication: ing.fileName.split('.').pop()?.toUpperCase() ?? 'file',
        fileId: ing.fileId,
        fileName: ing.fileName,
        createdAt: now(),
      };
      this.versions.set(version.id, version);
      ing.versionId = version.id;
    }
  }

  private ingestionView(ing: SpeckleIngestion) {
    this.advance(ing);
    const base = { status: ing.status };
    const statusData =
      ing.status === 'queued'
        ? { __typename: 'ModelIngestionQueuedStatus', ...base, progressMessage: 'Waiting for an importer' }
        : ing.status === 'processing'
          ? { __typename: 'ModelIngestionProcessingStatus', ...base, progressMessage: 'Converting the file', progress: ing.progress ?? 0 }
          : ing.status === 'success'
            ? { __typename: 'ModelIngestionSuccessStatus', ...base, versionId: ing.versionId }
            : ing.status === 'failed'
              ? { __typename: 'ModelIngestionFailedStatus', ...base, errorReason: ing.reason, errorStacktrace: null }
              : ing.status === 'cancelled'
                ? { __typename: 'ModelIngestionCancelledStatus', ...base, cancellationMessage: ing.reason }
                : ing.status === 'invalidInput'
                  ? { __typename: 'ModelIngestionInvalidStatus', ...base, validationMessage: ing.reason, validationOptions: null }
                  : // timeout: the server's own time limit; it has no dedicated status type in the union.
                    { __typename: 'ModelIngestionFailedStatus', ...base, errorReason: ing.reason ?? 'The import timed out', errorStacktrace: null };
    return {
      id: ing.id,
      modelId: ing.modelId,
      projectId: ing.projectId,
      cancellationRequested: false,
      createdAt: new Date(ing.startedAt).toISOString(),
      updatedAt: ing.updatedAt,
      userId: ing.userId,
      handler: { __typename: 'ModelIngestionFileUploadHandler', handlerType: 'fileUpload', blobId: ing.fileId },
      sourceData: { fileName: ing.fileName, fileSizeBytes: ing.bytes.length },
      statusData,
    };
  }

  private fileUploadView(ing: SpeckleIngestion) {
    this.advance(ing);
    const convertedStatus = ing.status === 'queued' ? 0 : ing.status === 'processing' ? 1 : ing.status === 'success' ? 2 : 3;
    const model = this.models.get(ing.modelId);
    return {
      id: ing.id,
      projectId: ing.projectId,
      streamId: ing.projectId,
      modelName: model?.name ?? '',
      branchName: model?.name ?? '',
      modelId: ing.modelId,
      convertedStatus,
      convertedMessage: convertedStatus === 3 ? ing.reason : convertedStatus === 2 ? 'File imported' : null,
      convertedVersionId: ing.versionId ?? null,
      convertedCommitId: ing.versionId ?? null,
      userId: ing.userId,
      fileName: ing.fileName,
      fileType: ing.fileName.split('.').pop() ?? '',
      fileSize: ing.bytes.length,
      uploadComplete: true,
      uploadDate: new Date(ing.startedAt).toISOString(),
      convertedLastUpdate: ing.updatedAt,
      updatedAt: ing.updatedAt,
    };
  }
}

interface StartInput {
  projectId: string;
  modelId: string;
  fileId: string;
  etag: string;
}

/** Errors thrown by resolvers keep their code; anything else is an INTERNAL_SERVER_ERROR, as in Apollo. */
function withCode(e: GraphQLError): GraphQLError {
  if (e.extensions?.['code']) return e;
  const original = e.originalError as GraphQLError | undefined;
  const code = original?.extensions?.['code'] ?? 'INTERNAL_SERVER_ERROR';
  return new GraphQLError(e.message, { nodes: e.nodes, path: e.path, extensions: { ...e.extensions, code } });
}
