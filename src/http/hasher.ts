// Reads a file once for upload and hashes (MD5 and SHA-256) exactly the bytes that go to the socket, in the
// same read. Hashing costs ~2.2 CPU-seconds per GiB (MD5 ~1.5, SHA-256 ~0.75): on the event loop it would pace a
// large upload well below the wire (npm run bench).
//
// Every read is of exactly the size the file had when it was matched, never one past its end: the last chunk is
// handed over with the file already closed and its size checked, so the body ends the moment its last byte is
// written. (An extra read for end-of-file would let storage answer before the body ended, and undici then closes
// the connection instead of keeping it for the next upload: a new TCP and TLS handshake per file.)
//
// Small files are read into one buffer sized to them and hashed inline, where starting a worker would cost more
// than it saves. Large files are read into a ring of shared memory: each slot is filled by one read, handed to
// the socket as it is, and hashed in place by two worker threads at once, one per algorithm (they are
// independent, and MD5, which cannot be split, is the slowest: the upload runs at the speed of its thread).
// Nothing is copied or allocated per chunk, which also spares the garbage collector a gigabyte of buffers. A slot
// is read into again only when
//   - both workers have said they are done with it, and
//   - the socket is done with it: undici pulls the next chunk of an iterable body only once the last one was
//     written and the socket drained (client-h1 writeIterable), so by the time we come back to a slot, SLOTS - 1
//     later chunks have been pulled and it is long sent. The storage's MD5 check (upload.ts) would catch it
//     if that ever stopped holding.
// The ring bounds memory and is the backpressure: when a worker falls behind, the read waits.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
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

/** The file is not the size it had when it was matched: it changed while it was being uploaded. */
export class FileChangedError extends Error {
  override name = 'FileChangedError';
}

/** From this size two workers hash. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;
/** Files up to this size are read synchronously, in one read. */
const SYNC_READ_MAX = 256 * 1024;
/** Largest read of a small file (smaller files are read at once, into a buffer of their own size). */
const CHUNK_BYTES = 1024 * 1024;
/** Read size of a large file, and the ring's slots: how far a worker may fall behind the read. */
const SLOT_BYTES = 4 * 1024 * 1024;
const SLOTS = 4;
const ALGORITHMS = ['md5', 'sha256'] as const;

/** Read `absolutePath` once, hashing as it goes; `bytes` (its size when matched) is exactly what is read. */
export function readAndHash(absolutePath: string, bytes: number): HashedRead {
  return bytes >= WORKER_MIN_BYTES ? new RingRead(absolutePath, bytes) : new InlineRead(absolutePath, bytes);
}

/**
 * Reads exactly `expected` bytes in reads of at most `maxRead`, each into `bufferFor(length)`; before the last
 * chunk is handed over, checks the file's size and closes it, so nothing is awaited after the last byte.
 */
async function* exactReads(absolutePath: string, expected: number, maxRead: number, bufferFor: (length: number) => Promise<Buffer>, onChunk: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  const handle: FileHandle = await open(absolutePath, 'r');
  let isOpen = true;
  try {
    let done = 0;
    while (done < expected) {
      const length = Math.min(maxRead, expected - done);
      const buffer = await bufferFor(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, done + filled);
        if (bytesRead === 0) throw new FileChangedError(`the file shrank to ${done + filled} bytes while it was being uploaded (it had ${expected})`);
        filled += bytesRead;
      }
      done += length;
      onChunk(buffer);
      if (done === expected) {
        const { size } = await handle.stat();
        if (size !== expected) throw new FileChangedError(`the file is ${size} bytes now, ${expected} when the upload began: it changed while it was being uploaded`);
        isOpen = false;
        await handle.close();
      }
      yield buffer;
    }
  } finally {
    if (isOpen) await handle.close();
  }
}

/** The whole of a small file in one synchronous read, checked against its size before it is handed over. */
async function* syncRead(absolutePath: string, expected: number, onChunk: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  const buffer = readWholeSync(absolutePath, expected);
  onChunk(buffer);
  yield buffer;
}

/**
 * The whole of a file of `expected` bytes (a small one: SYNC_READ_MAX at most is read this way), in one
 * synchronous read into a buffer of its size, checked against the file's size before it is returned.
 */
export function readWholeSync(absolutePath: string, expected: number): Buffer {
  const buffer = Buffer.allocUnsafe(expected);
  const fd = openSync(absolutePath, 'r');
  try {
    let filled = 0;
    while (filled < expected) {
      const bytesRead = readSync(fd, buffer, filled, expected - filled, filled);
      if (bytesRead === 0) throw new FileChangedError(`the file shrank to ${filled} bytes while it was being read (it had ${expected})`);
      filled += bytesRead;
    }
    const { size } = fstatSync(fd);
    if (size !== expected) throw new FileChangedError(`the file is ${size} bytes now, ${expected} when it was sized: it changed while it was being read`);
  } finally {
    closeSync(fd);
  }
  return buffer;
}

class InlineRead implements HashedRead {
  private readonly md5 = createHash('md5');
  private readonly sha256 = createHash('sha256');
  constructor(
    private readonly absolutePath: string,
    private readonly bytes: number,
  ) {}

  chunks(): AsyncGenerator<Buffer> {
    const hash = (chunk: Buffer) => {
      this.md5.update(chunk);
      this.sha256.update(chunk);
    };
    // A file of a few hundred KiB is read in one go, synchronously: a handful of system calls on a page-cached
    // file take microseconds, where five promises through the thread pool cost more CPU than the read.
    if (this.bytes <= SYNC_READ_MAX) return syncRead(this.absolutePath, this.bytes, hash);
    // A fresh buffer per read: a small file takes one read into a buffer of its own size.
    return exactReads(this.absolutePath, this.bytes, CHUNK_BYTES, async (length) => Buffer.allocUnsafe(length), (chunk) => {
      this.md5.update(chunk);
      this.sha256.update(chunk);
    });
  }

  async digest(): Promise<Digests> {
    return { md5Hex: this.md5.digest('hex'), sha256Hex: this.sha256.digest('hex') };
  }

  abort() {}
}

// To a worker: [slot, length] to hash, or 'end'. From it: the slot it is done with, or its hex digest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const hash = require('node:crypto').createHash(workerData.algorithm);
const ring = new Uint8Array(workerData.ring);
parentPort.on('message', (m) => {
  if (m === 'end') return parentPort.postMessage(hash.digest('hex'));
  const [slot, length] = m;
  hash.update(ring.subarray(slot * workerData.slotBytes, slot * workerData.slotBytes + length));
  parentPort.postMessage(slot);
});`;

class RingRead implements HashedRead {
  private readonly ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  /** Per slot, how many workers have not yet hashed it. */
  private readonly hashing = new Array<number>(SLOTS).fill(0);
  private slotFreed: (() => void) | undefined;
  private error: unknown;
  private readonly workers: Worker[];
  private readonly digests = new Map<string, string>();
  private settle: { resolve: (d: Digests) => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly absolutePath: string,
    private readonly bytes: number,
  ) {
    this.workers = ALGORITHMS.map((algorithm) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: this.ring, slotBytes: SLOT_BYTES, algorithm } });
      worker.on('message', (m: number | string) => {
        if (typeof m === 'number') {
          if (--this.hashing[m]! === 0) this.slotFreed?.();
        } else {
          this.digests.set(algorithm, m);
          if (this.digests.size === ALGORITHMS.length) this.finish();
        }
      });
      worker.on('error', (e) => {
        this.error ??= e;
        this.settle?.reject(e);
        this.slotFreed?.();
      });
      return worker;
    });
  }

  chunks(): AsyncGenerator<Buffer> {
    let slot = -1;
    return exactReads(
      this.absolutePath,
      this.bytes,
      SLOT_BYTES,
      async (length) => {
        // Slots are filled and hashed in order, so the one we come back to is the oldest.
        slot = (slot + 1) % SLOTS;
        while (this.hashing[slot]! > 0 && !this.error) await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = undefined;
        if (this.error) throw this.error;
        return Buffer.from(this.ring, slot * SLOT_BYTES, length);
      },
      (chunk) => {
        this.hashing[slot] = this.workers.length;
        for (const worker of this.workers) worker.postMessage([slot, chunk.length]);
      },
    );
  }

  digest(): Promise<Digests> {
    return new Promise<Digests>((resolve, reject) => {
      if (this.error) return reject(this.error);
      this.settle = { resolve, reject };
      for (const worker of this.workers) worker.postMessage('end');
    });
  }

  private finish() {
    for (const worker of this.workers) void worker.terminate();
    this.settle?.resolve({ md5Hex: this.digests.get('md5')!, sha256Hex: this.digests.get('sha256')! });
  }

  abort() {
    // Wake a read waiting for a slot, so it closes the file rather than wait for a worker that is gone.
    this.error ??= new Error('the upload was stopped');
    this.slotFreed?.();
    for (const worker of this.workers) void worker.terminate();
  }
}

/**
 * The SHA-256 of a file's bytes, read once to the end: what the `skip-unchanged` lookup compares, before deciding
 * whether to upload the file at all (MD5 only ever checks what storage says it received, at the upload). Same
 * reads as an upload, bounded memory; hashed on the main thread, a read of at most 1 MiB at a time, which for a
 * large file takes half the CPU of the two hashing threads and no longer than the slower of them (MD5) would.
 */
export async function sha256File(absolutePath: string, bytes: number): Promise<string> {
  const sha256 = createHash('sha256');
  const hash = (chunk: Buffer) => void sha256.update(chunk);
  const reads = bytes <= SYNC_READ_MAX ? syncRead(absolutePath, bytes, hash) : exactReads(absolutePath, bytes, CHUNK_BYTES, async (length) => Buffer.allocUnsafe(length), hash);
  for await (const chunk of reads) void chunk;
  return sha256.digest('hex');
}
