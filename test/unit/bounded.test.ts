// Answers are read to a cap: whole below it, cut and the body destroyed past it, and a body lost on the way fails.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readCapped } from '../../src/http/bounded.js';

describe('readCapped', () => {
  it('reads a body below the cap whole, across chunks and multi-byte characters split between them', async () => {
    const bytes = Buffer.from('{"name":"Ünïcødé 🚀 part"}');
    const body = Readable.from([bytes.subarray(0, 11), bytes.subarray(11, 13), bytes.subarray(13)], { objectMode: false });
    expect(await readCapped(body, 1024)).toEqual({ text: bytes.toString('utf8'), truncated: false });
    expect(await readCapped(Readable.from([], { objectMode: false }), 10)).toEqual({ text: '', truncated: false });
  });

  it('cuts at the cap and destroys the body, so nothing more is read from an endless answer', async () => {
    let pushed = 0;
    const endless = new Readable({
      read() {
        pushed++;
        this.push(Buffer.alloc(1000, 0x61));
      },
    });
    const got = await readCapped(endless, 2500);
    expect(got).toEqual({ text: 'a'.repeat(2500), truncated: true });
    expect(endless.destroyed).toBe(true);
    expect(pushed).toBeLessThan(10);
    // undici's body reports its destruction as an error (the request aborted): past the cap, that is nobody's.
    const reporting = new Readable({
      read() {
        this.push(Buffer.alloc(1000, 0x62));
      },
      destroy(_err, callback) {
        callback(new Error('Request aborted'));
      },
    });
    const errors: unknown[] = [];
    const onUncaught = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      expect(await readCapped(reporting, 1500)).toEqual({ text: 'b'.repeat(1500), truncated: true });
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(errors).toEqual([]);
  });

  it('fails when the body fails or is destroyed before its end', async () => {
    const failing = new Readable({ read() {} });
    const reading = readCapped(failing, 100);
    failing.push(Buffer.from('part'));
    failing.destroy(new Error('socket hang up'));
    await expect(reading).rejects.toThrow('socket hang up');

    const cut = new Readable({ read() {} });
    const reading2 = readCapped(cut, 100);
    cut.push(Buffer.from('part'));
    cut.destroy();
    await expect(reading2).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
