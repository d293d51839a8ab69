// Shared words for failures that are the whole run's (see RunFailure in types.ts).
import type { CommonSettings, ProviderInfo, RunFailure } from './types.js';

/** A 404 on the API's own route (not on a named object): server-url's path is wrong. */
export function wrongServerUrl(provider: Pick<ProviderInfo, 'displayName' | 'defaultServerUrl'>, common: CommonSettings, route: string): RunFailure {
  return {
    input: 'server-url',
    message: `${provider.displayName} at ${common.serverUrl} answered 404 Not Found on ${route}, the API's own route: server-url does not point at the ${provider.displayName} API`,
    fix: `set server-url to the API's base URL (for the public service ${provider.defaultServerUrl}, or leave it empty), without a path the API does not have`,
    code: 'wrong_server_url',
  };
}
