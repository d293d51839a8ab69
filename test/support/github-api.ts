// A local stand-in for the part of the GitHub REST API the pull-request comment uses: list an issue's comments
// (paginated with a Link header, as GitHub does), create one, update one. It records every comment and the
// Authorization header of every request, and holds `prefill` comments by another user before ours.
import { readBody, sendJson, startServer, type RunningServer } from '../emulators/server.js';

export interface GitHubComment {
  id: number;
  body: string;
  user: { login: string };
}

export interface GitHubApi {
  url: string;
  comments: GitHubComment[];
  /** The Authorization header of every request. */
  auth: string[];
  /** Comment bodies carrying this marker (`<!-- model-publisher:KEY -->`). */
  withMarker(key: string): GitHubComment[];
  close(): Promise<void>;
}

export async function startGitHubApi(options: { repo?: string; prefill?: number } = {}): Promise<GitHubApi> {
  const repo = options.repo ?? 'acme/models';
  const comments: GitHubComment[] = [];
  const auth: string[] = [];
  let next = 100;
  const escaped = repo.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const listPath = new RegExp(`^/repos/${escaped}/issues/(\\d+)/comments$`);
  const onePath = new RegExp(`^/repos/${escaped}/issues/comments/(\\d+)$`);
  const gh: RunningServer = await startServer(async (req, res, { url }) => {
    auth.push(String(req.headers.authorization));
    const list = url.pathname.match(listPath);
    const one = url.pathname.match(onePath);
    if (list && req.method === 'GET') {
      const page = Number(url.searchParams.get('page') ?? '1');
      const perPage = Number(url.searchParams.get('per_page') ?? '30');
      const slice = comments.slice((page - 1) * perPage, page * perPage);
      const headers: Record<string, string> = {};
      if (page * perPage < comments.length) headers['link'] = `<${gh.url}${url.pathname}?per_page=${perPage}&page=${page + 1}>; rel="next"`;
      return sendJson(res, 200, slice, headers);
    }
    if (list && req.method === 'POST') {
      const { body } = JSON.parse((await readBody(req)).toString());
      const c = { id: next++, body, user: { login: 'github-actions[bot]' } };
      comments.push(c);
      return sendJson(res, 201, c);
    }
    if (one && req.method === 'PATCH') {
      const c = comments.find((x) => x.id === Number(one[1]));
      if (!c) return sendJson(res, 404, { message: 'Not Found' });
      c.body = JSON.parse((await readBody(req)).toString()).body;
      return sendJson(res, 200, c);
    }
    sendJson(res, 404, { message: 'Not Found' });
  });
  for (let i = 0; i < (options.prefill ?? 0); i++) comments.push({ id: next++, body: `review comment ${i}`, user: { login: 'reviewer' } });
  return {
    url: gh.url,
    comments,
    auth,
    withMarker: (key) => comments.filter((c) => c.body.startsWith(`<!-- model-publisher:${key} -->`)),
    close: () => gh.close(),
  };
}
