// ARCNM's verdict: the confirmed row checked against what was sent, and one list request per round for every
// upload of the run that is waiting.
import { describe, expect, it } from 'vitest';
import { CorruptionError, WaitTimeoutError } from '../../src/core/errors.js';
import type { LocalFile, UploadReceipt } from '../../src/core/types.js';
import { VerdictWatcher, checkRow } from '../../src/providers/arcnm.js';

const file: LocalFile = { absolutePath: '/w/cad/a.step', path: 'cad/a.step', name: 'a.step', ext: 'step', bytes: 10 };
const receipt: UploadReceipt = { status: 200, md5Hex: 'm', sha256Hex: 'ab'.repeat(32), bytes: 10, evidence: [] };

describe('checkRow', () => {
  it('verifies by SHA-256 (case aside) or, lacking one, by size; nothing when ARCNM reports neither', () => {
    expect(checkRow({ id: 'u', status: 'confirmed', sha256: 'AB'.repeat(32), size_bytes: 10 }, file, receipt)).toEqual(['arcnm-sha256']);
    expect(checkRow({ id: 'u', status: 'confirmed', sha256: null, size_bytes: 10 }, file, receipt)).toEqual(['arcnm-size']);
    expect(checkRow({ id: 'u', status: 'confirmed' }, file, receipt)).toEqual([]);
  });
  it('calls other bytes corruption: another SHA-256 or another size', () => {
    expect(() => checkRow({ id: 'u', status: 'confirmed', sha256: 'cd'.repeat(32), size_bytes: 10 }, file, receipt)).toThrow(CorruptionError);
    expect(() => checkRow({ id: 'u', status: 'confirmed', sha256: 'ab'.repeat(32), size_bytes: 9 }, file, receipt)).toThrow(/ARCNM holds different bytes/);
  });
});

/** A list that answers the rows of `rows()` the watcher keeps, and counts its calls. */
function fakeList(rows: () => unknown[]) {
  const calls: number[] = [];
  return { calls, list: async (keep: (row: unknown) => boolean) => (calls.push(Date.now()), rows().filter(keep)) };
}

const ctx = (ms = 10_000, stop?: AbortSignal) => ({ signal: new AbortController().signal, stop, waitDeadline: Date.now() + ms });

describe('VerdictWatcher', () => {
  it('answers every waiting upload from one list request per round, once each is final', async () => {
    let round = 0;
    const { calls, list } = fakeList(() => {
      round++;
      return [
        { id: 'A', status: round >= 2 ? 'confirmed' : 'pending', sha256: 'x', size_bytes: 1 },
        { id: 'b', status: 'failed' },
        { id: 'other', status: 'confirmed' },
        'not a row',
        { id: 'c', status: round >= 3 ? 'cancelled' : 'pending' },
      ];
    });
    const watcher = new VerdictWatcher(list, new AbortController().signal);
    const [a, b, c] = await Promise.all([watcher.verdict('a', ctx()), watcher.verdict('B', ctx()), watcher.verdict('c', ctx())]);
    expect([a.status, b.status, c.status]).toEqual(['confirmed', 'failed', 'cancelled']);
    expect(calls).toHaveLength(3); // not one per upload and round
  });

  it("ends a wait at its deadline, saying what ARCNM last said, and the others go on", async () => {
    const { list } = fakeList(() => [{ id: 'slow', status: 'pending' }]);
    const watcher = new VerdictWatcher(list, new AbortController().signal);
    await expect(watcher.verdict('slow', ctx(400))).rejects.toThrow(WaitTimeoutError);
    await expect(watcher.verdict('missing', ctx(300))).rejects.toThrow(/not yet in ARCNM's upload list/);
  });

  it('ends a wait when the run is cancelled (its first signal), and when the list fails', async () => {
    const stop = new AbortController();
    const watcher = new VerdictWatcher(fakeList(() => []).list, new AbortController().signal);
    const waiting = watcher.verdict('x', ctx(10_000, stop.signal));
    stop.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');

    const failing = new VerdictWatcher(async () => {
      throw new Error('ARCNM 403 insufficient_scope');
    }, new AbortController().signal);
    await expect(Promise.all([failing.verdict('y', ctx()), failing.verdict('z', ctx())])).rejects.toThrow('insufficient_scope');
  });
});

describe('VerdictWatcher, the last wait ending', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('leaves no timer behind when the last file stops waiting, and starts again for the next one', async () => {
    const stop = new AbortController();
    const { calls, list } = fakeList(() => [{ id: 'late', status: 'confirmed' }]);
    const watcher = new VerdictWatcher(list, new AbortController().signal);
    const before = timers();
    const first = watcher.verdict('early', ctx(60_000, stop.signal));
    expect(timers()).toBeGreaterThan(before);
    stop.abort(new Error('cancelled'));
    await expect(first).rejects.toThrow('cancelled');
    await new Promise((r) => setImmediate(r));
    expect(timers(), 'the rounds wait on nothing once no file waits').toBe(before);
    await expect(watcher.verdict('late', ctx())).resolves.toMatchObject({ status: 'confirmed' });
    expect(calls).toHaveLength(1);
  });
});
