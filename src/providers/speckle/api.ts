// One Speckle server, as the token sees it: sends an operation over GraphQL (graphql-request, through the shared
// HTTP client) and words its failures (graphql.ts). Loaded only when a Speckle run opens its session (open.ts).
import * as z from '../../core/schema.js';
import type { Logger } from '../../core/types.js';
import type { Http } from '../../http/client.js';
import { GraphQLEndpoint } from '../../http/graphql.js';
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
