// The provider registry: the only place that lists every vendor.
import { arcnm } from './arcnm.js';
import { ion } from './ion.js';
import { coldstream } from './coldstream.js';
import { speckle } from './speckle.js';
import type { ProviderModule } from './types.js';

export const providers: readonly ProviderModule<any>[] = [arcnm, coldstream, ion, speckle];
