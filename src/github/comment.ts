// Keeps one comment on the pull request up to date with the results table: found again by a hidden marker,
// updated in place, never duplicated. One comment per provider (and per shard in a matrix).
import * as github from '@actions/github';

export interface CommentTarget {
  token: string;
  /** Distinguishes comments of several steps or shards on one pull request. */
  key: string;
}

export const marker = (key: string) => `<!-- model-publisher:${key} -->`;

/** Create or update the comment; answers what it did, or why it did nothing. */
export async function upsertPullRequestComment(target: CommentTarget, body: string): Promise<string> {
  const { context } = github;
  const number = context.payload.pull_request?.number;
  if (!number) return `not a pull request event (${context.eventName || 'unknown'}): no comment`;
  const octokit = github.getOctokit(target.token, { baseUrl: context.apiUrl });
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
