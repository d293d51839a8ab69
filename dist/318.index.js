export const id = 318;
export const ids = [318];
export const modules = {

/***/ 7318:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   upsertPullRequestComment: () => (/* binding */ upsertPullRequestComment)
/* harmony export */ });
/* unused harmony export marker */
/* harmony import */ var _actions_github__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(157);
// Keeps one comment on the pull request up to date with the results table: found again by a hidden marker,
// updated in place, never duplicated. One comment per provider (and per shard in a matrix).

const marker = (key) => `<!-- model-publisher:${key} -->`;
/** Create or update the comment; answers what it did, or why it did nothing. */
async function upsertPullRequestComment(target, body) {
    const { /* context */ "_": context } = _actions_github__WEBPACK_IMPORTED_MODULE_0__;
    const number = context.payload.pull_request?.number;
    if (!number)
        return `not a pull request event (${context.eventName || 'unknown'}): no comment`;
    const octokit = _actions_github__WEBPACK_IMPORTED_MODULE_0__/* .getOctokit */ .Q(target.token, { baseUrl: context.apiUrl });
    const tag = marker(target.key);
    const text = `${tag}\n${body}`;
    const { owner, repo } = context.repo;
    for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 })) {
        const mine = page.data.find((c) => c.body?.includes(tag));
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
