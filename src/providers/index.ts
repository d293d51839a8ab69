// The provider registry: the only place that lists every vendor.
import { arcnm } from './arcnm.js';
import type { ProviderModule } from './types.js';

export const providers: readonly ProviderModule<any>[] = [arcnm];
