// The providers' pure rules, tested without a server: model names, ION targets and auth servers,
// Coldstream's job choice and busy backoff, and the engine's signature masking.
import { describe, expect, it } from 'vitest';
import { maskSignatures } from '../../src/engine/engine.js';
import type { LocalFile } from '../../src/core/types.js';
import { busyDelay, idValue, jobIdFrom, jobKindFor } from '../../src/providers/coldstream.js';
import { createdDespiteErrors as ionCreated, ionTokenUrls, parseAttachTo, unknownFields } from '../../src/providers/ion/index.js';
import { createFileAttachment, entityLookup, requestFileUploadUrl } from '../../src/providers/ion/operations.js';
import * as speckleOps from '../../src/providers/speckle/operations.js';
import { createdDespiteErrors as speckleCreated, expandModelTemplate, modelNameProblem, normaliseModelName } from '../../src/providers/speckle/index.js';

const file = (p: string): LocalFile => {
  const name = p.split('/').pop()!;
  return { absolutePath: `/ws/${p}`, path: p, name, ext: name.includes('.') ? name.split('.').pop()!.toLowerCase() : '', bytes: 1 };
};

describe('Speckle model names', () => {
  it('fills the template per file', () => {
    const f = file('models/Site/Tower A.ifc');
    expect(expandModelTemplate('{path}', f)).toBe('models/Site/Tower A');
    expect(expandModelTemplate('ci/{dir}/{stem}.{ext}', f)).toBe('ci/models/Site/Tower A.ifc');
    expect(expandModelTemplate('{name}', file('top.ifc'))).toBe('top.ifc');
    expect(expandModelTemplate('{path}', file('top.ifc'))).toBe('top');
  });
  it('normalises as the server stores names: lowercased, / between levels, no empty levels', () => {
    expect(normaliseModelName('models/Site/Tower A')).toBe('models/site/tower a');
    expect(normaliseModelName('/a//B \\ c /')).toBe('a/b/c');
    expect(normaliseModelName('  Level   1 ')).toBe('level 1');
  });
  it('says why Speckle would refuse a name', () => {
    expect(modelNameProblem('#draft')).toMatch(/cannot start with # or \$/);
    expect(modelNameProblem('a,b')).toMatch(/commas/);
    expect(modelNameProblem('')).toMatch(/empty/);
    expect(modelNameProblem('models/site/tower')).toBeUndefined();
  });
});

describe('ION targets and auth servers', () => {
  it('parses attach-to for every kind, case-insensitively, and names the accepted kinds otherwise', () => {
    expect(parseAttachTo('runStep:101')).toEqual({ kind: 'runStep', id: '101' });
    expect(parseAttachTo('RUNSTEPFIELD: 7')).toEqual({ kind: 'runStepField', id: '7' });
    for (const kind of ['run', 'procedure', 'step', 'part']) expect(parseAttachTo(`${kind}:42`).kind).toBe(kind);
    expect(() => parseAttachTo('wafer:1')).toThrow(/Input 'attach-to'.*runStep/);
    expect(() => parseAttachTo('runStep')).toThrow(/Input 'attach-to'/);
  });
  it('derives the token endpoint from the environment, or takes auth-url', () => {
    expect(ionTokenUrls('', 'https://api.buildwithion.com')).toEqual([
      'https://auth.buildwithion.com/realms/api-keys/protocol/openid-connect/token',
      'https://auth.buildwithion.com/auth/realms/api-keys/protocol/openid-connect/token',
    ]);
    expect(ionTokenUrls('', 'https://staging-api.buildwithion.com')[0]).toMatch(/^https:\/\/staging-auth\.buildwithion\.com\//);
    expect(ionTokenUrls('https://auth.example.com/custom/token', 'https://x.example.com')).toEqual(['https://auth.example.com/custom/token']);
    expect(ionTokenUrls('https://auth.example.com/', 'https://x.example.com')).toHaveLength(2);
    expect(() => ionTokenUrls('', 'https://sandbox-7.example.com')).toThrow(/Input 'auth-url': is required/);
    expect(() => ionTokenUrls('http://auth.example.com', 'https://x.example.com')).toThrow(/Input 'auth-url'.*loopback/);
  });
});

describe('Coldstream jobs', () => {
  it('chooses the job as the upload guide says, unless finalize forces it', () => {
    expect(jobKindFor(file('a.step'), { finalize: 'auto', componentId: '2001' })).toBe('convert');
    expect(jobKindFor(file('a.STP'), { finalize: 'auto' })).toBe('initialize');
    expect(jobKindFor(file('a.stl'), { finalize: 'auto', componentId: '2001' })).toBe('none');
    expect(jobKindFor(file('a.step'), { finalize: 'none', componentId: '2001' })).toBe('none');
    expect(jobKindFor(file('a.step'), { finalize: 'initialize', componentId: '2001' })).toBe('initialize');
  });
  it('waits out a busy case slowly: never under 1 s, growing to at most 30 s', () => {
    expect(busyDelay(1, () => 0)).toBe(1000);
    expect(busyDelay(1, () => 1)).toBe(2000);
    expect(busyDelay(3, () => 1)).toBe(8000);
    expect(busyDelay(20, () => 1)).toBe(30_000);
    expect(busyDelay(20, () => 0)).toBe(15_000);
  });
  it('sends IDs of digits as numbers, as the SDK does', () => {
    expect(idValue('1001')).toBe(1001);
    expect(idValue('3fa85f64-5717')).toBe('3fa85f64-5717');
  });
  it("reads a job ID from any plausible field of the job answer, and none from answers without one", () => {
    expect(jobIdFrom('{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","status":"Created"}')).toBe('3fa85f64-5717-4562-b3fc-2c963f66afa6');
    expect(jobIdFrom('{"id":88001}')).toBe('88001');
    expect(jobIdFrom('{"jobId":"j-1"}')).toBe('j-1');
    expect(jobIdFrom('{"job_id":7}')).toBe('7');
    expect(jobIdFrom('{"job":{"id":"abc"}}')).toBe('abc');
    expect(jobIdFrom('{"data":{"jobId":12}}')).toBe('12');
    for (const none of ['', '{}', 'Job queued', '[]', 'null', '"3fa85f64"', '{"status":"Created"}', '{"id":""}', '{"id":-1}', '{"id":1.5}', '{"id":{"x":1}}']) {
      expect(jobIdFrom(none), none).toBeUndefined();
    }
    // An ID goes into outputs and the summary: text that is not ID-shaped is not taken as one.
    expect(jobIdFrom('{"id":"x\\n::set-output name=a::b"}')).toBeUndefined();
    expect(jobIdFrom('{"id":"<img src=x>"}')).toBeUndefined();
  });
});

describe('maskSignatures', () => {
  const maskedOf = (target: { url: string; fields?: Record<string, string> }) => {
    const masked: string[] = [];
    maskSignatures(target, (s) => masked.push(s));
    return masked;
  };
  it('masks the signature and the key that made it, decoded (the registry adds the encoded forms), not the whole query', () => {
    expect(maskedOf({ url: 'https://s3.test/b/k?X-Amz-Date=1&X-Amz-Credential=AKIAX%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc123' })).toEqual([
      'AKIAX/20261129/us-east-1/s3/aws4_request',
      'abc123',
    ]);
    expect(maskedOf({ url: 'https://s3.test/b/k?X-Amz-Signature=abc123&X-Amz-Security-Token=tok%2Ben' })).toEqual(['abc123', 'tok+en']);
  });
  it('masks a value as sent too where it is not encoded as encodeURIComponent would (Azure: sig, base64)', () => {
    expect(maskedOf({ url: 'https://acct.blob.test/c/b?sv=2024&sig=Ab%2Bc%3D' })).toEqual(['Ab+c=']);
    expect(maskedOf({ url: 'https://acct.blob.test/c/b?sv=2024&sig=Ab%2bc%3d' })).toEqual(['Ab+c=', 'Ab%2bc%3d']);
    expect(maskedOf({ url: 'https://acct.blob.test/c/b?sig=%E0%A4%A' })).toEqual(['%E0%A4%A']);
  });
  it('masks the whole query string of a URL with no signature it knows, and nothing of a URL without a query', () => {
    expect(maskedOf({ url: 'https://store.test/u/1?token=s3cr3t&expires=9' })).toEqual(['token=s3cr3t&expires=9']);
    expect(maskedOf({ url: 'https://store.test/u/1?X-Amz-Credential=AKIAX' })).toEqual(['X-Amz-Credential=AKIAX']);
    expect(maskedOf({ url: 'https://host.test/upload' })).toEqual([]);
  });
  it("masks a presigned POST form's signature and credential fields, not its policy's other fields", () => {
    expect(maskedOf({ url: 'https://s3.test/bucket', fields: { key: 'a/b.step', policy: 'eyJ…', 'x-amz-credential': 'AKIAX/2026', 'x-amz-signature': 'f00d' } })).toEqual(['AKIAX/2026', 'f00d']);
  });
});

describe('partly successful GraphQL answers: which fields decide', () => {
  it('ION: the attachment ID of createFileAttachment, and nothing from a query', () => {
    expect(ionCreated(createFileAttachment, { createFileAttachment: { fileAttachment: { id: 4242 } } })).toBe('4242');
    expect(ionCreated(createFileAttachment, { createFileAttachment: { fileAttachment: { id: 'a1' } } })).toBe('a1');
    expect(ionCreated(createFileAttachment, { createFileAttachment: null })).toBeUndefined();
    expect(ionCreated(createFileAttachment, { createFileAttachment: { fileAttachment: null } })).toBeUndefined();
    expect(ionCreated(createFileAttachment, null)).toBeUndefined();
    expect(ionCreated(requestFileUploadUrl, { requestFileUploadUrl: { uploadUrl: 'https://x', s3Key: 'k', contentType: 'a/b' } })).toBeUndefined();
    expect(ionCreated(entityLookup('runStep'), { runStep: { id: '101', entity: { id: '7001' } } })).toBeUndefined();
  });
  it('ION: a validation error names the fields the server lacks', () => {
    expect(unknownFields(['Cannot query field "entity" on type "RunStep".', 'Unknown argument "x"'])).toEqual([{ field: 'entity', type: 'RunStep' }]);
    expect(unknownFields(['Permission denied'])).toEqual([]);
  });
  it('Speckle: the created model, the started ingestion or import, nothing else', () => {
    expect(speckleCreated(speckleOps.createModel, { modelMutations: { create: { id: 'm1', name: 'x' } } })).toBe('m1');
    expect(speckleCreated(speckleOps.startFileIngestion, { fileUploadMutations: { startFileIngestion: { id: 'i1' } } })).toBe('i1');
    expect(speckleCreated(speckleOps.startFileImport, { fileUploadMutations: { startFileImport: { id: 'f1' } } })).toBe('f1');
    expect(speckleCreated(speckleOps.createModel, { modelMutations: null })).toBeUndefined();
    expect(speckleCreated(speckleOps.startFileIngestion, null)).toBeUndefined();
    expect(speckleCreated(speckleOps.generateUploadUrlLive, { fileUploadMutations: { generateUploadUrl: { url: 'u', fileId: 'f' } } })).toBeUndefined();
    expect(speckleCreated(speckleOps.modelByName, { project: { modelByName: { id: 'm1' } } })).toBeUndefined();
  });
});
