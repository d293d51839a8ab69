import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArcnmEmulator, SlidingWindowLimit, arcnmRateLimited, checkMagicBytes } from './arcnm.js';
import { BlobStore } from './blob.js';

const API_KEY = 'ak_test_0123456789';
const PDF = Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n');

let blob: BlobStore;
let arcnm: ArcnmEmulator;
let base: string;

beforeEach(async () => {
  blob = new BlobStore();
  arcnm = new ArcnmEmulator({ blob, apiKey: API_KEY });
  base = await arcnm.start();
  arcnm.addPartRevision('part-1', 'rev-A');
});
afterEach(async () => {
  await arcnm.close();
  await blob.close();
});

interface ApiResult {
  status: number;
  headers: Headers;
  json: any;
}

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResult> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'X-API-Key': API_KEY, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    redirect: 'manual',
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

async function upload(presigned: any, bytes: Buffer): Promise<Response> {
  if (presigned.method === 'PUT') {
    return fetch(presigned.url, { method: 'PUT', headers: presigned.headers, body: bytes });
  }
  const fd = new FormData();
  for (const [k, v] of Object.entries(presigned.fields as Record<string, string>)) fd.append(k, v);
  fd.append('file', new Blob([new Uint8Array(bytes)]), 'file');
  return fetch(presigned.url, { method: 'POST', body: fd });
}

function expectEnvelope(r: ApiResult, status: number, code: string): void {
  expect(r.status).toBe(status);
  expect(r.json.error.code).toBe(code);
  expect(typeof r.json.error.message).toBe('string');
  expect(r.json.error.details).toBeTypeOf('object');
  expect(r.json.error.doc_url).toMatch(/^https:\/\/arcnm\.io\/docs\/errors/);
  expect(r.json.request_id).toBe(r.headers.get('x-request-id'));
}

describe('ARCNM auth and validation', () => {
  it('401 invalid_api_key, 403 insufficient_scope, in the error envelope', async () => {
    expectEnvelope(await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' }, { 'X-API-Key': 'ak_test_wrong' }), 401, 'invalid_api_key');
    arcnm.scopes = ['uploads:read'];
    const r = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    expectEnvelope(r, 403, 'insufficient_scope');
    expect((await api('GET', '/api/v1/uploads/')).status).toBe(200);
    expect(arcnm.uploads.size).toBe(0);
  });

  it('422 validation_error, 415 unsupported type, 413 too large, 404 unknown route, 405', async () => {
    const missing = await api('POST', '/api/v1/uploads/presign', { content_type: 'application/pdf' });
    expectEnvelope(missing, 422, 'validation_error');
    expect(missing.json.error.details.errors[0].loc).toEqual(['body', 'name']);
    expectEnvelope(await api('POST', '/api/v1/uploads/presign', '{not json'), 422, 'validation_error');
    expectEnvelope(await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf', size_bytes: 1.5 }), 422, 'validation_error');
    expectEnvelope(await api('POST', '/api/v1/uploads/presign', { name: 'model.ifc' }), 415, 'unsupported_media_type');
    const big = await api('POST', '/api/v1/uploads/presign', { name: 'a.step', size_bytes: 512 * 1024 * 1024 + 1 });
    expectEnvelope(big, 413, 'payload_too_large');
    expect(big.json.error.details).toEqual({ observed_bytes: 512 * 1024 * 1024 + 1, limit_bytes: 512 * 1024 * 1024 });
    expectEnvelope(await api('GET', '/api/v1/nope'), 404, 'not_found');
    expectEnvelope(await api('GET', '/api/v1/uploads/presign'), 405, 'method_not_allowed');
    const redirect = await api('GET', '/api/v1/uploads');
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('location')).toBe('/api/v1/uploads/');
  });
});

describe('ARCNM presign → upload → confirm', () => {
  it('PUT flow, job mode: confirm answers the same job_id and the upload is confirmed with its sha256', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'bracket drawing.pdf', content_type: 'application/pdf', size_bytes: PDF.length });
    expect(p.status).toBe(200);
    expect(p.json).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'application/pdf' }, fields: null, expires_in: 900 });
    expect(p.headers.get('x-request-id')).toMatch(/^req_/);
    const id = p.json.data_source_id as string;
    expect(arcnm.uploads.get(id)?.status).toBe('pending');

    const put = await upload(p.json, PDF);
    expect(put.status).toBe(200);

    const c1 = await api('POST', '/api/v1/uploads/confirm', { data_source_id: id });
    expect(c1.status).toBe(200);
    expect(c1.json).toEqual({ job_id: expect.stringMatching(/^job_/) });
    const c2 = await api('POST', '/api/v1/uploads/confirm', { data_source_id: id });
    expect(c2.json.job_id).toBe(c1.json.job_id);
    // The job checks the file after the reply: a job_id is no verdict, the row is still pending.
    const pending = await api('GET', '/api/v1/uploads/');
    expect(pending.json).toEqual([expect.objectContaining({ id, status: 'pending', sha256: null, size_bytes: null })]);

    const u = await arcnm.whenChecked(id);
    expect(u).toMatchObject({ status: 'confirmed', size_bytes: PDF.length, confirmCalls: 2 });
    expect(u?.sha256).toBe(createHash('sha256').update(PDF).digest('hex'));
    expect(arcnm.stats).toMatchObject({ presigns: 1, confirms: 2 });

    const list = await api('GET', '/api/v1/uploads/');
    expect(list.json).toEqual([expect.objectContaining({ id, status: 'confirmed', sha256: u?.sha256, size_bytes: PDF.length })]);

    const dl = await api('GET', `/api/v1/uploads/${id}/download-url`);
    expect(dl.status).toBe(200);
    const got = await fetch(dl.json.url);
    expect(Buffer.from(await got.arrayBuffer()).equals(PDF)).toBe(true);
  });

  it('the presigned PUT signs the Content-Type: another type fails at storage with 403', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    expect(p.json.headers).toEqual({ 'Content-Type': 'application/pdf' });
    const res = await fetch(p.json.url, { method: 'PUT', body: PDF, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id }), 409, 'upload_not_received');
  });

  it('POST flow: fields then file last; a file larger than declared is refused by storage', async () => {
    arcnm.uploadMethod = 'POST';
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf', size_bytes: PDF.length });
    expect(p.json).toMatchObject({ method: 'POST', headers: null });
    expect(p.json.fields.key).toBe(`uploads/${p.json.data_source_id}/a.pdf`);
    const tooBig = await upload(p.json, Buffer.concat([PDF, Buffer.from('extra')]));
    expect(tooBig.status).toBe(400);
    expect(await tooBig.text()).toContain('EntityTooLarge');
    expect((await upload(p.json, PDF)).status).toBe(204);
    const c = await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id });
    expect(c.status).toBe(200);
    expect(arcnm.uploads.get(p.json.data_source_id)?.status).toBe('pending');
    expect((await arcnm.whenChecked(p.json.data_source_id)).status).toBe('confirmed');
  });

  it("'both' mode answers job_id and status together", async () => {
    arcnm.confirmMode = 'both';
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    await upload(p.json, PDF);
    const c = await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id });
    expect(c.json).toEqual({ job_id: expect.stringMatching(/^job_/), data_source_id: p.json.data_source_id, status: 'pending' });
  });

  it('status mode: first confirm answers pending, later ones confirmed after confirmDelayMs', async () => {
    arcnm.confirmMode = 'status';
    // Long enough that the calls below all come while the check runs, however busy the machine.
    arcnm.confirmDelayMs = 1_000;
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    const id = p.json.data_source_id as string;
    await upload(p.json, PDF);
    const c1 = await api('POST', '/api/v1/uploads/confirm', { data_source_id: id });
    expect(c1.json).toEqual({ data_source_id: id, status: 'pending' });
    const c2 = await api('POST', '/api/v1/uploads/confirm', { data_source_id: id });
    expect(c2.json.status).toBe('pending');

    // Attach while the check runs: 409 upload_pending with Retry-After + details.retry_after_s.
    const early = await api('POST', '/api/v1/parts/part-1/revisions/rev-A/datasets', { data_source_id: id, role: 'drawing_2d' });
    expectEnvelope(early, 409, 'upload_pending');
    expect(early.json.error.details).toMatchObject({ reason: 'upload_pending', retry_after_s: 1 });
    expect(early.headers.get('retry-after')).toBe('1');

    await arcnm.whenChecked(id);
    const c3 = await api('POST', '/api/v1/uploads/confirm', { data_source_id: id });
    expect(c3.json).toEqual({ data_source_id: id, status: 'confirmed' });

    const link = await api('POST', '/api/v1/parts/part-1/revisions/rev-A/datasets', {
      data_source_id: id,
      role: 'drawing_2d',
      is_primary: true,
      attributes: { sha: 'abc' },
    });
    expect(link.status).toBe(201);
    expect(link.json).toMatchObject({ part_id: 'part-1', revision_id: 'rev-A', data_source_id: id, role: 'drawing_2d', is_primary: true });
    expect(arcnm.datasets).toHaveLength(1);
    expectEnvelope(await api('POST', '/api/v1/parts/part-1/revisions/rev-A/datasets', { data_source_id: id }), 409, 'conflict');
  });

  it('status mode with no delay: first confirm still answers pending, the next one confirmed', async () => {
    arcnm.confirmMode = 'status';
    arcnm.confirmDelayMs = 0;
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    await upload(p.json, PDF);
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id })).json.status).toBe('pending');
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id })).json.status).toBe('confirmed');
  });

  it('409 upload_not_received before the bytes arrive; 404 for an unknown id', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    const r = await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id });
    expectEnvelope(r, 409, 'upload_not_received');
    expect(arcnm.uploads.get(p.json.data_source_id)?.status).toBe('pending');
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', { data_source_id: randomUUID() }), 404, 'not_found');
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', { data_source_id: 'not-a-uuid' }), 422, 'validation_error');
  });

  it('rejects wrong magic bytes and a size different from the declared one (final 409 upload_rejected)', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'fake.pdf' });
    await upload(p.json, Buffer.from('PK\x03\x04 this is a zip'));
    // The job is accepted; its verdict comes later, in the row, and as the final error of any later confirm.
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id })).status).toBe(200);
    expect((await arcnm.whenChecked(p.json.data_source_id)).status).toBe('failed');
    const listed = await api('GET', '/api/v1/uploads/');
    expect(listed.json).toEqual([expect.objectContaining({ id: p.json.data_source_id, status: 'failed' })]);
    const r = await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id });
    expectEnvelope(r, 409, 'upload_rejected');
    expect(r.json.error.details.reason).toBe('magic_bytes_mismatch');
    expect(arcnm.uploads.get(p.json.data_source_id)?.status).toBe('failed');
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', { data_source_id: p.json.data_source_id }), 409, 'upload_rejected');
    expectEnvelope(
      await api('POST', '/api/v1/parts/part-1/revisions/rev-A/datasets', { data_source_id: p.json.data_source_id }),
      409,
      'upload_rejected',
    );

    const s = await api('POST', '/api/v1/uploads/presign', { name: 'b.pdf', size_bytes: PDF.length + 10 });
    expect((await upload(s.json, PDF)).status).toBe(200);
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: s.json.data_source_id })).status).toBe(200);
    await arcnm.whenChecked(s.json.data_source_id);
    const rs = await api('POST', '/api/v1/uploads/confirm', { data_source_id: s.json.data_source_id });
    expectEnvelope(rs, 409, 'upload_rejected');
    expect(rs.json.error.details).toMatchObject({ reason: 'size_mismatch', declared_bytes: PDF.length + 10, observed_bytes: PDF.length });
  });

  it('retry re-queues the check after the bytes were replaced', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    const id = p.json.data_source_id as string;
    await upload(p.json, Buffer.from('garbage'));
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: id })).status).toBe(200);
    await arcnm.whenChecked(id);
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: id })).status).toBe(409);
    blob.putObject(arcnm.uploads.get(id)?.key ?? '', PDF);
    const r = await api('POST', `/api/v1/uploads/${id}/retry`);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe('pending');
    expect((await api('POST', '/api/v1/uploads/confirm', { data_source_id: id })).status).toBe(200);
    expect((await arcnm.whenChecked(id)).status).toBe('confirmed');
    expectEnvelope(await api('POST', `/api/v1/uploads/${id}/retry`), 409, 'conflict');
  });
});

describe('ARCNM cancel and list', () => {
  it('cancels pending uploads (idempotently), hides them from the list, refuses confirmed ones', async () => {
    const a = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    const b = await api('POST', '/api/v1/uploads/presign', { name: 'b.pdf' });
    const c1 = await api('POST', `/api/v1/uploads/${a.json.data_source_id}/cancel`);
    expect(c1.status).toBe(200);
    expect(c1.json.status).toBe('cancelled');
    expect((await api('POST', `/api/v1/uploads/${a.json.data_source_id}/cancel`)).status).toBe(200);

    const list = await api('GET', '/api/v1/uploads/');
    expect(list.json.map((r: { id: string }) => r.id)).toEqual([b.json.data_source_id]);
    const all = await api('GET', '/api/v1/uploads/?include_cancelled=true');
    expect(all.json).toHaveLength(2);
    expectEnvelope(await api('GET', '/api/v1/uploads/?include_cancelled=maybe'), 422, 'validation_error');

    await upload(a.json, PDF);
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', { data_source_id: a.json.data_source_id }), 409, 'upload_cancelled');
    expectEnvelope(await api('GET', `/api/v1/uploads/${a.json.data_source_id}/download-url`), 409, 'conflict');

    await upload(b.json, PDF);
    await api('POST', '/api/v1/uploads/confirm', { data_source_id: b.json.data_source_id });
    await arcnm.whenChecked(b.json.data_source_id);
    expectEnvelope(await api('POST', `/api/v1/uploads/${b.json.data_source_id}/cancel`), 409, 'conflict');

    const bulk = await api('POST', '/api/v1/uploads/bulk-cancel', { ids: [a.json.data_source_id, b.json.data_source_id, randomUUID()] });
    expect(bulk.json.cancelled).toEqual([a.json.data_source_id]);
    expect(bulk.json.skipped.map((s: { reason: string }) => s.reason)).toEqual(['conflict', 'not_found']);
  });

  it('attach: 404 for an unknown part or revision', async () => {
    expectEnvelope(await api('POST', '/api/v1/parts/nope/revisions/rev-A/datasets', { data_source_id: randomUUID() }), 404, 'not_found');
    expectEnvelope(await api('POST', '/api/v1/parts/part-1/revisions/nope/datasets', { data_source_id: randomUUID() }), 404, 'not_found');
  });
});

describe('ARCNM idempotency', () => {
  it('replays the stored response for the same key and body, without executing again', async () => {
    const key = randomUUID();
    const r1 = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' }, { 'Idempotency-Key': key });
    const r2 = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' }, { 'Idempotency-Key': key });
    expect(r2.status).toBe(200);
    expect(r2.json).toEqual(r1.json);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    expect(r1.headers.get('idempotent-replayed')).toBeNull();
    expect(arcnm.stats.presigns).toBe(1);
    expect(arcnm.uploads.size).toBe(1);
    expect(arcnm.stats.replays).toBe(1);

    // Exact body bytes are fingerprinted: the same JSON with other whitespace is a different request.
    const r3 = await api('POST', '/api/v1/uploads/presign', '{"name": "a.pdf"}', { 'Idempotency-Key': key });
    expectEnvelope(r3, 409, 'idempotency_conflict');
  });

  it('409 idempotency_in_flight while the original is still being handled', async () => {
    // The first request holds its key for as long as it is handled: wait until it is, rather than a fixed time.
    arcnm.processingDelayMs = 2_000;
    const key = randomUUID();
    const first = api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' }, { 'Idempotency-Key': key });
    const deadline = Date.now() + 10_000;
    while (!arcnm.holdsIdempotencyKey(key) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(arcnm.holdsIdempotencyKey(key)).toBe(true);
    const second = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' }, { 'Idempotency-Key': key });
    expectEnvelope(second, 409, 'idempotency_in_flight');
    expect((await first).status).toBe(200);
    expect(arcnm.stats.presigns).toBe(1);
  });

  it('a 4xx answer releases the key: the confirm can be retried with the same key once the bytes are there', async () => {
    const p = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    const key = randomUUID();
    const body = { data_source_id: p.json.data_source_id };
    expectEnvelope(await api('POST', '/api/v1/uploads/confirm', body, { 'Idempotency-Key': key }), 409, 'upload_not_received');
    await upload(p.json, PDF);
    const ok = await api('POST', '/api/v1/uploads/confirm', body, { 'Idempotency-Key': key });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    const replay = await api('POST', '/api/v1/uploads/confirm', body, { 'Idempotency-Key': key });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.json).toEqual(ok.json);
    expect(arcnm.uploads.get(p.json.data_source_id)?.confirmCalls).toBe(2);
    await arcnm.whenChecked(p.json.data_source_id);
    expect(arcnm.uploadsWithStatus('confirmed')).toHaveLength(1);
  });
});

describe('ARCNM faults', () => {
  it('429 rate_limited has the envelope and no Retry-After; the request is not executed', async () => {
    arcnm.faults.add({ method: 'POST', path: '/api/v1/uploads/presign', action: arcnmRateLimited() });
    const r = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    expectEnvelope(r, 429, 'rate_limited');
    expect(r.json.error.details).toEqual({ limit: 600, window_seconds: 60 });
    expect(r.headers.get('retry-after')).toBeNull();
    expect(arcnm.uploads.size).toBe(0);
    expect((await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' })).status).toBe(200);
  });

  it('the per-caller limiter: a sliding window over accepted requests, 429 rate_limited past it, refused ones not counted', async () => {
    let now = 1_000_000;
    arcnm.rateLimit = new SlidingWindowLimit({ limit: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) expect((await api('GET', '/api/v1/uploads/')).status).toBe(200);
    now += 30_000;
    const refused = await api('POST', '/api/v1/uploads/presign', { name: 'a.pdf' });
    expectEnvelope(refused, 429, 'rate_limited');
    expect(refused.json.error.details).toEqual({ limit: 3, window_seconds: 60 });
    expect(refused.headers.get('retry-after')).toBeNull();
    expect(arcnm.uploads.size).toBe(0); // refused before any work
    expect((await api('GET', '/api/v1/uploads/')).status).toBe(429);
    // The first three leave the window 60 s after they came; the refusals were not counted.
    now += 30_000;
    expect((await api('GET', '/api/v1/uploads/')).status).toBe(200);
    expect(arcnm.rateLimit.refused).toBe(2);
    // Retry-After when asked: the seconds until the oldest accepted request leaves the window.
    arcnm.rateLimit = new SlidingWindowLimit({ limit: 1, windowMs: 60_000, retryAfter: true, now: () => now });
    expect((await api('GET', '/api/v1/uploads/')).status).toBe(200);
    now += 15_500;
    const withHeader = await api('GET', '/api/v1/uploads/');
    expect(withHeader.status).toBe(429);
    expect(withHeader.headers.get('retry-after')).toBe('45');
  });

  it('reset and delay faults on the API', async () => {
    arcnm.faults.add({ path: '/api/v1/uploads/confirm', action: { kind: 'reset' } });
    await expect(api('POST', '/api/v1/uploads/confirm', { data_source_id: randomUUID() })).rejects.toThrow();
    arcnm.faults.add({ path: '/api/v1/uploads/*', action: { kind: 'delay', ms: 150 } });
    const t0 = Date.now();
    expect((await api('GET', '/api/v1/uploads/')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(arcnm.faults.injected.map((f) => f.action)).toEqual(['reset', 'delay']);
  });
});

describe('checkMagicBytes', () => {
  it('recognises each accepted type', () => {
    const binStl = Buffer.alloc(84 + 50 * 2);
    binStl.writeUInt32LE(2, 80);
    const iges = `${'Generated by test'.padEnd(72)}S      1\r\n`;
    const cases: [string, Buffer, boolean][] = [
      ['a.pdf', PDF, true],
      ['a.STEP', Buffer.from('ISO-10303-21;\nHEADER;'), true],
      ['a.stp', Buffer.from('  \nISO-10303-21;'), true],
      ['a.step', Buffer.from('<?xml'), false],
      ['a.stl', Buffer.from('solid x\nendsolid x\n'), true],
      ['a.stl', binStl, true],
      ['a.stl', binStl.subarray(0, 120), false],
      ['a.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]), true],
      ['a.jpg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), true],
      ['a.jpeg', Buffer.from([0x89, 0x50]), false],
      ['a.dxf', Buffer.from('  0\nSECTION\n  2\nHEADER\n'), true],
      ['a.dxf', Buffer.from('SECTION'), false],
      ['a.igs', Buffer.from(iges), true],
      ['a.iges', Buffer.from('short line S\n'), false],
    ];
    for (const [name, bytes, ok] of cases) expect(checkMagicBytes(name, bytes) === undefined, name).toBe(ok);
  });
});
