// An ARCNM emulator over its own blob store, for tests that need a provider but test something else.
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
