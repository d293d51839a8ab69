// Starts every provider emulator on 127.0.0.1 and says how to reach it: the demo, the `uses: ./` job of the
// workflow and a curious user (`npm run emulators`) share this one place.
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';

export interface Emulators {
  blob: BlobStore;
  arcnm: ArcnmEmulator;
  /** What a workflow needs: server URLs and credentials, as environment variables. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export const DEMO_CREDENTIALS = {
  ARCNM_API_KEY: 'ak_test_demo_0000000000000000',
};

export async function startEmulators(): Promise<Emulators> {
  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey: DEMO_CREDENTIALS.ARCNM_API_KEY });
  await arcnm.start();
  arcnm.addPartRevision('prt_demo', 'rev_A');
  return {
    blob,
    arcnm,
    env: { ...DEMO_CREDENTIALS, ARCNM_URL: arcnm.url, BLOB_URL: blob.url },
    async close() {
      await arcnm.close();
      await blob.close();
    },
  };
}
