// Opening a Speckle session: reads the server and the project, and chooses the protocol once for the whole run
// (the ingestion API or 2.x's file import), probing with a read when introspection is refused. Loaded with a
// dynamic import() when a Speckle run opens (ncc makes it a chunk), so that no other run loads GraphQL.
import * as z from '../../core/schema.js';
import { formatBytes } from '../../core/units.js';
import type { OpenContext } from '../types.js';
import { SpeckleApi } from './api.js';
import { graphqlFailure, isValidationFailure, settingsHint, SpeckleError } from './graphql.js';
import { FileImport } from './import.js';
import { LiveIngestion } from './ingestion.js';
import { ingestionApiProbe, serverAndProject, serverCapabilities, type SpeckleOperation } from './operations.js';
import type { SpeckleProtocol } from './protocol.js';
import { SpeckleSession } from './session.js';
import type { SpeckleSettings } from './settings.js';

const capabilitiesAnswer = z.object({
  serverInfo: z.object({ version: z.nullish(z.string()), configuration: z.object({ blobSizeLimitBytes: z.nullish(z.number()) }) }),
  project: z.object({ id: z.string(), name: z.string(), role: z.nullish(z.string()) }),
  fileUploadMutationsType: z.nullish(z.object({ fields: z.nullish(z.array(z.object({ name: z.string() }))) })),
  projectType: z.nullish(z.object({ fields: z.nullish(z.array(z.object({ name: z.string() }))) })),
});

/**
 * Whether a server that refused introspection has the ingestion API: asked once, with a read of an ingestion
 * that does not exist. A 2.x server rejects the field as invalid; any other answer is a server that has it.
 */
async function probeIngestionApi(api: SpeckleApi, ctx: OpenContext): Promise<boolean> {
  const what = 'check whether the server has the ingestion API';
  const answer = await api
    .execute(ingestionApiProbe, { projectId: api.settings.projectId, ingestionId: 'model-publisher-probe' }, what, ctx.signal)
    .then((r) => (r.errors?.length ? graphqlFailure(r.errors, what, api.settings) : undefined))
    .catch((err: unknown) => {
      if (err instanceof SpeckleError) return err;
      throw err;
    });
  return !isValidationFailure(answer, 'ingestion');
}

export async function openSpeckle(settings: SpeckleSettings, ctx: OpenContext): Promise<SpeckleSession> {
  const api = new SpeckleApi(ctx.http, settings, ctx.log);
  const what = `read project ${settings.projectId}`;
  const read = async (op: SpeckleOperation) => {
    const { data, errors } = await api.execute(op, { projectId: settings.projectId }, what, ctx.signal);
    if (errors?.length) throw graphqlFailure(errors, what, settings);
    const parsed = capabilitiesAnswer.safeParse(data);
    if (!parsed.success) throw new SpeckleError(`Speckle at ${settings.serverUrl}: unexpected answer to ${op.name}; is server-url a Speckle server?`, 'invalid_response');
    return parsed.data;
  };
  let answer: z.infer<typeof capabilitiesAnswer>;
  try {
    answer = await read(serverCapabilities);
  } catch (err) {
    // A server that refuses introspection rejects the whole query; ask without it, then probe.
    if (!(err instanceof SpeckleError && err.reason === 'graphql_validation_failed' && /introspection|__type/i.test(err.message))) throw err;
    answer = await read(serverAndProject);
  }
  const { serverInfo, project, fileUploadMutationsType, projectType } = answer;
  const has = (t: typeof fileUploadMutationsType, field: string) => t?.fields?.some((f) => f.name === field);
  const introspected =
    fileUploadMutationsType?.fields && projectType?.fields ? Boolean(has(fileUploadMutationsType, 'startFileIngestion') && has(projectType, 'ingestion')) : undefined;
  if (project.role === 'stream:reviewer') {
    throw new SpeckleError(`Speckle: the token's user can only view project "${project.name}" (${project.id}). ${settingsHint(settings).scope}`, 'forbidden');
  }
  const limit = serverInfo.configuration.blobSizeLimitBytes ?? undefined;
  const apiLine =
    introspected === undefined ? 'ingestion API unknown (introspection refused)' : introspected ? 'ingestion API' : 'no ingestion API (server 2.x): using startFileImport';
  ctx.log.info(
    `Speckle${serverInfo.version ? ` ${serverInfo.version}` : ''} at ${settings.serverUrl}: project "${project.name}"; ${apiLine}${limit ? `; files up to ${formatBytes(limit)}` : ''}`,
  );
  // The protocol is chosen here, once, for the whole run.
  let ingestionApi = introspected;
  if (ingestionApi === undefined) {
    ingestionApi = await probeIngestionApi(api, ctx);
    ctx.log.info(
      ingestionApi
        ? 'Speckle: this server has the ingestion API (project.ingestion exists); using startFileIngestion'
        : 'Speckle: this server has no ingestion API (project.ingestion does not exist); using startFileImport (server 2.x)',
    );
  }
  const protocol: SpeckleProtocol = ingestionApi ? new LiveIngestion(api, ctx.signal) : new FileImport(api, ctx.signal);
  return new SpeckleSession(api, protocol, { project, ...(limit ? { blobSizeLimitBytes: limit } : {}) }, ctx.log);
}
