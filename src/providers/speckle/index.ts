// Speckle: each file becomes a new version of a model. generateUploadUrl → PUT to storage with the headers
// Speckle asks for → resolve (or create) the model → start the file's processing with the fileId and the ETag
// exactly as storage sent it → poll until it ends in a version. How it is started and polled depends on the
// server: the ingestion API (app.speckle.systems, ingestion.ts) or 2.x's file import (import.ts), chosen once
// here, when the session opens. GraphQL and its failures: graphql.ts; the documents: operations.ts.
import { z } from 'zod';
import { HttpError, PublishError } from '../../core/errors.js';
import { formatBytes } from '../../core/units.js';
import { wrongServerUrl } from '../failures.js';
import { defineProvider, type OpenContext } from '../types.js';
import { graphqlFailure, isValidationFailure, settingsHint, SpeckleApi, SpeckleError } from './graphql.js';
import { FileImport } from './import.js';
import { LiveIngestion } from './ingestion.js';
import { ingestionApiProbe, serverAndProject, serverCapabilities, type SpeckleOperation } from './operations.js';
import type { SpeckleProtocol } from './protocol.js';
import { SpeckleSession } from './session.js';
import { readSpeckleSettings, refuseFile, type SpeckleSettings } from './settings.js';

export { createdDespiteErrors, SpeckleError } from './graphql.js';
export { expandModelTemplate, modelNameProblem, normaliseModelName, type SpeckleSettings } from './settings.js';

const capabilitiesAnswer = z.object({
  serverInfo: z.object({ version: z.string().nullish(), configuration: z.object({ blobSizeLimitBytes: z.number().nullish() }) }),
  project: z.object({ id: z.string(), name: z.string(), role: z.string().nullish() }),
  fileUploadMutationsType: z.object({ fields: z.array(z.object({ name: z.string() })).nullish() }).nullish(),
  projectType: z.object({ fields: z.array(z.object({ name: z.string() })).nullish() }).nullish(),
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

export const speckle = defineProvider<SpeckleSettings>({
  id: 'speckle',
  displayName: 'Speckle',
  tokenEnv: 'SPECKLE_TOKEN',
  defaultServerUrl: 'https://app.speckle.systems',
  inputs: ['project-id', 'model', 'model-id'],
  idOutputs: [{ output: 'version-ids', field: 'versionId' }],
  readSettings: readSpeckleSettings,
  refuse: refuseFile,
  async open(settings, ctx: OpenContext) {
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
    const protocol: SpeckleProtocol = ingestionApi ? new LiveIngestion(api) : new FileImport(api);
    return new SpeckleSession(api, protocol, { project, ...(limit ? { blobSizeLimitBytes: limit } : {}) }, ctx.log);
  },
  describeTarget: (s) => `project ${s.projectId} on ${s.serverUrl}, ${s.modelId ? `model ${s.modelId}` : `models named by the template "${s.modelTemplate}"`}`,
  runFailure(err, settings, common, stage) {
    const credential = `the token input (or SPECKLE_TOKEN) must hold a personal access token issued by ${settings.serverUrl} with the streams:read and streams:write scopes, whose user has the "Can edit" role on project ${settings.projectId}`;
    if (err instanceof HttpError && err.status === 404 && stage === 'open') return wrongServerUrl(this, common, '/graphql');
    if (!(err instanceof PublishError)) return undefined;
    // Speckle's own reasons decide; an answer of the wrong shape may come from any layer.
    switch (err instanceof SpeckleError ? err.reason : err.code) {
      case 'invalid_token':
      case 'forbidden':
        return { input: 'token', message: err.message, fix: credential, code: err.code };
      case 'project_not_found':
        return { input: 'project-id', message: err.message, fix: settingsHint(settings).project, code: err.code };
      case 'model_not_found':
        return { input: 'model-id', message: err.message, fix: `set model-id to the ID in the model's URL, ${settings.serverUrl}/projects/${settings.projectId}/models/<model-id>, or leave it empty to use the model template`, code: err.code };
      case 'invalid_response':
        return stage === 'open' ? { input: 'server-url', message: err.message, fix: `set server-url to the Speckle server's base URL (e.g. ${this.defaultServerUrl})`, code: err.code } : undefined;
      default:
        return undefined;
    }
  },
});
