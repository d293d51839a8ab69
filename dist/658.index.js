export const id = 658;
export const ids = [658];
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

/***/ 1658:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

// ESM COMPAT FLAG
__webpack_require__.r(__webpack_exports__);

// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  openSpeckle: () => (/* binding */ openSpeckle)
});

// EXTERNAL MODULE: ./src/core/schema.ts + 12 modules
var schema = __webpack_require__(8149);
// EXTERNAL MODULE: ./src/core/units.ts
var units = __webpack_require__(2184);
// EXTERNAL MODULE: ./src/http/graphql.ts
var graphql = __webpack_require__(4729);
// EXTERNAL MODULE: ./src/providers/answers.ts
var answers = __webpack_require__(3889);
// EXTERNAL MODULE: ./src/providers/speckle/graphql.ts
var speckle_graphql = __webpack_require__(6235);
;// CONCATENATED MODULE: ./src/providers/speckle/api.ts
// One Speckle server, as the token sees it: sends an operation over GraphQL (graphql-request, through the shared
// HTTP client) and words its failures (graphql.ts). Loaded only when a Speckle run opens its session (open.ts).




/** One Speckle server, as the token sees it: operations sent, answers read, failures worded. */
class SpeckleApi {
    settings;
    log;
    gql;
    constructor(http, settings, log) {
        this.settings = settings;
        this.log = log;
        this.gql = new graphql/* GraphQLEndpoint */.b(http, `${settings.serverUrl}/graphql`, () => ({ authorization: `Bearer ${settings.token}` }));
    }
    /** Send `op` and answer its data in the shape `schema` describes; a failure is worded (SpeckleError). */
    async call(op, variables, what, schema, signal) {
        const { data, errors } = await this.execute(op, variables, what, signal);
        if (errors?.length) {
            const created = (0,speckle_graphql/* createdDespiteErrors */.uR)(op, data);
            if (created === undefined)
                throw (0,speckle_graphql/* graphqlFailure */.gR)(errors, what, this.settings);
            const said = (0,speckle_graphql/* oneLine */.TN)([...new Set(errors.map((e) => e.message))].join('; '));
            this.log.warn(`Speckle, asked to ${what}: it did (${created}) but also answered errors: ${said}. Carrying on with ${created} (a repeat would make a duplicate or be refused)`);
        }
        return (0,answers/* parseAnswer */.W)(schema, data, `Speckle, asked to ${what}`);
    }
    /** Send `op`; answers data and errors as they came (an HTTP-level failure is worded). */
    async execute(op, variables, what, signal) {
        try {
            return await this.gql.execute(op.document, variables, { label: `Speckle ${op.name}`, idempotent: op.idempotent, signal });
        }
        catch (err) {
            throw (0,speckle_graphql/* httpFailure */.tG)(err, what, this.settings);
        }
    }
}
/**
 * One request reading `count` aliased fields under `project` (`<prefix>0`, `<prefix>1`, …), as the ingestion and
 * 2.x import watchers batch their status reads. An error whose path names an alias is that alias's; any other
 * error, or no answer at all, is the failure of every alias in the request.
 */
async function readAliased(api, op, variables, what, signal, prefix, count) {
    let answer;
    try {
        answer = await api.execute(op, variables, what, signal);
    }
    catch (err) {
        return { failure: err };
    }
    const own = new Map();
    const whole = [];
    const aliasOf = new RegExp(`^${prefix}(\\d+)$`);
    for (const e of answer.errors ?? []) {
        const alias = e.path?.[0] === 'project' && typeof e.path[1] === 'string' ? aliasOf.exec(e.path[1]) : null;
        const index = alias ? Number(alias[1]) : -1;
        if (index >= 0 && index < count)
            own.set(index, [...(own.get(index) ?? []), e]);
        else
            whole.push(e);
    }
    if (whole.length > 0)
        return { failure: (0,speckle_graphql/* graphqlFailure */.gR)([...whole, ...[...own.values()].flat()], what, api.settings) };
    return { project: answer.data?.project ?? undefined, own };
}

// EXTERNAL MODULE: ./src/core/errors.ts
var errors = __webpack_require__(4296);
// EXTERNAL MODULE: ./src/core/waiting.ts
var waiting = __webpack_require__(8876);
// EXTERNAL MODULE: ./src/providers/speckle/operations.ts
var operations = __webpack_require__(2158);
;// CONCATENATED MODULE: ./src/providers/speckle/protocol.ts


const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 5_000;
/** The pause after a round of asking for a verdict: quick at first (imports often take moments), then slower. */
function pollDelay(round) {
    return Math.min(POLL_MAX_MS, POLL_FIRST_MS * 2 ** (round - 1));
}
/** How often something that must happen once is looked for and tried again after ambiguous failures. */
const MAX_START_ROUNDS = 3;
/**
 * Something that must happen once (a model created, an ingestion or import started) failed ambiguously: ask
 * whether it happened and follow it, else do it again; after MAX_START_ROUNDS, the outcome is unknown.
 */
function startOnce(what, firstError, find, start, log) {
    return (0,waiting/* happenOnce */.am)({
        what,
        who: 'Speckle',
        firstError,
        find,
        start,
        ambiguous: speckle_graphql/* isAmbiguous */.X2,
        // The server registers a fileId once: an earlier start did go through. Never start it a third time.
        alreadyDone: (err) => ((0,speckle_graphql/* isAlreadyRegistered */.rG)(err) ? 'the file was already registered' : undefined),
        lookedUpWhere: 'on the model',
        rounds: MAX_START_ROUNDS,
        checkHint: 'check the project in Speckle before re-running',
        log,
    });
}

;// CONCATENATED MODULE: ./src/providers/speckle/import.ts
// Finishing a file on an open-source 2.x server (no ingestion API): startFileImport, then the model's uploads
// polled until ours is converted into a version or fails. A start whose answer was lost is looked for among the
// model's uploads before it is ever sent again.







const import_fileUpload = schema/* object */.Ik({
    id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)),
    convertedStatus: schema/* int */.Wh(),
    convertedMessage: schema/* nullish */.cl(schema/* string */.Yj()),
    convertedVersionId: schema/* nullish */.cl(schema/* string */.Yj()),
});
const startImportAnswer = schema/* object */.Ik({ fileUploadMutations: schema/* object */.Ik({ startFileImport: schema/* extend */.X$(import_fileUpload, { modelId: schema/* nullish */.cl(schema/* string */.Yj()) }) }) });
const uploadsAnswer = schema/* object */.Ik({
    project: schema/* object */.Ik({ model: schema/* object */.Ik({ uploads: schema/* object */.Ik({ cursor: schema/* nullish */.cl(schema/* string */.Yj()), items: schema/* array */.YO(import_fileUpload) }) }) }),
});
/** FileUpload.convertedStatus on 2.x servers. */
const CONVERTED = { queued: 0, processing: 1, success: 2, error: 3 };
class FileImport {
    api;
    generation = '2.x';
    generateUploadUrl = operations/* generateUploadUrlLegacy */.fm;
    finalisation = 'imported (startFileImport, server 2.x)';
    watcher;
    /** `signal`: the run's (hard) cancellation, which ends the watcher's requests. */
    constructor(api, signal) {
        this.api = api;
        this.watcher = new ImportWatcher(api, signal, (modelId, ids, ctx, cursor) => this.findUploads(modelId, ids, ctx, cursor));
    }
    async start(file, input, modelUrl, ctx) {
        const upload = await this.startImport(input, ctx);
        const { modelId } = input;
        return {
            label: `file import ${upload.id}`,
            submitted: { id: upload.id, fileId: upload.id, modelId, url: modelUrl },
            verdict: (waitCtx) => this.waitForImport(file, modelId, upload, waitCtx),
            accepted: (versionId) => ({ id: versionId, versionId, modelId, fileId: upload.id, url: `${modelUrl}@${versionId}` }),
        };
    }
    async startImport(input, ctx) {
        const what = 'start the file import';
        const start = async () => (await this.api.call(operations/* startFileImport */.sb, { input }, what, startImportAnswer, ctx.signal)).fileUploadMutations.startFileImport;
        try {
            return await start();
        }
        catch (err) {
            const etag = (0,speckle_graphql/* etagFailure */.Qk)(err, input.etag);
            if (etag)
                throw etag;
            if (!(0,speckle_graphql/* isAmbiguous */.X2)(err))
                throw err;
            // The import may have been registered before the answer was lost: look for our fileId first.
            return startOnce(what, err, () => this.findUpload(input.modelId, input.fileId, ctx), start, ctx.log);
        }
    }
    async findUpload(modelId, uploadId, ctx) {
        return (await this.findUploads(modelId, new Set([uploadId]), ctx)).get(uploadId);
    }
    /** The model's uploads paged (bounded: 20 pages of 25) until every one of `ids` is found. */
    async findUploads(modelId, ids, ctx, from = null) {
        const found = new Map();
        let cursor = from;
        for (let page = 0; page < 20; page++) {
            const answer = await this.api.call(operations/* modelUploads */.Mj, { projectId: this.api.settings.projectId, modelId, cursor }, 'file import status', uploadsAnswer, ctx.signal);
            const { items, cursor: next } = answer.project.model.uploads;
            for (const u of items)
                if (ids.has(u.id))
                    found.set(u.id, u);
            if (found.size === ids.size || !next || items.length === 0)
                break;
            cursor = next;
        }
        return found;
    }
    waitForImport(file, modelId, started, ctx) {
        // The start's own answer is the first round's.
        const outcome = importOutcome(started);
        if (outcome instanceof Error)
            return Promise.reject(outcome);
        if (outcome !== undefined)
            return Promise.resolve(outcome);
        return this.watcher.verdict(file, modelId, started, ctx);
    }
}
/** success → the version ID; an error → its error; still queued or processing → undefined. */
function importOutcome(upload) {
    if (upload.convertedStatus === CONVERTED.success) {
        return upload.convertedVersionId ? upload.convertedVersionId : new speckle_graphql/* SpeckleError */.iv(`Speckle reports file import ${upload.id} done but names no version`, 'invalid_response');
    }
    if (upload.convertedStatus === CONVERTED.error)
        return new speckle_graphql/* SpeckleError */.iv(`Speckle could not import the file: ${upload.convertedMessage || 'no reason given'}`, 'ingestion_failed');
    return undefined;
}
const uploadsPage = schema/* object */.Ik({ uploads: schema/* object */.Ik({ cursor: schema/* nullish */.cl(schema/* string */.Yj()), items: schema/* array */.YO(import_fileUpload) }) });
const readsOf = new Map();
function modelsRead(count) {
    let op = readsOf.get(count);
    if (!op)
        readsOf.set(count, (op = (0,operations/* modelsUploads */.t7)(count)));
    return op;
}
/**
 * 2.x: waits for every file import of the run at once. A round reads the newest uploads of every model that has
 * an import waiting, in one ModelsUploads request (one aliased `model` field a model, up to
 * MODELS_PER_UPLOADS_READ), not one request per file; a model whose waiting imports are not all on that first
 * page is paged on once for all of them. Each file keeps its own schedule (pollDelay), deadline and
 * cancellation; an error naming one model's alias fails that model's files only.
 */
class ImportWatcher {
    api;
    signal;
    page;
    rounds;
    constructor(api, signal, 
    /** The rest of a model's uploads, paged from `cursor`, for the imports not on its first page. */
    page) {
        this.api = api;
        this.signal = signal;
        this.page = page;
        this.rounds = new waiting/* SharedRounds */.L3(signal, (now, waiting) => this.round(now, waiting));
    }
    verdict(file, modelId, started, ctx) {
        const uploadId = started.id;
        const fields = { file, modelId, uploadId, log: ctx.log, lastStatus: -1, dueAt: Date.now() + pollDelay(1), round: 1 };
        this.note(fields, started);
        return this.rounds.wait(uploadId, fields, ctx, () => new errors/* WaitTimeoutError */.WL(`Speckle was still importing the file (file import ${uploadId}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`));
    }
    note(w, upload) {
        if (upload.convertedStatus === w.lastStatus)
            return;
        w.log.info(`${w.file.path}: Speckle import ${upload.convertedStatus === CONVERTED.queued ? 'queued' : 'processing'}${upload.convertedMessage ? `: ${upload.convertedMessage}` : ''}`);
        w.lastStatus = upload.convertedStatus;
    }
    /**
     * Every model with an import due is read, and the documents are filled with the models due next (asking costs
     * nothing more); every import waiting on a model read is answered by it.
     */
    async round(now, waiting) {
        const byDue = waiting.sort((x, y) => x.dueAt - y.dueAt);
        const dueModels = new Set(byDue.filter((w) => w.dueAt <= now).map((w) => w.modelId));
        const all = [...new Set(byDue.map((w) => w.modelId))];
        const models = all.slice(0, Math.min(all.length, Math.ceil(dueModels.size / operations/* MODELS_PER_UPLOADS_READ */.t1) * operations/* MODELS_PER_UPLOADS_READ */.t1));
        const asked = waiting.filter((w) => models.includes(w.modelId));
        for (const w of asked) {
            w.round += 1;
            w.dueAt = now + pollDelay(w.round);
        }
        for (let at = 0; at < models.length; at += operations/* MODELS_PER_UPLOADS_READ */.t1) {
            const batch = models.slice(at, at + operations/* MODELS_PER_UPLOADS_READ */.t1);
            await this.read(batch, asked.filter((w) => batch.includes(w.modelId)));
        }
    }
    async read(models, waiters) {
        const variables = { projectId: this.api.settings.projectId };
        models.forEach((m, i) => (variables[`m${i}`] = m));
        const what = 'file import status';
        const answer = await readAliased(this.api, modelsRead(models.length), variables, what, this.signal, 'm', models.length);
        if ('failure' in answer) {
            for (const w of waiters)
                w.settle(answer.failure);
            return;
        }
        const { project, own } = answer;
        for (const [i, modelId] of models.entries()) {
            const mine = waiters.filter((w) => w.modelId === modelId);
            const refused = own.get(i);
            if (refused) {
                const failure = (0,speckle_graphql/* graphqlFailure */.gR)(refused, `read the uploads of model ${modelId}`, this.api.settings);
                for (const w of mine)
                    w.settle(failure);
                continue;
            }
            const parsed = project ? uploadsPage.safeParse(project[`m${i}`]) : undefined;
            if (!parsed?.success) {
                for (const w of mine)
                    w.settle(new speckle_graphql/* SpeckleError */.iv(`Speckle, asked for the uploads of model ${modelId}: unexpected answer shape`, 'invalid_response'));
                continue;
            }
            const found = new Map(parsed.data.uploads.items.map((u) => [u.id, u]));
            const missing = new Set(mine.filter((w) => !found.has(w.uploadId)).map((w) => w.uploadId));
            if (missing.size > 0 && parsed.data.uploads.cursor) {
                try {
                    for (const [id, u] of await this.page(modelId, missing, { signal: this.signal }, parsed.data.uploads.cursor))
                        found.set(id, u);
                }
                catch (err) {
                    for (const w of mine)
                        if (missing.has(w.uploadId))
                            w.settle(err);
                }
            }
            for (const w of mine) {
                const upload = found.get(w.uploadId);
                if (!upload) {
                    // Not listed yet; after a few rounds, Speckle does not know it.
                    if (w.round > 3)
                        w.settle(new speckle_graphql/* SpeckleError */.iv(`Speckle does not list file import ${w.uploadId} among the uploads of model ${modelId}`, 'ingestion_missing'));
                    continue;
                }
                const outcome = importOutcome(upload);
                if (outcome instanceof Error)
                    w.settle(outcome);
                else if (outcome !== undefined)
                    w.settle(undefined, outcome);
                else
                    this.note(w, upload);
            }
        }
    }
}

;// CONCATENATED MODULE: ./src/providers/speckle/ingestion.ts
// Finishing a file on a server with the ingestion API (app.speckle.systems): startFileIngestion, then
// project.ingestion polled until it ends in a version or Speckle's reason. A start whose answer was lost is
// looked up (the model's latest ingestion, then its history) before it is ever sent again.







const STATUSES = (/* unused pure expression or super */ null && (['queued', 'processing', 'success', 'failed', 'cancelled', 'invalidInput', 'timeout']));
const statusData = schema/* object */.Ik({
    __typename: schema/* string */.Yj(),
    // Read through HasModelIngestionStatus; a status this client does not know yet stays a string.
    status: schema/* string */.Yj(),
    progressMessage: schema/* nullish */.cl(schema/* string */.Yj()),
    progress: schema/* nullish */.cl(schema/* number */.ai()),
    versionId: schema/* nullish */.cl(schema/* string */.Yj()),
    errorReason: schema/* nullish */.cl(schema/* string */.Yj()),
    cancellationMessage: schema/* nullish */.cl(schema/* string */.Yj()),
    validationMessage: schema/* nullish */.cl(schema/* string */.Yj()),
});
const startIngestionAnswer = schema/* object */.Ik({
    fileUploadMutations: schema/* object */.Ik({
        startFileIngestion: schema/* object */.Ik({ id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), modelId: schema/* string */.Yj(), statusData: schema/* object */.Ik({ __typename: schema/* string */.Yj(), status: schema/* string */.Yj() }) }),
    }),
});
const latestIngestionAnswer = schema/* object */.Ik({
    project: schema/* object */.Ik({
        model: schema/* object */.Ik({
            latestIngestion: schema/* nullish */.cl(schema/* object */.Ik({ id: schema/* string */.Yj(), handler: schema/* object */.Ik({ __typename: schema/* string */.Yj(), blobId: schema/* nullish */.cl(schema/* string */.Yj()) }) })),
        }),
    }),
});
const ingestionHistoryAnswer = schema/* object */.Ik({
    project: schema/* object */.Ik({
        model: schema/* object */.Ik({
            ingestionHistory: schema/* object */.Ik({
                cursor: schema/* nullish */.cl(schema/* string */.Yj()),
                items: schema/* array */.YO(schema/* object */.Ik({ id: schema/* string */.Yj(), handler: schema/* object */.Ik({ __typename: schema/* string */.Yj(), blobId: schema/* nullish */.cl(schema/* string */.Yj()) }) })),
            }),
        }),
    }),
});
const ingestionState = schema/* nullish */.cl(schema/* object */.Ik({ id: schema/* string */.Yj(), modelId: schema/* string */.Yj(), statusData }));
class LiveIngestion {
    api;
    generation = 'live';
    generateUploadUrl = operations/* generateUploadUrlLive */.UC;
    finalisation = 'ingested (startFileIngestion)';
    /** False once the server answered that Model.ingestionHistory does not exist: not asked again. */
    hasIngestionHistory;
    watcher;
    /** `signal`: the run's (hard) cancellation, which ends the watcher's requests. */
    constructor(api, signal) {
        this.api = api;
        this.watcher = new IngestionWatcher(api, signal);
    }
    async start(file, input, modelUrl, ctx) {
        const ingestionId = await this.startIngestion(input, ctx);
        const { modelId, fileId } = input;
        return {
            label: `ingestion ${ingestionId}`,
            submitted: { id: ingestionId, ingestionId, modelId, fileId, url: modelUrl },
            verdict: (waitCtx) => this.waitForIngestion(file, ingestionId, waitCtx),
            accepted: (versionId) => ({ id: versionId, versionId, modelId, ingestionId, fileId, url: `${modelUrl}@${versionId}` }),
        };
    }
    async startIngestion(input, ctx) {
        const start = async () => {
            try {
                const answer = await this.api.call(operations/* startFileIngestion */.Rq, { input }, 'start the ingestion', startIngestionAnswer, ctx.signal);
                return answer.fileUploadMutations.startFileIngestion.id;
            }
            catch (err) {
                throw (0,speckle_graphql/* etagFailure */.Qk)(err, input.etag) ?? err;
            }
        };
        try {
            return await start();
        }
        catch (err) {
            if (!(0,speckle_graphql/* isAmbiguous */.X2)(err))
                throw err;
            // The ingestion may have started before the answer was lost: follow it rather than start a second.
            return startOnce('start the ingestion', err, () => this.adoptIngestion(input, ctx), start, ctx.log);
        }
    }
    /**
     * After a 5xx or a dropped connection, look up the ingestion of our fileId (an ingestion's handler names the
     * fileId as its blobId): the model's latest ingestion first; when that is another one (another file or run
     * started one since), the model's ingestion history. Found: it is ours and we follow it. Not found: it did
     * not start, and starting it is safe (the server would refuse a second start of a registered fileId anyway).
     */
    async adoptIngestion(input, ctx) {
        const { projectId, modelId, fileId } = input;
        const answer = await this.api.call(operations/* latestIngestion */.ue, { projectId, modelId }, 'check whether the ingestion started', latestIngestionAnswer, ctx.signal);
        const latest = answer.project.model.latestIngestion;
        let found = latest && latest.handler.blobId === fileId ? latest.id : undefined;
        // No ingestion on the model at all: ours did not start. Another one is the latest: ours may be older.
        if (found === undefined && latest)
            found = await this.findInHistory(projectId, modelId, fileId, ctx);
        if (found !== undefined) {
            ctx.log.info(`Speckle: ingestion ${found} of file ${fileId} had started; following it`);
            return found;
        }
        ctx.log.info(`Speckle: the ingestion of file ${fileId} did not start; starting it again`);
        return undefined;
    }
    /** The model's ingestion history searched for our fileId (bounded: 20 pages of 50). */
    async findInHistory(projectId, modelId, fileId, ctx) {
        if (this.hasIngestionHistory === false)
            return undefined;
        let cursor = null;
        for (let page = 0; page < 20; page++) {
            let answer;
            try {
                answer = await this.api.call(operations/* ingestionHistory */.fC, { projectId, modelId, cursor }, 'look up the ingestion of the file', ingestionHistoryAnswer, ctx.signal);
            }
            catch (err) {
                // A server without ingestionHistory: latestIngestion was all it could tell.
                if ((0,speckle_graphql/* isValidationFailure */.kf)(err, 'ingestionHistory')) {
                    this.hasIngestionHistory = false;
                    return undefined;
                }
                throw err;
            }
            const { items, cursor: next } = answer.project.model.ingestionHistory;
            const mine = items.find((i) => i.handler.blobId === fileId);
            if (mine)
                return mine.id;
            if (!next || items.length === 0)
                return undefined;
            cursor = next;
        }
        return undefined;
    }
    waitForIngestion(file, ingestionId, ctx) {
        return this.watcher.verdict(file, ingestionId, ctx);
    }
}
/**
 * Waits for every ingestion of the run at once: a round sends one IngestionStatus request for up to
 * INGESTIONS_PER_STATUS_READ waiting ingestions (aliased fields), not one request per file; more wait, more
 * documents. Each ingestion has its own schedule (pollDelay: soon after it started, then slower); a round comes
 * when the first one wants it and asks for those that are due, filling the document with the ones due next.
 * Each file's wait ends at its own deadline (wait-timeout-minutes) or cancellation. An error whose path names
 * one alias fails that file only; a failure of the whole request (after the HTTP client's retries) fails the
 * files it asked for, as a failed poll did before.
 */
class IngestionWatcher {
    api;
    signal;
    rounds;
    constructor(api, signal) {
        this.api = api;
        this.signal = signal;
        this.rounds = new waiting/* SharedRounds */.L3(signal, (now, waiting) => this.round(now, waiting));
    }
    verdict(file, ingestionId, ctx) {
        return this.rounds.wait(ingestionId, {
            file,
            ingestionId,
            log: ctx.log,
            lastLine: '',
            status: '',
            // The start's answer said it is queued: the first read comes a moment later, with those of the files
            // that start meanwhile (at once, files starting one after another would each cost a request).
            dueAt: Date.now() + pollDelay(1),
            round: 1,
        }, ctx, (w) => new errors/* WaitTimeoutError */.WL(`Speckle was still ingesting the file (ingestion ${ingestionId}${w.status ? `, ${w.status}` : ''}) after wait-timeout-minutes; raise wait-timeout-minutes, or set wait: false to publish without waiting`));
    }
    /** Those due first, then the documents filled with the ones due next (asking costs nothing more). */
    async round(now, waiting) {
        const all = waiting.sort((x, y) => x.dueAt - y.dueAt);
        const dueCount = all.findIndex((w) => w.dueAt > now);
        const count = dueCount < 0 ? all.length : Math.min(all.length, Math.ceil(dueCount / operations/* INGESTIONS_PER_STATUS_READ */.ap) * operations/* INGESTIONS_PER_STATUS_READ */.ap);
        const asked = all.slice(0, count);
        for (const w of asked) {
            w.round += 1;
            w.dueAt = now + pollDelay(w.round);
        }
        for (let at = 0; at < asked.length; at += operations/* INGESTIONS_PER_STATUS_READ */.ap) {
            await this.read(asked.slice(at, at + operations/* INGESTIONS_PER_STATUS_READ */.ap));
        }
    }
    /** One IngestionStatus request for `batch`, each waiter settled or moved on by its own answer. */
    async read(batch) {
        const projectId = this.api.settings.projectId;
        const variables = { projectId };
        batch.forEach((w, i) => (variables[`id${i}`] = w.ingestionId));
        const what = batch.length === 1 ? 'read the ingestion status' : `read the status of ${batch.length} ingestions`;
        // An error whose path names an alias (project.i3…) is that ingestion's; any other is the whole request's.
        const answer = await readAliased(this.api, statusRead(batch.length), variables, what, this.signal, 'i', batch.length);
        if ('failure' in answer) {
            for (const w of batch)
                w.settle(answer.failure);
            return;
        }
        const { project, own } = answer;
        batch.forEach((w, i) => {
            const mine = own.get(i);
            if (mine)
                return w.settle((0,speckle_graphql/* graphqlFailure */.gR)(mine, `read the status of ingestion ${w.ingestionId}`, this.api.settings));
            const parsed = project ? ingestionState.safeParse(project[`i${i}`]) : undefined;
            if (!parsed?.success) {
                return w.settle(new speckle_graphql/* SpeckleError */.iv(`Speckle, asked to read the status of ingestion ${w.ingestionId}: unexpected answer shape`, 'invalid_response'));
            }
            if (!parsed.data)
                return w.settle(new speckle_graphql/* SpeckleError */.iv(`Speckle no longer knows ingestion ${w.ingestionId}`, 'ingestion_missing'));
            const s = parsed.data.statusData;
            const outcome = ingestionOutcome(w.ingestionId, s);
            if (outcome instanceof Error)
                return w.settle(outcome);
            if (outcome !== undefined)
                return w.settle(undefined, outcome);
            const line = progressLine(s);
            if (line !== w.lastLine) {
                w.log.info(`${w.file.path}: Speckle ${line}`);
                w.lastLine = line;
            }
            w.status = s.status;
        });
    }
}
const statusReads = new Map();
/** The IngestionStatus document for `count` ingestions, built once per count. */
function statusRead(count) {
    let op = statusReads.get(count);
    if (!op)
        statusReads.set(count, (op = (0,operations/* ingestionStatuses */.HU)(count)));
    return op;
}
/** success → the version ID; a final failure → its error; still running → undefined. */
function ingestionOutcome(ingestionId, s) {
    switch (s.status) {
        case 'queued':
        case 'processing':
            return undefined;
        case 'success':
            return s.versionId ? s.versionId : new speckle_graphql/* SpeckleError */.iv(`Speckle reports ingestion ${ingestionId} done but names no version`, 'invalid_response');
        case 'failed':
            return new speckle_graphql/* SpeckleError */.iv(`Speckle could not ingest the file: ${s.errorReason || 'no reason given'}`, 'ingestion_failed', [], [], s.status);
        case 'cancelled':
            return new speckle_graphql/* SpeckleError */.iv(`Speckle cancelled the ingestion${s.cancellationMessage ? `: ${s.cancellationMessage}` : ''}`, 'ingestion_cancelled', [], [], s.status);
        case 'invalidInput':
            return new speckle_graphql/* SpeckleError */.iv(`Speckle refused the file as invalid input: ${s.validationMessage || 'no reason given'}`, 'ingestion_invalid_input', [], [], s.status);
        case 'timeout':
            return new speckle_graphql/* SpeckleError */.iv("Speckle gave up: its importer timed out (the model may be too large or complex for the server's import limits)", 'ingestion_timeout', [], [], s.status);
        default:
            return undefined; // a status this client does not know yet: keep waiting, wait-timeout-minutes bounds it
    }
}
function progressLine(s) {
    const pct = typeof s.progress === 'number' ? ` ${Math.round((s.progress <= 1 ? s.progress * 100 : s.progress))}%` : '';
    return `${s.status}${pct}${s.progressMessage ? `: ${s.progressMessage}` : ''}`;
}

// EXTERNAL MODULE: ./src/providers/speckle/settings.ts
var settings = __webpack_require__(1233);
;// CONCATENATED MODULE: ./src/providers/speckle/session.ts
// One Speckle run: the part of the chain both protocols share (upload URL, model lookup or creation, the
// version message), with the protocol chosen when the session opened finishing each file.








const uploadUrlAnswer = schema/* object */.Ik({
    fileUploadMutations: schema/* object */.Ik({
        generateUploadUrl: schema/* object */.Ik({
            url: schema/* url */.OZ(),
            fileId: schema/* string */.Yj().check(schema/* minLength */.Bp(1)),
            additionalRequestHeaders: schema/* nullish */.cl(schema/* array */.YO(schema/* object */.Ik({ header: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), value: schema/* string */.Yj() }))),
        }),
    }),
});
/** The file's SHA-256 as the version message carries it (`describeVersion`), and as skip-unchanged reads it back. */
const versionSha256 = (message) => /\bsha256:([0-9a-f]{64})\b/i.exec(message ?? '')?.[1]?.toLowerCase();
const latestVersion = schema/* object */.Ik({ versions: schema/* object */.Ik({ items: schema/* array */.YO(schema/* object */.Ik({ id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), message: schema/* nullish */.cl(schema/* string */.Yj()) })) }) });
const modelWithLatest = schema/* extend */.X$(latestVersion, { id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), name: schema/* string */.Yj() });
const latestOfModelAnswer = schema/* object */.Ik({ project: schema/* object */.Ik({ model: modelWithLatest }) });
const latestByNameAnswer = schema/* object */.Ik({ project: schema/* record */.g1(schema/* string */.Yj(), schema/* object */.Ik({ totalCount: schema/* nullish */.cl(schema/* number */.ai()), items: schema/* array */.YO(modelWithLatest) })) });
/** Model names asked for in one LatestVersionsByName request. */
const NAMES_PER_LOOKUP = 25;
const modelAnswer = schema/* object */.Ik({ project: schema/* object */.Ik({ modelByName: schema/* object */.Ik({ id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), name: schema/* string */.Yj() }) }) });
const createModelAnswer = schema/* object */.Ik({ modelMutations: schema/* object */.Ik({ create: schema/* object */.Ik({ id: schema/* string */.Yj().check(schema/* minLength */.Bp(1)), name: schema/* string */.Yj() }) }) });
class SpeckleSession {
    api;
    protocol;
    server;
    log;
    displayName = 'Speckle';
    /** One lookup-or-create per model name, shared by every file that targets it: a new model is created once. */
    models = new Map();
    settings;
    constructor(api, protocol, server, log) {
        this.api = api;
        this.protocol = protocol;
        this.server = server;
        this.log = log;
        this.settings = api.settings;
    }
    plan(file) {
        const { project } = this.server;
        const model = this.settings.modelId ? `model ${this.settings.modelId}` : `model "${(0,settings/* modelNameFor */.m4)(this.settings, file)}" (created if missing)`;
        const refusal = this.refuse(file);
        return { destination: `Speckle project "${project.name}" (${project.id}), ${model}; ${this.protocol.finalisation} into a new version`, ...(refusal ? { refusal } : {}) };
    }
    refuse(file) {
        const limit = this.server.blobSizeLimitBytes;
        if (limit && file.bytes > limit) {
            return `the file has ${(0,units/* formatBytes */.z3)(file.bytes)} (${file.bytes} bytes); this Speckle server accepts files up to ${(0,units/* formatBytes */.z3)(limit)} (${limit} bytes, serverInfo.configuration.blobSizeLimitBytes)`;
        }
        return undefined;
    }
    /**
     * skip-unchanged: the latest version of every model the run targets (one query with model-id, one per 25 model
     * names with the template), and the SHA-256 its message records. A file whose model's latest version records
     * its SHA-256 is held: that version is reported. A model that does not exist yet, a latest version without a
     * SHA-256 (made by another client, or with wait: false) or of other bytes: the file is published.
     */
    async lookup(files, ctx) {
        const latest = new Map();
        const { projectId, modelId } = this.settings;
        if (modelId) {
            const answer = await this.api.call(operations/* latestVersionOfModel */.iO, { projectId, modelId }, `read the latest version of model ${modelId}`, latestOfModelAnswer, ctx.signal);
            const v = answer.project.model.versions.items[0];
            if (v)
                latest.set('', { modelId, versionId: v.id, sha256: versionSha256(v.message) });
        }
        else {
            const names = [...new Set(files.map((f) => (0,settings/* modelNameFor */.m4)(this.settings, f.file)))];
            for (let at = 0; at < names.length; at += NAMES_PER_LOOKUP) {
                const batch = names.slice(at, at + NAMES_PER_LOOKUP);
                const variables = Object.fromEntries([['projectId', projectId], ...batch.map((n, i) => [`n${i}`, n])]);
                const answer = await this.api.call((0,operations/* latestVersionsByName */.l2)(batch.length), variables, `read the latest versions of ${batch.length} model(s)`, latestByNameAnswer, ctx.signal);
                batch.forEach((name, i) => {
                    // Speckle stores model names lowercased; `search` answers every name containing ours: keep the exact one.
                    const model = answer.project[`m${i}`]?.items.find((m) => m.name.toLowerCase() === name.toLowerCase());
                    if (!model)
                        return;
                    // Known now: confirm need not look the model up again.
                    if (!this.models.has(name))
                        this.models.set(name, Promise.resolve(model.id));
                    const v = model.versions.items[0];
                    if (v)
                        latest.set(name, { modelId: model.id, versionId: v.id, sha256: versionSha256(v.message) });
                });
            }
        }
        const held = new Map();
        for (const { file, sha256 } of files) {
            const found = latest.get(modelId ? '' : (0,settings/* modelNameFor */.m4)(this.settings, file));
            if (!found || found.sha256 !== sha256)
                continue;
            const modelUrl = `${this.settings.serverUrl}/projects/${projectId}/models/${found.modelId}`;
            held.set(file, {
                ids: { id: found.versionId, versionId: found.versionId, modelId: found.modelId, url: `${modelUrl}@${found.versionId}` },
                held: `the latest version ${found.versionId} of model ${found.modelId} records the same SHA-256`,
            });
        }
        return held;
    }
    async presign(file, ctx) {
        const input = { projectId: this.settings.projectId, fileName: file.name };
        const answer = await this.api.call(this.protocol.generateUploadUrl, { input }, 'get an upload URL', uploadUrlAnswer, ctx.signal);
        const { url, fileId, additionalRequestHeaders } = answer.fileUploadMutations.generateUploadUrl;
        // Storage checks the headers the URL was signed with: send every one Speckle lists, exactly, besides
        // the Content-Type (Speckle's guide uploads as application/octet-stream).
        const headers = { 'content-type': 'application/octet-stream' };
        for (const { header, value } of additionalRequestHeaders ?? [])
            headers[header.toLowerCase()] = value;
        return { target: { method: 'PUT', url, headers }, pending: { fileId } };
    }
    async confirm(file, pending, receipt, ctx) {
        // Speckle compares this with storage's own ETag, quotes included: pass it on exactly as storage sent it.
        const etag = receipt.etag;
        if (!etag)
            throw new errors/* PublishError */.S1('storage answered the upload without an ETag, which Speckle needs to start the import', 'missing_etag');
        const modelId = this.settings.modelId ?? (await this.resolveModel(file, ctx));
        const modelUrl = `${this.settings.serverUrl}/projects/${this.settings.projectId}/models/${modelId}`;
        const started = await this.protocol.start(file, { projectId: this.settings.projectId, modelId, fileId: pending.fileId, etag }, modelUrl, ctx);
        ctx.log.info(`${file.path}: Speckle ${started.label} started on model ${modelId}`);
        // Speckle started it only after comparing our ETag with the stored object's.
        const submitted = { ids: started.submitted, outcome: 'submitted', evidence: ['speckle-etag'] };
        if (!ctx.wait)
            return submitted;
        // Waiting for the ingestion sends nothing of this file's own (one status request a round serves every waiting
        // file): its place goes to the next file, and it takes one again for its version message.
        ctx.waiting?.();
        const versionId = await (0,waiting/* verdictUnlessCancelled */.tT)(ctx, file.path, () => started.verdict(ctx));
        if (versionId === undefined)
            return submitted;
        await ctx.resume?.();
        await this.describeVersion(file, versionId, receipt.sha256Hex, ctx);
        return { ids: started.accepted(versionId), outcome: 'accepted', evidence: ['speckle-etag'] };
    }
    resolveModel(file, ctx) {
        const name = (0,settings/* modelNameFor */.m4)(this.settings, file);
        let modelId = this.models.get(name);
        if (!modelId) {
            modelId = this.findOrCreateModel(name, ctx);
            this.models.set(name, modelId);
            // A failed attempt is not remembered: the next file that targets the model tries again.
            modelId.catch(() => this.models.delete(name));
        }
        return modelId;
    }
    async findModel(name, ctx) {
        const { data, errors } = await this.api.execute(operations/* modelByName */.qe, { projectId: this.settings.projectId, name }, `look up model "${name}"`, ctx.signal);
        if (errors?.length) {
            // A missing model is an error on modelByName (BRANCH_NOT_FOUND), not null.
            if (errors.every((e) => e.path?.includes('modelByName') && (0,speckle_graphql/* isNotFound */.c4)(e)))
                return undefined;
            throw (0,speckle_graphql/* graphqlFailure */.gR)(errors, `look up model "${name}"`, this.settings);
        }
        const parsed = modelAnswer.safeParse(data);
        if (!parsed.success)
            throw new speckle_graphql/* SpeckleError */.iv(`Speckle look up model "${name}": unexpected answer shape`, 'invalid_response');
        return parsed.data.project.modelByName.id;
    }
    async findOrCreateModel(name, ctx) {
        const existing = await this.findModel(name, ctx);
        if (existing)
            return existing;
        const origin = this.settings.origin;
        const description = origin?.sha
            ? `Created by Model Publisher from ${origin.repository ?? 'a GitHub workflow'} at ${origin.sha}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}`
            : undefined;
        const create = async () => {
            const answer = await this.api.call(operations/* createModel */.kQ, { input: { projectId: this.settings.projectId, name, ...(description ? { description } : {}) } }, `create model "${name}"`, createModelAnswer, ctx.signal);
            this.log.info(`Speckle: created model "${answer.modelMutations.create.name}" (${answer.modelMutations.create.id})`);
            return answer.modelMutations.create.id;
        };
        try {
            return await create();
        }
        catch (err) {
            if (err instanceof speckle_graphql/* SpeckleError */.iv && (err.reason === 'forbidden' || err.reason === 'project_not_found' || err.reason === 'invalid_token'))
                throw err;
            if ((0,speckle_graphql/* isAmbiguous */.X2)(err)) {
                // The create may have gone through before the answer was lost: the name tells.
                return startOnce(`create model "${name}"`, err, () => this.findModel(name, ctx), create, ctx.log);
            }
            // Another run may have created the model meanwhile (the name is then taken): use the one the name finds.
            const again = await this.findModel(name, ctx).catch(() => undefined);
            if (again) {
                this.log.info(`Speckle: model "${name}" exists (${again}); using it (${(0,errors/* errorMessage */.gJ)(err)})`);
                return again;
            }
            throw err;
        }
    }
    /**
     * Traceability: the version message names the commit, ref and workflow run, and the SHA-256 of the file's
     * bytes (`sha256:<hex>`), which skip-unchanged reads back on the next run. The start mutations take no
     * message, so it is set afterwards; a failure here never fails a file whose version exists (the next run then
     * finds no SHA-256 and publishes the file again: never a wrong skip).
     */
    async describeVersion(file, versionId, sha256, ctx) {
        const origin = this.settings.origin;
        const from = origin?.sha ? ` from ${origin.repository ?? 'GitHub'}@${origin.sha.slice(0, 12)}${origin.ref ? ` (${origin.ref})` : ''}${origin.runUrl ? ` — ${origin.runUrl}` : ''}` : '';
        const message = `${file.path}${from} · sha256:${sha256}`;
        try {
            await this.api.call(operations/* updateVersionMessage */.P_, { input: { projectId: this.settings.projectId, versionId, message } }, `set the message of version ${versionId}`, schema/* object */.Ik({ versionMutations: schema/* object */.Ik({ update: schema/* object */.Ik({ id: schema/* string */.Yj() }) }) }), ctx.signal);
        }
        catch (err) {
            ctx.log.info(`${file.path}: version ${versionId} exists, but its message could not be set (${(0,errors/* errorMessage */.gJ)(err)})`);
        }
    }
}

;// CONCATENATED MODULE: ./src/providers/speckle/open.ts
// Opening a Speckle session: reads the server and the project, and chooses the protocol once for the whole run
// (the ingestion API or 2.x's file import), probing with a read when introspection is refused. Loaded with a
// dynamic import() when a Speckle run opens (ncc makes it a chunk), so that no other run loads GraphQL.








const capabilitiesAnswer = schema/* object */.Ik({
    serverInfo: schema/* object */.Ik({ version: schema/* nullish */.cl(schema/* string */.Yj()), configuration: schema/* object */.Ik({ blobSizeLimitBytes: schema/* nullish */.cl(schema/* number */.ai()) }) }),
    project: schema/* object */.Ik({ id: schema/* string */.Yj(), name: schema/* string */.Yj(), role: schema/* nullish */.cl(schema/* string */.Yj()) }),
    fileUploadMutationsType: schema/* nullish */.cl(schema/* object */.Ik({ fields: schema/* nullish */.cl(schema/* array */.YO(schema/* object */.Ik({ name: schema/* string */.Yj() }))) })),
    projectType: schema/* nullish */.cl(schema/* object */.Ik({ fields: schema/* nullish */.cl(schema/* array */.YO(schema/* object */.Ik({ name: schema/* string */.Yj() }))) })),
});
/**
 * Whether a server that refused introspection has the ingestion API: asked once, with a read of an ingestion
 * that does not exist. A 2.x server rejects the field as invalid; any other answer is a server that has it.
 */
async function probeIngestionApi(api, ctx) {
    const what = 'check whether the server has the ingestion API';
    const answer = await api
        .execute(operations/* ingestionApiProbe */.Py, { projectId: api.settings.projectId, ingestionId: 'model-publisher-probe' }, what, ctx.signal)
        .then((r) => (r.errors?.length ? (0,speckle_graphql/* graphqlFailure */.gR)(r.errors, what, api.settings) : undefined))
        .catch((err) => {
        if (err instanceof speckle_graphql/* SpeckleError */.iv)
            return err;
        throw err;
    });
    return !(0,speckle_graphql/* isValidationFailure */.kf)(answer, 'ingestion');
}
async function openSpeckle(settings, ctx) {
    const api = new SpeckleApi(ctx.http, settings, ctx.log);
    const what = `read project ${settings.projectId}`;
    const read = async (op) => {
        const { data, errors } = await api.execute(op, { projectId: settings.projectId }, what, ctx.signal);
        if (errors?.length)
            throw (0,speckle_graphql/* graphqlFailure */.gR)(errors, what, settings);
        const parsed = capabilitiesAnswer.safeParse(data);
        if (!parsed.success)
            throw new speckle_graphql/* SpeckleError */.iv(`Speckle at ${settings.serverUrl}: unexpected answer to ${op.name}; is server-url a Speckle server?`, 'invalid_response');
        return parsed.data;
    };
    let answer;
    try {
        answer = await read(operations/* serverCapabilities */.gD);
    }
    catch (err) {
        // A server that refuses introspection rejects the whole query; ask without it, then probe.
        if (!(err instanceof speckle_graphql/* SpeckleError */.iv && err.reason === 'graphql_validation_failed' && /introspection|__type/i.test(err.message)))
            throw err;
        answer = await read(operations/* serverAndProject */.MN);
    }
    const { serverInfo, project, fileUploadMutationsType, projectType } = answer;
    const has = (t, field) => t?.fields?.some((f) => f.name === field);
    const introspected = fileUploadMutationsType?.fields && projectType?.fields ? Boolean(has(fileUploadMutationsType, 'startFileIngestion') && has(projectType, 'ingestion')) : undefined;
    if (project.role === 'stream:reviewer') {
        throw new speckle_graphql/* SpeckleError */.iv(`Speckle: the token's user can only view project "${project.name}" (${project.id}). ${(0,speckle_graphql/* settingsHint */.Z)(settings).scope}`, 'forbidden');
    }
    const limit = serverInfo.configuration.blobSizeLimitBytes ?? undefined;
    const apiLine = introspected === undefined ? 'ingestion API unknown (introspection refused)' : introspected ? 'ingestion API' : 'no ingestion API (server 2.x): using startFileImport';
    ctx.log.info(`Speckle${serverInfo.version ? ` ${serverInfo.version}` : ''} at ${settings.serverUrl}: project "${project.name}"; ${apiLine}${limit ? `; files up to ${(0,units/* formatBytes */.z3)(limit)}` : ''}`);
    // The protocol is chosen here, once, for the whole run.
    let ingestionApi = introspected;
    if (ingestionApi === undefined) {
        ingestionApi = await probeIngestionApi(api, ctx);
        ctx.log.info(ingestionApi
            ? 'Speckle: this server has the ingestion API (project.ingestion exists); using startFileIngestion'
            : 'Speckle: this server has no ingestion API (project.ingestion does not exist); using startFileImport (server 2.x)');
    }
    const protocol = ingestionApi ? new LiveIngestion(api, ctx.signal) : new FileImport(api, ctx.signal);
    return new SpeckleSession(api, protocol, { project, ...(limit ? { blobSizeLimitBytes: limit } : {}) }, ctx.log);
}


/***/ })

};
