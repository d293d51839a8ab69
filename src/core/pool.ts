/**
 * Run `work` over `items` with at most `limit` in flight: every item is attempted, results keep the items'
 * order. `work` must not throw: it answers each item's result. An item may give its place up early with
 * `release()` (it goes on, but no longer counts: a file that only waits for a verdict other requests check):
 * the next item starts at once.
 */
export function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T, index: number, release: () => void) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const max = Math.max(1, limit);
  let next = 0;
  let active = 0;
  let pending = items.length;
  return new Promise<R[]>((resolve, reject) => {
    if (pending === 0) return resolve(results);
    const start = () => {
      while (active < max && next < items.length) {
        const index = next++;
        active++;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          active--;
          start();
        };
        work(items[index]!, index, release).then((result) => {
          results[index] = result;
          release();
          if (--pending === 0) resolve(results);
        }, reject);
      }
    };
    start();
  });
}
