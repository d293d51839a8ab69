// The two parts of undici the action uses, loaded on their own: the proxy-aware keep-alive dispatcher and the
// request API. undici's index loads all of it (fetch, WebSocket, the cache, mocks, …) at start-up: with
// @actions/core's index, which loads it too, about 20 ms more from process start to the first request, for
// nothing a run uses; the comment's Octokit, in a chunk of its own, loads the index when a run comments. Same classes, same
// behaviour: `request` is undici's `request(url, options)` (its index wraps api-request the same way), and the
// one thing the index does besides loading (giving every dispatcher its request/stream/pipeline/upgrade/connect
// methods, which the proxy agent's CONNECT uses) is done here too.
import type { Dispatcher } from 'undici';
import api from 'undici/lib/api/index.js';
import apiRequest from 'undici/lib/api/api-request.js';
import undiciUtil from 'undici/lib/core/util.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgentImpl from 'undici/lib/dispatcher/env-http-proxy-agent.js';

// As undici's index.js: `Object.assign(Dispatcher.prototype, api)`.
Object.assign(DispatcherImpl.prototype, api);

export type { Dispatcher };
export const EnvHttpProxyAgent = EnvHttpProxyAgentImpl;

type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method: Dispatcher.HttpMethod; dispatcher: Dispatcher };

/** undici's `request(url, options)` with a dispatcher of our own (never the global one). */
export function request(url: string, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  const parsed = undiciUtil.parseURL(url);
  return apiRequest.call(dispatcher, { ...rest, origin: parsed.origin, path: parsed.search ? `${parsed.pathname}${parsed.search}` : parsed.pathname });
}
