export const id = 318;
export const ids = [318];
export const modules = {

/***/ 7318:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   buildComment: () => (/* binding */ buildComment),
/* harmony export */   upsertPullRequestComment: () => (/* binding */ upsertPullRequestComment)
/* harmony export */ });
/* unused harmony exports GITHUB_TOKEN_AUTHOR, marker, COMMENT_LIMIT */
/* harmony import */ var _actions_github__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(157);
/* harmony import */ var _report_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(2745);
// Keeps one comment on the pull request up to date with the results table: found again by a hidden marker
// and its author (ours alone: a comment by anyone else that quotes the marker is never edited), updated in
// place, never duplicated, never over GitHub's size limit. One comment per provider: the shards of a matrix leave it to the merge step.


/** Who writes the comment when the token is the job's GITHUB_TOKEN. */
const GITHUB_TOKEN_AUTHOR = 'github-actions[bot]';
const marker = (key) => `<!-- model-publisher:${key} -->`;
/** GitHub refuses a comment body over 65,536 characters; stay well under it (the marker included). */
const COMMENT_LIMIT = 65_536;
const BUDGET = COMMENT_LIMIT - 1_024;
/**
 * The comment body: the full summary when it fits; past the limit, the counts, then failures first as many as
 * fit, and a pointer to the job summary for the rest. `scrub` runs before measuring (it never lengthens).
 */
function buildComment(results, provider, extra, scrub, budget = BUDGET) {
    const full = scrub((0,_report_js__WEBPACK_IMPORTED_MODULE_1__/* .buildSummary */ .fR)(results, provider, extra));
    if (full.length <= budget)
        return full;
    const failed = results.filter((r) => r.error);
    const head = [
        `<h2>Model Publisher → ${provider.displayName}</h2>`,
        ...(extra.merge ? [scrub((0,_report_js__WEBPACK_IMPORTED_MODULE_1__/* .mergeHead */ .X5)(extra.merge))] : []),
        `<p>${(0,_report_js__WEBPACK_IMPORTED_MODULE_1__/* .countsLine */ .J7)(results, provider, extra)}. The full table is too long for a comment: it is in the job summary${extra.runUrl ? ` of <a href="${(0,_report_js__WEBPACK_IMPORTED_MODULE_1__/* .escapeHtml */ .ZD)(extra.runUrl)}">this run</a>` : ''}.</p>`,
    ];
    const lines = [];
    let size = head.join('\n').length + 200;
    for (const r of failed) {
        const line = `<li>${scrub((0,_report_js__WEBPACK_IMPORTED_MODULE_1__/* .failureLine */ .Pu)(r))}</li>`;
        if (size + line.length > budget)
            break;
        lines.push(line);
        size += line.length + 1;
    }
    const rest = failed.length - lines.length;
    const tail = rest > 0 ? [`<p>…and ${rest} more failure(s): see the job summary and the log.</p>`] : [];
    return [...head, ...(lines.length ? ['<h3>Failures</h3>', '<ul>', ...lines, '</ul>'] : []), ...tail].join('\n');
}
/**
 * Whose comments the token writes. The job's GITHUB_TOKEN (an installation token, `ghs_…`) writes as
 * github-actions[bot] and cannot ask GET /user; a personal token can, and answers its owner's login.
 */
async function tokenLogin(octokit, token) {
    if (token.startsWith('ghs_'))
        return GITHUB_TOKEN_AUTHOR;
    try {
        const { data } = await octokit.rest.users.getAuthenticated();
        if (typeof data.login === 'string' && data.login !== '')
            return data.login;
    }
    catch {
        // An App or an integration token that may not read /user: it writes as the Actions bot.
    }
    return GITHUB_TOKEN_AUTHOR;
}
/** Create or update the comment; answers what it did, or why it did nothing. */
async function upsertPullRequestComment(target, body) {
    const { /* context */ "_": context } = _actions_github__WEBPACK_IMPORTED_MODULE_0__;
    const number = context.payload.pull_request?.number;
    if (!number)
        return `not a pull request event (${context.eventName || 'unknown'}): no comment`;
    const octokit = _actions_github__WEBPACK_IMPORTED_MODULE_0__/* .getOctokit */ .Q(target.token, { baseUrl: context.apiUrl, request: { signal: target.signal } });
    const tag = marker(target.key);
    const text = `${tag}\n${body}`;
    const { owner, repo } = context.repo;
    const author = (target.author ?? (await tokenLogin(octokit, target.token))).toLowerCase();
    for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 })) {
        // The marker alone proves nothing: anyone can paste it. Ours carries it at the very start and is ours.
        const mine = page.data.find((c) => c.user?.login?.toLowerCase() === author && c.body?.startsWith(tag));
        if (mine) {
            await octokit.rest.issues.updateComment({ owner, repo, comment_id: mine.id, body: text });
            return `updated comment ${mine.id} on pull request #${number}`;
        }
    }
    const created = await octokit.rest.issues.createComment({ owner, repo, issue_number: number, body: text });
    return `created comment ${created.data.id} on pull request #${number}`;
}


/***/ })

};
