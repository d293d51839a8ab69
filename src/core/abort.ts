// Listening for a signal's abort, at the cost of one listener per signal however many wait on it. A run shares
// a few long-lived signals (its cancellation, its hard stop) among everything in flight: every request, every
// pause and every file waiting for a verdict (hundreds at once in a run of thousands of files). Node's
// EventTarget keeps a signal's listeners in a list that it walks on every add and every remove, so one listener
// each makes a run of n files cost n² in listeners; here they share one, and joining and leaving cost a Set's
// add and delete.

/** A signal's shared listeners and the one listener it has for them, kept on the signal itself. */
const SHARED = Symbol('model-publisher.abortListeners');
interface Listeners {
  all: Set<() => void>;
  onAbort: () => void;
}
type WithShared = AbortSignal & { [SHARED]?: Listeners };

/**
 * Call `onAbort` once when `signal` aborts (at once, synchronously, when it already has). Returns the function
 * that stops listening; call it when whatever waited is over. The signal's one listener is removed with the last
 * registration: Node keeps a signal made by AbortSignal.any or .timeout alive for as long as it has a listener.
 */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  const target = signal as WithShared;
  let shared = target[SHARED];
  if (!shared) {
    const all = new Set<() => void>();
    const fire = () => {
      target[SHARED] = undefined;
      for (const listener of [...all]) listener();
      all.clear();
    };
    shared = target[SHARED] = { all, onAbort: fire };
    signal.addEventListener('abort', fire, { once: true });
  }
  // A registration of its own, so the same function registered twice is called twice, as with addEventListener
  // called with two different functions.
  const entry = () => onAbort();
  const mine = shared;
  mine.all.add(entry);
  return () => {
    if (!mine.all.delete(entry) || mine.all.size > 0 || target[SHARED] !== mine) return;
    target[SHARED] = undefined;
    signal.removeEventListener('abort', mine.onAbort);
  };
}

/** The reason a controller that only wakes a pause is aborted with: not an error, and no DOMException to build. */
export const WAKE = Object.freeze({ wake: true });
