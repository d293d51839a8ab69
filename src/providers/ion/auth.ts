// ION's sign-in: a ready access token, or an API key pair exchanged for one with the OAuth client-credentials
// grant (once per run, and once more when ION answers 401). Every token fetched is masked the moment it arrives.
import * as z from '../../core/schema.js';
import { PublishError, UsageError } from '../../core/errors.js';
import { codeForStatus, statusCode } from '../../core/error-codes.js';
import type { Logger } from '../../core/types.js';
import { redactUrl, type Http } from '../../http/client.js';
import { parseServerUrl } from '../../inputs.js';
import { tryJson } from '../answers.js';
import type { OpenContext } from '../types.js';

/** The token endpoint path on ION's auth servers (the access-tokens page of ION's manual)... */
export const ION_TOKEN_PATH = '/realms/api-keys/protocol/openid-connect/token';
/** ...and the one older copies of that page and ION's own examples use. Tried when the first answers 404. */
export const ION_LEGACY_TOKEN_PATH = '/auth/realms/api-keys/protocol/openid-connect/token';

/**
 * API host → auth server, from the environment table of ION's API-key docs. ION's other docs give production
 * as api.firstresonance.io, which the table does not list: it is production, so it maps to production's
 * auth server. Sandboxes get their own hosts, so they need auth-url.
 */
export const ION_AUTH_SERVERS: Readonly<Record<string, string>> = {
  'api.firstresonance.io': 'auth.buildwithion.com',
  'api.buildwithion.com': 'auth.buildwithion.com',
  'staging-api.buildwithion.com': 'staging-auth.buildwithion.com',
  'api-staging-gov.buildwithion.com': 'auth-staging-gov.buildwithion.com',
  'api-production-gov.buildwithion.com': 'auth-production-gov.buildwithion.com',
  'api-staging-aus.buildwithion.com': 'auth-staging-aus.buildwithion.com',
  'api-production-aus.buildwithion.com': 'auth-production-aus.buildwithion.com',
};

export type IonAuth =
  | { kind: 'token'; token: string }
  /** `tokenUrls`: the endpoint, then (only when the path was not given) the legacy path to try on a 404. */
  | { kind: 'client'; clientId: string; clientSecret: string; tokenUrls: string[]; audience: string };

const tokenAnswer = z.object({ access_token: z.string().check(z.minLength(1)), token_type: z.nullish(z.string()), expires_in: z.nullish(z.number()) });
const oauthError = z.object({ error: z.string(), error_description: z.nullish(z.string()) });

/** The token endpoints to try: auth-url as given, the standard path on a bare auth host, or the derived default. */
export function ionTokenUrls(authUrlRaw: string, serverUrl: string): string[] {
  if (authUrlRaw !== '') {
    const url = parseServerUrl('auth-url', authUrlRaw);
    if (new URL(url).pathname !== '/') return [url];
    return [`${url}${ION_TOKEN_PATH}`, `${url}${ION_LEGACY_TOKEN_PATH}`];
  }
  const authHost = ION_AUTH_SERVERS[new URL(serverUrl).hostname.toLowerCase()];
  if (!authHost) {
    throw new UsageError(
      'auth-url',
      `is required with client-id/client-secret when server-url (${serverUrl}) is not one of ION's environments (${Object.keys(ION_AUTH_SERVERS).join(', ')}); pass your environment's token endpoint, e.g. https://<auth server>${ION_TOKEN_PATH}`,
    );
  }
  return [`https://${authHost}${ION_TOKEN_PATH}`, `https://${authHost}${ION_LEGACY_TOKEN_PATH}`];
}

/** The client-credentials grant. Minting a token changes nothing on the server, so it is safe to repeat. */
async function fetchToken(http: Http, auth: Extract<IonAuth, { kind: 'client' }>, signal: AbortSignal, log: Logger): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: auth.clientId,
    client_secret: auth.clientSecret,
    audience: auth.audience,
  }).toString();
  for (let i = 0; ; i++) {
    const url = auth.tokenUrls[i]!;
    const res = await http.request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      idempotent: true,
      signal,
      label: 'ION token request',
    });
    if (res.status === 404 && i + 1 < auth.tokenUrls.length) {
      log.debug(`ION token request: ${redactUrl(url)} answered 404; trying ${redactUrl(auth.tokenUrls[i + 1]!)}`);
      continue;
    }
    const where = redactUrl(url);
    if (!res.ok) {
      const parsed = oauthError.safeParse(tryJson(res.text));
      const reason = parsed.success ? `${parsed.data.error}${parsed.data.error_description ? ` (${parsed.data.error_description})` : ''}` : res.text.slice(0, 120).replace(/\s+/g, ' ');
      const hint =
        res.status === 404
          ? 'check that auth-url is the token endpoint of your environment'
          : "check client-id and client-secret, and that the API key was created in the environment server-url points at (a key works only in the environment that created it)";
      // OAuth's invalid_client (and friends) is the key's: refused, whatever status carries it.
      const code = res.status === 404 ? 'not_found' : res.status === 429 || res.status >= 500 ? codeForStatus(res.status) : 'auth_rejected';
      throw new PublishError(`ION token request to ${where} failed: HTTP ${res.status} ${reason}; ${hint}`, code, { providerCode: parsed.data?.error ?? statusCode(res.status) });
    }
    const parsed = tokenAnswer.safeParse(res.json());
    if (!parsed.success) throw new PublishError(`ION token request to ${where} answered HTTP ${res.status} without an access_token`, 'invalid_response');
    return parsed.data.access_token;
  }
}

/** The access token in use, renewed after a 401 when the run signed in with client credentials. */
export class IonCredentials {
  private token: string;
  /** Bumped on each new token, so concurrent 401s lead to one token request, not one each. */
  private generation = 0;
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly auth: IonAuth,
    private readonly ctx: Pick<OpenContext, 'http' | 'log' | 'mask'>,
    token: string,
  ) {
    this.token = token;
  }

  /** The token to start with: the one given, or the first fetched with the client credentials. */
  static async signIn(auth: IonAuth, ctx: OpenContext): Promise<IonCredentials> {
    if (auth.kind === 'token') return new IonCredentials(auth, ctx, auth.token);
    const token = await fetchToken(ctx.http, auth, ctx.signal, ctx.log);
    ctx.mask(token);
    ctx.log.info(`ION: signed in with client credentials at ${new URL(auth.tokenUrls[0]!).host}`);
    return new IonCredentials(auth, ctx, token);
  }

  current(): { token: string; generation: number } {
    return { token: this.token, generation: this.generation };
  }

  /** A new token after a 401 to `generation`'s token, at most one request at a time; none for a given token. */
  async refresh(generation: number, signal: AbortSignal): Promise<void> {
    const auth = this.auth;
    if (auth.kind !== 'client' || generation !== this.generation) return;
    this.refreshing ??= (async () => {
      try {
        const token = await fetchToken(this.ctx.http, auth, signal, this.ctx.log);
        this.ctx.mask(token);
        this.token = token;
        this.generation++;
        this.ctx.log.info('ION refused the access token (401); fetched a new one with the client credentials');
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }
}
