// Integrity on every kind of store: an ETag is the MD5 of the bytes only on a plain S3-style store. For each
// store the blob emulator can be (SSE-KMS, SSE-C, multipart-style ETags, no ETag, and a broken store that keeps
// part of the bytes or other bytes and answers 200 all the same), every provider's chain must neither fail an
// intact upload (fail closed) nor call a file verified on evidence that cannot verify it (fail open). Each
// verdict is checked at the emulators: a succeeded file is held intact; a failed one was never accepted.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore, type BlobIntegrityStyle } from '../emulators/blob.js';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { IonEmulator } from '../emulators/ion.js';
import { SpeckleEmulator } from '../emulators/speckle.js';
import { makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import * as samples from '../support/samples.js';

const TOKEN = 'tok_integrity_5c2e9a1f7b3d4e6a8c0b';
type ProviderName = 'arcnm' | 'coldstream' | 'ion' | 'speckle';

interface Store {
  style: BlobIntegrityStyle;
  /** A broken store: what it keeps differs from what it was sent. */
  broken?: { keepBytes?: number; corruptAt?: number };
}

/** A provider's chain on one blob store, and what the emulator holds once the run is over. */
interface Chain {
  inputs: Record<string, string>;
  file: { rel: string; content: string | Buffer };
  /** The bytes the provider holds for the file and whether it accepted them; undefined when it holds nothing accepted. */
  accepted(): Buffer | undefined;
  close(): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function chain(provider: ProviderName, blob: BlobStore): Promise<Chain> {
  switch (provider) {
    case 'arcnm': {
      const arcnm = new ArcnmEmulator({ blob, apiKey: TOKEN });
      await arcnm.start();
      return {
        inputs: { provider, path: 'cad/*.step', 'server-url': arcnm.url, token: TOKEN },
        file: { rel: 'cad/part.step', content: samples.step('part.step') },
        accepted: () => {
          const u = arcnm.uploadsWithStatus('confirmed')[0];
          return u && blob.get(u.key)?.bytes;
        },
        close: () => arcnm.close(),
      };
    }
    case 'coldstream': {
      const cs = new ColdstreamEmulator({ token: TOKEN, cases: { '1001': ['2001'] }, blob });
      await cs.start();
      return {
        inputs: { provider, path: 'geometry/*.step', 'server-url': cs.url, token: TOKEN, 'case-id': '1001', 'component-id': '2001' },
        file: { rel: 'geometry/fin.step', content: samples.step('fin.step') },
        // Coldstream accepts a file with its convert job.
        accepted: () => (cs.jobs.length === 1 ? blob.get(cs.files[0]!.key)?.bytes : undefined),
        close: () => cs.close(),
      };
    }
    case 'ion': {
      const ion = new IonEmulator({ tokens: [TOKEN], blob });
      await ion.start();
      return {
        inputs: { provider, path: 'drawings/*.pdf', 'server-url': ion.url, token: TOKEN, 'attach-to': 'runStep:101' },
        file: { rel: 'drawings/GA-100.pdf', content: samples.pdf('GA-100') },
        accepted: () => {
          const a = ion.attachments[0];
          return a && blob.get(a.s3Key)?.bytes;
        },
        close: () => ion.close(),
      };
    }
    case 'speckle': {
      const speckle = new SpeckleEmulator({ blob, mode: 'live', tokens: { [TOKEN]: {} }, queuedMs: 20, processingMs: 40 });
      await speckle.start();
      return {
        inputs: { provider, path: 'models/*.ifc', 'server-url': speckle.url, token: TOKEN, 'project-id': 'p0ject1d' },
        file: { rel: 'models/tower.ifc', content: samples.ifc('tower.ifc') },
        accepted: () => {
          const version = [...speckle.versions.values()][0];
          const upload = version && [...speckle.uploads.values()][0];
          return upload && blob.get(upload.key)?.bytes;
        },
        close: () => speckle.close(),
      };
    }
  }
}

async function publishOn(provider: ProviderName, store: Store): Promise<{ run: ActionRun; local: Buffer; held: Buffer | undefined }> {
  const blob = new BlobStore();
  await blob.start();
  closers.push(() => blob.close());
  blob.integrity = store.style;
  blob.keepBytes = store.broken?.keepBytes;
  blob.corruptAt = store.broken?.corruptAt;
  const c = await chain(provider, blob);
  closers.unshift(() => c.close());
  const ws = await makeWorkspace({ [c.file.rel]: c.file.content });
  const run = await runAction(c.inputs, { workspace: ws });
  return { run, local: await readFile(path.join(ws, c.file.rel)), held: c.accepted() };
}

// What each chain can prove beyond storage: ARCNM reports the SHA-256 it holds, Speckle and ION compare the ETag.
const OWN: Record<ProviderName, string[]> = { arcnm: ['arcnm-sha256'], coldstream: [], ion: ['ion-validate-upload'], speckle: ['speckle-etag'] };
// Speckle and ION hand storage's ETag to the provider: without one their chain cannot finish.
const NEEDS_ETAG = new Set<ProviderName>(['ion', 'speckle']);
const PROVIDERS: ProviderName[] = ['arcnm', 'coldstream', 'ion', 'speckle'];

describe('integrity: intact uploads on every kind of store are never failed, and only real evidence verifies them', () => {
  const intact: [BlobIntegrityStyle, string][] = [
    ['md5', 'a plain store: the ETag is the MD5'],
    ['sse-kms', 'SSE-KMS: 32 hex digits that are not the MD5'],
    ['sse-c', 'SSE-C: 32 hex digits that are not the MD5'],
    ['multipart', 'a multipart-style ETag'],
    ['none', 'no ETag at all'],
  ];
  describe.each(PROVIDERS)('%s', (provider) => {
    it.each(intact)('%s (%s)', async (style) => {
      const { run, local, held } = await publishOn(provider, { style });
      const result = run.results[0]!;
      if (style === 'none' && NEEDS_ETAG.has(provider)) {
        expect(run.exitCode).toBe(1);
        expect(result).toMatchObject({ status: 'failed', error: { code: 'missing_etag' } });
        expect(result.error.message).toMatch(/without an ETag/);
        expect(held).toBeUndefined();
        return;
      }
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(result.status).toBe('succeeded');
      expect(held?.equals(local), 'the provider holds the bytes intact').toBe(true);
      const expected = [...(style === 'md5' ? ['etag-md5'] : []), ...OWN[provider]];
      expect(result.verifiedBy).toEqual(expected);
      if (expected.length === 0) {
        expect(run.summary).toContain('no checksum available');
        expect(run.stdout).toMatch(/::warning::.*neither storage nor Coldstream gave a checksum/);
      }
    });
  });
});

describe('integrity: a store that keeps other bytes and answers 200 never yields a succeeded file', () => {
  it.each(PROVIDERS)('%s, a plain store that kept only part of the file: corrupted (the ETag is the MD5 of what it kept)', async (provider) => {
    const { run, held } = await publishOn(provider, { style: 'md5', broken: { keepBytes: 200 } });
    expect(run.exitCode).toBe(1);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'corrupted' } });
    expect(run.results[0]!.error.message).toMatch(/storage holds different bytes/);
    expect(held).toBeUndefined();
  });

  it('ARCNM, an SSE-KMS store that kept only part of the file: ARCNM refuses it', async () => {
    const { run, held } = await publishOn('arcnm', { style: 'sse-kms', broken: { keepBytes: 200 } });
    expect(run.exitCode).toBe(1);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'invalid_content', providerCode: 'upload_rejected' } });
    expect(held).toBeUndefined();
  });

  it('ARCNM, an SSE-KMS store that flipped a byte: the SHA-256 ARCNM reports is not ours', async () => {
    const { run } = await publishOn('arcnm', { style: 'sse-kms', broken: { corruptAt: 100 } }); // past the STEP header ARCNM reads
    expect(run.exitCode).toBe(1);
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { code: 'corrupted' } });
    expect(run.results[0]!.error.message).toMatch(/ARCNM holds different bytes for upload .* than were uploaded from cad\/part.step/);
  });

});
