import { describe, expect, it, vi } from 'vitest';
import { whenAborted } from '../../src/core/abort.js';

describe('whenAborted', () => {
  it('calls every registration once when the signal aborts, through one listener of the signal', () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const calls: string[] = [];
    const same = () => calls.push('same');
    whenAborted(controller.signal, same);
    whenAborted(controller.signal, same);
    const stopB = whenAborted(controller.signal, () => calls.push('b'));
    whenAborted(controller.signal, () => calls.push('c'));
    stopB();
    expect(add).toHaveBeenCalledTimes(1);
    controller.abort(new Error('stop'));
    controller.abort(new Error('again'));
    expect(calls).toEqual(['same', 'same', 'c']);
  });

  // Node keeps a signal of AbortSignal.any or .timeout that has an abort listener alive as long as its sources
  // (for a run's signals: the whole run), with all it reaches: a listener left behind after each request held
  // every request's body and hashes to the end of a run of thousands of files.
  it('removes its listener with the last registration, and adds one again for the next', () => {
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const stops = [1, 2, 3].map(() => whenAborted(controller.signal, () => {}));
    stops[0]!();
    stops[0]!(); // twice does nothing more
    stops[1]!();
    expect(remove).not.toHaveBeenCalled();
    stops[2]!();
    expect(remove).toHaveBeenCalledTimes(1);
    let fired = 0;
    whenAborted(controller.signal, () => fired++);
    expect(add).toHaveBeenCalledTimes(2);
    controller.abort();
    expect(fired).toBe(1);
  });

  it('calls at once, and adds no listener, for a signal already aborted', () => {
    const signal = AbortSignal.abort(new Error('done'));
    const add = vi.spyOn(signal, 'addEventListener');
    let fired = 0;
    const stop = whenAborted(signal, () => fired++);
    expect(fired).toBe(1);
    expect(add).not.toHaveBeenCalled();
    stop();
  });
});
