// Waiting and recovery, the same way for every provider:
// - pollUntil: ask again until an answer is final, pausing between rounds within the run's deadline for waiting
//   (`wait-timeout-minutes`) and ending at once on cancellation (the first signal, `ctx.stop`, or the hard one);
// - verdictUnlessCancelled: a file already handed over whose verdict wait a cancellation ends is `submitted`;
// - happenOnce: something that must happen once (create, start) failed ambiguously: look it up before repeating
//   it, and say plainly that the outcome is unknown when that cannot settle it.
import { OutcomeUnknownError, WaitTimeoutError, errorMessage } from './errors.js';
import { WAKE, whenAborted } from './abort.js';
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

/** One waiter of SharedRounds: its own schedule (when it wants the next round), settled once. */
export interface RoundWaiter<T> {
  /** When this waiter would like the next round (its own schedule: soon at first, then slower). */
  dueAt: number;
  round: number;
  /** Ends the wait: with `value` when the answer is final, else with `err`. Later calls do nothing. */
  settle(err: unknown, value?: T): void;
}

/**
 * Waits for many things with shared rounds, as a provider that can ask after all of them in one request does
 * (Speckle's ingestions, 2.x imports, ARCNM's upload list). Each waiter keeps its own schedule (`dueAt`), its own deadline
 * (`wait-timeout-minutes`: it fails with `timedOut`'s error) and its own cancellation (the first signal); a
 * round comes when the first waiter is due, and `round(now, waiting)` asks for those it chooses, moving their
 * `dueAt` on and settling those whose answer is final (it never throws: a failure it cannot ask past settles
 * the waiters it concerns). A waiter that wants a round sooner than the pause ends wakes it; the hard signal
 * (`signal`) ends every wait. `earliest` can hold rounds apart (ARCNM's, which read a whole list each).
 */
export class SharedRounds<T, W extends RoundWaiter<T>> {
  readonly waiting = new Map<string, W>();
  private polling = false;
  /** Wakes the rounds' pause when no waiter is left, or one that wants a round sooner begins waiting. */
  private wake = new AbortController();
  private sleepingUntil = Infinity;

  constructor(
    private readonly signal: AbortSignal,
    private readonly round: (now: number, waiting: W[]) => Promise<void>,
    /** The earliest a round may come, whoever is due (a provider that spaces its rounds; none by default). */
    private readonly earliest: () => number = () => 0,
  ) {}

  /** Wait under `key` until a round settles `waiter` (built from `fields`), its deadline passes or the run is cancelled. */
  wait(key: string, fields: Omit<W, 'settle'>, ctx: Pick<StepContext, 'signal' | 'stop' | 'waitDeadline'>, timedOut: (w: W) => Error): Promise<T> {
    // A cancelled run (its first signal) stops waiting, as it starts no new stage.
    const signal = ctx.stop ?? ctx.signal;
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        ...fields,
        settle: (err: unknown, value?: T) => {
          if (this.waiting.get(key) !== waiter) return;
          clearTimeout(timer);
          stopListening();
          this.waiting.delete(key);
          if (this.waiting.size === 0 && !this.wake.signal.aborted) this.wake.abort(WAKE);
          if (value !== undefined) resolve(value);
          else reject(err);
        },
      } as W;
      if (signal.aborted) return reject(signal.reason);
      const timer = setTimeout(() => waiter.settle(timedOut(waiter)), Math.max(0, ctx.waitDeadline - Date.now()));
      timer.unref();
      this.waiting.set(key, waiter);
      const stopListening = whenAborted(signal, () => waiter.settle(signal.reason));
      // Woken only when the round would come sooner for it: while rounds are held apart (`earliest`), a waiter due
      // before the next one allowed changes nothing, and waking for each (thousands of files) cost a pass over
      // every waiter and a new pause each time.
      if (this.polling && Math.max(waiter.dueAt, this.earliest()) < this.sleepingUntil - 1 && !this.wake.signal.aborted) this.wake.abort(WAKE);
      void this.poll();
    });
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // the running rounds answer for this waiter too
    this.polling = true;
    try {
      while (this.waiting.size > 0 && !this.signal.aborted) {
        let due = Infinity;
        for (const w of this.waiting.values()) due = Math.min(due, w.dueAt);
        due = Math.max(due, this.earliest());
        this.sleepingUntil = due;
        if (this.wake.signal.aborted) this.wake = new AbortController();
        try {
          await sleep(Math.max(0, due - Date.now()), AbortSignal.any([this.signal, this.wake.signal]));
        } catch {
          // Woken (a waiter that wants a round sooner, or none left), or the run ended: work it out again.
          continue;
        } finally {
          this.sleepingUntil = Infinity;
        }
        await this.round(Date.now(), [...this.waiting.values()]);
      }
    } finally {
      this.polling = false;
      // The run was cancelled hard: every wait ends with it. A waiter that began as the rounds were ending
      // starts them again.
      if (this.signal.aborted) for (const w of [...this.waiting.values()]) w.settle(this.signal.reason);
      else if (this.waiting.size > 0) void this.poll();
    }
  }
}
