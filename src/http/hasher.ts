// MD5 and SHA-256 of an upload, fed from the same read that feeds the socket. Hashing costs ~3 CPU-seconds
// per GB; on the event loop it paces a large upload well below the wire (npm run bench). So for large files
// the chunks are handed (copied, not re-read) to a worker thread that hashes them on another core, with
// backpressure so memory stays bounded; small files hash inline, where a worker would cost more than it saves.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface Digests {
  md5Hex: string;
  sha256Hex: string;
}

export interface Hasher {
  /** Resolves when the chunk may be dropped by the caller (at once, unless the worker is far behind). */
  update(chunk: Buffer): Promise<void> | void;
  digest(): Promise<Digests>;
  /** Stop early (the upload failed); never throws. */
  abort(): void;
}

/** From this size a worker hashes. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;
/** How far the worker may fall behind before the read waits for it. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const md5 = createHash('md5');
const sha256 = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === 'end') {
    parentPort.postMessage({ md5Hex: md5.digest('hex'), sha256Hex: sha256.digest('hex') });
    return;
  }
  const chunk = new Uint8Array(m);
  md5.update(chunk);
  sha256.update(chunk);
  parentPort.postMessage(chunk.byteLength);
});`;

class InlineHasher implements Hasher {
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');
  update(chunk: Buffer) {
    this.md5.update(chunk);
    this.sha256.update(chunk);
  }
  async digest() {
    return { md5Hex: this.md5.digest('hex'), sha256Hex: this.sha256.digest('hex') };
  }
  abort() {}
}

class WorkerHasher implements Hasher {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private queued = 0;
  private drained: (() => void) | undefined;
  private done: ((d: Digests) => void) | undefined;
  private failed: ((e: unknown) => void) | undefined;
  private error: unknown;

  constructor() {
    this.worker.on('message', (m: number | Digests) => {
      if (typeof m === 'number') {
        this.queued -= m;
        if (this.queued <= MAX_QUEUED_BYTES / 2) this.drained?.();
      } else this.done?.(m);
    });
    this.worker.on('error', (e) => {
      this.error = e;
      this.failed?.(e);
      this.drained?.();
    });
  }

  update(chunk: Buffer): Promise<void> | void {
    if (this.error) throw this.error;
    // One copy into a buffer the worker then owns (transferred, not cloned again).
    const copy = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    this.queued += copy.byteLength;
    this.worker.postMessage(copy, [copy]);
    if (this.queued > MAX_QUEUED_BYTES) {
      return new Promise<void>((resolve) => {
        this.drained = () => {
          this.drained = undefined;
          resolve();
        };
      });
    }
  }

  digest(): Promise<Digests> {
    return new Promise<Digests>((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.done = (d) => {
        void this.worker.terminate();
        resolve(d);
      };
      this.failed = reject;
      this.worker.postMessage('end');
    });
  }

  abort() {
    void this.worker.terminate();
  }
}

export function createHasher(bytes: number): Hasher {
  return bytes >= WORKER_MIN_BYTES ? new WorkerHasher() : new InlineHasher();
}
