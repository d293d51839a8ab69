// Waiting for a provider's verdict on a file it already holds. The file was handed over whatever happens to the
// wait: a run cancelled meanwhile reports it `submitted` (its IDs, not verified), never as not published.
import type { StepContext } from './types.js';

/** The verdict, or undefined when the run was cancelled while waiting for it. */
export async function verdictUnlessCancelled<T>(ctx: Pick<StepContext, 'signal' | 'stop' | 'log'>, what: string, wait: () => Promise<T>): Promise<T | undefined> {
  try {
    return await wait();
  } catch (err) {
    if (!(ctx.stop?.aborted || ctx.signal.aborted)) throw err;
    ctx.log.info(`${what}: the run was cancelled while waiting for the verdict; reported as submitted`);
    return undefined;
  }
}
