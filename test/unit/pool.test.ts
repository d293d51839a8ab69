import { describe, expect, it } from 'vitest';
import { inParallel } from '../../src/core/pool.js';

/** A promise and its resolver. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('inParallel', () => {
  it('keeps at most `limit` in flight and the results in the items order', async () => {
    const gates = Array.from({ length: 6 }, () => deferred());
    let active = 0;
    let most = 0;
    const done = inParallel([0, 1, 2, 3, 4, 5], 2, async (i) => {
      most = Math.max(most, ++active);
      await gates[i]!.promise;
      active--;
      return i * 10;
    });
    for (const i of [1, 0, 3, 2, 5, 4]) {
      await tick();
      gates[i]!.resolve();
    }
    expect(await done).toEqual([0, 10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });

  it('an item that releases its place lets the next start while it goes on', async () => {
    const started: number[] = [];
    const finish = deferred();
    const done = inParallel([0, 1, 2], 1, async (i, _index, release) => {
      started.push(i);
      if (i === 0) {
        release();
        release(); // once counts
        await finish.promise;
      }
      return i;
    });
    await tick();
    // 0 is still going; 1 and 2 ran in its place, one at a time.
    expect(started).toEqual([0, 1, 2]);
    finish.resolve();
    expect(await done).toEqual([0, 1, 2]);
  });

  it('answers at once for no items', async () => {
    expect(await inParallel([], 4, async () => 1)).toEqual([]);
  });
});
