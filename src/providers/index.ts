// The provider registry: the only list of vendors. Adding one: write its folder or module (a `defineProvider`
// definition), add it here, and document its inputs in action.yml (src/action-inputs.ts); a test checks that
// action.yml's provider list and the command line's help name exactly these.
import { arcnm } from './arcnm.js';
import { coldstream } from './coldstream.js';
import { ion } from './ion/index.js';
import { speckle } from './speckle/index.js';
import type { ProviderModule } from './types.js';

export const providers: readonly ProviderModule[] = [speckle, ion, coldstream, arcnm];

export const providerIds = (): string[] => providers.map((p) => p.id);
