/**
 * Run `work` over `items` with at most `limit` in flight: every item is attempted, results keep the items'
 * order. `work` must not throw: it answers each item's result. An item may give its place up early with
 * `release()` (it goes on, but no longer counts: a file that only waits for a verdict other requests check):
 * the next item starts at once. It takes a place again with `rejoin()` before it sends anything of its own
 * (Speckle's version message after the ingestion): that waits for a free place, and an item rejoining goes before
 * items not yet started, so the ones furthest along finish first.
 */
export function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number, release: () => void, rejoin: () => Promise<void>) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const max = Math.max(1, limit);
  let next = 0;
  let active = 0;
  let pending = items.length;
  /** Items waiting to take a place again, in the order they asked. */
  const rejoining: (() => void)[] = [];
  return new Promise<R[]>((resolve, reject) => {
    if (pending === 0) return resolve(results);
    const start = () => {
      while (active < max && rejoining.length > 0) {
        active++;
        rejoining.shift()!();
      }
      while (active < max && next < items.length) {
        const index = next++;
        active++;
        let holding = true;
        const release = () => {
          if (!holding) return;
          holding = false;
          active--;
          start();
        };
        const rejoin = (): Promise<void> => {
          if (holding) return Promise.resolve();
          return new Promise<void>((resume) => {
            rejoining.push(() => {
              holding = true;
              resume();
            });
            start();
          });
        };
        work(items[index]!, index, release, rejoin).then((result) => {
          results[index] = result;
          release();
          if (--pending === 0) resolve(results);
        }, reject);
      }
    };
    start();
  });
}
