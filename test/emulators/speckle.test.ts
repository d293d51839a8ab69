// The Speckle emulator on its own: schema-validated GraphQL, the token and scope checks, the upload URL with
// its signed extra headers, the verbatim ETag check, lowercased model names, asynchronous ingestion in both
// server generations, and rate limiting.
import type { GraphQLObjectType } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from './blob.js';
import { SpeckleEmulator, loadSpeckleSchema, type SpeckleMode } from './speckle.js';
import * as samples from '../support/samples.js';

const TOKEN = 'spk_0123456789abcdef0123456789abcdef01';
const PROJECT = 'p0ject1d';

let blob: BlobStore;
let emu: SpeckleEmulator;

async function start(mode: SpeckleMode = 'live', extra: Partial<ConstructorParameters<typeof SpeckleEmulator>[0]> = {}) {
  blob = new BlobStore();
  await blob.start();
  emu = new SpeckleEmulator({ blob, mode, tokens: { [TOKEN]: {} }, queuedMs: 20, processingMs: 40, ...extra });
  await emu.start();
}

afterEach(async () => {
  await emu?.close();
  await blob?.close();
});

async function gql(query: string, variables: Record<string, unknown> = {}, token: string | undefined = TOKEN) {
  const res = await fetch(`${emu.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[]; error?: string } };
}

const GENERATE = `mutation($input: GenerateFileUploadUrlInput!) { fileUploadMutations { generateUploadUrl(input: $input) { url fileId additionalRequestHeaders { header value } } } }`;
const GENERATE_2X = `mutation($input: GenerateFileUploadUrlInput!) { fileUploadMutations { generateUploadUrl(input: $input) { url fileId } } }`;
const CREATE = `mutation($input: CreateModelInput!) { modelMutations { create(input: $input) { id name } } }`;
const START = `mutation($input: StartFileImportInput!) { fileUploadMutations { startFileIngestion(input: $input) { id statusData { ... on HasModelIngestionStatus { status } } } } }`;
const STATUS = `query($p: String!, $id: ID!) { project(id: $p) { ingestion(id: $id) { statusData { __typename ... on HasModelIngestionStatus { status } ... on ModelIngestionSuccessStatus { versionId } ... on ModelIngestionFailedStatus { errorReason } ... on ModelIngestionCancelledStatus { cancellationMessage } ... on ModelIngestionInvalidStatus { validationMessage } } } } }`;

/** generateUploadUrl → PUT with the extra headers → the stored ETag. */
async function upload(fileName: string, bytes: string | Buffer, legacy = false) {
  const r = await gql(legacy ? GENERATE_2X : GENERATE, { input: { projectId: PROJECT, fileName } });
  expect(r.body.errors).toBeUndefined();
  const { url, fileId, additionalRequestHeaders } = r.body.data.fileUploadMutations.generateUploadUrl;
  const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
  for (const { header, value } of additionalRequestHeaders ?? []) headers[header] = value;
  const put = await fetch(url, { method: 'PUT', headers, body: bytes });
  expect(put.status).toBe(200);
  return { fileId: fileId as string, etag: put.headers.get('etag')!, url: url as string };
}

async function newModel(name: string) {
  const r = await gql(CREATE, { input: { projectId: PROJECT, name } });
  return r.body.data.modelMutations.create as { id: string; name: string };
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 15));
  }
}

describe('schema', () => {
  it('builds from the reference SDL: live has the ingestion API, 2.x does not', () => {
    const live = loadSpeckleSchema('live');
    const legacy = loadSpeckleSchema('2.x');
    const fields = (schema: typeof live) => Object.keys((schema.getType('FileUploadMutations') as GraphQLObjectType).getFields());
    expect(fields(live)).toContain('startFileIngestion');
    expect(fields(legacy)).not.toContain('startFileIngestion');
    expect(fields(legacy)).toContain('startFileImport');
    expect(live.getType('ModelIngestionStatusData')).toBeDefined();
    expect(legacy.getType('ModelIngestionStatusData')).toBeUndefined();
  });
});

describe('requests the server refuses', () => {
  it('rejects an invalid operation with HTTP 400 GRAPHQL_VALIDATION_FAILED', async () => {
    await start('live');
    const r = await gql('query { serverInfo { nosuchfield } }');
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(r.body.errors?.[0]?.message).toMatch(/Cannot query field "nosuchfield" on type "ServerInfo"/);
  });

  it('2.x: startFileIngestion and additionalRequestHeaders fail validation', async () => {
    await start('2.x');
    const a = await gql(START, { input: { projectId: PROJECT, modelId: 'm', fileId: 'f', etag: '"x"' } });
    expect(a.status).toBe(400);
    expect(a.body.errors?.[0]?.message).toMatch(/startFileIngestion/);
    const b = await gql(GENERATE, { input: { projectId: PROJECT, fileName: 'a.ifc' } });
    expect(b.status).toBe(400);
    expect(b.body.errors?.[0]?.message).toMatch(/additionalRequestHeaders/);
  });

  it('answers an invalid token with HTTP 403 before GraphQL runs', async () => {
    await start();
    const r = await gql('query { serverInfo { version } }', {}, 'not-a-token');
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'Your token is not valid.' });
    expect(emu.operations).toHaveLength(0);
  });

  it('FORBIDDEN without the streams:write scope, and for a reviewer', async () => {
    await start();
    emu.addToken('readonly', { scopes: ['streams:read'] });
    emu.addToken('reviewer', { role: 'stream:reviewer' });
    const a = await gql(GENERATE, { input: { projectId: PROJECT, fileName: 'a.ifc' } }, 'readonly');
    expect(a.status).toBe(200);
    expect(a.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('streams:write'), extensions: { code: 'FORBIDDEN' } });
    const b = await gql(CREATE, { input: { projectId: PROJECT, name: 'x' } }, 'reviewer');
    expect(b.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const c = await gql('query($p: String!) { project(id: $p) { id role } }', { p: PROJECT }, 'reviewer');
    expect(c.body.data.project.role).toBe('stream:reviewer');
  });

  it('a missing project is STREAM_NOT_FOUND, a missing model an error rather than null', async () => {
    await start();
    const a = await gql('query { project(id: "nope") { id } }');
    expect(a.body.errors?.[0]?.extensions?.code).toBe('STREAM_NOT_FOUND');
    const b = await gql(`query($p: String!) { project(id: $p) { modelByName(name: "ghost") { id } } }`, { p: PROJECT });
    expect(b.body.errors?.[0]).toMatchObject({ path: ['project', 'modelByName'], extensions: { code: 'BRANCH_NOT_FOUND' } });
  });

  it('answers 429 with a fractional Retry-After while rate limited', async () => {
    await start();
    emu.limitRate(2, '0.25');
    expect((await gql('query { serverInfo { version } }')).status).toBe(429);
    const second = await gql('query { serverInfo { version } }');
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('0.25');
    expect((await gql('query { serverInfo { version } }')).status).toBe(200);
    expect(emu.rateLimit.answered).toBe(2);
  });
});

describe('latency', () => {
  it('is off by default; with latencyMs every GraphQL request waits that long before it is handled', async () => {
    await start();
    expect(emu.latencyMs).toBe(0);
    await emu.close();
    await blob.close();
    await start('live', { latencyMs: 200 });
    const sent = performance.now();
    const r = await gql('query { serverInfo { version } }');
    // A lower bound only (timers never fire early by more than their rounding): a loaded machine makes it later.
    expect(performance.now() - sent).toBeGreaterThanOrEqual(190);
    expect(r.status).toBe(200);
    expect(r.body.data.serverInfo.version).toBe('3.0.0-emulator');
  });
});

describe('models', () => {
  it('stores names lowercased, finds them case-insensitively, refuses duplicates and bad names', async () => {
    await start();
    const m = await newModel('Site/Tower A');
    expect(m.name).toBe('site/tower a');
    const found = await gql(`query($p: String!) { project(id: $p) { modelByName(name: "SITE/Tower A") { id name displayName } } }`, { p: PROJECT });
    expect(found.body.data.project.modelByName).toEqual({ id: m.id, name: 'site/tower a', displayName: 'tower a' });
    const dup = await gql(CREATE, { input: { projectId: PROJECT, name: 'site/TOWER A' } });
    expect(dup.body.errors?.[0]?.message).toMatch(/already exists/);
    for (const bad of ['#x', 'a//b', '/a', 'a,b']) {
      const r = await gql(CREATE, { input: { projectId: PROJECT, name: bad } });
      expect(r.body.errors?.[0]?.extensions?.code, bad).toBe('BRANCH_CREATE_ERROR');
    }
  });
});

describe('live ingestion', () => {
  it('requires the additional headers on the PUT', async () => {
    await start();
    const r = await gql(GENERATE, { input: { projectId: PROJECT, fileName: 'a.ifc' } });
    const { url, additionalRequestHeaders } = r.body.data.fileUploadMutations.generateUploadUrl;
    expect(additionalRequestHeaders).toEqual([{ header: 'x-amz-meta-speckle-file-id', value: expect.any(String) }]);
    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: samples.ifc() });
    expect(put.status).toBe(403);
  });

  it('checks the ETag verbatim, then queues, processes and makes a version', async () => {
    // Windows long enough that a poll lands in each even on a loaded machine (a 40 ms one was missed under load).
    await start('live', { queuedMs: 300, processingMs: 1_500 });
    const model = await newModel('tower');
    const { fileId, etag } = await upload('tower.ifc', samples.ifc());
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const unquoted = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag: etag.replace(/"/g, '') } });
    expect(unquoted.body.errors?.[0]?.message).toMatch(/etag/i);

    const started = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } });
    expect(started.body.errors).toBeUndefined();
    const { id, statusData } = started.body.data.fileUploadMutations.startFileIngestion;
    expect(statusData.status).toBe('queued');
    const seen = new Set<string>();
    const final = await until(
      () => gql(STATUS, { p: PROJECT, id }),
      (r) => {
        seen.add(r.body.data.project.ingestion.statusData.status);
        return r.body.data.project.ingestion.statusData.status === 'success';
      },
    );
    expect(seen).toContain('processing');
    const versionId = final.body.data.project.ingestion.statusData.versionId;
    expect(emu.versions.get(versionId)).toMatchObject({ modelId: model.id, fileId, fileName: 'tower.ifc' });
  });

  it('registers a fileId once: a second start is refused as the server does (AlreadyRegisteredBlobError)', async () => {
    await start();
    const model = await newModel('tower');
    const { fileId, etag } = await upload('tower.ifc', samples.ifc());
    // A wrong ETag leaves the upload unregistered (the server's order), so the right one still starts it.
    const wrong = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag: '"0000"' } });
    expect(wrong.body.errors?.[0]?.message).toMatch(/etag/i);
    const first = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } });
    expect(first.body.errors).toBeUndefined();
    const second = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } });
    expect(second.status).toBe(200);
    expect(second.body.errors).toEqual([expect.objectContaining({ message: 'Blob already registered and completed', extensions: expect.objectContaining({ code: 'ALREADY_REGISTERED_BLOB_ERROR' }) })]);
    expect([...emu.ingestions.values()].filter((i) => i.fileId === fileId)).toHaveLength(1);
    // The model's ingestion history lists it (newest first), with the fileId as the handler's blobId.
    const other = emu.addForeignIngestion(model.id);
    const history = await gql(`query($p: String!, $m: String!) { project(id: $p) { model(id: $m) { latestIngestion { id } ingestionHistory(input: { limit: 1 }) { cursor items { id handler { ... on ModelIngestionFileUploadHandler { blobId } } } } } } }`, { p: PROJECT, m: model.id });
    const m = history.body.data.project.model;
    expect(m.latestIngestion.id).toBe(other.id);
    expect(m.ingestionHistory.items).toEqual([{ id: other.id, handler: { blobId: other.fileId } }]);
    const page2 = await gql(`query($p: String!, $m: String!, $c: String) { project(id: $p) { model(id: $m) { ingestionHistory(input: { limit: 1, cursor: $c }) { cursor items { handler { ... on ModelIngestionFileUploadHandler { blobId } } } } } } }`, { p: PROJECT, m: model.id, c: m.ingestionHistory.cursor });
    expect(page2.body.data.project.model.ingestionHistory).toEqual({ cursor: null, items: [{ handler: { blobId: fileId } }] });
  });

  it('2.x: a second startFileImport of a fileId is refused too; a start for a missing model still registers the upload', async () => {
    await start('2.x');
    const model = await newModel('tower');
    const IMPORT = `mutation($input: StartFileImportInput!) { fileUploadMutations { startFileImport(input: $input) { id } } }`;
    const { fileId, etag } = await upload('tower.ifc', samples.ifc(), true);
    expect((await gql(IMPORT, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } })).body.errors).toBeUndefined();
    expect((await gql(IMPORT, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } })).body.errors?.[0]?.extensions?.code).toBe('ALREADY_REGISTERED_BLOB_ERROR');
    const b = await upload('b.ifc', samples.ifc(), true);
    expect((await gql(IMPORT, { input: { projectId: PROJECT, modelId: 'nomodel', fileId: b.fileId, etag: b.etag } })).body.errors?.[0]?.extensions?.code).toBe('BRANCH_NOT_FOUND');
    expect((await gql(IMPORT, { input: { projectId: PROJECT, modelId: model.id, fileId: b.fileId, etag: b.etag } })).body.errors?.[0]?.extensions?.code).toBe('ALREADY_REGISTERED_BLOB_ERROR');
  });

  it('refuses a file name without an extension at generateUploadUrl, in the server\'s words', async () => {
    await start();
    for (const fileName of ['README', 'model.']) {
      const r = await gql(GENERATE, { input: { projectId: PROJECT, fileName } });
      expect(r.body.errors, fileName).toEqual([expect.objectContaining({ message: 'File name must have a valid extension', extensions: expect.objectContaining({ code: 'USER_INPUT_ERROR' }) })]);
    }
    expect(emu.uploads.size).toBe(0);
    expect((await gql(GENERATE, { input: { projectId: PROJECT, fileName: 'model.ifc' } })).body.errors).toBeUndefined();
  });

  it('fails bytes that are not IFC with a reason, and forces other outcomes', async () => {
    await start();
    const model = await newModel('x');
    emu.outcomes.set('slow.ifc', { status: 'cancelled', message: 'Cancelled by an admin' });
    emu.outcomes.set('odd.ifc', { status: 'invalidInput', message: 'Pick a unit' });
    emu.outcomes.set('huge.ifc', { status: 'timeout' });
    const cases: [string, string, string, RegExp][] = [
      ['broken.ifc', 'ISO-10303-21;\nHEADER;\nFILE_SCHEMA((\'AP214\'));\nENDSEC;', 'failed', /FILE_SCHEMA/],
      ['notes.ifc', 'hello', 'failed', /ISO-10303-21/],
      ['slow.ifc', samples.ifc(), 'cancelled', /admin/],
      ['odd.ifc', samples.ifc(), 'invalidInput', /unit/],
      ['huge.ifc', samples.ifc(), 'timeout', /timeout/],
    ];
    for (const [name, bytes, status, reason] of cases) {
      const { fileId, etag } = await upload(name, bytes);
      const started = await gql(START, { input: { projectId: PROJECT, modelId: model.id, fileId, etag } });
      const id = started.body.data.fileUploadMutations.startFileIngestion.id;
      const r = await until(() => gql(STATUS, { p: PROJECT, id }), (x) => !['queued', 'processing'].includes(x.body.data.project.ingestion.statusData.status));
      const s = r.body.data.project.ingestion.statusData;
      expect(s.status, name).toBe(status);
      expect(s.errorReason ?? s.cancellationMessage ?? s.validationMessage, name).toMatch(reason);
    }
    expect(emu.versions.size).toBe(0);
  });
});

describe('2.x file import', () => {
  it('startFileImport, then the model uploads reach convertedStatus 2 with a version', async () => {
    await start('2.x');
    const model = await newModel('tower');
    const { fileId, etag } = await upload('tower.ifc', samples.ifc(), true);
    const started = await gql(
      `mutation($input: StartFileImportInput!) { fileUploadMutations { startFileImport(input: $input) { id convertedStatus } } }`,
      { input: { projectId: PROJECT, modelId: model.id, fileId, etag } },
    );
    expect(started.body.data.fileUploadMutations.startFileImport).toEqual({ id: fileId, convertedStatus: 0 });
    const r = await until(
      () => gql(`query($p: String!, $m: String!) { project(id: $p) { model(id: $m) { uploads(input: { limit: 5 }) { items { id convertedStatus convertedVersionId convertedMessage } } } } }`, { p: PROJECT, m: model.id }),
      (x) => x.body.data.project.model.uploads.items[0].convertedStatus >= 2,
    );
    const item = r.body.data.project.model.uploads.items[0];
    expect(item).toMatchObject({ id: fileId, convertedStatus: 2 });
    expect(emu.versions.get(item.convertedVersionId)?.modelId).toBe(model.id);
  });
});
