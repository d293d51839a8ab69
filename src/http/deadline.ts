// Deadlines the action owns, whatever the HTTP library does. undici honours an AbortSignal on a direct
// connection, but a proxy that accepts the connection and never answers the CONNECT leaves the request
// pending forever (undici 7.x, through EnvHttpProxyAgent): the signal fires and nothing happens. So every
// request is also raced against its own signal here, and the pool is destroyed when closing it stalls.

/**
 * `work`, or the signal's reason the moment it aborts, even when `work` ignores the signal. Abandoned work is
 * left to fail on its own: its rejection is swallowed and an answer arriving late is handed to `discard`.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, discard?: (late: T) => void): Promise<T> {
  const abandon = () => void work.then((late) => discard?.(late), () => {});
  if (signal.aborted) {
    abandon();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    // The request's own signal, with no other listener to walk: listened to directly.
    const onAbort = () => {
      abandon();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return;
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** How long closing the connection pool may take before its sockets are destroyed. */
export const CLOSE_GRACE_MS = 2_000;

/** Close gracefully, or destroy after `graceMs`: a stuck socket never keeps a finished run alive. */
export async function closeWithin(pool: { close(): Promise<void>; destroy(): Promise<void> }, graceMs: number = CLOSE_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
    timer.unref();
  });
  const outcome = await Promise.race([pool.close().then(() => 'closed' as const, () => 'late' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') await pool.destroy().catch(() => {});
}
