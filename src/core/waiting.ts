// Waiting and recovery, the same way for every provider:
// - pollUntil: ask again until an answer is final, pausing between rounds within the run's deadline for waiting
//   (`wait-timeout-minutes`) and ending at once on cancellation (the first signal, `ctx.stop`, or the hard one);
// - verdictUnlessCancelled: a file already handed over whose verdict wait a cancellation ends is `submitted`;
// - happenOnce: something that must happen once (create, start) failed ambiguously: look it up before repeating
//   it, and say plainly that the outcome is unknown when that cannot settle it.
import { OutcomeUnknownError, WaitTimeoutError, errorMessage } from './errors.js';
import { sleep } from './retry.js';
import type { Logger, StepContext } from './types.js';

export type WaitContext = Pick<StepContext, 'signal' | 'stop' | 'waitDeadline'>;

/**
 * Pause `ms` unless that would pass the run's deadline for waiting: then fail with `timeoutMessage` (a
 * WaitTimeoutError, code `timeout`). A cancelled run (its first signal) ends the pause.
 */
export async function pauseWithin(ms: number, ctx: WaitContext, timeoutMessage: string | (() => string), onPause?: () => void): Promise<void> {
  if (Date.now() + ms > ctx.waitDeadline) throw new WaitTimeoutError(typeof timeoutMessage === 'function' ? timeoutMessage() : timeoutMessage);
  onPause?.();
  await sleep(ms, ctx.stop ?? ctx.signal);
}

/** One round's answer: final (`done`), or ask again after `againInMs`, logging `note` when the pause starts. */
export type Poll<T> = { done: T } | { againInMs: number; note?: string };

/**
 * Call `round` until it answers `done`; between rounds pause as it says, within the deadline (pauseWithin).
 * `round` may throw to end the wait with its own error.
 */
export async function pollUntil<T>(
  ctx: WaitContext & { log?: Logger },
  timeoutMessage: () => string,
  round: (n: number) => Promise<Poll<T>>,
): Promise<T> {
  for (let n = 1; ; n++) {
    const answer = await round(n);
    if ('done' in answer) return answer.done;
    const { note } = answer;
    await pauseWithin(answer.againInMs, ctx, timeoutMessage, note ? () => ctx.log?.info(note) : undefined);
  }
}

/** The verdict, or undefined when the run was cancelled while waiting for it (the file is then `submitted`). */
export async function verdictUnlessCancelled<T>(ctx: Pick<StepContext, 'signal' | 'stop' | 'log'>, what: string, wait: () => Promise<T>): Promise<T | undefined> {
  try {
    return await wait();
  } catch (err) {
    if (!(ctx.stop?.aborted || ctx.signal.aborted)) throw err;
    ctx.log.info(`${what}: the run was cancelled while waiting for the verdict; reported as submitted`);
    return undefined;
  }
}

export interface Once<T> {
  /** What must happen once, for messages: `create model "a"`, `start the ingestion`. */
  what: string;
  /** Who did or did not do it, starting the messages: `Speckle`. */
  who: string;
  /** The ambiguous failure of the first attempt. */
  firstError: unknown;
  /** Did it happen? Its result when it did, undefined when it did not. */
  find: () => Promise<T | undefined>;
  /** Do it again. */
  start: () => Promise<T>;
  /** Whether a failure leaves the outcome unknown (a 5xx, a dropped connection): only those are looked up again. */
  ambiguous: (err: unknown) => boolean;
  /**
   * The server says it already happened (e.g. Speckle's already registered fileId): what it says (`the file was
   * already registered`), or undefined for any other error. Then it is looked up once more, never repeated.
   */
  alreadyDone?: (err: unknown) => string | undefined;
  /** Where it was looked up, for the message: `on the model`. */
  lookedUpWhere?: string;
  /** Rounds of look-up in all; after the last, the outcome is unknown. */
  rounds: number;
  /** Where to check before re-running, for the message: `check the project in Speckle before re-running`. */
  checkHint: string;
  log: Logger;
}

/**
 * Something that must happen once failed ambiguously: ask whether it happened and follow it, else do it again;
 * after `rounds`, fail with code `outcome_unknown`, never repeating it blindly.
 */
export async function happenOnce<T>(o: Once<T>): Promise<T> {
  let lastError = o.firstError;
  for (let round = 1; ; round++) {
    const found = await o.find();
    if (found !== undefined) return found;
    if (round >= o.rounds) {
      throw new OutcomeUnknownError(
        `${o.who} ${o.what}: ${errorMessage(lastError)}; it may or may not have happened on the server, and it is not sent again (that could make a duplicate): ${o.checkHint}`,
      );
    }
    o.log.info(`${o.who}: ${o.what} did not happen (${errorMessage(lastError)}); doing it again`);
    try {
      return await o.start();
    } catch (err) {
      const said = o.alreadyDone?.(err);
      if (said !== undefined) {
        // The server says an earlier attempt went through: follow it if it can be found; never start it again.
        const late = await o.find();
        if (late !== undefined) return late;
        throw new OutcomeUnknownError(
          `${o.who} ${o.what}: ${o.who} says ${said} (${errorMessage(err)}), so an earlier attempt went through, but it could not be found${o.lookedUpWhere ? ` ${o.lookedUpWhere}` : ''}: ${o.checkHint}`,
        );
      }
      if (!o.ambiguous(err)) throw err;
      lastError = err;
    }
  }
}
