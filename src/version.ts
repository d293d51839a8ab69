// The version this build was made from: package.json's, bundled at build time (one source for the user agent,
// `--version` and the release tag).
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
/** Sent with every request, so a vendor can tell this client apart in its logs. */
export const USER_AGENT = `model-publisher/${VERSION}`;
