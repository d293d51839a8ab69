import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FileChangedError, WORKER_MIN_BYTES, readAndHash, sha256File } from '../../src/http/hasher.js';
import { makeWorkspace } from '../support/action.js';

const hex = (algorithm: string, b: Buffer) => createHash(algorithm).update(b).digest('hex');

async function fileWith(content: Buffer): Promise<string> {
  const ws = await makeWorkspace({ 'model.ifc': content });
  return `${ws}/model.ifc`;
}

function patterned(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 1024) b.writeUInt32LE(i ^ 0x5a5a5a5a, i);
  return b;
}

/** The open descriptors of this process that point at `file`. */
async function openOn(file: string): Promise<number> {
  const { readlink } = await import('node:fs/promises');
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === file) n++;
  return n;
}

describe('sha256File (the skip-unchanged lookup)', () => {
  it('is the SHA-256 of every byte: one read of a small file, reads of 1 MiB of a larger one; the file closed after', async () => {
    for (const size of [1, 1200, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 7]) {
      const content = patterned(size);
      const file = await fileWith(content);
      expect(await sha256File(file, size)).toBe(hex('sha256', content));
      expect(await openOn(file)).toBe(0);
    }
  });
  it('refuses a file whose size is not the one it was planned with', async () => {
    const content = patterned(300 * 1024);
    const file = await fileWith(content);
    await expect(sha256File(file, content.length + 1)).rejects.toThrow(FileChangedError);
    await expect(sha256File(file, 1000)).rejects.toThrow(FileChangedError);
    expect(await openOn(file)).toBe(0);
  });
});

describe('readAndHash', () => {
  for (const [name, size] of [
    ['a small file, inline', 3 * 1024 * 1024 + 7],
    ['a large file, through the ring and a worker', WORKER_MIN_BYTES + 21 * 1024 * 1024 + 5],
    ['an empty file', 0],
  ] as const) {
    it(`gives every byte once, in order, and their digests: ${name}`, async () => {
      const content = patterned(size);
      const read = readAndHash(await fileWith(content), size);
      const got: Buffer[] = [];
      // A chunk is only good until the next is asked for: copy it, as a socket would send it.
      for await (const chunk of read.chunks()) got.push(Buffer.from(chunk));
      expect(Buffer.concat(got).equals(content)).toBe(true);
      expect(await read.digest()).toEqual({ md5Hex: hex('md5', content), sha256Hex: hex('sha256', content) });
    });
  }

  it('waits for the worker before reusing a slot, however slowly the chunks are taken', async () => {
    const content = patterned(WORKER_MIN_BYTES + 9 * 1024 * 1024);
    const read = readAndHash(await fileWith(content), content.length);
    const md5 = createHash('md5');
    let i = 0;
    for await (const chunk of read.chunks()) {
      md5.update(chunk);
      if (i++ % 3 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const digests = await read.digest();
    expect(digests.md5Hex).toBe(md5.digest('hex'));
    expect(digests.md5Hex).toBe(hex('md5', content));
  });

  it('stops when aborted mid-file, closing the file and without hanging', async () => {
    const content = patterned(WORKER_MIN_BYTES + 8 * 1024 * 1024);
    const path = await fileWith(content);
    const read = readAndHash(path, content.length);
    const it = read.chunks()[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    expect(await openOn(path)).toBe(1);
    read.abort();
    await expect(async () => {
      for (let r = await it.next(); !r.done; r = await it.next());
    }).rejects.toThrow(/stopped/);
    expect(await openOn(path)).toBe(0);
  });
});

describe('readAndHash reads exactly the size the file had', () => {
  it.each([
    ['a small file', 3000],
    ['a large file', WORKER_MIN_BYTES + 1234],
  ])('%s that grew while it was read fails as changed, never sending a byte past that size', async (_name, size) => {
    const content = patterned(size);
    const file = await fileWith(content);
    const read = readAndHash(file, size);
    const { appendFile } = await import('node:fs/promises');
    await appendFile(file, 'more');
    let sent = 0;
    await expect(async () => {
      for await (const chunk of read.chunks()) sent += chunk.length;
    }).rejects.toThrow(FileChangedError);
    expect(sent).toBeLessThan(size); // the last chunk is held back once the size is seen to differ
    read.abort();
    expect(await openOn(file)).toBe(0);
  });

  it('a file that shrank fails as changed', async () => {
    const content = patterned(5000);
    const file = await fileWith(content);
    const read = readAndHash(file, 6000);
    await expect(async () => {
      for await (const _ of read.chunks());
    }).rejects.toThrow(/shrank to 5000 bytes/);
  });

  it('closes the file before it hands over the last chunk (nothing is awaited after the last byte)', async () => {
    const content = patterned(WORKER_MIN_BYTES + 5);
    const file = await fileWith(content);
    const read = readAndHash(file, content.length);
    const it = read.chunks()[Symbol.asyncIterator]();
    let last: IteratorResult<Buffer> | undefined;
    let total = 0;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      total += r.value.length;
      if (total === content.length) {
        last = r;
        expect(await openOn(file), 'closed when the last chunk is handed over').toBe(0);
      }
    }
    expect(last).toBeDefined();
    expect(await read.digest()).toEqual({ md5Hex: hex('md5', content), sha256Hex: hex('sha256', content) });
  });
});
