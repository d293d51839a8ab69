// Starts every provider emulator on 127.0.0.1 and says how to reach it: the demo, the `uses: ./` job of the
// workflow and a curious user (`npm run emulators`) share this one place.
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { IonEmulator } from '../emulators/ion.js';
import { SpeckleEmulator } from '../emulators/speckle.js';

export interface Emulators {
  blob: BlobStore;
  arcnm: ArcnmEmulator;
  coldstream: ColdstreamEmulator;
  ion: IonEmulator;
  speckle: SpeckleEmulator;
  /** What a workflow needs: server URLs and credentials, as environment variables. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export const DEMO_CREDENTIALS = {
  ARCNM_API_KEY: 'ak_test_demo_0000000000000000',
  COLDSTREAM_TOKEN: 'cs_demo_token_0000000000000000',
  ION_TOKEN: 'ion_demo_token_000000000000000',
  SPECKLE_TOKEN: 'speckle_demo_token_00000000000',
  SPECKLE_PROJECT_ID: 'p0ject1d',
};

export async function startEmulators(): Promise<Emulators> {
  const blob = new BlobStore();
  await blob.start();
  const arcnm = new ArcnmEmulator({ blob, apiKey: DEMO_CREDENTIALS.ARCNM_API_KEY });
  await arcnm.start();
  arcnm.addPartRevision('prt_demo', 'rev_A');
  const coldstream = new ColdstreamEmulator({ blob, token: DEMO_CREDENTIALS.COLDSTREAM_TOKEN, cases: { '1001': ['2001', '2002'] } });
  await coldstream.start();
  const ion = new IonEmulator({ blob, tokens: [DEMO_CREDENTIALS.ION_TOKEN] });
  await ion.start();
  const speckle = new SpeckleEmulator({ blob, tokens: { [DEMO_CREDENTIALS.SPECKLE_TOKEN]: {} } });
  await speckle.start();
  return {
    blob,
    arcnm,
    coldstream,
    ion,
    speckle,
    env: { ...DEMO_CREDENTIALS, SPECKLE_URL: speckle.url, ARCNM_URL: arcnm.url, COLDSTREAM_URL: coldstream.url, ION_URL: ion.url, ION_AUTH_URL: ion.authUrl, ION_CLIENT_ID: ion.clientId, ION_CLIENT_SECRET: ion.clientSecret, BLOB_URL: blob.url },
    async close() {
      await speckle.close();
      await ion.close();
      await coldstream.close();
      await arcnm.close();
      await blob.close();
    },
  };
}
