// The results file: one schema writes and reads it; reading is bounded and refuses what a writer could not have
// written; writing stays inside the workspace and never goes through a link.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FileResult } from '../../src/core/types.js';
import { Secrets } from '../../src/core/secrets.js';
import { toRecord } from '../../src/results.js';
import {
  ResultsFileError,
  ResultsFileSchema,
  buildResultsFile,
  fromRecord,
  prepareResultsFile,
  readResultsFile,
  serializeResultsFile,
  writeResultsFile,
  type RunTrace,
} from '../../src/results-file.js';

const SHA = 'a'.repeat(64);
const results: FileResult[] = [
  {
    path: 'cad/a.step',
    bytes: 612,
    sha256: SHA,
    status: 'succeeded',
    ids: { id: 'job_1', jobId: 'job_1', dataSourceId: 'ds_1', partId: 'prt_1', revisionId: 'B', url: 'https://app.example/ds_1' },
    verifiedBy: ['etag-md5', 'arcnm-sha256'],
    durationMs: 412,
  },
  { path: 'cad/b.step', bytes: 10, status: 'failed', error: { message: 'ARCNM refused it', code: 'rejected_by_provider', providerCode: 'upload_rejected' }, durationMs: 3 },
  { path: 'cad/c.step', bytes: 10, sha256: SHA, status: 'submitted', ids: { id: 'job_3', jobId: 'job_3' }, durationMs: 7 },
  { path: 'cad/d.step', bytes: 10, status: 'skipped', durationMs: 0 },
];
const trace = (extra: Partial<RunTrace> = {}): RunTrace => ({
  provider: 'arcnm',
  target: 'part prt_1 revision B',
  commit: '0123456789abcdef0123456789abcdef01234567',
  shard: { index: 2, total: 4 },
  patterns: ['cad/*.step'],
  matched: 17,
  dryRun: false,
  results,
  cancelled: false,
  ...extra,
});

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'mp-rf-'));
}

describe('results file', () => {
  it('holds the results output objects and reads back to the same results', async () => {
    const doc = buildResultsFile(trace());
    expect(doc.results).toEqual(JSON.parse(JSON.stringify(results.map(toRecord))));
    expect(doc).toMatchObject({ format: 'model-publisher-results', version: 1, shard: { index: 2, total: 4 }, matched: 17, outcome: 'completed' });
    const ws = await tmp();
    const file = await prepareResultsFile('out/deep/shard-2.json', ws);
    await writeResultsFile(file, serializeResultsFile(doc, (t) => t));
    const back = await readResultsFile(file, 'out/deep/shard-2.json');
    expect(back).toEqual(doc);
    expect(back.results.map(fromRecord)).toEqual(results);
    // Skipped files say why (only what changed): the field is carried as it came.
    expect(fromRecord(ResultsFileSchema.parse({ ...buildResultsFile(trace()), results: [{ path: 'x', bytes: 1, status: 'skipped', reason: 'unchanged', durationMs: 0 }] }).results[0]!)).toMatchObject({ reason: 'unchanged' });
    // Only the reasons the action writes: anything else is not a file it wrote.
    expect(() => ResultsFileSchema.parse({ ...buildResultsFile(trace()), results: [{ path: 'x', bytes: 1, status: 'skipped', reason: 'unchanged since abc', durationMs: 0 }] })).toThrow(/reason/);
  });

  it('says how the run ended: failed as a whole, stopped with an error, cancelled', () => {
    const failure = { input: 'token', message: 'ARCNM refused the API key', fix: 'pass a current key', code: 'auth_rejected' as const };
    expect(buildResultsFile(trace({ failure }))).toMatchObject({ outcome: 'failed', failure });
    expect(buildResultsFile(trace({ results: [], error: "Input 'path': no files matched" }))).toMatchObject({ outcome: 'failed', error: "Input 'path': no files matched", results: [] });
    expect(buildResultsFile(trace({ cancelled: true })).outcome).toBe('cancelled');
    // Not a commit SHA (a test environment's): written as unknown, never as a wrong one.
    expect(buildResultsFile(trace({ commit: 'HEAD' })).commit).toBeNull();
    expect(buildResultsFile(trace({ shard: undefined })).shard).toBeNull();
  });

  it('is scrubbed of secrets like every output, and still a results file', () => {
    const secrets = new Secrets();
    secrets.add('ak_live_secret_value');
    const doc = buildResultsFile(trace({ results: [{ ...results[1]!, error: { message: 'echoed ak_live_secret_value back', code: 'rejected_by_provider' } }] }));
    const text = serializeResultsFile(doc, (t) => secrets.scrub(t));
    expect(text).not.toContain('ak_live_secret_value');
    expect(ResultsFileSchema.parse(JSON.parse(text)).results[0]!.error!.message).toBe('echoed *** back');
  });

  it.each([
    ['another format', (d: any) => (d.format = 'other'), /format: /],
    ['a newer version', (d: any) => (d.version = 2), /version: /],
    ['an unknown provider', (d: any) => (d.provider = 'dropbox'), /provider: not a provider/],
    ['a commit that is not a SHA', (d: any) => (d.commit = 'main'), /commit: a commit SHA/],
    ['a shard past its total', (d: any) => (d.shard = { index: 5, total: 4 }), /shard: index is at most total/],
    ['a field of its own', (d: any) => (d.extra = 1), /the document: Unrecognized key/i],
    ['an unknown status', (d: any) => (d.results[0].status = 'done'), /results\[0\]\.status/],
    ['a succeeded file without its id', (d: any) => delete d.results[0].id, /results\[0\]\.id: a succeeded file has an id/],
    ['a provider ID that is not a string', (d: any) => (d.results[0].jobId = { $gt: 1 }), /results\[0\]\.jobId/],
    ['a field name that is not an ID', (d: any) => (d.results[0]['__proto__x'] = 'a'), /is not a provider ID/],
    ['an error code not in the list', (d: any) => (d.results[1].error.code = 'oops'), /results\[1\]\.error\.code/],
    ['a negative size', (d: any) => (d.results[0].bytes = -1), /results\[0\]\.bytes/],
    ['an oversized path', (d: any) => (d.results[0].path = 'a'.repeat(5000)), /results\[0\]\.path/],
  ])('refuses %s, naming the file and where', async (_, change, message) => {
    const ws = await tmp();
    const doc = JSON.parse(JSON.stringify(buildResultsFile(trace())));
    change(doc);
    await writeFile(path.join(ws, 'r.json'), JSON.stringify(doc));
    const err = await readResultsFile(path.join(ws, 'r.json'), 'shards/r.json').catch((e) => e);
    expect(err).toBeInstanceOf(ResultsFileError);
    expect(err.message).toMatch(/^shards\/r\.json: is not a Model Publisher results file \(/);
    expect(err.message).toMatch(message);
  });

  it('reads to a limit, and refuses what is not a file, not UTF-8 or not JSON', async () => {
    const ws = await tmp();
    const text = serializeResultsFile(buildResultsFile(trace()), (t) => t);
    await writeFile(path.join(ws, 'big.json'), text);
    await expect(readResultsFile(path.join(ws, 'big.json'), 'big.json', text.length - 1)).rejects.toThrow(/big\.json: is .* over the limit of .* for a results file/);
    expect(await readResultsFile(path.join(ws, 'big.json'), 'big.json', text.length)).toBeDefined();
    await mkdir(path.join(ws, 'dir.json'));
    await expect(readResultsFile(path.join(ws, 'dir.json'), 'dir.json')).rejects.toThrow(/dir\.json: is not a regular file/);
    execFileSync('mkfifo', [path.join(ws, 'fifo.json')]);
    await expect(readResultsFile(path.join(ws, 'fifo.json'), 'fifo.json')).rejects.toThrow(/fifo\.json: is not a regular file/);
    await writeFile(path.join(ws, 'latin1.json'), Buffer.from([0x7b, 0xe9, 0x7d]));
    await expect(readResultsFile(path.join(ws, 'latin1.json'), 'latin1.json')).rejects.toThrow(/latin1\.json: is not UTF-8 text/);
    await writeFile(path.join(ws, 'cut.json'), text.slice(0, 100));
    await expect(readResultsFile(path.join(ws, 'cut.json'), 'cut.json')).rejects.toThrow(/cut\.json: is not valid JSON/);
    await expect(readResultsFile(path.join(ws, 'none.json'), 'none.json')).rejects.toThrow(/none\.json: cannot be read \(ENOENT\)/);
  });

  it('is written inside the workspace only, and never through a link', async () => {
    const ws = await tmp();
    const outside = await tmp();
    await expect(prepareResultsFile('../x.json', ws)).rejects.toThrow(/Input 'results-file': "..\/x.json" leads outside the workspace/);
    await expect(prepareResultsFile(path.join(outside, 'x.json'), ws)).rejects.toThrow(/leads outside the workspace/);
    // A folder in the repository that links out of it (a pull request can add one).
    await symlink(outside, path.join(ws, 'results'));
    await expect(prepareResultsFile('results/shard-1.json', ws)).rejects.toThrow(/is in a folder that is a link out of the workspace/);
    // A results file in the repository that links elsewhere is replaced, and what it pointed at is untouched.
    await writeFile(path.join(outside, 'victim'), 'keep me');
    await symlink(path.join(outside, 'victim'), path.join(ws, 'r.json'));
    const file = await prepareResultsFile('r.json', ws);
    await writeResultsFile(file, serializeResultsFile(buildResultsFile(trace()), (t) => t));
    expect(await readFile(path.join(outside, 'victim'), 'utf8')).toBe('keep me');
    await expect(readlink(path.join(ws, 'r.json'))).rejects.toThrow(/EINVAL/);
    expect((await readResultsFile(file, 'r.json')).matched).toBe(17);
  });
});
