// Every GraphQL document the Speckle provider sends, each with the server generation it is written for and
// whether it may be sent again after a 5xx or a dropped connection (a 429 is refused before any work, so
// the HTTP client repeats that whatever this says). test/unit/speckle-operations.test.ts validates each
// document against the real schema: `live` ones against the public SDL plus the ingestion-API supplement
// (app.speckle.systems), `2.x` ones against the public SDL alone, `both` against both.

export interface SpeckleOperation {
  /** The operation's name, as sent. */
  name: string;
  document: string;
  /** The server generations whose schema this document must validate against. */
  servers: 'live' | '2.x' | 'both';
  idempotent: boolean;
}

/**
 * Read once in open(): the blob size limit, the caller's role on the project (a missing project fails here,
 * before any upload), and whether the server has the ingestion API. Introspection of two types answers the
 * last question without sending an operation the server might reject.
 */
export const serverCapabilities: SpeckleOperation = {
  name: 'ServerCapabilities',
  servers: 'both',
  idempotent: true,
  document: `query ServerCapabilities($projectId: String!) {
  serverInfo { version configuration { blobSizeLimitBytes } }
  project(id: $projectId) { id name role }
  fileUploadMutationsType: __type(name: "FileUploadMutations") { fields { name } }
  projectType: __type(name: "Project") { fields { name } }
}`,
};

/**
 * ServerCapabilities without the introspection, for servers that refuse introspection: which generation the
 * server is is then asked with IngestionApiProbe.
 */
export const serverAndProject: SpeckleOperation = {
  name: 'ServerAndProject',
  servers: 'both',
  idempotent: true,
  document: `query ServerAndProject($projectId: String!) {
  serverInfo { version configuration { blobSizeLimitBytes } }
  project(id: $projectId) { id name role }
}`,
};

/**
 * For servers that refuse introspection, asked once when the session opens: does project.ingestion exist? A
 * query for an ingestion that does not exist: a server with the ingestion API answers null (or not found), a
 * 2.x server rejects the field as invalid. Read-only, so a dry run asks it too.
 */
export const ingestionApiProbe: SpeckleOperation = {
  name: 'IngestionApiProbe',
  servers: 'live',
  idempotent: true,
  document: `query IngestionApiProbe($projectId: String!, $ingestionId: ID!) {
  project(id: $projectId) { ingestion(id: $ingestionId) { id } }
}`,
};

/**
 * Mints a presigned URL and a fileId. Repeating it only mints another URL that nobody uses (and a fileId
 * nobody starts), which storage forgets when it expires: safe to retry. The live server also answers the
 * headers storage requires on the PUT (`additionalRequestHeaders`); 2.x has no such field.
 */
export const generateUploadUrlLive: SpeckleOperation = {
  name: 'GenerateFileUploadUrl',
  servers: 'live',
  idempotent: true,
  document: `mutation GenerateFileUploadUrl($input: GenerateFileUploadUrlInput!) {
  fileUploadMutations {
    generateUploadUrl(input: $input) { url fileId additionalRequestHeaders { header value } }
  }
}`,
};

export const generateUploadUrlLegacy: SpeckleOperation = {
  name: 'GenerateFileUploadUrlLegacy',
  servers: '2.x',
  idempotent: true,
  document: `mutation GenerateFileUploadUrlLegacy($input: GenerateFileUploadUrlInput!) {
  fileUploadMutations { generateUploadUrl(input: $input) { url fileId } }
}`,
};

/** A query: repeating it is harmless. A missing model answers an error (BRANCH_NOT_FOUND), not null. */
export const modelByName: SpeckleOperation = {
  name: 'ModelByName',
  servers: 'both',
  idempotent: true,
  document: `query ModelByName($projectId: String!, $name: String!) {
  project(id: $projectId) { modelByName(name: $name) { id name } }
}`,
};

/**
 * Creates a model. Not repeated blindly: after a 5xx or a dropped connection the model may exist, and a
 * second create would fail on the taken name. The provider instead looks the name up again and creates
 * only when it is still missing, which reaches the same end without a duplicate.
 */
export const createModel: SpeckleOperation = {
  name: 'CreateModel',
  servers: 'both',
  idempotent: false,
  document: `mutation CreateModel($input: CreateModelInput!) {
  modelMutations { create(input: $input) { id name } }
}`,
};

/**
 * Starts the ingestion that ends in a new version. Not idempotent: the server registers the fileId once and
 * refuses a second start of it (ALREADY_REGISTERED_BLOB_ERROR), so a blind repeat after the first went
 * through fails instead of following the ingestion that exists. After an ambiguous failure the provider
 * looks the ingestion of its fileId up (`model.latestIngestion`, then `model.ingestionHistory`) instead.
 */
export const startFileIngestion: SpeckleOperation = {
  name: 'StartFileIngestion',
  servers: 'live',
  idempotent: false,
  document: `mutation StartFileIngestion($input: StartFileImportInput!) {
  fileUploadMutations {
    startFileIngestion(input: $input) {
      id
      modelId
      statusData { __typename ... on HasModelIngestionStatus { status } }
    }
  }
}`,
};

/** After an ambiguous failure of startFileIngestion: did the server take our fileId? A query. */
export const latestIngestion: SpeckleOperation = {
  name: 'LatestIngestion',
  servers: 'live',
  idempotent: true,
  document: `query LatestIngestion($projectId: String!, $modelId: String!) {
  project(id: $projectId) {
    model(id: $modelId) {
      latestIngestion {
        id
        handler { __typename ... on ModelIngestionFileUploadHandler { blobId } }
      }
    }
  }
}`,
};

/**
 * After an ambiguous failure of startFileIngestion, when the model's latest ingestion is another one (another
 * file or run started one since): the model's ingestions, page by page, searched for our fileId. A query.
 * The field is on app.speckle.systems (see test/fixtures/speckle-live-extra); a server without it answers a
 * validation error, and the provider then knows only what latestIngestion told it.
 */
export const ingestionHistory: SpeckleOperation = {
  name: 'IngestionHistory',
  servers: 'live',
  idempotent: true,
  document: `query IngestionHistory($projectId: String!, $modelId: String!, $cursor: String) {
  project(id: $projectId) {
    model(id: $modelId) {
      ingestionHistory(input: { limit: 50, cursor: $cursor }) {
        cursor
        items {
          id
          handler { __typename ... on ModelIngestionFileUploadHandler { blobId } }
        }
      }
    }
  }
}`,
};

/**
 * The status of every ingestion the run waits for, in one request: one aliased field per ingestion (`i0`,
 * `i1`, …), up to INGESTIONS_PER_STATUS_READ of them (IngestionWatcher sends as many documents as it needs).
 * An ingestion the server does not know answers null; an error on one answers with a path naming its alias.
 * `status` is read through the HasModelIngestionStatus interface (every member of the union implements it);
 * the details through each status type.
 */
export function ingestionStatuses(count: number): SpeckleOperation {
  const ids = Array.from({ length: count }, (_, i) => i);
  return {
    name: 'IngestionStatus',
    servers: 'live',
    idempotent: true,
    document: `query IngestionStatus($projectId: String!${ids.map((i) => `, $id${i}: ID!`).join('')}) {
  project(id: $projectId) {
${ids.map((i) => `    i${i}: ingestion(id: $id${i}) { ${INGESTION_STATE} }`).join('\n')}
  }
}`,
  };
}

/** What each alias of IngestionStatus reads. */
const INGESTION_STATE =
  'id modelId statusData { __typename ... on HasModelIngestionStatus { status } ... on HasProgressMessage { progressMessage } ... on ModelIngestionProcessingStatus { progress } ... on ModelIngestionSuccessStatus { versionId } ... on ModelIngestionFailedStatus { errorReason } ... on ModelIngestionCancelledStatus { cancellationMessage } ... on ModelIngestionInvalidStatus { validationMessage } }';

/** Ingestions asked for in one IngestionStatus request. */
export const INGESTIONS_PER_STATUS_READ = 50;

/**
 * 2.x: registers the uploaded file and queues its import. Not idempotent, for the same reason as
 * startFileIngestion; after an ambiguous failure the provider looks for its fileId in the model's uploads.
 */
export const startFileImport: SpeckleOperation = {
  name: 'StartFileImport',
  servers: '2.x',
  idempotent: false,
  document: `mutation StartFileImport($input: StartFileImportInput!) {
  fileUploadMutations {
    startFileImport(input: $input) { id modelId convertedStatus convertedMessage convertedVersionId }
  }
}`,
};

/**
 * 2.x: the model's file uploads, newest first, paged. Polled until our upload's `convertedStatus` is 2
 * (success, with `convertedVersionId`) or 3 (error, with `convertedMessage`). A query.
 */
export const modelUploads: SpeckleOperation = {
  name: 'ModelUploads',
  servers: '2.x',
  idempotent: true,
  document: `query ModelUploads($projectId: String!, $modelId: String!, $cursor: String) {
  project(id: $projectId) {
    model(id: $modelId) {
      uploads(input: { limit: 25, cursor: $cursor }) {
        cursor
        items { id convertedStatus convertedMessage convertedVersionId }
      }
    }
  }
}`,
};

/**
 * 2.x: the newest uploads of several models in one request, one aliased `model` field each (`m0`, `m1`, …, up
 * to MODELS_PER_UPLOADS_READ): what the file imports waiting on those models are read from, once a round for all
 * of them. A model whose waiting import is not on its first page is paged on with ModelUploads.
 */
export function modelsUploads(count: number): SpeckleOperation {
  const ids = Array.from({ length: count }, (_, i) => i);
  return {
    name: 'ModelsUploads',
    servers: '2.x',
    idempotent: true,
    document: `query ModelsUploads($projectId: String!${ids.map((i) => `, $m${i}: String!`).join('')}) {
  project(id: $projectId) {
${ids.map((i) => `    m${i}: model(id: $m${i}) { uploads(input: { limit: 25 }) { cursor items { id convertedStatus convertedMessage convertedVersionId } } }`).join('\n')}
  }
}`,
  };
}

/** Models asked for in one ModelsUploads request. */
export const MODELS_PER_UPLOADS_READ = 25;

/**
 * Writes the version message (commit, ref, run, and the file's SHA-256 that skip-unchanged reads back) for
 * traceability: StartFileImportInput has no message field, so this is the one place a version can carry it.
 * Setting the same message twice is harmless.
 */
export const updateVersionMessage: SpeckleOperation = {
  name: 'UpdateVersionMessage',
  servers: 'both',
  idempotent: true,
  document: `mutation UpdateVersionMessage($input: UpdateVersionInput!) {
  versionMutations { update(input: $input) { id message } }
}`,
};

/**
 * skip-unchanged, with model-id: the model's latest version and its message, where the provider wrote the file's
 * SHA-256 (updateVersionMessage). A query.
 */
export const latestVersionOfModel: SpeckleOperation = {
  name: 'LatestVersionOfModel',
  servers: 'both',
  idempotent: true,
  document: `query LatestVersionOfModel($projectId: String!, $modelId: String!) {
  project(id: $projectId) {
    model(id: $modelId) { id name versions(limit: 1) { items { id message } } }
  }
}`,
};

/**
 * skip-unchanged, with the model template: the latest version of every model the run targets, in one query
 * (`count` names a request). Each name is an alias of `project.models` filtered by its `search` (names that
 * contain it; the provider keeps the exact name): `modelByName` cannot be batched, as a missing model is an
 * error on a non-null field that would null the whole answer. A query.
 */
export function latestVersionsByName(count: number): SpeckleOperation {
  const names = Array.from({ length: count }, (_, i) => i);
  return {
    name: 'LatestVersionsByName',
    servers: 'both',
    idempotent: true,
    document: `query LatestVersionsByName($projectId: String!${names.map((i) => `, $n${i}: String!`).join('')}) {
  project(id: $projectId) {
${names.map((i) => `    m${i}: models(limit: 100, filter: { search: $n${i} }) { totalCount items { id name versions(limit: 1) { items { id message } } } }`).join('\n')}
  }
}`,
  };
}

export const SPECKLE_OPERATIONS: readonly SpeckleOperation[] = [
  latestVersionOfModel,
  latestVersionsByName(2),
  serverCapabilities,
  serverAndProject,
  ingestionApiProbe,
  generateUploadUrlLive,
  generateUploadUrlLegacy,
  modelByName,
  createModel,
  startFileIngestion,
  latestIngestion,
  ingestionHistory,
  ingestionStatuses(2),
  startFileImport,
  modelUploads,
  modelsUploads(2),
  updateVersionMessage,
];
