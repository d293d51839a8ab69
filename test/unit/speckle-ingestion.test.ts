// Speckle's ingestions: one IngestionStatus request per round for every ingestion of the run that is waiting
// (aliased fields), each file keeping its own deadline, cancellation and failures.
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { WaitTimeoutError } from '../../src/core/errors.js';
import type { LocalFile } from '../../src/core/types.js';
import { ImportWatcher } from '../../src/providers/speckle/import.js';
import { IngestionWatcher } from '../../src/providers/speckle/ingestion.js';
import { INGESTIONS_PER_STATUS_READ, type SpeckleOperation } from '../../src/providers/speckle/operations.js';
import type { SpeckleSettings } from '../../src/providers/speckle/settings.js';
import { loadSpeckleSchema } from '../emulators/speckle.js';

const live = loadSpeckleSchema('live');
const legacy = loadSpeckleSchema('2.x');
const settings = { serverUrl: 'https://speckle.example', projectId: 'p1', token: 't' } as SpeckleSettings;
const fileNamed = (name: string): LocalFile => ({ absolutePath: `/w/${name}`, path: name, name, ext: 'ifc', bytes: 1 });
const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as unknown as LocalLog;
type LocalLog = Parameters<IngestionWatcher['verdict']>[2]['log'];
const ctx = (ms = 10_000, stop?: AbortSignal) => ({ signal: new AbortController().signal, stop, waitDeadline: Date.now() + ms, log });

type Answer = { data?: unknown; errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[] };
const state = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  id,
  modelId: 'm1',
  statusData: { __typename: `ModelIngestion${status[0]!.toUpperCase()}${status.slice(1)}Status`, status, ...extra },
});

/**
 * An api whose every IngestionStatus request is validated against the real schema and recorded; `answer`
 * gives each aliased ingestion's state (or an error for it) from its ID and the request's number.
 */
function fakeApi(answer: (id: string, request: number) => ReturnType<typeof state> | null | { error: string }, whole?: (request: number) => Answer | Error | undefined) {
  const requests: string[][] = [];
  const api = {
    settings,
    async execute(op: SpeckleOperation, variables: Record<string, unknown>): Promise<Answer> {
      expect(op.name).toBe('IngestionStatus');
      expect(validate(live, parse(op.document)).map((e) => e.message)).toEqual([]);
      const ids = Object.keys(variables)
        .filter((k) => k.startsWith('id'))
        .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
        .map((k) => String(variables[k]));
      expect(variables['projectId']).toBe('p1');
      requests.push(ids);
      const n = requests.length;
      const special = whole?.(n);
      if (special instanceof Error) throw special;
      if (special) return special;
      const project: Record<string, unknown> = {};
      const errors: NonNullable<Answer['errors']> = [];
      ids.forEach((id, i) => {
        const a = answer(id, n);
        if (a && 'error' in a) {
          project[`i${i}`] = null;
          errors.push({ message: a.error, path: ['project', `i${i}`], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
        } else project[`i${i}`] = a;
      });
      return { data: { project }, ...(errors.length ? { errors } : {}) };
    },
  };
  return { api: api as unknown as ConstructorParameters<typeof IngestionWatcher>[0], requests };
}

describe('IngestionWatcher', () => {
  it('asks for every waiting ingestion in one request a round, not one per file, and settles each from its own alias', async () => {
    const { api, requests } = fakeApi((id, n) => (n >= 3 || id === 'quick' ? state(id, 'success', { versionId: `v-${id}` }) : state(id, 'processing', { progress: 0.5 })));
    const watcher = new IngestionWatcher(api, new AbortController().signal);
    const ids = ['quick', ...Array.from({ length: 9 }, (_, i) => `ing${i}`)];
    const versions = await Promise.all(ids.map((id) => watcher.verdict(fileNamed(`${id}.ifc`), id, ctx())));
    expect(versions).toEqual(ids.map((id) => `v-${id}`));
    // Ten files waiting through three rounds: three requests (not thirty), the first asking for all ten.
    expect(requests).toHaveLength(3);
    expect(requests[0]).toHaveLength(10);
    expect(requests[1]).not.toContain('quick');
  });

  it(`sends more documents when more than ${INGESTIONS_PER_STATUS_READ} wait, each within the bound`, async () => {
    const { api, requests } = fakeApi((id) => state(id, 'success', { versionId: `v-${id}` }));
    const watcher = new IngestionWatcher(api, new AbortController().signal);
    const ids = Array.from({ length: 120 }, (_, i) => `ing${i}`);
    await Promise.all(ids.map((id) => watcher.verdict(fileNamed(`${id}.ifc`), id, ctx())));
    expect(requests.map((r) => r.length)).toEqual([50, 50, 20]);
    expect(new Set(requests.flat()).size).toBe(120);
  });

  it('fails only the file whose alias an error names, or whose ingestion the server no longer knows, or failed', async () => {
    const { api, requests } = fakeApi((id) =>
      id === 'broken' ? { error: 'Ingestion exploded' } : id === 'gone' ? null : id === 'bad' ? state(id, 'failed', { errorReason: 'not an IFC' }) : state(id, 'success', { versionId: `v-${id}` }),
    );
    const watcher = new IngestionWatcher(api, new AbortController().signal);
    const results = await Promise.allSettled(['ok1', 'broken', 'gone', 'bad', 'ok2'].map((id) => watcher.verdict(fileNamed(`${id}.ifc`), id, ctx())));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/Ingestion exploded/);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/no longer knows ingestion gone/);
    expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/not an IFC/);
    expect(requests).toHaveLength(1);
  });

  it('fails every file of a request that failed as a whole (an error naming no alias, or no answer)', async () => {
    const { api } = fakeApi(
      (id) => state(id, 'processing'),
      (n) => (n === 1 ? { data: { project: null }, errors: [{ message: 'Project not found', path: ['project'], extensions: { code: 'STREAM_NOT_FOUND' } }] } : undefined),
    );
    const watcher = new IngestionWatcher(api, new AbortController().signal);
    const both = await Promise.allSettled(['a', 'b'].map((id) => watcher.verdict(fileNamed(`${id}.ifc`), id, ctx())));
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((both[0] as PromiseRejectedResult).reason)).toMatch(/no project "p1"/);

    const dropped = fakeApi(
      (id) => state(id, 'processing'),
      () => new Error('socket hang up'),
    );
    const w2 = new IngestionWatcher(dropped.api, new AbortController().signal);
    await expect(Promise.all([w2.verdict(fileNamed('c.ifc'), 'c', ctx()), w2.verdict(fileNamed('d.ifc'), 'd', ctx())])).rejects.toThrow('socket hang up');
    expect(dropped.requests).toHaveLength(1);
  });

  it('ends each wait at its own deadline; the others go on and are still asked for together', async () => {
    const { api, requests } = fakeApi((id, n) => (id === 'patient' && n >= 4 ? state(id, 'success', { versionId: 'v' }) : state(id, 'processing')));
    const watcher = new IngestionWatcher(api, new AbortController().signal);
    const hasty = watcher.verdict(fileNamed('hasty.ifc'), 'hasty', ctx(300));
    const patient = watcher.verdict(fileNamed('patient.ifc'), 'patient', ctx(60_000));
    await expect(hasty).rejects.toThrow(WaitTimeoutError);
    await expect(hasty).rejects.toThrow(/ingestion hasty, processing\) after wait-timeout-minutes/);
    await expect(patient).resolves.toBe('v');
    expect(requests[0]).toEqual(['hasty', 'patient']);
    expect(requests.at(-1)).toEqual(['patient']);
  });

  it('ends a wait when the run is cancelled (its first signal), the others going on; a hard cancellation ends them all', async () => {
    const stop = new AbortController();
    const { api } = fakeApi((id, n) => (n >= 3 ? state(id, 'success', { versionId: `v-${id}` }) : state(id, 'queued')));
    const run = new AbortController();
    const watcher = new IngestionWatcher(api, run.signal);
    const cancelled = watcher.verdict(fileNamed('a.ifc'), 'a', ctx(10_000, stop.signal));
    const other = watcher.verdict(fileNamed('b.ifc'), 'b', ctx());
    stop.abort(new Error('cancelled'));
    await expect(cancelled).rejects.toThrow('cancelled');
    await expect(other).resolves.toBe('v-b');

    const never = fakeApi((id) => state(id, 'queued'));
    const hard = new AbortController();
    const w2 = new IngestionWatcher(never.api, hard.signal);
    const waiting = w2.verdict(fileNamed('c.ifc'), 'c', ctx());
    await new Promise((r) => setTimeout(r, 50));
    hard.abort(new Error('killed'));
    await expect(waiting).rejects.toThrow('killed');
  });
});

describe('ImportWatcher (2.x)', () => {
  type Upload = { id: string; convertedStatus: number; convertedMessage?: string | null; convertedVersionId?: string | null };
  const up = (id: string, status: number, version?: string): Upload => ({ id, convertedStatus: status, convertedVersionId: version ?? null, convertedMessage: null });

  /** Each model's first page from `first(modelId, request)`; an error for a model named in `refuse`. */
  function fakeModels(first: (modelId: string, request: number) => { items: Upload[]; cursor?: string }, refuse = new Set<string>()) {
    const requests: string[][] = [];
    const api = {
      settings,
      async execute(op: SpeckleOperation, variables: Record<string, unknown>) {
        expect(op.name).toBe('ModelsUploads');
        expect(validate(legacy, parse(op.document)).map((e) => e.message)).toEqual([]);
        const models = Object.keys(variables).filter((k) => /^m\d+$/.test(k)).map((k) => String(variables[k]));
        requests.push(models);
        const project: Record<string, unknown> = {};
        const errors: NonNullable<Answer['errors']> = [];
        models.forEach((m, i) => {
          if (refuse.has(m)) {
            errors.push({ message: 'Model not found', path: ['project', `m${i}`], extensions: { code: 'BRANCH_NOT_FOUND' } });
            return;
          }
          const page = first(m, requests.length);
          project[`m${i}`] = { uploads: { cursor: page.cursor ?? null, items: page.items } };
        });
        return { data: { project }, ...(errors.length ? { errors } : {}) };
      },
    };
    return { api: api as unknown as ConstructorParameters<typeof ImportWatcher>[0], requests };
  }

  it('reads every waiting model in one request a round, pages on once a model for imports past its first page, and fails a refused model’s files only', async () => {
    const paged: { modelId: string; ids: string[]; cursor: string }[] = [];
    const { api, requests } = fakeModels((m, n) =>
      m === 'crowded' ? { items: [up('someone-else', 2, 'x')], cursor: 'c1' } : { items: [up(`u-${m}`, n >= 2 ? 2 : 1, `v-${m}`)] },
    new Set(['gone']));
    const watcher = new ImportWatcher(api, new AbortController().signal, async (modelId, ids, _ctx, cursor) => {
      paged.push({ modelId, ids: [...ids].sort(), cursor });
      return new Map([...ids].map((id) => [id, up(id, 2, `v-${id}`)]));
    });
    const wait = (m: string, id = `u-${m}`) => watcher.verdict(fileNamed(`${id}.ifc`), m, up(id, 0), ctx());
    const results = await Promise.allSettled([wait('a'), wait('b'), wait('crowded', 'c1'), wait('crowded', 'c2'), wait('gone')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual(['v-a', 'v-b', 'v-c1', 'v-c2', 'failed']);
    expect(String((results[4] as PromiseRejectedResult).reason)).toMatch(/Model not found/);
    expect(requests[0]!.sort()).toEqual(['a', 'b', 'crowded', 'gone']);
    expect(requests).toHaveLength(2);
    expect(paged).toEqual([{ modelId: 'crowded', ids: ['c1', 'c2'], cursor: 'c1' }]);
  });

  it('says an import its model does not list is missing after a few rounds, and ends a wait at its deadline', async () => {
    const { api } = fakeModels(() => ({ items: [] }));
    const watcher = new ImportWatcher(api, new AbortController().signal, async () => new Map());
    await expect(watcher.verdict(fileNamed('x.ifc'), 'm', up('x', 0), ctx())).rejects.toThrow(/does not list file import x/);
    const slow = fakeModels((m) => ({ items: [up(`u-${m}`, 1)] }));
    const w2 = new ImportWatcher(slow.api, new AbortController().signal, async () => new Map());
    await expect(w2.verdict(fileNamed('y.ifc'), 'y', up('u-y', 0), ctx(400))).rejects.toThrow(WaitTimeoutError);
  });
});
