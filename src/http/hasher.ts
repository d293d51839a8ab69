// Reads a file once for upload and hashes (MD5 and SHA-256) exactly the bytes that go to the socket, in the
// same read. Hashing costs ~1.9 CPU-seconds per GiB (MD5 alone ~1.3): on the event loop it would pace a large
// upload well below the wire (npm run bench).
//
// Small files are read with a plain stream and hashed inline, where starting a worker would cost more than it
// saves. Large files are read into a ring of shared memory: each slot is filled by one read, handed to the
// socket as it is, and hashed in place by a worker thread on another core. Nothing is copied or allocated per
// chunk, which also spares the garbage collector a gigabyte of buffers. A slot is read into again only when
//   - the worker has said it is done with it, and
//   - the socket is done with it: undici pulls the next chunk of an iterable body only once the last one was
//     written and the socket drained (client-h1 writeIterable), so by the time we come back to a slot, SLOTS - 1
//     later chunks have been pulled and it is long sent. The storage's MD5 check (upload.ts) would catch it
//     if that ever stopped holding.
// The ring bounds memory and is the backpressure: when the worker falls behind, the read waits.
//
// One worker runs both algorithms. Two (MD5 and SHA-256 apart) would finish sooner on an idle machine, but
// three busy threads crowd a two-core runner, where the upload shares the CPU with everything else; the
// benchmark measured one worker nearer to curl against a local store.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export interface Digests {
  md5Hex: string;
  sha256Hex: string;
}

export interface HashedRead {
  /** The file's bytes, in order (call once); a chunk may be used only until the next one is asked for. */
  chunks(): AsyncIterable<Buffer>;
  /** The digests of every byte `chunks` gave, once it has ended. */
  digest(): Promise<Digests>;
  /** Stop early (the upload failed); never throws. */
  abort(): void;
}

/** From this size a worker hashes. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;
/** Read size of a small file. */
const CHUNK_BYTES = 1024 * 1024;
/** Read size of a large file, and the ring's slots: how far the worker may fall behind the read. */
const SLOT_BYTES = 4 * 1024 * 1024;
const SLOTS = 4;

/** Read `absolutePath` once, hashing as it goes; `bytes` (its size) picks inline or worker hashing. */
export function readAndHash(absolutePath: string, bytes: number): HashedRead {
  return bytes >= WORKER_MIN_BYTES ? new RingRead(absolutePath) : new InlineRead(absolutePath);
}

class InlineRead implements HashedRead {
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');
  constructor(private readonly absolutePath: string) {}

  async *chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(this.absolutePath, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
      this.md5.update(chunk);
      this.sha256.update(chunk);
      yield chunk;
    }
  }

  async digest(): Promise<Digests> {
    return { md5Hex: this.md5.digest('hex'), sha256Hex: this.sha256.digest('hex') };
  }

  abort() {}
}

// To the worker: [slot, length] to hash, or 'end'. From it: the slot it is done with, or the hex digests.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const md5 = createHash('md5');
const sha256 = createHash('sha256');
const ring = new Uint8Array(workerData.ring);
parentPort.on('message', (m) => {
  if (m === 'end') return parentPort.postMessage({ md5Hex: md5.digest('hex'), sha256Hex: sha256.digest('hex') });
  const [slot, length] = m;
  const chunk = ring.subarray(slot * workerData.slotBytes, slot * workerData.slotBytes + length);
  md5.update(chunk);
  sha256.update(chunk);
  parentPort.postMessage(slot);
});`;

class RingRead implements HashedRead {
  private readonly ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  /** Slots the worker has not yet hashed. */
  private readonly hashing = new Array<boolean>(SLOTS).fill(false);
  private slotFreed: (() => void) | undefined;
  private finished: ((d: Digests) => void) | undefined;
  private error: unknown;
  private failed: ((e: unknown) => void) | undefined;
  private readonly worker: Worker;

  constructor(private readonly absolutePath: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: this.ring, slotBytes: SLOT_BYTES } });
    this.worker.on('message', (m: number | Digests) => {
      if (typeof m === 'number') {
        this.hashing[m] = false;
        this.slotFreed?.();
      } else this.finished?.(m);
    });
    this.worker.on('error', (e) => {
      this.error ??= e;
      this.failed?.(e);
      this.slotFreed?.();
    });
  }

  async *chunks(): AsyncGenerator<Buffer> {
    const handle = await open(this.absolutePath, 'r');
    try {
      for (let slot = 0; ; slot = (slot + 1) % SLOTS) {
        // Slots are filled and hashed in order, so the one we come back to is the oldest.
        while (this.hashing[slot] && !this.error) await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = undefined;
        if (this.error) throw this.error;
        const buffer = Buffer.from(this.ring, slot * SLOT_BYTES, SLOT_BYTES);
        const { bytesRead } = await handle.read(buffer, 0, SLOT_BYTES, null);
        if (bytesRead === 0) return;
        this.hashing[slot] = true;
        this.worker.postMessage([slot, bytesRead]);
        yield bytesRead === SLOT_BYTES ? buffer : buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }

  digest(): Promise<Digests> {
    return new Promise<Digests>((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.failed = reject;
      this.finished = (d) => {
        void this.worker.terminate();
        resolve(d);
      };
      this.worker.postMessage('end');
    });
  }

  abort() {
    // Wake a read waiting for a slot, so it closes the file rather than wait for a worker that is gone.
    this.error ??= new Error('the upload was stopped');
    this.slotFreed?.();
    void this.worker.terminate();
  }
}
