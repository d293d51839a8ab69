// The ION emulator on its own, over HTTP: what a client of ION's documented upload flow would see.
import { createHash } from 'node:crypto';
import { buildSchema, parse, validate } from 'graphql';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ATTACH_KINDS, createFileAttachment, entityLookup, requestFileUploadUrl } from '../../src/providers/ion/operations.js';
import { ION_KINDS, ION_SDL, ION_TOKEN_PATHS, IonEmulator } from './ion.js';

const TOKEN = 'ion_user_token_3b9f0c2a7d';
let ion: IonEmulator;

beforeEach(async () => {
  ion = new IonEmulator({ tokens: [TOKEN] });
  await ion.start();
});
afterEach(async () => {
  await ion.close();
});

async function gql(query: string, variables: Record<string, unknown> = {}, token: string | undefined = TOKEN, scheme = 'Bearer') {
  const res = await fetch(`${ion.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `${scheme} ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as { data?: any; errors?: { message: string; extensions?: any }[] } };
}

async function tokenRequest(form: Record<string, string>, path = ION_TOKEN_PATHS[0]!, contentType = 'application/x-www-form-urlencoded') {
  const res = await fetch(`${ion.authUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const REQUEST = 'query($f: String!) { requestFileUploadUrl(filename: $f) { uploadUrl s3Key contentType } }';
const CREATE = 'mutation($input: CreateFileAttachmentInput!) { createFileAttachment(input: $input) { fileAttachment { id filename downloadUrl entityId } } }';

async function requestUrl(filename: string) {
  const r = await gql(REQUEST, { f: filename });
  expect(r.status).toBe(200);
  return r.body.data.requestFileUploadUrl as { uploadUrl: string; s3Key: string; contentType: string };
}

async function put(url: string, contentType: string, body: Buffer | string) {
  const res = await fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body });
  return { status: res.status, etag: res.headers.get('etag'), text: await res.text() };
}

describe('auth server', () => {
  const good = () => ({ grant_type: 'client_credentials', client_id: ion.clientId, client_secret: ion.clientSecret, audience: ion.url });

  it('issues a token for the client-credentials grant on both realm paths, and the API takes it', async () => {
    for (const path of ION_TOKEN_PATHS) {
      const r = await tokenRequest(good(), path);
      expect(r.status).toBe(200);
      expect(r.body['token_type']).toBe('Bearer');
      expect((await gql('{ runStep(id: "101") { id } }', {}, r.body['access_token'])).status).toBe(200);
    }
    expect(ion.tokensIssued).toHaveLength(2);
    expect((await tokenRequest({ ...good(), audience: `${ion.url}/` })).status).toBe(200);
  });

  it('refuses a wrong secret, grant, audience or content type', async () => {
    expect(await tokenRequest({ ...good(), client_secret: 'nope' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await tokenRequest({ ...good(), grant_type: 'password' })).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(await tokenRequest({ ...good(), audience: 'https://api.buildwithion.com' })).toMatchObject({ status: 403, body: { error: 'access_denied' } });
    expect((await tokenRequest(good(), ION_TOKEN_PATHS[0], 'application/json')).status).toBe(400);
    expect((await tokenRequest(good(), '/oauth/token')).status).toBe(404);
    expect(ion.tokensIssued).toHaveLength(0);
  });

  it('only the legacy path when told so', async () => {
    const legacy = new IonEmulator({ authPaths: [ION_TOKEN_PATHS[1]!] });
    await legacy.start();
    try {
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: legacy.clientId, client_secret: legacy.clientSecret, audience: legacy.url });
      const post = (p: string) => fetch(`${legacy.authUrl}${p}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
      expect((await post(ION_TOKEN_PATHS[0]!)).status).toBe(404);
      expect((await post(ION_TOKEN_PATHS[1]!)).status).toBe(200);
    } finally {
      await legacy.close();
    }
  });

  it('issued tokens stop working after tokenMaxUses requests; static ones on expireTokens()', async () => {
    ion.tokenMaxUses = 2;
    const token = (await tokenRequest(good())).body['access_token'] as string;
    expect((await gql('{ run(id: "201") { id } }', {}, token)).status).toBe(200);
    expect((await gql('{ run(id: "201") { id } }', {}, token)).status).toBe(200);
    expect(await gql('{ run(id: "201") { id } }', {}, token)).toMatchObject({ status: 401, body: { errors: [{ message: 'Token is expired' }] } });
    expect((await gql('{ run(id: "201") { id } }', {}, TOKEN, 'Token')).status).toBe(200);
    ion.expireTokens();
    expect((await gql('{ run(id: "201") { id } }')).status).toBe(401);
  });

  it('an issued token expires after its expires_in', async () => {
    await ion.close();
    // Long enough that the first use below comes before expiry however busy the machine; the wait after it is
    // longer than the lifetime, counted from after the token was issued.
    ion = new IonEmulator({ tokens: [TOKEN], tokenTtlSec: 1.5 });
    await ion.start();
    const answer = (await tokenRequest(good())).body;
    expect(answer['expires_in']).toBe(1.5);
    expect((await gql('{ run(id: "201") { id } }', {}, answer['access_token'])).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_600));
    expect(await gql('{ run(id: "201") { id } }', {}, answer['access_token'])).toMatchObject({ status: 401, body: { errors: [{ message: 'Token is expired' }] } });
    expect((await gql('{ run(id: "201") { id } }')).status).toBe(200); // a static token has no lifetime
  });

  it('answers 401 without or with an unknown token', async () => {
    expect((await gql('{ run(id: "201") { id } }', {}, '')).status).toBe(401);
    expect((await gql('{ run(id: "201") { id } }', {}, 'eyJforged')).status).toBe(401);
  });
});

describe('GraphQL API', () => {
  it("takes every document the provider sends, and knows the same kinds", () => {
    const schema = buildSchema(ION_SDL);
    for (const op of [requestFileUploadUrl, createFileAttachment, ...ATTACH_KINDS.map(entityLookup)]) {
      expect(validate(schema, parse(op.document)).map((e) => e.message), op.field).toEqual([]);
    }
    expect([...ATTACH_KINDS]).toEqual([...ION_KINDS]);
    expect(createFileAttachment.document).not.toContain('downloadUrl');
  });

  it('validates against the schema: unknown fields and malformed queries answer 400', async () => {
    const unknown = await gql('{ runStep(id: "101") { id name } }');
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors?.[0]?.message).toMatch(/Cannot query field "name"/);
    expect((await gql('{ runStep(id: ')).status).toBe(400);
    expect((await gql('query($id: ID!) { run(id: $id) { id } }', {})).status).toBe(400);
  });

  it('resolves every kind to an entity whose ID differs from the object ID', async () => {
    const kinds = { runStep: '101', run: '201', procedure: '301', step: '401', part: '501', runStepField: '601' };
    for (const [kind, id] of Object.entries(kinds)) {
      const r = await gql(`query($id: ID!) { ${kind}(id: $id) { id entity { id } } }`, { id });
      expect(r.status).toBe(200);
      const entityId = r.body.data[kind].entity.id as string;
      expect(entityId).not.toBe(id);
      expect(ion.entities.get(entityId)).toMatchObject({ kind, objectId: id });
    }
    expect((await gql('{ part(id: "999") { id entity { id } } }')).body.data.part).toBeNull();
  });

  it('runs the documented chain: signed single-use URL, ETag, validated attachment, fileAttachment', async () => {
    const { uploadUrl, s3Key, contentType } = await requestUrl('GA-100.pdf');
    expect(contentType).toBe('application/pdf');
    expect(uploadUrl).toContain('X-Amz-Signature=');
    const bytes = Buffer.from('%PDF-1.7 drawing');
    const wrongType = await put(uploadUrl, 'application/octet-stream', bytes);
    expect(wrongType.status).toBe(403);
    expect(wrongType.text).toContain('<Code>SignatureDoesNotMatch</Code>');
    const ok = await put(uploadUrl, contentType, bytes);
    expect(ok.status).toBe(200);
    const md5 = createHash('md5').update(bytes).digest('hex');
    expect(ok.etag).toBe(`"${md5}"`);
    const again = await put(uploadUrl, contentType, bytes);
    expect(again.status).toBe(403);
    expect(again.text).toMatch(/already used/);

    const entityId = ion.objects.runStep.get('101')!;
    const created = await gql(CREATE, { input: { filename: 'GA-100.pdf', s3Key, s3Etag: md5, entityId, validateUpload: true } });
    expect(created.status).toBe(200);
    const attachment = created.body.data.createFileAttachment.fileAttachment;
    expect(attachment).toMatchObject({ filename: 'GA-100.pdf', entityId });
    expect(attachment.downloadUrl).toContain('X-Amz-Signature=');
    expect(ion.attachmentsFor(entityId)).toHaveLength(1);
    expect(ion.attachments[0]).toMatchObject({ s3Etag: md5, validated: true, contentType: 'application/pdf' });

    const fetched = await gql('query($id: ID!) { fileAttachment(id: $id) { id filename downloadUrl entityId } }', { id: attachment.id });
    expect(fetched.body.data.fileAttachment).toMatchObject({ id: attachment.id, entityId });
    expect((await fetch(fetched.body.data.fileAttachment.downloadUrl)).status).toBe(200);
  });

  it('validateUpload compares the stored ETag with s3Etag; without it, anything goes', async () => {
    const { uploadUrl, s3Key, contentType } = await requestUrl('photo.jpg');
    expect(contentType).toBe('image/jpeg');
    expect((await put(uploadUrl, contentType, Buffer.from('jpeg bytes'))).status).toBe(200);
    const entityId = ion.objects.part.get('501')!;
    const bad = await gql(CREATE, { input: { filename: 'photo.jpg', s3Key, s3Etag: '0'.repeat(32), entityId, validateUpload: true } });
    expect(bad.status).toBe(200);
    expect(bad.body.errors?.[0]?.message).toMatch(/Upload validation failed: s3Etag 0+ does not match/);
    expect(bad.body.data).toEqual({ createFileAttachment: null });
    const { s3Key: neverUploaded } = await requestUrl('missing.png');
    const missing = await gql(CREATE, { input: { filename: 'missing.png', s3Key: neverUploaded, s3Etag: 'x', entityId, validateUpload: true } });
    expect(missing.body.errors?.[0]?.message).toMatch(/no object was uploaded/);
    const unchecked = await gql(CREATE, { input: { filename: 'photo.jpg', s3Key, s3Etag: 'whatever', entityId, validateUpload: false } });
    expect(unchecked.body.errors).toBeUndefined();
    expect(ion.attachments).toHaveLength(1);
  });

  it("refuses an object's own ID as entityId, and names a missing permission", async () => {
    const { uploadUrl, s3Key, contentType } = await requestUrl('step.step');
    expect(contentType).toBe('application/octet-stream');
    const { etag } = await put(uploadUrl, contentType, Buffer.from('ISO-10303-21;'));
    const input = { filename: 'step.step', s3Key, s3Etag: etag!.replace(/"/g, ''), entityId: '101', validateUpload: true };
    const wrong = await gql(CREATE, { input });
    expect(wrong.status).toBe(200);
    expect(wrong.body.errors?.[0]?.message).toBe('Entity 101 does not exist');
    ion.missingPermissions.add('CreateFileAttachment');
    const denied = await gql(CREATE, { input: { ...input, entityId: ion.objects.runStep.get('101')! } });
    expect(denied.status).toBe(200);
    expect(denied.body.errors?.[0]).toMatchObject({ message: expect.stringContaining('CreateFileAttachment'), extensions: { code: 'FORBIDDEN' } });
    expect(ion.attachments).toHaveLength(0);
  });

  it('test hooks: scripted errors, 429s, expired and used URLs, lost answers', async () => {
    ion.failNext('requestFileUploadUrl', 'Storage is unavailable');
    expect((await gql(REQUEST, { f: 'a.pdf' })).body.errors?.[0]?.message).toBe('Storage is unavailable');

    ion.rateLimit(1, 2);
    const limited = await fetch(`${ion.url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: REQUEST, variables: { f: 'a.pdf' } }) });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');

    ion.expireNextUploadUrls(1);
    const expired = await requestUrl('a.pdf');
    const e = await put(expired.uploadUrl, expired.contentType, 'x');
    expect(e.status).toBe(403);
    expect(e.text).toMatch(/Request has expired/);

    ion.handOutUsedUploadUrls(1);
    const used = await requestUrl('a.pdf');
    expect((await put(used.uploadUrl, used.contentType, 'x')).text).toMatch(/already used/);

    const fresh = await requestUrl('a.pdf');
    const { etag } = await put(fresh.uploadUrl, fresh.contentType, 'x');
    expect(etag).toBeTruthy();
    ion.loseNextAnswer('createFileAttachment');
    const input = { filename: 'a.pdf', s3Key: fresh.s3Key, s3Etag: etag!.replace(/"/g, ''), entityId: ion.objects.run.get('201')!, validateUpload: true };
    await expect(gql(CREATE, { input })).rejects.toThrow();
    expect(ion.attachments).toHaveLength(1); // created, though the client never heard
    expect(ion.operations.map((o) => o.fields[0])).toContain('createFileAttachment');
  });

  it('partialNext: the attachment is made and answered, with errors[] beside it; failNext makes nothing', async () => {
    const url = await requestUrl('a.pdf');
    const { etag } = await put(url.uploadUrl, url.contentType, 'x');
    const input = { filename: 'a.pdf', s3Key: url.s3Key, s3Etag: etag!.replace(/"/g, ''), entityId: ion.objects.run.get('201')!, validateUpload: true };
    ion.partialNext('createFileAttachment', 'Webhook delivery failed');
    const partial = await gql(CREATE, { input });
    expect(partial.status).toBe(200);
    expect(partial.body.data.createFileAttachment.fileAttachment.id).toBe(ion.attachments[0]!.id);
    expect(partial.body.errors).toEqual([expect.objectContaining({ message: 'Webhook delivery failed', path: ['createFileAttachment'] })]);
    ion.failNext('createFileAttachment', 'Database is in read-only mode');
    const failed = await gql(CREATE, { input });
    expect(failed.body.data.createFileAttachment).toBeNull();
    expect(ion.attachments).toHaveLength(1);
  });
});

describe('a server without entity on some types', () => {
  it('answers a validation error naming the field, at the status it is told to', async () => {
    for (const status of [400, 200]) {
      const other = new IonEmulator({ tokens: [TOKEN], noEntityOn: ['runStep'], validationErrorStatus: status });
      await other.start();
      try {
        const res = await fetch(`${other.url}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query: entityLookup('runStep').document, variables: { id: '101' } }),
        });
        expect(res.status).toBe(status);
        const body = (await res.json()) as { data?: unknown; errors: { message: string }[] };
        expect(body.data).toBeUndefined();
        expect(body.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^Cannot query field "entity" on type "RunStep"\./)]);
        // The other kinds keep entity { id }.
        const run = await fetch(`${other.url}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ query: entityLookup('run').document, variables: { id: '201' } }),
        });
        expect(((await run.json()) as { data: { run: { entity: { id: string } } } }).data.run.entity.id).toBe(other.objects.run.get('201'));
      } finally {
        await other.close();
      }
    }
  });
});
