// One unit system for sizes everywhere a person reads them (logs, refusals, the summary table, the CLI):
// binary units (KiB, MiB, GiB; 1 MiB = 1,048,576 bytes), which is also how the vendors' limits are sized
// (ARCNM's "512 MB" is 512 MiB, Speckle's default blob limit 100 MiB).

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A transfer rate in the same units: MiB/s. */
export function formatRate(bytes: number, seconds: number): string {
  return `${(bytes / 1024 / 1024 / Math.max(seconds, 0.001)).toFixed(1)} MiB/s`;
}

/**
 * Milliseconds of a monotonic clock, for measuring how long work took. process.hrtime, not performance.now():
 * the global `performance` loads perf_hooks at first touch, which a run otherwise never needs (lean start).
 */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;
