// First Resonance ION: attach files to a run step, run, procedure, step, part or run step field.
// Per file: requestFileUploadUrl → (the engine PUTs the bytes with exactly the returned contentType) →
// createFileAttachment with the ETag storage answered. Authentication is a ready access token, or an API
// key pair exchanged once per run for a token with the OAuth client-credentials grant, renewed once when
// ION answers 401. The attachment's downloadUrl is a signed URL: it is never asked for, so it cannot leak.
// This module is the light part every run loads (inputs, settings, the run's failures); the session, with
// GraphQL and the sign-in, is session.ts, loaded only when an ION run opens.
import * as z from '../../core/schema.js';
import { PublishError, UsageError } from '../../core/errors.js';
import { nameIfAny, nameProblem, readNameTemplate, type NameSetting } from '../../files/names.js';
import { booleanInput, checkCredential, idInput, parseInput, requireToken } from '../../inputs.js';
import { wrongServerUrl } from '../failures.js';
import { defineProvider } from '../types.js';
import { ionTokenUrls, type IonAuth } from './auth.js';
import { ATTACH_KINDS, createFileAttachment, type AttachKind, type IonOperation } from './operations.js';

export { ION_AUTH_SERVERS, ION_LEGACY_TOKEN_PATH, ION_TOKEN_PATH, ionTokenUrls, type IonAuth } from './auth.js';

export type IonTarget = { kind: 'entity'; entityId: string } | { kind: AttachKind; id: string };

export interface IonSettings {
  serverUrl: string;
  auth: IonAuth;
  target: IonTarget;
  validateUpload: boolean;
  /** The `name` template: the attachment's filename. */
  name: NameSetting;
}

/**
 * ION's `filename` is a file name (its documented storage key ends with it, `uploads/<id>/<filename>`): a `/` of the
 * rendered name is sent as `_`, so `{path}` keeps a/sheet.pdf and b/sheet.pdf apart as a_sheet.pdf and b_sheet.pdf.
 */
export const ION_NAME_RULES = { separator: '_' } as const;

/** ION's IDs are integers in its examples and `ID` in its schema: take either, keep a string. */
export const ionId = z.pipe(z.union([z.string().check(z.minLength(1)), z.int()]), z.transform(String));

/** An ION object ID as attach-to takes it. */
const OBJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ATTACH_FORM = `<kind>:<id> with kind one of ${ATTACH_KINDS.join(', ')} (e.g. runStep:1234)`;

export function parseAttachTo(raw: string): IonTarget {
  const m = raw.match(/^([A-Za-z]+)\s*:\s*(\S+)$/);
  const kind = ATTACH_KINDS.find((k) => k.toLowerCase() === m?.[1]?.toLowerCase());
  const id = m?.[2];
  if (!kind || id === undefined || !OBJECT_ID.test(id)) throw new UsageError('attach-to', `got ${JSON.stringify(raw)}; expected ${ATTACH_FORM}`);
  return { kind, id };
}

/**
 * Partly successful answers. A GraphQL answer may carry both `data` and `errors`: the operation ran, and
 * something else went wrong on the way (a notification, an audit hook, a field resolved after the object was
 * made). When the mutation's object came back, it exists on ION: failing the file would drop its ID, and a
 * re-run would attach the file a second time. So these fields decide, per operation, and nothing else:
 *  - createFileAttachment: `data.createFileAttachment.fileAttachment.id` is an ID → the attachment exists;
 *    the file succeeds with a warning carrying ION's errors.
 * Every other operation (the queries) with `errors` fails, whatever `data` holds: a query made nothing.
 */
export function createdDespiteErrors(op: IonOperation, data: unknown): string | undefined {
  if (op !== createFileAttachment) return undefined;
  const id = (data as { createFileAttachment?: { fileAttachment?: { id?: unknown } | null } | null } | null | undefined)?.createFileAttachment?.fileAttachment?.id;
  const parsed = ionId.safeParse(id);
  return parsed.success ? parsed.data : undefined;
}

/** The fields a GraphQL validation error says the server's schema lacks: `Cannot query field "entity" on type "RunStep"`. */
export function unknownFields(messages: readonly string[]): { field: string; type: string }[] {
  const found: { field: string; type: string }[] = [];
  for (const m of messages) {
    for (const hit of m.matchAll(/Cannot query field "([_A-Za-z][_0-9A-Za-z]*)" on type "([_A-Za-z][_0-9A-Za-z]*)"/g)) found.push({ field: hit[1]!, type: hit[2]! });
  }
  return found;
}

/** The object attach-to names does not exist, or has no entity: the run's target is wrong. */
export class IonTargetError extends PublishError {
  constructor(message: string) {
    super(message, 'not_found');
  }
}


export const ion = defineProvider<IonSettings>({
  id: 'ion',
  displayName: 'ION',
  tokenEnv: 'ION_TOKEN',
  defaultServerUrl: 'https://api.firstresonance.io',
  inputs: ['entity-id', 'attach-to', 'client-id', 'client-secret', 'auth-url', 'validate-upload', 'name'],
  idOutputs: [{ output: 'attachment-ids', field: 'attachmentId' }],
  readSettings(input, common) {
    const clientId = input('client-id');
    const clientSecret = input('client-secret');
    let auth: IonAuth;
    if (clientId !== '' || clientSecret !== '') {
      if (clientId === '') throw new UsageError('client-id', "is required with client-secret: pass the ION API key's client ID");
      if (clientSecret === '') throw new UsageError('client-secret', "is required with client-id: pass the ION API key's client secret (from a secret)");
      if (input('token') !== '') throw new UsageError('token', 'give either token or client-id/client-secret, not both');
      auth = {
        kind: 'client',
        clientId: checkCredential('client-id', clientId),
        clientSecret: checkCredential('client-secret', clientSecret),
        tokenUrls: ionTokenUrls(input('auth-url'), common.serverUrl),
        // ION's examples send the API URL as the audience.
        audience: common.serverUrl,
      };
    } else {
      auth = { kind: 'token', token: requireToken(common, 'ION_TOKEN', 'an ION access token (or client-id and client-secret of an ION API key)') };
    }

    const entityIdRaw = input('entity-id');
    const attachToRaw = input('attach-to');
    if (entityIdRaw !== '' && attachToRaw !== '') throw new UsageError('attach-to', 'give exactly one of entity-id and attach-to, not both');
    let target: IonTarget;
    if (attachToRaw !== '') target = parseAttachTo(attachToRaw);
    else if (entityIdRaw !== '') target = { kind: 'entity', entityId: parseInput(input, 'entity-id', idInput, "an ION entity ID (an object's entity { id })") };
    else throw new UsageError('entity-id', `is required for ION: pass entity-id (an entity ID) or attach-to (${ATTACH_FORM})`);

    return {
      serverUrl: common.serverUrl,
      auth,
      target,
      validateUpload: parseInput(input, 'validate-upload', booleanInput(true), 'true or false'),
      name: { template: readNameTemplate(input('name')), rules: ION_NAME_RULES },
    };
  },
  secrets: (settings) => (settings.auth.kind === 'client' ? [settings.auth.clientSecret] : []),
  // ION takes any file and derives its Content-Type from the name (which keeps the file's extension).
  refuse: (file, settings) => nameProblem(settings.name, file),
  fileName: (file, settings) => nameIfAny(settings.name, file),
  // The session (GraphQL, sign-in) loads only when an ION run opens: a chunk of its own.
  open: async (settings, ctx) => (await import('./session.js')).openIon(settings, ctx),
  describeTarget: (s) => `${s.target.kind === 'entity' ? `entity ${s.target.entityId}` : `the entity of ${s.target.kind} ${s.target.id}`} on ${s.serverUrl}`,
  runFailure(err, settings, common, stage) {
    if (!(err instanceof PublishError)) return undefined;
    const client = settings.auth.kind === 'client';
    const credential = client
      ? `client-id and client-secret must be an ION API key created in the environment at ${settings.serverUrl}, whose creator had the permissions to read the target and create file attachments on it (auth-url: that environment's auth server)`
      : `the token input (or ION_TOKEN) must hold a current ION access token for the environment at ${settings.serverUrl}, whose role may read the target and create file attachments on it; or pass client-id and client-secret so the action fetches one`;
    const targetInput = settings.target.kind === 'entity' ? 'entity-id' : 'attach-to';
    if (/^ION token request/.test(err.message)) {
      return err.providerCode === 'http_404'
        ? { input: 'auth-url', message: err.message, fix: `set auth-url to the token endpoint of the environment's auth server`, code: err.code }
        : { input: 'client-id', message: err.message, fix: credential, code: err.code };
    }
    if (err instanceof IonTargetError) {
      return { input: targetInput, message: err.message, fix: `check ${targetInput}: the ${settings.target.kind === 'entity' ? 'entity' : settings.target.kind} must exist in the environment at ${settings.serverUrl} and be visible to the credential`, code: err.code };
    }
    if (err.providerCode === 'http_404') return wrongServerUrl(this, common, '/graphql');
    switch (err.code) {
      case 'auth_rejected':
      case 'permission_denied':
        return { input: client ? 'client-id' : 'token', message: err.message, fix: credential, code: err.code };
      case 'invalid_response':
        return stage === 'open' ? { input: 'server-url', message: err.message, fix: `set server-url to the ION API's base URL (e.g. ${this.defaultServerUrl})`, code: err.code } : undefined;
      default:
        return undefined;
    }
  },
});
