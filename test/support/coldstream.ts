// What "succeeded" means for Coldstream, checked at the emulator: the one assertion every Coldstream end-to-end
// run makes. A file reported `succeeded` has its file record, storage holds that record's bytes equal to the
// local file, and, when it needed a job, Coldstream accepted exactly one job for it (its ID reported only when
// the answer carried one). No file gets two jobs, and job-ids lists exactly the reported job IDs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExpectStatic } from 'vitest';
import type { ColdstreamEmulator } from '../emulators/coldstream.js';
import type { ActionRun } from './action.js';

export async function expectColdstreamHolds(
  expect: ExpectStatic,
  cs: ColdstreamEmulator,
  workspace: string,
  run: ActionRun,
  /** The name each record should carry (the `name` input): the base name unless a test says otherwise. */
  nameOf: (file: string) => string = (file) => path.basename(file),
): Promise<void> {
  const perFile = new Map<number, number>();
  for (const job of cs.jobs) perFile.set(job.fileId, (perFile.get(job.fileId) ?? 0) + 1);
  for (const [fileId, n] of perFile) expect(n, `file ${fileId}: at most one accepted job`).toBe(1);

  for (const r of run.results.filter((x) => x.status === 'succeeded')) {
    const where = `${r.path} (reported succeeded)`;
    const record = cs.files.find((f) => String(f.id) === r.fileId);
    expect(record, `${where}: Coldstream has its file record ${r.fileId}`).toBeDefined();
    expect(record!.fileName, `${where}: the record is of this file`).toBe(nameOf(r.path));
    const stored = cs.blob.get(record!.key);
    const local = await readFile(path.join(workspace, r.path));
    expect(stored?.bytes.equals(local), `${where}: storage holds the record's bytes, equal to the local file`).toBe(true);
    const jobs = cs.jobs.filter((j) => j.fileId === record!.id);
    if (r.jobKind === 'none') {
      expect(jobs, `${where}: no job was needed, none was posted`).toHaveLength(0);
      expect(r).not.toHaveProperty('jobId');
      continue;
    }
    expect(jobs.map((j) => j.type), `${where}: Coldstream accepted its ${r.jobKind} job`).toEqual([r.jobKind]);
    const job = jobs[0]!;
    if (job.answeredId === undefined) expect(r, `${where}: the answer named no job ID, so none is reported`).not.toHaveProperty('jobId');
    else expect(r.jobId, `${where}: the job ID Coldstream answered`).toBe(job.answeredId);
  }
  const reported = run.results.filter((x) => x.status === 'succeeded' && typeof x.jobId === 'string').map((x) => x.jobId);
  if (run.outputs['job-ids'] !== undefined) expect(JSON.parse(run.outputs['job-ids']), 'job-ids lists exactly the reported job IDs').toEqual(reported);
}
