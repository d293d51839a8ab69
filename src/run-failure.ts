// Failures that are the whole run's, not one file's: the provider refused the credential, the target does not
// exist, server-url points at no API. The provider says which of its errors these are (ConfiguredProvider.runFailure);
// what any provider means by a 401/403, an unreachable server or bad input is said here, vendor-free.
import { HttpError, NetworkError, PublishError, UsageError, errorMessage } from './core/errors.js';
import { INPUTS } from './action-inputs.js';
import type { CommonSettings } from './inputs.js';
import type { ConfiguredProvider, RunFailure } from './providers/types.js';

export function classifyRunFailure(err: unknown, provider: ConfiguredProvider, common: CommonSettings, stage: 'open' | 'file'): RunFailure | undefined {
  const own = provider.runFailure(err, stage);
  // The vendor's own code goes with the run's failure as it goes with a file's.
  if (own) return own.providerCode === undefined && err instanceof PublishError && err.providerCode !== undefined ? { ...own, providerCode: err.providerCode } : own;
  if (err instanceof UsageError) return { input: err.input, message: err.message.replace(/^Input '[^']*': /, ''), fix: `change the ${err.input} input`, code: 'invalid_input' };
  // Past opening, a bare 401/403 or a dropped connection may be storage's or one file's (a presigned URL, a
  // flaky link): only the provider's own rules above make a file's failure the run's.
  if (stage !== 'open') return undefined;
  if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
    return {
      input: 'token',
      message: `${provider.displayName} refused the credential (HTTP ${err.status}): ${errorMessage(err)}`,
      fix: `pass a current ${provider.displayName} credential as the token input (from a secret) or in ${provider.tokenEnv}, with the permissions the provider's section of the README lists`,
      code: err.status === 401 ? 'auth_rejected' : 'permission_denied',
      ...(err.providerCode ? { providerCode: err.providerCode } : {}),
    };
  }
  if (err instanceof OpenFailure) return err.failure;
  if (err instanceof NetworkError) {
    return { input: 'server-url', message: `could not reach ${provider.displayName} at ${common.serverUrl}: ${errorMessage(err)}`, fix: `check server-url (default ${provider.defaultServerUrl}) and the network or proxy between the runner and it`, code: 'network' };
  }
  return undefined;
}

/** One line for logs and annotations: the input, what happened and the fix. */
export function describeRunFailure(f: RunFailure): string {
  return `Input '${f.input}': ${f.message}. Fix: ${f.fix}`;
}

/** An error opening the provider that no rule above recognises: still the whole run's, since no file can go anywhere. */
export class OpenFailure extends Error {
  readonly failure: RunFailure;
  constructor(err: unknown, displayName: string) {
    const message = errorMessage(err);
    super(message);
    const named = INPUTS.map((i) => i.name)
      .filter((name) => name.includes('-') || name === 'token' || name === 'region')
      .find((name) => new RegExp(`(^|[^\\w-])${name}([^\\w-]|$)`).test(message));
    this.failure = {
      input: named ?? 'server-url',
      message: `${displayName} could not be opened for this run: ${message}`,
      fix: named ? `check the ${named} input` : `check server-url and that ${displayName} is up; re-run when it is`,
      code: err instanceof PublishError ? err.code : 'open_failed',
      ...(err instanceof PublishError && err.providerCode ? { providerCode: err.providerCode } : {}),
    };
  }
}
