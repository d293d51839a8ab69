export const id = 479;
export const ids = [479];
export const modules = {

/***/ 4729:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   b: () => (/* binding */ GraphQLEndpoint)
/* harmony export */ });
/* harmony import */ var graphql_request__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8854);
/* harmony import */ var _core_errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(4296);
// GraphQL over the shared HTTP client: graphql-request builds and parses the exchange, our client carries it
// (proxy, keep-alive, timeouts, retries). Queries are always safe to repeat; a mutation only when the caller
// says why. GraphQL errors come back as data, for the provider to word in its vendor's terms.


class GraphQLEndpoint {
    http;
    url;
    headers;
    constructor(http, url, headers) {
        this.http = http;
        this.url = url;
        this.headers = headers;
    }
    async execute(document, variables, call) {
        const http = this.http;
        const client = new graphql_request__WEBPACK_IMPORTED_MODULE_0__/* .GraphQLClient */ .l4(this.url, {
            errorPolicy: 'all',
            headers: this.headers(),
            // graphql-request speaks `fetch`; hand it our client so retries, proxy and timeouts apply.
            fetch: (async (_input, init) => {
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
                if (res.text !== '')
                    res.json();
                return new Response(res.text === '' ? null : res.text, { status: res.status, headers: res.headers });
            }),
        });
        try {
            const res = await client.rawRequest(document, variables);
            return { data: res.data ?? undefined, errors: res.errors };
        }
        catch (err) {
            if (err instanceof graphql_request__WEBPACK_IMPORTED_MODULE_0__/* .ClientError */ .MZ) {
                const body = err.response.body ?? '';
                // A GraphQL answer with errors (and maybe no data) is still an answer.
                if (err.response.status >= 200 && err.response.status < 300 && err.response.errors) {
                    return { data: err.response.data ?? undefined, errors: err.response.errors };
                }
                throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$(`${call.label}: HTTP ${err.response.status}: ${body.slice(0, 200)}`, err.response.status, body.slice(0, 2000));
            }
            throw err;
        }
    }
}


/***/ }),

/***/ 3479:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   openIon: () => (/* binding */ openIon)
/* harmony export */ });
/* harmony import */ var _core_schema_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8149);
/* harmony import */ var _core_errors_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(4296);
/* harmony import */ var _core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(5694);
/* harmony import */ var _files_names_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(9827);
/* harmony import */ var _http_client_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(3272);
/* harmony import */ var _http_graphql_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(4729);
/* harmony import */ var _answers_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(3889);
/* harmony import */ var _auth_js__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(8705);
/* harmony import */ var _index_js__WEBPACK_IMPORTED_MODULE_8__ = __webpack_require__(9255);
/* harmony import */ var _operations_js__WEBPACK_IMPORTED_MODULE_9__ = __webpack_require__(9045);
// ION's session: sign-in, GraphQL and its failures worded in ION's terms, the target's entity, attachments.
// Loaded with a dynamic import() when an ION run opens (ncc makes it a chunk), so that no other run loads
// GraphQL; the definition (inputs, settings, the run's failures) is index.ts.










const uploadUrlAnswer = _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({
    requestFileUploadUrl: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({ uploadUrl: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .url */ .OZ(), s3Key: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .string */ .Yj().check(_core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .minLength */ .Bp(1)), contentType: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .string */ .Yj().check(_core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .minLength */ .Bp(1)) }),
});
const attachmentAnswer = _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({
    createFileAttachment: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({
        fileAttachment: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({ id: _index_js__WEBPACK_IMPORTED_MODULE_8__/* .ionId */ .Sc, entityId: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .nullish */ .cl(_index_js__WEBPACK_IMPORTED_MODULE_8__/* .ionId */ .Sc), filename: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .nullish */ .cl(_core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .string */ .Yj()) }),
    }),
});
const entityAnswer = _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .nullable */ .me(_core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({ id: _index_js__WEBPACK_IMPORTED_MODULE_8__/* .ionId */ .Sc, entity: _core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .nullable */ .me(_core_schema_js__WEBPACK_IMPORTED_MODULE_0__/* .object */ .Ik({ id: _index_js__WEBPACK_IMPORTED_MODULE_8__/* .ionId */ .Sc })) }));
/** errors[] of a GraphQL answer body, or none. */
function graphqlErrorsIn(body) {
    const parsed = (0,_answers_js__WEBPACK_IMPORTED_MODULE_6__/* .tryJson */ .M)(body);
    if (!parsed || !Array.isArray(parsed.errors))
        return [];
    return parsed.errors.filter((e) => !!e && typeof e.message === 'string');
}
function stripEtag(etag) {
    const stripped = etag?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    return stripped === '' ? undefined : stripped;
}
/** Server text for a log line or a message: one line, bounded. */
function oneLine(text, max = 300) {
    const line = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
    return line.length > max ? `${line.slice(0, max)}…` : line;
}
/** ION's own code for a GraphQL failure: the first `extensions.code` it gave. */
function providerCode(errors) {
    const code = errors.map((e) => e.extensions?.code).find((c) => typeof c === 'string' && c !== '');
    return code === undefined ? undefined : { providerCode: code };
}
const PERMISSION_WORDS = /permission|not authori[sz]ed|forbidden|access denied|unauthori[sz]ed/i;
const ENTITY_MISSING = /entity\b.*\b(not found|does not exist|doesn't exist|no such)|no entity/i;
class IonSession {
    settings;
    http;
    ctx;
    credentials;
    displayName = 'ION';
    graphqlUrl;
    /** The entity every attachment goes to: entity-id, or attach-to resolved in open(). */
    entityId = '';
    /** Attachments ION created while also answering errors: attachment ID → ION's errors (the file's warning). */
    partial = new Map();
    constructor(settings, http, ctx, credentials) {
        this.settings = settings;
        this.http = http;
        this.ctx = ctx;
        this.credentials = credentials;
        this.graphqlUrl = `${settings.serverUrl}/graphql`;
    }
    /**
     * Send one operation; answers its data or throws a PublishError worded in ION's terms. `label` names the
     * request in retry lines (with the file's path); `subject` starts error messages (the engine adds the path).
     */
    async execute(op, variables, label, signal, subject = `ION ${op.field}`) {
        for (let refreshed = false;; refreshed = true) {
            const { token, generation } = this.credentials.current();
            const endpoint = new _http_graphql_js__WEBPACK_IMPORTED_MODULE_5__/* .GraphQLEndpoint */ .b(this.http, this.graphqlUrl, () => ({ authorization: `Bearer ${token}` }));
            let result;
            try {
                result = await endpoint.execute(op.document, variables, { label, signal, idempotent: op.idempotent });
            }
            catch (err) {
                // A 401 is answered before the operation runs, so sending it again with a new token is safe.
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status === 401) {
                    if (this.settings.auth.kind === 'client' && !refreshed) {
                        await this.credentials.refresh(generation, signal);
                        continue;
                    }
                    throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(this.settings.auth.kind === 'client'
                        ? `${subject}: ION answered 401 Unauthorized even with a freshly issued token; check that the API key belongs to the environment at ${this.settings.serverUrl} and that auth-url is that environment's auth server`
                        : `${subject}: ION answered 401 Unauthorized: the access token is missing, expired or invalid, or belongs to another environment than ${this.settings.serverUrl}; pass a current token, or client-id and client-secret so the action fetches one`, 'auth_rejected', { providerCode: (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .statusCode */ .se)(401) });
                }
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status === 403) {
                    throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ION answered 403 Forbidden${op.permission ? ` (${op.field} needs the ${op.permission} permission)` : ''}; check the role's permissions on the target (an API key keeps the permissions its creator had when the key was created)`, 'permission_denied', { providerCode: (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .statusCode */ .se)(403) });
                }
                // Not JSON at all (a login page where the API should be): the message already says what to check.
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.code === 'invalid_response')
                    throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ${err.message}`, err.code, { providerCode: err.providerCode });
                // A validation error (HTTP 400 with errors[]): the document asks for something this server lacks.
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status === 400) {
                    const errors = graphqlErrorsIn(err.body);
                    if (errors.length > 0)
                        throw this.failure(op, errors, subject);
                }
                // An error status whose body still carries the created object (a gateway that turns errors[] into a
                // 5xx): the object exists, so the same rule as for a 200 with errors applies.
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status >= 500) {
                    const body = (0,_answers_js__WEBPACK_IMPORTED_MODULE_6__/* .tryJson */ .M)(err.body);
                    const created = (0,_index_js__WEBPACK_IMPORTED_MODULE_8__/* .createdDespiteErrors */ .uR)(op, body?.data);
                    if (created !== undefined) {
                        this.warnPartial(label, op, created, `HTTP ${err.status}${graphqlErrorsIn(err.body).length > 0 ? `: ${graphqlErrorsIn(err.body).map((e) => e.message).join('; ')}` : ''}`);
                        return body.data;
                    }
                }
                const dropped = (0,_http_client_js__WEBPACK_IMPORTED_MODULE_4__/* .isNetworkFailure */ .NQ)(err);
                if (!dropped && !(err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$))
                    throw err;
                const why = err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ ? `ION answered HTTP ${err.status}` : `the connection dropped (${(0,_http_client_js__WEBPACK_IMPORTED_MODULE_4__/* .describeNetworkFailure */ .Ku)(err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .NetworkError */ .Dr && err.cause !== undefined ? err.cause : err)})`;
                if (!op.idempotent && (dropped || (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status >= 500))) {
                    throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .OutcomeUnknownError */ .Do(`${subject}: ${why}, so ION may or may not have created the attachment; ${op.field} is not sent again, to avoid a duplicate: check the entity's attachments before re-running`, err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ ? { providerCode: (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .statusCode */ .se)(err.status) } : undefined);
                }
                if (err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.status === 429) {
                    throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ION kept answering 429 Too Many Requests for longer than this run may wait; raise wait-timeout-minutes, or run again later`, 'rate_limited', { providerCode: (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .statusCode */ .se)(429) });
                }
                const detail = err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ && err.body ? `: ${err.body.slice(0, 200).replace(/\s+/g, ' ')}` : '';
                throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ${why} at ${(0,_http_client_js__WEBPACK_IMPORTED_MODULE_4__/* .redactUrl */ .BO)(this.graphqlUrl)}${detail}`, err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ ? (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .codeForStatus */ .zT)(err.status) : 'network', err instanceof _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .HttpError */ .j$ ? { providerCode: (0,_core_error_codes_js__WEBPACK_IMPORTED_MODULE_2__/* .statusCode */ .se)(err.status) } : undefined);
            }
            if (result.errors && result.errors.length > 0) {
                const created = (0,_index_js__WEBPACK_IMPORTED_MODULE_8__/* .createdDespiteErrors */ .uR)(op, result.data);
                if (created === undefined)
                    throw this.failure(op, result.errors, subject);
                this.warnPartial(label, op, created, result.errors.map((e) => e.message).join('; '));
            }
            return result.data;
        }
    }
    /** Remember and log a partly successful answer: the object exists, and ION also said something went wrong. */
    warnPartial(label, op, created, errors) {
        const said = oneLine(errors);
        this.partial.set(created, said);
        this.ctx.log.warn(`${label}: ION created ${op === _operations_js__WEBPACK_IMPORTED_MODULE_9__/* .createFileAttachment */ .EU ? 'attachment' : 'object'} ${created} but also answered errors: ${said}. The file counts as published (its ID is kept, so a re-run does not attach it twice); check it in ION`);
    }
    /** ION answers HTTP 200 with errors[] when an operation fails: ION's message, plus what to do about it. */
    failure(op, errors, subject) {
        const text = errors.map((e) => e.message).join('; ');
        // The seed's `<kind>(id) { id entity { id } }` lookup against a server whose schema differs: say which
        // field it refused, and that entity-id skips the lookup.
        const missing = (0,_index_js__WEBPACK_IMPORTED_MODULE_8__/* .unknownFields */ ._6)(errors.map((e) => e.message));
        if (missing.length > 0 && op.field === this.settings.target.kind) {
            const target = this.settings.target;
            const fields = missing.map((m) => `"${m.field}" on type "${m.type}"`).join(', ');
            return new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: this ION server does not accept the field ${fields} (${oneLine(text)}), so the action cannot look up the entity of ${target.kind} ${target.id} with ${target.kind}(id) { id entity { id } }; pass entity-id instead of attach-to: the entity ID of ${target.kind} ${target.id}, as ION shows it`, 'unsupported_by_server', providerCode(errors));
        }
        const codes = errors.map((e) => String(e.extensions?.code ?? '')).join(' ');
        if (PERMISSION_WORDS.test(text) || /forbidden|permission/i.test(codes)) {
            const named = op.permission && !text.includes(op.permission) ? ` (${op.field} needs the ${op.permission} permission)` : '';
            return new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ${text}${named}; give the user or API key that permission on the target (an API key keeps the permissions its creator had when the key was created)`, 'permission_denied', providerCode(errors));
        }
        if (op === _operations_js__WEBPACK_IMPORTED_MODULE_9__/* .createFileAttachment */ .EU && this.settings.target.kind === 'entity' && ENTITY_MISSING.test(text)) {
            return new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ${text}; entity-id takes an entity ID (the parent's entity { id }), not the parent's own ID: use attach-to (e.g. runStep:<id>) and the action looks the entity up`, 'not_found', providerCode(errors));
        }
        return new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`${subject}: ${text}`, 'rejected_by_provider', providerCode(errors));
    }
    /** attach-to → entity { id }, once per run (a query: read-only, safe in dry-run). */
    async resolveTarget(signal) {
        const target = this.settings.target;
        if (target.kind === 'entity') {
            this.entityId = target.entityId;
            return;
        }
        const label = `attach-to ${target.kind}:${target.id}`;
        const data = await this.execute((0,_operations_js__WEBPACK_IMPORTED_MODULE_9__/* .entityLookup */ .Se)(target.kind), { id: target.id }, label, signal, label);
        const entity = (0,_answers_js__WEBPACK_IMPORTED_MODULE_6__/* .parseAnswer */ .W)(entityAnswer, data?.[target.kind] ?? null, `ION ${label}`);
        if (entity === null) {
            throw new _index_js__WEBPACK_IMPORTED_MODULE_8__/* .IonTargetError */ .ow(`${label}: ION has no ${target.kind} with ID ${target.id}, or the credentials cannot see it`);
        }
        if (entity.entity === null)
            throw new _index_js__WEBPACK_IMPORTED_MODULE_8__/* .IonTargetError */ .ow(`${label}: ION's ${target.kind} ${target.id} has no entity to attach files to`);
        this.entityId = entity.entity.id;
        this.ctx.log.info(`ION: attaching to ${target.kind} ${target.id} (entity ${this.entityId})`);
    }
    async presign(file, ctx) {
        const answer = (0,_answers_js__WEBPACK_IMPORTED_MODULE_6__/* .parseAnswer */ .W)(uploadUrlAnswer, await this.execute(_operations_js__WEBPACK_IMPORTED_MODULE_9__/* .requestFileUploadUrl */ .oY, { filename: (0,_files_names_js__WEBPACK_IMPORTED_MODULE_3__/* .nameOf */ .Vb)(this.settings.name, file) }, `${file.path}: requestFileUploadUrl`, ctx.signal), 'ION requestFileUploadUrl');
        const { uploadUrl, s3Key, contentType } = answer.requestFileUploadUrl;
        // The URL is signed for this Content-Type: send exactly it, whatever our own table would say.
        return { target: { method: 'PUT', url: uploadUrl, headers: { 'Content-Type': contentType } }, pending: { s3Key } };
    }
    async confirm(file, pending, receipt, ctx) {
        const s3Etag = stripEtag(receipt.etag);
        if (s3Etag === undefined)
            throw new _core_errors_js__WEBPACK_IMPORTED_MODULE_1__/* .PublishError */ .S1(`ION createFileAttachment: storage answered the upload without an ETag, which ION needs as s3Etag`, 'missing_etag');
        const input = { filename: (0,_files_names_js__WEBPACK_IMPORTED_MODULE_3__/* .nameOf */ .Vb)(this.settings.name, file), s3Key: pending.s3Key, s3Etag, entityId: this.entityId, validateUpload: this.settings.validateUpload };
        const answer = (0,_answers_js__WEBPACK_IMPORTED_MODULE_6__/* .parseAnswer */ .W)(attachmentAnswer, await this.execute(_operations_js__WEBPACK_IMPORTED_MODULE_9__/* .createFileAttachment */ .EU, { input }, `${file.path}: createFileAttachment`, ctx.signal), 'ION createFileAttachment');
        const attachment = answer.createFileAttachment.fileAttachment;
        const warning = this.partial.get(attachment.id);
        const ids = {
            id: attachment.id,
            attachmentId: attachment.id,
            entityId: attachment.entityId ?? this.entityId,
            ...(warning !== undefined ? { warning: `ION created the attachment but also answered errors: ${warning}` } : {}),
        };
        // With validateUpload ION compared the stored object's ETag with ours before creating the attachment.
        return { ids, outcome: 'accepted', evidence: this.settings.validateUpload ? ['ion-validate-upload'] : [] };
    }
}
async function openIon(settings, ctx) {
    const credentials = await _auth_js__WEBPACK_IMPORTED_MODULE_7__/* .IonCredentials */ .rN.signIn(settings.auth, ctx);
    const session = new IonSession(settings, ctx.http, ctx, credentials);
    await session.resolveTarget(ctx.signal);
    const target = settings.target.kind === 'entity' ? 'entity' : `${settings.target.kind} ${settings.target.id}, entity`;
    return Object.assign(session, {
        plan: (file) => ({ destination: `ION ${target} ${session.entityId}; an attachment named "${(0,_files_names_js__WEBPACK_IMPORTED_MODULE_3__/* .nameOf */ .Vb)(settings.name, file)}" registered with createFileAttachment${settings.validateUpload ? ' (ION verifies the stored object against its ETag first)' : ''}` }),
    });
}


/***/ })

};
