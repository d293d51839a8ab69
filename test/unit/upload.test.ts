import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptionError, UploadUrlExpiredError } from '../../src/core/errors.js';
import type { LocalFile } from '../../src/core/types.js';
import { Http } from '../../src/http/client.js';
import { multipartLayout, uploadFile, verifyStoredDigest } from '../../src/http/upload.js';
import { makeWorkspace } from '../support/action.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const quiet = { info: () => {}, warn: () => {}, debug: () => {} };
const http = (stallMs = 2000, maxAttempts = 3) =>
  new Http({ policy: { maxAttempts, baseDelayMs: 5, maxDelayMs: 20 }, requestTimeoutMs: 5000, stallTimeoutMs: stallMs, userAgent: 'test', log: quiet });

let close: (() => void) | undefined;
/** The server `server()` started last. */
let current: Server | undefined;
afterEach(() => close?.());

async function server(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<string> {
  const s = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    await once(req, 'end').catch(() => {});
    handler(req, Buffer.concat(chunks), res);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  current = s;
  close = () => { s.closeAllConnections(); s.close(); };
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** Bytes that differ at every 4 KiB, so a chunk sent twice or out of place shows. */
function patterned(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4096) b.writeUInt32LE(i, i);
  return b;
}

async function fileOf(content: Buffer, name = 'part.step'): Promise<LocalFile> {
  const ws = await makeWorkspace({ [name]: content });
  return { absolutePath: `${ws}/${name}`, path: name, name, ext: name.split('.').pop()!, bytes: content.length };
}

describe('multipart body', () => {
  it('puts every field first and the file last, in the field `file`, with an exact length', () => {
    const l = multipartLayout({ key: 'uploads/a.pdf', policy: 'eyJ9' }, 'a.pdf', 'application/pdf', 10, 'BOUNDARY');
    const body = Buffer.concat([l.head, Buffer.alloc(10, 0x41), l.tail]).toString();
    expect(body).toBe(
      '--BOUNDARY\r\nContent-Disposition: form-data; name="key"\r\n\r\nuploads/a.pdf\r\n' +
        '--BOUNDARY\r\nContent-Disposition: form-data; name="policy"\r\n\r\neyJ9\r\n' +
        '--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n' +
        'AAAAAAAAAA\r\n--BOUNDARY--\r\n',
    );
    expect(l.contentLength).toBe(Buffer.byteLength(body));
  });
});

describe('stored digest check', () => {
  const sum = md5(Buffer.from('abc'));
  const other = '0'.repeat(32);
  it('takes the quoted MD5 of a plain S3-style store as evidence, and Content-MD5', () => {
    expect(verifyStoredDigest({ etag: `"${sum}"` }, sum, 'f')).toEqual(['etag-md5']);
    expect(verifyStoredDigest({ etag: `"${sum}"`, 'x-amz-server-side-encryption': 'AES256' }, sum, 'f')).toEqual(['etag-md5']); // SSE-S3 keeps the MD5
    expect(verifyStoredDigest({ 'content-md5': Buffer.from(sum, 'hex').toString('base64') }, sum, 'f')).toEqual(['content-md5']);
  });
  it('neither fails nor verifies on ETags that are no MD5: Azure, multipart, weak, SSE-KMS, SSE-C, none', () => {
    expect(verifyStoredDigest({ etag: '"0x8DCB1A2B3C4D5E6"' }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({ etag: `"${other}-3"` }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({ etag: `W/"${other}"` }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({ etag: `"${other}"`, 'x-amz-server-side-encryption': 'aws:kms' }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({ etag: `"${other}"`, 'x-amz-server-side-encryption': 'aws:kms:dsse' }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({ etag: `"${other}"`, 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }, sum, 'f')).toEqual([]);
    expect(verifyStoredDigest({}, sum, 'f')).toEqual([]);
  });
  it('reports a different MD5 as corruption, from the ETag or Content-MD5', () => {
    expect(() => verifyStoredDigest({ etag: `"${other}"` }, sum, 'f')).toThrow(CorruptionError);
    expect(() => verifyStoredDigest({ etag: '"0x8DC"', 'content-md5': Buffer.from(other, 'hex').toString('base64') }, sum, 'f')).toThrow(CorruptionError);
  });
});

describe('uploadFile', () => {
  it('streams the bytes with Content-Length and hashes them from the same read', async () => {
    const content = Buffer.from('ISO-10303-21;\n'.repeat(50_000));
    let got: { headers: IncomingMessage['headers']; body: Buffer } | undefined;
    const url = await server((req, body, res) => {
      got = { headers: req.headers, body };
      res.writeHead(200, { etag: `"${md5(body)}"` }).end();
    });
    const file = await fileOf(content);
    const receipt = await uploadFile(http(), file, { method: 'PUT', url: `${url}/b/k?sig=x`, headers: { 'Content-Type': 'application/step' } }, { signal: new AbortController().signal, label: 't' });
    expect(got!.body.equals(content)).toBe(true);
    expect(got!.headers['content-length']).toBe(String(content.length));
    expect(got!.headers['content-type']).toBe('application/step');
    expect(got!.headers['transfer-encoding']).toBeUndefined();
    expect(receipt).toMatchObject({ md5Hex: md5(content), sha256Hex: createHash('sha256').update(content).digest('hex'), bytes: content.length, etag: `"${md5(content)}"` });
    // A file waiting for its provider's verdict holds its receipt: it carries what is read of it, not storage's
    // other headers (5,000 waiting files held about 9 MiB of them at the peak).
    expect(Object.keys(receipt).sort()).toEqual(['bytes', 'etag', 'evidence', 'md5Hex', 'sha256Hex', 'status']);
  });

  it('keeps one connection for many small uploads: the body ends with its last byte, before storage answers', async () => {
    const connections: unknown[] = [];
    const url = await server((_req, body, res) => res.writeHead(200, { etag: `"${md5(body)}"` }).end());
    const client = http();
    const files = await Promise.all(Array.from({ length: 40 }, (_, i) => fileOf(patterned(1000 + i * 997))));
    // Storage answers as soon as it has Content-Length bytes (this server on 'end'): a read past the file's end
    // would still be pending then, and undici would close the connection rather than reuse it.
    current!.on('connection', (c) => connections.push(c));
    for (const file of files) await uploadFile(client, file, { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' });
    await client.close();
    expect(connections.length).toBeLessThanOrEqual(2);
  });

  it('hashes a large file in a worker fed by the same read, with the same digests', async () => {
    const content = patterned(40 * 1024 * 1024 + 12_345);
    let received: Buffer | undefined;
    const url = await server((_req, body, res) => {
      received = body;
      res.writeHead(200, { etag: `"${md5(body)}"` }).end();
    });
    const receipt = await uploadFile(http(), await fileOf(content), { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' });
    expect(received!.equals(content)).toBe(true);
    expect(receipt.md5Hex).toBe(md5(content));
    expect(receipt.sha256Hex).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('sends every byte of a large file intact to storage that reads slowly (the read ring is reused only once sent)', async () => {
    const content = patterned(48 * 1024 * 1024);
    const s = createServer((req, res) => {
      // Stop reading for a while after every 2 MiB, so the socket backs up and the sender has to wait for it.
      const parts: Buffer[] = [];
      let sincePause = 0;
      req.on('data', (c: Buffer) => {
        parts.push(c);
        sincePause += c.length;
        if (sincePause >= 2 * 1024 * 1024) {
          sincePause = 0;
          req.pause();
          setTimeout(() => req.resume(), 10);
        }
      });
      req.on('end', async () => {
        let body = Buffer.concat(parts);
        if (req.method === 'POST') {
          const form = await new Response(body, { headers: { 'content-type': req.headers['content-type']! } }).formData();
          body = Buffer.from(await (form.get('file') as File).arrayBuffer());
        }
        if (body.equals(content)) res.writeHead(200, { etag: `"${md5(body)}"` }).end();
        else res.writeHead(400).end(`received different bytes (${body.length})`);
      });
    });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    close = () => { s.closeAllConnections(); s.close(); };
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const file = await fileOf(content);
    const receipt = await uploadFile(http(), file, { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' });
    expect(receipt.md5Hex).toBe(md5(content));
    // And as a multipart POST: the fields, the ring's chunks, then the closing boundary.
    const posted = await uploadFile(http(), file, { method: 'POST', url, headers: {}, fields: { key: 'k' } }, { signal: new AbortController().signal, label: 't' });
    expect(posted.md5Hex).toBe(md5(content));
  });

  it('retries a large file whose connection drops mid-body, with a fresh read and worker', async () => {
    const content = patterned(36 * 1024 * 1024);
    let calls = 0;
    const s = createServer((req, res) => {
      calls++;
      const parts: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        parts.push(c);
        n += c.length;
        if (calls === 1 && n > 10 * 1024 * 1024) req.socket.destroy();
      });
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.writeHead(200, { etag: `"${md5(body)}"` }).end();
      });
    });
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    close = () => { s.closeAllConnections(); s.close(); };
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const receipt = await uploadFile(http(), await fileOf(content), { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' });
    expect(calls).toBe(2);
    expect(receipt.md5Hex).toBe(md5(content));
  });

  it('retries a 503 and a dropped connection with a fresh read', async () => {
    const content = Buffer.alloc(300_000, 7);
    let calls = 0;
    const url = await server((req, body, res) => {
      calls++;
      if (calls === 1) return void res.writeHead(503).end('slow down');
      if (calls === 2) return void res.socket?.destroy();
      res.writeHead(200, { etag: `"${md5(body)}"` }).end();
    });
    const receipt = await uploadFile(http(), await fileOf(content), { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' });
    expect(calls).toBe(3);
    expect(receipt.md5Hex).toBe(md5(content));
  });

  it('answers an expired URL with UploadUrlExpiredError, and a wrong stored ETag with CorruptionError', async () => {
    const url = await server((req, _body, res) => {
      if (req.url?.includes('expired')) return void res.writeHead(403).end('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      // Azure's words for an expired SAS (the message spans lines).
      if (req.url?.includes('azure')) {
        return void res
          .writeHead(403, { 'x-ms-error-code': 'AuthenticationFailed' })
          .end('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.\nRequestId:1\nTime:2026-11-23</Message><AuthenticationErrorDetail>Signature not valid in the specified time frame: Start [Mon, 23 Nov 2026 10:00:00 GMT] - Expiry [Mon, 23 Nov 2026 10:05:00 GMT] - Current [Mon, 23 Nov 2026 11:00:00 GMT]</AuthenticationErrorDetail></Error>');
      }
      if (req.url?.includes('mismatch')) return void res.writeHead(403, { 'x-ms-error-code': 'AuthenticationFailed' }).end('<Error><Code>AuthenticationFailed</Code><Message>Signature did not match.</Message></Error>');
      if (req.url?.includes('empty')) return void res.writeHead(400, { 'x-ms-error-code': 'MissingRequiredHeader' }).end();
      res.writeHead(200, { etag: `"${'f'.repeat(32)}"` }).end();
    });
    const file = await fileOf(Buffer.from('hello'));
    const opts = { signal: new AbortController().signal, label: 't' };
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/expired`, headers: {} }, opts)).rejects.toBeInstanceOf(UploadUrlExpiredError);
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/ok`, headers: {} }, opts)).rejects.toBeInstanceOf(CorruptionError);
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/azure`, headers: {} }, opts)).rejects.toBeInstanceOf(UploadUrlExpiredError);
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/mismatch`, headers: {} }, opts)).rejects.toThrow(/HTTP 403 AuthenticationFailed: Signature did not match/);
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/empty`, headers: {} }, opts)).rejects.toThrow(/HTTP 400 MissingRequiredHeader: \(no body\)/);
  });

  it('aborts an upload whose answer never comes, after the stall timeout', async () => {
    const url = await server(() => { /* never answers */ });
    const started = Date.now();
    await expect(
      uploadFile(http(200, 1), await fileOf(Buffer.from('x'.repeat(1000))), { method: 'PUT', url, headers: {} }, { signal: new AbortController().signal, label: 't' }),
    ).rejects.toThrow(/stalled/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends a multipart POST that a form parser reads back', async () => {
    const content = Buffer.from('%PDF-1.7 drawing %%EOF');
    let seen: FormData | undefined;
    const url = await server(async (req, body, res) => {
      seen = await new Response(body, { headers: { 'content-type': req.headers['content-type']! } }).formData();
      res.writeHead(204, { etag: `"${md5(content)}"` }).end();
    });
    await uploadFile(http(), await fileOf(content, 'ga.pdf'), { method: 'POST', url, headers: {}, fields: { key: 'u/ga.pdf', 'Content-Type': 'application/pdf' } }, { signal: new AbortController().signal, label: 't' });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen!.get('key')).toBe('u/ga.pdf');
    const file = seen!.get('file') as File;
    expect(Buffer.from(await file.arrayBuffer()).equals(content)).toBe(true);
    expect([...seen!.keys()].at(-1)).toBe('file');
  });
});

describe('bounded reading and local errors', () => {
  it('a file that vanished before its upload is a local error, not retried as a network one', async () => {
    let requests = 0;
    const url = await server((_req, _body, res) => {
      requests++;
      res.writeHead(200).end();
    });
    const file = await fileOf(patterned(10_000));
    const { rm } = await import('node:fs/promises');
    await rm(file.absolutePath);
    await expect(uploadFile(http(), file, { method: 'PUT', url: `${url}/k`, headers: {} }, { signal: new AbortController().signal, label: 'part.step' })).rejects.toMatchObject({
      code: 'unreadable',
      message: expect.stringMatching(/cannot be read: ENOENT/),
    });
    expect(requests).toBeLessThanOrEqual(1);
  });

  it('an endless error body is read to a few KiB and the connection dropped', async () => {
    let sent = 0;
    const url = await server((_req, _body, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && sent < 1024 ** 3) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => {});
      pump();
    });
    const res = await http(2000, 1).request({ method: 'GET', url: `${url}/x`, idempotent: true, label: 'get' });
    expect(res.status).toBe(500);
    expect(res.text.length).toBe(8 * 1024);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });
});
