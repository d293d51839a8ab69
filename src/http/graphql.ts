// GraphQL over the shared HTTP client: graphql-request builds and parses the exchange, our client carries it
// (proxy, keep-alive, timeouts, retries). Queries are always safe to repeat; a mutation only when the caller
// says why. GraphQL errors come back as data, for the provider to word in its vendor's terms.
import { ClientError, GraphQLClient } from 'graphql-request';
import { HttpError } from '../core/errors.js';
import type { Http } from './client.js';

export interface GraphQLErrorItem {
  message: string;
  path?: readonly (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResult<T> {
  data?: T;
  errors?: GraphQLErrorItem[];
}

export interface GraphQLCall {
  label: string;
  signal?: AbortSignal;
  /** Whether the operation can be repeated harmlessly; every query can. */
  idempotent: boolean;
}

export class GraphQLEndpoint {
  constructor(
    private readonly http: Http,
    readonly url: string,
    private readonly headers: () => Record<string, string>,
  ) {}

  async execute<T>(document: string, variables: Record<string, unknown>, call: GraphQLCall): Promise<GraphQLResult<T>> {
    const http = this.http;
    const client = new GraphQLClient(this.url, {
      errorPolicy: 'all',
      headers: this.headers(),
      // graphql-request speaks `fetch`; hand it our client so retries, proxy and timeouts apply.
      fetch: (async (_input: unknown, init?: RequestInit) => {
        const res = await http.request({
          method: 'POST',
          url: this.url,
          headers: Object.fromEntries(new Headers(init?.headers).entries()),
          body: typeof init?.body === 'string' ? init.body : String(init?.body ?? ''),
          idempotent: call.idempotent,
          signal: call.signal,
          label: call.label,
        });
        // A login page or a proxy's error page where the API should be: say so in our words.
        if (res.text !== '') res.json();
        return new Response(res.text === '' ? null : res.text, { status: res.status, headers: res.headers });
      }) as typeof fetch,
    });
    try {
      const res = await client.rawRequest<T>(document, variables);
      return { data: res.data ?? undefined, errors: res.errors as GraphQLErrorItem[] | undefined };
    } catch (err) {
      if (err instanceof ClientError) {
        const body = err.response.body ?? '';
        // A GraphQL answer with errors (and maybe no data) is still an answer.
        if (err.response.status >= 200 && err.response.status < 300 && err.response.errors) {
          return { data: (err.response.data as T) ?? undefined, errors: err.response.errors as GraphQLErrorItem[] };
        }
        throw new HttpError(`${call.label}: HTTP ${err.response.status}: ${body.slice(0, 200)}`, err.response.status, body.slice(0, 2000));
      }
      throw err;
    }
  }
}
