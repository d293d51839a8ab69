// An ARCNM emulator over its own blob store, for tests that need a provider but test something else, and the
// check every ARCNM end-to-end run makes of what ARCNM really holds.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { ArcnmEmulator, type ArcnmEmulatorOptions } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';

export interface ArcnmFixture {
  blob: BlobStore;
  arcnm: ArcnmEmulator;
  close(): Promise<void>;
}

export async function startArcnm(apiKey: string, options: Partial<ArcnmEmulatorOptions> = {}): Promise<ArcnmFixture> {
  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey, ...options });
  await arcnm.start();
  return {
    blob,
    arcnm,
    async close() {
      await arcnm.close();
      await blob.close();
    },
  };
}

/**
 * What ARCNM holds must be what the run reported, for every result of a run: a `succeeded` file's upload is
 * `confirmed` at ARCNM, named after the file, its stored bytes are the workspace's byte for byte, ARCNM's SHA-256
 * is the reported one, and (with a part revision) it is attached there; a `submitted` file's upload exists with
 * its bytes; a file skipped as `unchanged` names a confirmed upload of these very bytes (attached, with a part
 * revision); no upload ARCNM failed or cancelled is reported succeeded or submitted.
 */
export async function expectArcnmHolds(
  fixture: Pick<ArcnmFixture, 'arcnm' | 'blob'>,
  workspace: string,
  results: readonly Record<string, any>[],
  attach?: { partId: string; revisionId: string },
  /** The name each upload should carry (the `name` input): the base name unless a test says otherwise. */
  nameOf: (file: string) => string = (file) => path.basename(file),
): Promise<void> {
  const { arcnm, blob } = fixture;
  for (const r of results) {
    const unchanged = r['status'] === 'skipped' && r['reason'] === 'unchanged';
    if (r['status'] !== 'succeeded' && r['status'] !== 'submitted' && !unchanged) continue;
    const upload = arcnm.uploads.get(String(r['dataSourceId']));
    expect(upload, `${r['path']}: ARCNM has its upload`).toBeDefined();
    expect(upload!.name, `${r['path']}: the upload is named after the file`).toBe(nameOf(r['path']));
    const local = await readFile(path.join(workspace, r['path']));
    expect(blob.get(upload!.key)?.bytes.equals(local), `${r['path']}: storage holds the file byte for byte`).toBe(true);
    if (r['status'] === 'submitted') continue;
    // An unchanged file names the confirmed upload ARCNM already held: it must hold these very bytes.
    expect(arcnm.uploadsWithStatus('confirmed'), `${r['path']}: ARCNM confirmed the upload`).toContain(upload);
    expect(upload!.sha256, `${r['path']}: ARCNM's SHA-256 is the reported one`).toBe(r['sha256']);
    expect(r['sha256']).toBe(createHash('sha256').update(local).digest('hex'));
    if (attach) {
      const links = arcnm.datasets.filter((d) => d.data_source_id === upload!.id && d.part_id === attach.partId && d.revision_id === attach.revisionId);
      expect(links, `${r['path']}: attached to part ${attach.partId} revision ${attach.revisionId} once`).toHaveLength(1);
    }
  }
  const reported = new Set(results.filter((r) => r['status'] === 'succeeded' || r['status'] === 'submitted').map((r) => String(r['dataSourceId'])));
  for (const u of [...arcnm.uploadsWithStatus('failed'), ...arcnm.uploadsWithStatus('cancelled')]) {
    expect(reported.has(u.id), `${u.name}: ARCNM ${u.status} upload ${u.id}, yet it was reported published`).toBe(false);
  }
}
