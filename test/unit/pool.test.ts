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

  it('an item that rejoins waits for a place, goes before items not yet started, and the bound holds', async () => {
    const order: string[] = [];
    const gates = Array.from({ length: 4 }, () => deferred());
    let active = 0;
    let most = 0;
    const done = inParallel([0, 1, 2, 3], 1, async (i, _index, release, rejoin) => {
      most = Math.max(most, ++active);
      order.push(`start ${i}`);
      if (i === 0) {
        // Give the place up while only waiting, then take one again for a request of its own.
        active--;
        release();
        await gates[0]!.promise;
        await rejoin();
        most = Math.max(most, ++active);
        order.push('0 again');
        await rejoin(); // holding already: at once
        active--;
        return i;
      }
      await gates[i]!.promise;
      active--;
      return i;
    });
    await tick();
    expect(order).toEqual(['start 0', 'start 1']);
    gates[0]!.resolve(); // 0 asks to rejoin while 1 holds the only place
    await tick();
    expect(order).toEqual(['start 0', 'start 1']);
    gates[1]!.resolve(); // 1 ends: its place goes to 0, not to 2
    await tick();
    await tick();
    expect(order).toEqual(['start 0', 'start 1', '0 again', 'start 2']);
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await done).toEqual([0, 1, 2, 3]);
    expect(most).toBe(1);
  });

  it('answers at once for no items', async () => {
    expect(await inParallel([], 4, async () => 1)).toEqual([]);
  });
});
