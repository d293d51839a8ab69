import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore, awsEscape, awsEscapePath } from './blob.js';
import { Faults } from './faults.js';

const CREDS = { accessKeyId: 'AKIATESTTESTTESTTEST', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const REGION = 'eu-central-1';
const BUCKET = 'uploads-test';

let store: BlobStore;
let base: string;

beforeEach(async () => {
  store = new BlobStore({ ...CREDS, region: REGION, bucket: BUCKET, faults: new Faults(42) });
  base = await store.start();
});
afterEach(async () => {
  await store.close();
});

function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

function xmlCode(xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}
function xmlMessage(xml: string): string | undefined {
  return /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
}

/** Presign with the AWS SDK's own signer (S3-style: path not double-encoded, UNSIGNED-PAYLOAD). */
async function smithyPresign(opts: {
  method: string;
  key: string;
  headers?: Record<string, string>;
  signingDate?: Date;
  expiresIn?: number;
  /** SDK v3 S3RequestPresigner style: X-Amz-Content-Sha256=UNSIGNED-PAYLOAD ends up in the query. */
  hoistPayloadHash?: boolean;
}): Promise<{ url: string; query: Record<string, string> }> {
  const signer = new SignatureV4({
    credentials: CREDS,
    region: REGION,
    service: 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
  });
  const u = new URL(base);
  const path = `/${BUCKET}/${awsEscapePath(opts.key)}`;
  const shaHeader = opts.hoistPayloadHash ? 'X-Amz-Content-Sha256' : 'x-amz-content-sha256';
  const presigned = await signer.presign(
    {
      method: opts.method,
      protocol: 'http:',
      hostname: u.hostname,
      port: Number(u.port),
      path,
      query: {},
      headers: { host: u.host, ...(opts.headers ?? {}), [shaHeader]: 'UNSIGNED-PAYLOAD' },
    },
    {
      expiresIn: opts.expiresIn ?? 900,
      ...(opts.signingDate ? { signingDate: opts.signingDate } : {}),
      ...(opts.hoistPayloadHash
        ? {}
        : { unhoistableHeaders: new Set(['x-amz-content-sha256']), unsignableHeaders: new Set(['x-amz-content-sha256']) }),
    },
  );
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(presigned.query ?? {})) if (typeof v === 'string') query[k] = v;
  const qs = Object.entries(query)
    .map(([k, v]) => `${awsEscape(k)}=${awsEscape(v)}`)
    .join('&');
  return { url: `${base}${path}?${qs}`, query };
}

/** Send raw bytes on a socket (for requests fetch refuses to make). Returns the raw response text. */
function rawRequest(head: string, body?: Buffer, opts: { destroyAfterWrite?: boolean } = {}): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(head);
      if (body) sock.write(body);
      if (opts.destroyAfterWrite) setTimeout(() => sock.destroy(), 50);
    });
    let out = '';
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (/\r\n\r\n/.test(out)) {
        const len = /content-length: (\d+)/i.exec(out)?.[1];
        const bodyStart = out.indexOf('\r\n\r\n') + 4;
        if (len !== undefined && out.length - bodyStart >= Number(len)) sock.end();
      }
    });
    sock.on('close', () => resolve(out));
    sock.on('error', (e) => (opts.destroyAfterWrite ? resolve(out) : reject(e)));
  });
}

function pathAndQuery(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

describe('BlobStore presigned PUT (SigV4 query auth)', () => {
  it('stores the bytes and answers 200 with ETag = quoted MD5', async () => {
    const bytes = Buffer.from('%PDF-1.7 hello');
    const url = store.presignPut({ key: 'a/b c+d.pdf', contentType: 'application/pdf' });
    const res = await fetch(url, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/pdf' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${md5(bytes)}"`);
    const obj = store.get('a/b c+d.pdf');
    expect(obj?.bytes.equals(bytes)).toBe(true);
    expect(obj?.etag).toBe(`"${md5(bytes)}"`);
    expect(obj?.sha256Hex).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(obj?.contentType).toBe('application/pdf');
    expect(obj?.puts).toBe(1);
    expect(store.requests.at(-1)).toMatchObject({ method: 'PUT', status: 200, path: '/uploads-test/a/b%20c%2Bd.pdf' });
  });

  it('issues exactly the signature @smithy/signature-v4 computes for the same inputs', async () => {
    const key = 'models/part (1)/wheel*.step';
    const url = new URL(
      store.presignPut({ key, contentType: 'model/step', expiresInSec: 600, signedHeaders: { 'x-amz-meta-run': '42' } }),
    );
    const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const signer = new SignatureV4({ credentials: CREDS, region: REGION, service: 's3', sha256: Hash.bind(null, 'sha256'), uriEscapePath: false });
    const presigned = await signer.presign(
      {
        method: 'PUT',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: {},
        headers: { host: url.host, 'content-type': 'model/step', 'x-amz-meta-run': '42', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      {
        signingDate,
        expiresIn: 600,
        unhoistableHeaders: new Set(['x-amz-meta-run', 'x-amz-content-sha256']),
        unsignableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    expect(url.pathname).toBe(`/${BUCKET}/models/part%20%281%29/wheel%2A.step`);
    expect(presigned.query?.['X-Amz-SignedHeaders']).toBe('content-type;host;x-amz-meta-run');
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('content-type;host;x-amz-meta-run');
    expect(url.searchParams.get('X-Amz-Credential')).toBe(presigned.query?.['X-Amz-Credential']);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(presigned.query?.['X-Amz-Signature']);

    // And the URL works when the client sends exactly the signed headers.
    const res = await fetch(url, { method: 'PUT', body: 'ISO-10303-21;', headers: { 'Content-Type': 'model/step', 'x-amz-meta-run': '42' } });
    expect(res.status).toBe(200);
    expect(store.get(key)?.metadata).toEqual({ run: '42' });
  });

  it('accepts URLs presigned by @smithy/signature-v4 (header-style and SDK-v3 query-style payload hash)', async () => {
    for (const hoistPayloadHash of [false, true]) {
      const key = `smithy/${hoistPayloadHash ? 'hoisted' : 'plain'}.bin`;
      const { url, query } = await smithyPresign({ method: 'PUT', key, headers: { 'content-type': 'application/octet-stream' }, hoistPayloadHash });
      expect(query['X-Amz-Content-Sha256'] !== undefined).toBe(hoistPayloadHash);
      const res = await fetch(url, { method: 'PUT', body: Buffer.from([1, 2, 3]), headers: { 'Content-Type': 'application/octet-stream' } });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(store.get(key)?.bytes).toEqual(Buffer.from([1, 2, 3]));
    }
  });

  it('refuses a different Content-Type than the signed one with 403 SignatureDoesNotMatch (as S3)', async () => {
    const url = store.presignPut({ key: 'x.pdf', contentType: 'application/pdf' });
    for (const headers of [{ 'Content-Type': 'application/octet-stream' }, {} as Record<string, string>]) {
      const res = await fetch(url, { method: 'PUT', body: '%PDF-', headers });
      expect(res.status).toBe(403);
      const xml = await res.text();
      expect(xmlCode(xml)).toBe('SignatureDoesNotMatch');
      expect(xml).toContain('<CanonicalRequest>');
    }
    expect(store.get('x.pdf')).toBeUndefined();
  });

  it('refuses a tampered URL (other key) with 403 SignatureDoesNotMatch', async () => {
    const url = store.presignPut({ key: 'mine.bin' });
    const res = await fetch(url.replace('/mine.bin?', '/yours.bin?'), { method: 'PUT', body: 'x' });
    expect(res.status).toBe(403);
    expect(xmlCode(await res.text())).toBe('SignatureDoesNotMatch');
  });

  it('answers 403 AccessDenied "Request has expired" for an expired URL', async () => {
    const { url } = await smithyPresign({ method: 'PUT', key: 'old.bin', signingDate: new Date(Date.now() - 3600_000), expiresIn: 60 });
    const res = await fetch(url, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(403);
    const xml = await res.text();
    expect(xmlCode(xml)).toBe('AccessDenied');
    expect(xmlMessage(xml)).toBe('Request has expired');
    expect(store.get('old.bin')).toBeUndefined();
  });

  it('expireAll() expires every URL issued so far, but not later ones', async () => {
    const before = store.presignPut({ key: 'e.bin' });
    store.expireAll();
    const res = await fetch(before, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(403);
    expect(xmlMessage(await res.text())).toBe('Request has expired');
    const after = store.presignPut({ key: 'e.bin' });
    expect((await fetch(after, { method: 'PUT', body: 'x' })).status).toBe(200);
  });

  it('answers 400 InvalidArgument when query auth and an Authorization header are both sent', async () => {
    const url = store.presignPut({ key: 'leak.bin' });
    const res = await fetch(url, { method: 'PUT', body: 'x', headers: { Authorization: 'Bearer coldstream-token' } });
    expect(res.status).toBe(400);
    const xml = await res.text();
    expect(xmlCode(xml)).toBe('InvalidArgument');
    expect(xmlMessage(xml)).toMatch(/^Only one auth mechanism allowed/);
    expect(store.get('leak.bin')).toBeUndefined();
  });

  it('refuses a bearer token without query auth (400 Unsupported Authorization Type) and anonymous access (403)', async () => {
    const res1 = await fetch(`${base}/${BUCKET}/k`, { method: 'PUT', body: 'x', headers: { Authorization: 'Bearer t' } });
    expect(res1.status).toBe(400);
    expect(xmlMessage(await res1.text())).toBe('Unsupported Authorization Type');
    const res2 = await fetch(`${base}/${BUCKET}/k`, { method: 'PUT', body: 'x' });
    expect(res2.status).toBe(403);
    expect(xmlCode(await res2.text())).toBe('AccessDenied');
    const res3 = await fetch(`${base}/other-bucket/k`);
    expect(res3.status).toBe(404);
    expect(xmlCode(await res3.text())).toBe('NoSuchBucket');
  });

  it('requires Content-Length (411) and refuses chunked PUT (501 NotImplemented)', async () => {
    const url = store.presignPut({ key: 'len.bin' });
    const host = new URL(base).host;
    const noLength = await rawRequest(`PUT ${pathAndQuery(url)} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(noLength).toMatch(/^HTTP\/1\.1 411/);
    expect(noLength).toContain('<Code>MissingContentLength</Code>');

    const chunked = await fetch(url, {
      method: 'PUT',
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('abc'));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(501);
    expect(xmlCode(await chunked.text())).toBe('NotImplemented');
    expect(store.get('len.bin')).toBeUndefined();
  });

  it('stores nothing when the body is shorter than Content-Length (connection dropped)', async () => {
    const url = store.presignPut({ key: 'short.bin' });
    const host = new URL(base).host;
    await rawRequest(`PUT ${pathAndQuery(url)} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\n\r\n`, Buffer.alloc(40, 1), {
      destroyAfterWrite: true,
    });
    // The store logs the request once it sees the connection drop: wait for that, not a fixed time.
    const deadline = Date.now() + 10_000;
    while (store.requests.at(-1)?.status !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(store.get('short.bin')).toBeUndefined();
    expect(store.requests.at(-1)?.status).toBe(0);
  });

  it('checks Content-MD5 (400 BadDigest / InvalidDigest)', async () => {
    const url = store.presignPut({ key: 'md5.bin' });
    const body = Buffer.from('hello');
    const wrong = createHash('md5').update('other').digest('base64');
    const res = await fetch(url, { method: 'PUT', body, headers: { 'Content-MD5': wrong } });
    expect(res.status).toBe(400);
    expect(xmlCode(await res.text())).toBe('BadDigest');
    const bad = await fetch(url, { method: 'PUT', body, headers: { 'Content-MD5': 'nope' } });
    expect(xmlCode(await bad.text())).toBe('InvalidDigest');
    const right = createHash('md5').update(body).digest('base64');
    expect((await fetch(url, { method: 'PUT', body, headers: { 'Content-MD5': right } })).status).toBe(200);
  });

  it('enforces maxBytes (400 EntityTooLarge) and singleUse (403 on second write)', async () => {
    const small = store.presignPut({ key: 'm.bin', maxBytes: 4 });
    const big = await fetch(small, { method: 'PUT', body: '12345' });
    expect(big.status).toBe(400);
    expect(xmlCode(await big.text())).toBe('EntityTooLarge');
    expect((await fetch(small, { method: 'PUT', body: '1234' })).status).toBe(200);

    const once = store.presignPut({ key: 'once.bin', singleUse: true });
    expect((await fetch(once, { method: 'PUT', body: 'a' })).status).toBe(200);
    const again = await fetch(once, { method: 'PUT', body: 'b' });
    expect(again.status).toBe(403);
    expect(xmlMessage(await again.text())).toBe('Request has expired or was already used');
    expect(store.get('once.bin')?.bytes.toString()).toBe('a');
    expect(store.get('once.bin')?.puts).toBe(1);
  });

  it('refuses unsigned x-amz-* headers (403 HeadersNotSigned)', async () => {
    const url = store.presignPut({ key: 'meta.bin' });
    const res = await fetch(url, { method: 'PUT', body: 'x', headers: { 'x-amz-meta-foo': 'bar' } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<HeadersNotSigned>x-amz-meta-foo</HeadersNotSigned>');
  });
});

describe('BlobStore presigned GET / HEAD', () => {
  it('serves the bytes with a presigned GET and headers with a HEAD-signed URL', async () => {
    const bytes = Buffer.from('solid cube\nendsolid cube\n');
    store.putObject('dl/cube.stl', bytes, 'model/stl');
    const res = await fetch(store.presignGet('dl/cube.stl'));
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(res.headers.get('content-type')).toBe('model/stl');
    expect(res.headers.get('etag')).toBe(`"${md5(bytes)}"`);

    const head = await fetch(store.presignGet('dl/cube.stl', { method: 'HEAD' }), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));

    // S3 signs the method: a GET URL cannot be used for HEAD.
    const wrong = await fetch(store.presignGet('dl/cube.stl'), { method: 'HEAD' });
    expect(wrong.status).toBe(403);

    const missing = await fetch(store.presignGet('dl/nope.stl'));
    expect(missing.status).toBe(404);
    expect(xmlCode(await missing.text())).toBe('NoSuchKey');
  });

  it('accepts a GET presigned by @smithy/signature-v4', async () => {
    store.putObject('g.bin', Buffer.from('abc'));
    const { url } = await smithyPresign({ method: 'GET', key: 'g.bin', hoistPayloadHash: true });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('abc');
  });
});

describe('BlobStore presigned POST (browser form upload)', () => {
  function form(fields: Record<string, string>, file: Buffer | undefined, after: Record<string, string> = {}): FormData {
    const fd = new FormData();
    for (const [k, v] of Object.entries(fields)) fd.append(k, v);
    if (file) fd.append('file', new Blob([new Uint8Array(file)]), 'drawing.pdf');
    for (const [k, v] of Object.entries(after)) fd.append(k, v);
    return fd;
  }

  it('stores the file sent last after the signed fields and answers 204 with ETag', async () => {
    const bytes = Buffer.from('%PDF-1.4 drawing');
    const { url, fields } = store.presignPost({ key: 'post/drawing.pdf', contentType: 'application/pdf', maxBytes: 1000 });
    expect(url).toBe(`${base}/${BUCKET}`);
    expect(Object.keys(fields)).toEqual(
      expect.arrayContaining(['key', 'Content-Type', 'policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature']),
    );
    const policy = JSON.parse(Buffer.from(fields['policy'] ?? '', 'base64').toString()) as { conditions: unknown[] };
    expect(policy.conditions).toContainEqual(['content-length-range', 0, 1000]);

    const res = await fetch(url, { method: 'POST', body: form(fields, bytes) });
    expect(res.status).toBe(204);
    expect(res.headers.get('etag')).toBe(`"${md5(bytes)}"`);
    expect(store.get('post/drawing.pdf')?.bytes.equals(bytes)).toBe(true);
    expect(store.get('post/drawing.pdf')?.contentType).toBe('application/pdf');
  });

  it('refuses fields after the file (400 InvalidArgument), a changed signed field (403) and a tampered policy (403)', async () => {
    const { url, fields } = store.presignPost({ key: 'post/a.pdf', contentType: 'application/pdf' });
    const { 'x-amz-signature': sig, ...rest } = fields;
    const after = await fetch(url, { method: 'POST', body: form(rest, Buffer.from('%PDF-'), { 'x-amz-signature': sig ?? '' }) });
    expect(after.status).toBe(400);
    expect(xmlCode(await after.text())).toBe('InvalidArgument');

    const changed = await fetch(url, { method: 'POST', body: form({ ...fields, 'Content-Type': 'text/plain' }, Buffer.from('%PDF-')) });
    expect(changed.status).toBe(403);
    expect(xmlMessage(await changed.text())).toMatch(/^Invalid according to Policy: Policy Condition failed/);

    const extra = await fetch(url, { method: 'POST', body: form({ ...fields, 'x-amz-meta-extra': '1' }, Buffer.from('%PDF-')) });
    expect(extra.status).toBe(403);
    expect(xmlMessage(await extra.text())).toMatch(/Extra input fields: x-amz-meta-extra/);

    const policy = Buffer.from(
      Buffer.from(fields['policy'] ?? '', 'base64').toString().replace('"conditions"', '"conditions" '),
    ).toString('base64');
    const tampered = await fetch(url, { method: 'POST', body: form({ ...fields, policy }, Buffer.from('%PDF-')) });
    expect(tampered.status).toBe(403);
    expect(xmlCode(await tampered.text())).toBe('SignatureDoesNotMatch');

    const noFile = await fetch(url, { method: 'POST', body: form(fields, undefined) });
    expect(noFile.status).toBe(400);
    expect(store.get('post/a.pdf')).toBeUndefined();
  });

  it('enforces content-length-range (400 EntityTooLarge) and policy expiry (403)', async () => {
    const { url, fields } = store.presignPost({ key: 'post/big.pdf', maxBytes: 4 });
    const res = await fetch(url, { method: 'POST', body: form(fields, Buffer.from('12345')) });
    expect(res.status).toBe(400);
    expect(xmlCode(await res.text())).toBe('EntityTooLarge');
    store.expireAll();
    const expired = await fetch(url, { method: 'POST', body: form(fields, Buffer.from('1234')) });
    expect(expired.status).toBe(403);
    expect(xmlMessage(await expired.text())).toBe('Invalid according to Policy: Policy expired.');
    expect(store.get('post/big.pdf')).toBeUndefined();
  });

  it('refuses an Authorization header on a form upload and a non-multipart body', async () => {
    const { url, fields } = store.presignPost({ key: 'post/x.pdf' });
    const auth = await fetch(url, { method: 'POST', body: form(fields, Buffer.from('x')), headers: { Authorization: 'Bearer t' } });
    expect(auth.status).toBe(400);
    const json = await fetch(url, { method: 'POST', body: JSON.stringify(fields), headers: { 'Content-Type': 'application/json' } });
    expect(json.status).toBe(412);
  });
});

describe('faults on the blob store', () => {
  it('status fault answers instead of the store, once', async () => {
    store.faults.add({ method: 'PUT', path: `/${BUCKET}/*`, action: { kind: 'status', status: 503, body: '<Error><Code>SlowDown</Code></Error>' } });
    const url = store.presignPut({ key: 'f.bin' });
    const res = await fetch(url, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(503);
    expect(xmlCode(await res.text())).toBe('SlowDown');
    expect(store.get('f.bin')).toBeUndefined();
    expect((await fetch(url, { method: 'PUT', body: 'x' })).status).toBe(200);
    expect(store.faults.injected).toEqual([{ method: 'PUT', path: `/${BUCKET}/f.bin`, action: 'status', status: 503 }]);
    expect(store.requests.map((r) => r.fault)).toEqual(['status', undefined]);
  });

  it('reset fault drops the connection mid-body and nothing is stored', async () => {
    store.faults.add({ path: /\/r\.bin$/, action: { kind: 'reset', afterBytes: 64 * 1024 } });
    const url = store.presignPut({ key: 'r.bin' });
    await expect(fetch(url, { method: 'PUT', body: Buffer.alloc(1024 * 1024, 7) })).rejects.toThrow();
    expect(store.get('r.bin')).toBeUndefined();
    expect(store.requests[0]?.status).toBe(0);
  });

  it('delay fault slows the answer; a client timeout shorter than the delay aborts and nothing is stored', async () => {
    store.faults.add({ method: 'PUT', action: { kind: 'delay', ms: 300 }, times: 2 });
    const url = store.presignPut({ key: 'd.bin' });
    const t0 = Date.now();
    expect((await fetch(url, { method: 'PUT', body: 'x' })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    store.deleteObject('d.bin');
    await expect(fetch(url, { method: 'PUT', body: 'y', signal: AbortSignal.timeout(100) })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    expect(store.get('d.bin')).toBeUndefined();
  });

  it('stall fault stops reading the body then drops the connection', async () => {
    store.faults.add({ action: { kind: 'stall', afterBytes: 1, ms: 100 } });
    const url = store.presignPut({ key: 's.bin' });
    await expect(fetch(url, { method: 'PUT', body: Buffer.alloc(256 * 1024) })).rejects.toThrow();
    expect(store.get('s.bin')).toBeUndefined();
  });

  it('probabilistic faults are reproducible with the same seed', () => {
    const run = (seed: number): boolean[] => {
      const f = new Faults(seed).add({ action: { kind: 'status', status: 500 }, times: Infinity, probability: 0.5 });
      return Array.from({ length: 32 }, () => f.take('PUT', '/x') !== undefined);
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
    const hits = run(7).filter(Boolean).length;
    expect(hits).toBeGreaterThan(4);
    expect(hits).toBeLessThan(28);
  });

  it('matches rules by method and path, honours times', () => {
    const f = new Faults()
      .add({ method: 'post', path: '/api/*', action: { kind: 'delay', ms: 1 }, times: 2 })
      .add({ path: '/exact', action: { kind: 'reset' } });
    expect(f.take('GET', '/api/x')).toBeUndefined();
    expect(f.take('POST', '/api/x')?.kind).toBe('delay');
    expect(f.take('POST', '/api/y')?.kind).toBe('delay');
    expect(f.take('POST', '/api/z')).toBeUndefined();
    expect(f.take('GET', '/exact/more')).toBeUndefined();
    expect(f.take('GET', '/exact')?.kind).toBe('reset');
    expect(f.pending).toBe(0);
    expect(f.injected).toHaveLength(3);
  });
});
