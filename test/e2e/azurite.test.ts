// Real storage: the Speckle chain end to end with Azurite (Microsoft's Azure Storage emulator, installed by
// `npm ci` as a devDependency and started here) behind the upload URLs, as on a Speckle server that keeps
// its blobs in Azure. generateUploadUrl hands out Service SAS URLs for Put Blob (sp=cw) and lists
// `x-ms-blob-type: BlockBlob` in additionalRequestHeaders; startFileIngestion compares the ETag with the
// one Azurite holds. Proves: the upload works only with those headers, Azure's `"0x…"` ETag reaches
// Speckle verbatim and is not taken for an MD5, a Content-MD5 from Azure is checked, nothing leaks.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CorruptionError } from '../../src/core/errors.js';
import { verifyStoredDigest } from '../../src/http/upload.js';
import { Azurite } from '../emulators/azure-storage.js';
import { SpeckleEmulator, type SpeckleEmulatorOptions, type SpeckleStorage } from '../emulators/speckle.js';
import { NODES, findLeaks, makeWorkspace, runAction } from '../support/action.js';
import * as samples from '../support/samples.js';
import { expectSpeckleHolds } from '../support/speckle.js';

const TOKEN = 'spk_azure_7c2e9b4d1f6a8c3e5b0d2f4a6c8e1b3d';
const PROJECT = 'p0ject1d';
const CONTAINER = 'speckle-uploads';
/** What a Speckle server on Azure lists in generateUploadUrl's additionalRequestHeaders. */
const AZURE_HEADERS = { 'x-ms-blob-type': 'BlockBlob' };
/** Each run takes about a second; the whole file (Azurite's start included) well under a minute. */
const E2E_TIMEOUT_MS = 25_000;

let azurite: Azurite;
let speckle: SpeckleEmulator | undefined;
let relay: http.Server | undefined;
/** Every upload URL handed out, so their SAS signatures can be searched for in what the runner shows. */
let issued: string[] = [];

beforeAll(async () => {
  azurite = await Azurite.start({ startTimeoutMs: 20_000 });
  await azurite.createContainer(CONTAINER);
}, 30_000);

afterAll(async () => {
  await azurite?.close();
}, 15_000);

afterEach(async () => {
  await speckle?.close();
  speckle = undefined;
  relay?.closeAllConnections();
  await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
  relay = undefined;
  issued = [];
});

/** Azurite as Speckle's storage; `via` rewrites the URL's origin (to send the upload through a relay). */
function azureStorage(via?: string): SpeckleStorage {
  const inner = azurite.speckleStorage(CONTAINER);
  return {
    presignPut: (key, headers, opts) => {
      const url = inner.presignPut(key, headers, opts);
      const out = via ? `${via}${new URL(url).pathname}${new URL(url).search}` : url;
      issued.push(out);
      return out;
    },
    stored: (key) => inner.stored(key),
  };
}

async function startSpeckle(opts: Partial<SpeckleEmulatorOptions> & { via?: string } = {}) {
  const { via, ...rest } = opts;
  speckle = new SpeckleEmulator({
    storage: azureStorage(via),
    mode: 'live',
    tokens: { [TOKEN]: {} },
    queuedMs: 20,
    processingMs: 40,
    additionalRequestHeaders: () => ({ ...AZURE_HEADERS }),
    ...rest,
  });
  await speckle.start();
}

function inputs(extra: Record<string, string> = {}) {
  return { provider: 'speckle', path: 'models/**/*.ifc', 'server-url': speckle!.url, token: TOKEN, 'project-id': PROJECT, ...extra };
}

/** The token and every SAS signature handed out: none may show in stdout, stderr, outputs or summary. */
function secrets(): string[] {
  const sigs = issued.map((u) => new URL(u).searchParams.get('sig')!);
  expect(sigs.length).toBeGreaterThan(0);
  return [TOKEN, ...sigs, ...sigs.map(encodeURIComponent)];
}

function ops(name: string) {
  return speckle!.operations.filter((o) => o.operationName === name);
}

const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');

/**
 * A relay in front of Azurite that forwards every request unchanged and alters one thing in the answer to
 * a Put Blob: its Content-MD5, as a storage path that corrupted the bytes would report it.
 */
async function startMd5Relay(): Promise<string> {
  const target = new URL(azurite.endpoint);
  relay = http.createServer((req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        const headers = { ...up.headers };
        if (req.method === 'PUT' && headers['content-md5']) headers['content-md5'] = md5b64('other bytes');
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => relay!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(relay!.address() as AddressInfo).port}`;
}

describe('Azurite (real Azure Blob storage)', () => {
  it('refuses a Put Blob without x-ms-blob-type; with it, answers an opaque "0x…" ETag and the Content-MD5 of the bytes', async () => {
    const body = Buffer.from(samples.ifc('probe.ifc'));
    const key = `${PROJECT}/uploads/probe/probe model.ifc`;
    const url = azurite.presignPut(CONTAINER, key, 60);
    expect(new URL(url).searchParams.get('sp')).toBe('cw');

    // The same SAS URL, the same bytes: without the header Azure storage refuses the write ...
    const without = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(without.status).toBe(400);
    expect(await azurite.properties(CONTAINER, key)).toBeUndefined();

    // ... with it, the blob is written.
    const put = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', ...AZURE_HEADERS } });
    expect(put.status).toBe(201);
    const etag = put.headers.get('etag')!;
    expect(etag).toMatch(/^"0x[0-9A-F]+"$/);
    expect(put.headers.get('content-md5')).toBe(md5b64(body));
    expect(await azurite.properties(CONTAINER, key)).toMatchObject({ etag, contentMd5: md5b64(body), size: body.length, blobType: 'BlockBlob' });
    expect((await azurite.read(CONTAINER, key))!.equals(body)).toBe(true);

    // A SAS is signed over its permissions: one edited to another permission is refused.
    const edited = url.replace('sp=cw', 'sp=rw');
    expect((await fetch(edited, { method: 'PUT', body, headers: AZURE_HEADERS })).status).toBe(403);

    // What the action does with that answer (src/http/upload.ts): the "0x…" ETag is not an MD5 and is not
    // checked as one; the Content-MD5 is, and a different one is corruption.
    const answered = { etag, 'content-md5': put.headers.get('content-md5')! };
    const md5Hex = createHash('md5').update(body).digest('hex');
    // Azure's ETag is no MD5 (no evidence either way); its Content-MD5 is.
    expect(verifyStoredDigest(answered, md5Hex, 'probe')).toEqual(['content-md5']);
    expect(verifyStoredDigest({ etag }, md5Hex, 'probe')).toEqual([]);
    expect(() => verifyStoredDigest({ ...answered, 'content-md5': md5b64('other bytes') }, md5Hex, 'probe')).toThrow(CorruptionError);
  });
});

describe.each(NODES)('Speckle on Azure storage, end to end ($name)', ({ bin }) => {
  it('uploads with x-ms-blob-type through SAS URLs; Azurite holds the exact bytes; Speckle gets the "0x…" ETag verbatim and makes a version', async () => {
    await startSpeckle();
    const files = {
      'models/Site/Tower A.ifc': samples.ifc('Tower A.ifc', 'IFC4', 3),
      // A few MB: several chunks of the streamed body.
      'models/infra/Bridge-01.ifc': samples.ifc('Bridge-01.ifc', 'IFC4X3', 60_000),
    };
    const ws = await makeWorkspace(files);
    const run = await runAction(inputs(), { workspace: ws, node: bin, timeoutMs: 20_000 });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    await expectSpeckleHolds(expect, speckle!, ws, run);
    expect(findLeaks(run, secrets())).toEqual([]);

    const versionIds = JSON.parse(run.outputs['version-ids']!) as string[];
    expect(versionIds).toHaveLength(2);
    expect(run.outputs['succeeded-count']).toBe('2');
    expect(speckle!.versions.size).toBe(2);

    const starts = ops('StartFileIngestion');
    expect(starts).toHaveLength(2);
    for (const r of run.results) {
      expect(r.status).toBe('succeeded');
      expect(versionIds).toContain(r.versionId);
      const version = speckle!.versions.get(r.versionId)!;
      const upload = speckle!.uploads.get(version.fileId)!;
      expect(upload.additionalRequestHeaders).toEqual(AZURE_HEADERS);

      // Azurite holds the file byte for byte, as a block blob.
      const local = await readFile(path.join(ws, r.path));
      const stored = (await azurite.read(CONTAINER, upload.key))!;
      expect(stored.length).toBe(local.length);
      expect(stored.equals(local)).toBe(true);
      const props = (await azurite.properties(CONTAINER, upload.key))!;
      expect(props).toMatchObject({ blobType: 'BlockBlob', size: local.length, contentMd5: md5b64(local) });

      // The ETag Speckle received is Azure's, verbatim (quotes included), not an MD5 of anything.
      expect(props.etag).toMatch(/^"0x[0-9A-F]+"$/);
      const start = starts.find((s) => (s.variables['input'] as { fileId: string }).fileId === version.fileId)!;
      expect((start.variables['input'] as { etag: string }).etag).toBe(props.etag);
      expect(start.errors).toBeUndefined();
    }
    expect(issued).toHaveLength(2);
    for (const u of issued) expect(new URL(u).searchParams.get('sp')).toBe('cw');
  }, E2E_TIMEOUT_MS);

  it('without x-ms-blob-type (a server that lists no headers) Azurite refuses the upload: no blob, no ingestion', async () => {
    await startSpeckle({ additionalRequestHeaders: () => ({}) });
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs(), { workspace: ws, node: bin, timeoutMs: 20_000 });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle!, ws, run);
    expect(findLeaks(run, secrets())).toEqual([]);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { message: expect.stringMatching(/storage refused the upload: HTTP 400/) } });
    const [upload] = [...speckle!.uploads.values()];
    expect(await azurite.properties(CONTAINER, upload!.key)).toBeUndefined();
    expect(ops('StartFileIngestion')).toHaveLength(0);
    expect(speckle!.versions.size).toBe(0);
  }, E2E_TIMEOUT_MS);

  it('a Content-MD5 from Azure that differs from the bytes sent fails the file as corrupted, before Speckle starts an ingestion', async () => {
    await startSpeckle({ via: await startMd5Relay() });
    const ws = await makeWorkspace({ 'models/tower.ifc': samples.ifc() });
    const run = await runAction(inputs(), { workspace: ws, node: bin, timeoutMs: 20_000 });
    expect(run.exitCode).toBe(1);
    await expectSpeckleHolds(expect, speckle!, ws, run);
    expect(findLeaks(run, secrets())).toEqual([]);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'corrupted', message: expect.stringMatching(/Content-MD5/) } });
    expect(ops('StartFileIngestion')).toHaveLength(0);
    expect(speckle!.versions.size).toBe(0);
  }, E2E_TIMEOUT_MS);
});
