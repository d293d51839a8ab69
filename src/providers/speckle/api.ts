// One Speckle server, as the token sees it: sends an operation over GraphQL (graphql-request, through the shared
// HTTP client) and words its failures (graphql.ts). Loaded only when a Speckle run opens its session (open.ts).
import * as z from '../../core/schema.js';
import type { Logger } from '../../core/types.js';
import type { Http } from '../../http/client.js';
import { GraphQLEndpoint, type GraphQLErrorItem } from '../../http/graphql.js';
import { parseAnswer } from '../answers.js';
import { createdDespiteErrors, graphqlFailure, httpFailure, oneLine } from './graphql.js';
import type { SpeckleOperation } from './operations.js';
import type { SpeckleSettings } from './settings.js';

/** One Speckle server, as the token sees it: operations sent, answers read, failures worded. */
export class SpeckleApi {
  private readonly gql: GraphQLEndpoint;

  constructor(
    http: Http,
    readonly settings: SpeckleSettings,
    private readonly log: Logger,
  ) {
    this.gql = new GraphQLEndpoint(http, `${settings.serverUrl}/graphql`, () => ({ authorization: `Bearer ${settings.token}` }));
  }

  /** Send `op` and answer its data in the shape `schema` describes; a failure is worded (SpeckleError). */
  async call<T>(op: SpeckleOperation, variables: Record<string, unknown>, what: string, schema: z.core.$ZodType<T>, signal: AbortSignal): Promise<T> {
    const { data, errors } = await this.execute(op, variables, what, signal);
    if (errors?.length) {
      const created = createdDespiteErrors(op, data);
      if (created === undefined) throw graphqlFailure(errors, what, this.settings);
      const said = oneLine([...new Set(errors.map((e) => e.message))].join('; '));
      this.log.warn(
        `Speckle, asked to ${what}: it did (${created}) but also answered errors: ${said}. Carrying on with ${created} (a repeat would make a duplicate or be refused)`,
      );
    }
    return parseAnswer(schema, data, `Speckle, asked to ${what}`);
  }

  /** Send `op`; answers data and errors as they came (an HTTP-level failure is worded). */
  async execute(op: SpeckleOperation, variables: Record<string, unknown>, what: string, signal: AbortSignal) {
    try {
      return await this.gql.execute<unknown>(op.document, variables, { label: `Speckle ${op.name}`, idempotent: op.idempotent, signal });
    } catch (err) {
      throw httpFailure(err, what, this.settings);
    }
  }
}

/** An aliased read's answer: `project` and each alias's own errors, or the failure every alias shares. */
export type AliasedAnswer = { failure: unknown } | { project: Record<string, unknown> | undefined; own: Map<number, GraphQLErrorItem[]> };

/**
 * One request reading `count` aliased fields under `project` (`<prefix>0`, `<prefix>1`, …), as the ingestion and
 * 2.x import watchers batch their status reads. An error whose path names an alias is that alias's; any other
 * error, or no answer at all, is the failure of every alias in the request.
 */
export async function readAliased(api: Pick<SpeckleApi, 'execute' | 'settings'>, op: SpeckleOperation, variables: Record<string, unknown>, what: string, signal: AbortSignal, prefix: string, count: number): Promise<AliasedAnswer> {
  let answer: Awaited<ReturnType<SpeckleApi['execute']>>;
  try {
    answer = await api.execute(op, variables, what, signal);
  } catch (err) {
    return { failure: err };
  }
  const own = new Map<number, GraphQLErrorItem[]>();
  const whole: GraphQLErrorItem[] = [];
  const aliasOf = new RegExp(`^${prefix}(\\d+)$`);
  for (const e of answer.errors ?? []) {
    const alias = e.path?.[0] === 'project' && typeof e.path[1] === 'string' ? aliasOf.exec(e.path[1]) : null;
    const index = alias ? Number(alias[1]) : -1;
    if (index >= 0 && index < count) own.set(index, [...(own.get(index) ?? []), e]);
    else whole.push(e);
  }
  if (whole.length > 0) return { failure: graphqlFailure([...whole, ...[...own.values()].flat()], what, api.settings) };
  return { project: (answer.data as { project?: Record<string, unknown> | null } | null | undefined)?.project ?? undefined, own };
}
