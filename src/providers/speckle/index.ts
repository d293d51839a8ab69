// Speckle: each file becomes a new version of a model. generateUploadUrl → PUT to storage with the headers
// Speckle asks for → resolve (or create) the model → start the file's processing with the fileId and the ETag
// exactly as storage sent it → poll until it ends in a version. How it is started and polled depends on the
// server: the ingestion API (app.speckle.systems, ingestion.ts) or 2.x's file import (import.ts), chosen once
// when the session opens (open.ts). This module is the light part that every run loads (inputs, refusals, the
// run's failures); open.ts and the session code, with GraphQL (api.ts), load only when a Speckle run opens.
// GraphQL failures: graphql.ts; the documents: operations.ts.
import { HttpError, PublishError } from '../../core/errors.js';
import { wrongServerUrl } from '../failures.js';
import { defineProvider, type OpenContext } from '../types.js';
import { settingsHint, SpeckleError } from './graphql.js';
import { readSpeckleSettings, refuseFile, type SpeckleSettings } from './settings.js';

export { createdDespiteErrors, SpeckleError } from './graphql.js';
export { expandModelTemplate, modelNameProblem, normaliseModelName, type SpeckleSettings } from './settings.js';

export const speckle = defineProvider<SpeckleSettings>({
  id: 'speckle',
  displayName: 'Speckle',
  tokenEnv: 'SPECKLE_TOKEN',
  defaultServerUrl: 'https://app.speckle.systems',
  inputs: ['project-id', 'model', 'model-id'],
  idOutputs: [{ output: 'version-ids', field: 'versionId' }],
  readSettings: readSpeckleSettings,
  refuse: refuseFile,
  // The session code (GraphQL, both protocols) loads only when a Speckle run opens: a chunk of its own.
  open: async (settings, ctx: OpenContext) => (await import('./open.js')).openSpeckle(settings, ctx),
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
