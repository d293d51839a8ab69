// The one vocabulary of `results[].error.code`: a closed list, the same for every provider, so a script that
// reads the results meets one set of words. The vendor's own code (ARCNM's `error.code`, a GraphQL
// `extensions.code`, storage's `<Code>`, an OAuth `error`, or `http_<status>` when the vendor gave only a
// status) travels beside it as `providerCode`. The README's table of error codes is generated from this list
// (a test holds them equal): add a code here, with its meaning and usual fix, and nowhere else.

export const ERROR_CODES = {
  invalid_input: {
    meaning: 'an input is missing or malformed; nothing was sent',
    fix: 'change the input the message names, as it says',
  },
  refused: {
    meaning: 'checked locally and not sent: empty, the wrong kind of content for its extension, a type or size the provider does not take',
    fix: 'fix the export, or leave the file out of `path` (`validate: false` lets the provider decide on content)',
  },
  unreadable: {
    meaning: 'the file cannot be read: a name that is not UTF-8, a dangling or looping link, a read error',
    fix: 'fix or remove the file in the workspace',
  },
  file_changed: {
    meaning: 'the file changed while it was being uploaded',
    fix: 'do not write the file while the action publishes it; run again',
  },
  auth_rejected: {
    meaning: 'the provider did not accept the credential (missing, expired, revoked, or from another server or environment)',
    fix: "pass a current credential from a secret (`token`, or ION's `client-id`/`client-secret`)",
  },
  permission_denied: {
    meaning: 'the credential is valid but lacks the scope, role or permission for this target',
    fix: "grant the permission the message names (the provider's section of the README lists what each needs)",
  },
  not_found: {
    meaning: 'the target (project, model, case, entity, part revision) or an object the run follows does not exist, or the credential cannot see it',
    fix: 'check the target inputs (`project-id`, `model-id`, `case-id`, `entity-id`, `attach-to`, `part-id`) and what the credential can see',
  },
  wrong_server_url: {
    meaning: "`server-url` does not point at the provider's API (its own route answered 404)",
    fix: "set `server-url` to the API's base URL, or leave it empty for the public service",
  },
  unsupported_by_server: {
    meaning: 'the server does not offer a field or operation the action needs (an older or different API version)',
    fix: 'use the input the message suggests instead (e.g. ION `entity-id`), or update the server',
  },
  rate_limited: {
    meaning: 'the provider kept answering 429 for longer than the run may wait, or asked (`Retry-After`) to wait longer than that; the run had slowed its requests down',
    fix: 'raise `wait-timeout-minutes`, or run again later (a shared API key may be spending the limit elsewhere)',
  },
  provider_unavailable: {
    meaning: 'the provider kept failing with a server error (5xx) after every attempt',
    fix: "run again later; check the provider's status page",
  },
  invalid_content: {
    meaning: "the provider examined the file's content and refused it (its format check or importer could not read it)",
    fix: 'fix the export; the message carries the provider\'s reason',
  },
  rejected_by_provider: {
    meaning: 'the provider refused the request or failed processing the file for a reason of its own (see `providerCode` and the message)',
    fix: 'read the provider\'s reason in the message; fix what it names',
  },
  rejected_by_storage: {
    meaning: 'the storage behind the presigned URL refused the upload (e.g. `SignatureDoesNotMatch`: something changed the signed headers)',
    fix: 'exclude the storage host from any proxy (`NO_PROXY`); the storage code is in `providerCode`',
  },
  upload_url_expired: {
    meaning: 'the presigned upload URL expired or was used up on every presign the file was allowed',
    fix: 'run again; on very slow links raise `request-timeout-seconds` or lower `concurrency`',
  },
  missing_etag: {
    meaning: 'storage answered the upload without an ETag, which the provider needs to register the file',
    fix: 'exclude the storage host from any proxy that strips headers (`NO_PROXY`)',
  },
  corrupted: {
    meaning: 'the bytes the provider or its storage holds differ from the file read',
    fix: 'run again; if it repeats, check proxies that rewrite bodies',
  },
  outcome_unknown: {
    meaning: 'a request that must happen once (create, start, attach) lost its answer; it is not sent again, so it may or may not have happened',
    fix: 'check the target in the provider before re-running, so nothing is published twice',
  },
  target_busy: {
    meaning: 'the target is running another job, and `wait` is false so it was not waited out (Coldstream case)',
    fix: 'keep `wait: true` when several files go to one case, or re-run when it is idle',
  },
  timeout: {
    meaning: "waiting for the provider (its processing, a busy target) took longer than `wait-timeout-minutes`",
    fix: 'raise `wait-timeout-minutes`, or use `wait: false` and check later',
  },
  network: {
    meaning: 'a connection dropped, was refused or timed out, after every attempt safe to make',
    fix: 'check `server-url`, the network and any proxy; raise `request-timeout-seconds` on slow links',
  },
  proxy_error: {
    meaning: 'the proxy refused the tunnel (407 and friends)',
    fix: 'put `user:password` in `HTTPS_PROXY`/`HTTP_PROXY`, or list the host in `NO_PROXY`',
  },
  invalid_response: {
    meaning: "the server's answer is not what the API documents (HTML where JSON was expected, a missing field, an oversized answer)",
    fix: "check that `server-url` is the API's base URL; otherwise report it with the message",
  },
  open_failed: {
    meaning: 'the provider could not be opened for this run, for a reason no other code describes',
    fix: 'check `server-url` and that the provider is up; re-run when it is',
  },
  cancelled: {
    meaning: 'the run was cancelled before this file was published',
    fix: 're-run; files that finished are in the outputs',
  },
  unexpected: {
    meaning: 'an error the action did not expect',
    fix: 'report it with the message and the log',
  },
} as const satisfies Record<string, { meaning: string; fix: string }>;

/** A code of `results[].error.code`: only these, for every provider. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** What an HTTP status means when the provider said nothing more precise. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'auth_rejected';
  if (status === 403) return 'permission_denied';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'provider_unavailable';
  return 'rejected_by_provider';
}

/** `http_<status>`: the provider's code when all it gave was a status. */
export function statusCode(status: number): string {
  return `http_${status}`;
}
