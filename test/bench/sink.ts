/**
 * A storage sink for the benchmark: it answers presigned PUTs like S3 (ETag = quoted MD5 of the body) but
 * hashes the body as it streams in and discards it, so a 2 GiB upload costs the benchmark's own process no
 * memory. It stands in for {@link BlobStore} where an emulator only presigns PUTs (the Coldstream emulator
 * calls start, url, bucket, presignPut and get), and gives curl a lighter server to show what the blob
 * store emulator, which keeps the body and computes MD5 and SHA-256 of it, costs.
 *
 * It checks what the action could get wrong on the wire: the grant in the URL, the signed Content-Type,
 * Content-Length present and equal to what arrived (no chunked body). It does not check SigV4: blob.ts does.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlobStore, PresignOptions } from '../emulators/blob.js';
import { Listener } from '../emulators/server.js';
import type { RequestLogEntry } from '../emulators/server.js';

export interface SinkObject {
  key: string;
  size: number;
  /** Empty when the sink does not hash. */
  md5Hex: string;
  contentType: string;
  /** The first bytes (up to 4 KiB), enough for a magic-bytes check; `bytes.length` is NOT the size. */
  head: Buffer;
}

interface Grant {
  key: string;
  contentType?: string;
}

const HEAD_BYTES = 4096;

export class SinkStore {
  readonly requests: RequestLogEntry[] = [];
  readonly bucket = 'bench-sink';
  private readonly objects = new Map<string, SinkObject>();
  private readonly grants = new Map<string, Grant>();
  private readonly listener = new Listener((req, res) => this.handle(req, res), () => ({ name: 'sink', requests: this.requests }));

  /**
   * @param bytesPerSec read the body no faster than this (a network link), unlimited when absent
   * @param hash compute the MD5 (and answer it as the ETag, as S3 does); without it the sink only reads and
   *   discards, as a remote store costs this machine, and answers no ETag
   */
  constructor(
    private readonly bytesPerSec?: number,
    private readonly hash = true,
  ) {}

  start(): Promise<string> {
    return this.listener.start();
  }

  close(): Promise<void> {
    return this.listener.close();
  }

  get started(): boolean {
    return this.listener.started;
  }

  get url(): string {
    return this.listener.url;
  }

  /** An S3-shaped presigned URL; the signature is a random grant token (masked by the action like a real one). */
  presignPut(opts: PresignOptions): string {
    const signature = randomBytes(32).toString('hex');
    this.grants.set(signature, { key: opts.key, ...(opts.contentType !== undefined ? { contentType: opts.contentType } : {}) });
    const path = `/${this.bucket}/${opts.key.split('/').map(encodeURIComponent).join('/')}`;
    return `${this.url}${path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=${opts.expiresInSec ?? 900}&X-Amz-Signature=${signature}`;
  }

  get(key: string): SinkObject | undefined {
    return this.objects.get(key);
  }

  deleteAll(): void {
    this.objects.clear();
  }

  /** This sink where an emulator's constructor wants a BlobStore (it only presigns PUTs and reads `get`). */
  asBlobStore(): BlobStore {
    return this as unknown as BlobStore;
  }

  private handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sink');
    const fail = (status: number, code: string) => {
      req.resume();
      res.writeHead(status, { 'Content-Type': 'application/xml', Connection: 'close' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${code}</Message></Error>`);
    };
    const grant = this.grants.get(url.searchParams.get('X-Amz-Signature') ?? '');
    if (req.method !== 'PUT' || !grant) return Promise.resolve(fail(403, 'AccessDenied'));
    if (grant.contentType !== undefined && req.headers['content-type'] !== grant.contentType) return Promise.resolve(fail(403, 'SignatureDoesNotMatch'));
    if (req.headers['transfer-encoding'] !== undefined) return Promise.resolve(fail(501, 'NotImplemented'));
    const length = Number(req.headers['content-length']);
    if (req.headers['content-length'] === undefined || !Number.isSafeInteger(length)) return Promise.resolve(fail(411, 'MissingContentLength'));

    return new Promise((resolve) => {
      const md5 = this.hash ? createHash('md5') : undefined;
      const head: Buffer[] = [];
      let headBytes = 0;
      let size = 0;
      const started = Date.now();
      req.on('data', (chunk: Buffer) => {
        md5?.update(chunk);
        size += chunk.length;
        if (this.bytesPerSec) {
          // Ahead of the link's pace: stop reading until it catches up (TCP backpressure reaches the client).
          const aheadMs = (size / this.bytesPerSec) * 1000 - (Date.now() - started);
          if (aheadMs > 1) {
            req.pause();
            setTimeout(() => req.resume(), aheadMs);
          }
        }
        if (headBytes < HEAD_BYTES) {
          head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
          headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
        }
      });
      req.once('end', () => {
        if (size !== length) {
          res.destroy(); // a short body stores nothing
          return resolve();
        }
        const md5Hex = md5?.digest('hex') ?? '';
        this.objects.set(grant.key, { key: grant.key, size, md5Hex, contentType: String(req.headers['content-type'] ?? ''), head: Buffer.concat(head) });
        res.writeHead(200, { ...(md5Hex ? { ETag: `"${md5Hex}"` } : {}), 'Content-Length': '0' });
        res.end();
        resolve();
      });
      // An aborted body stores nothing.
      req.once('close', () => {
        if (!req.complete) resolve();
      });
    });
  }
}
