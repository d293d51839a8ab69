// The ION chain end to end: the bundle, run as the runner runs it, against the ION emulator (GraphQL API,
// auth server, single-use presigned storage). Checks what ION ended up holding, the outputs, and that no
// token, secret or signature is ever printed.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { ION_TOKEN_PATHS, IonEmulator, type IonEmulatorOptions, type IonKind } from '../emulators/ion.js';
import { NODES, findLeaks, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import { expectIonHolds } from '../support/ion.js';
import * as samples from '../support/samples.js';

const TOKEN = 'ion_user_token_5f1e9a7c3b2d4e6f';
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** An emulator closed when this test ends (the test's own hook: the tests run concurrently). */
async function startIon(t: TestContext, opts: IonEmulatorOptions = {}): Promise<IonEmulator> {
  const ion = new IonEmulator({ tokens: [TOKEN], ...opts });
  await ion.start();
  t.onTestFinished(() => ion.close());
  return ion;
}

const releaseFiles = () => ({
  'drawings/GA-100.pdf': samples.pdf('GA-100 general arrangement'),
  'drawings/GA-101.pdf': samples.pdf('GA-101 section A-A'),
  'photos/weld-01.jpg': samples.jpeg(),
  'cad/bracket.step': samples.step('bracket.step'),
});

function inputs(ion: IonEmulator, extra: Record<string, string> = {}): Record<string, string> {
  return { provider: 'ion', path: 'drawings/*.pdf\nphotos/*.jpg', 'server-url': ion.url, token: TOKEN, ...extra };
}

function expectNoLeaks(run: ActionRun, ion: IonEmulator) {
  expect(findLeaks(run, [TOKEN, ion.clientSecret, ...ion.tokensIssued])).toEqual([]);
}

const log = (run: ActionRun) => run.stdout + run.stderr;

describe.each(NODES)('ION end to end ($name)', ({ bin }) => {
  describe.concurrent('publishing', () => {
    it('attaches drawings, photos and a STEP file to a run step and outputs the attachment IDs', async (t) => {
      const ion = await startIon(t);
      const files = releaseFiles();
      const ws = await makeWorkspace(files);
      const run = await runAction(inputs(ion, { path: 'drawings/*.pdf\nphotos/*.jpg\ncad/*.step', 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
      expect(run.exitCode, log(run)).toBe(0);
      await expectIonHolds(expect, ion, ws, run);

      const entityId = ion.objects.runStep.get('101')!;
      expect(entityId).not.toBe('101');
      const order = ['cad/bracket.step', 'drawings/GA-100.pdf', 'drawings/GA-101.pdf', 'photos/weld-01.jpg'];
      expect(run.results.map((r) => r['path'])).toEqual(order);
      const attachments = ion.attachmentsFor(entityId);
      expect(attachments).toHaveLength(4);
      for (const r of run.results) {
        expect(r).toMatchObject({ status: 'succeeded', entityId });
        expect(r['id']).toBe(r['attachmentId']);
        const a = attachments.find((x) => x.id === r['attachmentId'])!;
        const local = await readFile(path.join(ws, r['path']));
        expect(a.filename).toBe(path.basename(r['path']));
        expect(a.validated).toBe(true);
        expect(a.s3Etag).toBe(md5(local)); // the ETag, quotes stripped
        const stored = ion.blob.get(a.s3Key)!;
        expect(stored.bytes.equals(local)).toBe(true);
        expect(stored.contentType).toBe(a.contentType); // exactly what requestFileUploadUrl said
      }
      expect(ion.blob.get(attachments.find((a) => a.filename === 'bracket.step')!.s3Key)!.contentType).toBe('application/octet-stream');
      expect(JSON.parse(run.outputs['attachment-ids']!)).toEqual(run.results.map((r) => r['attachmentId']));
      expect(JSON.parse(run.outputs['ids']!)).toEqual(run.results.map((r) => r['attachmentId']));
      expect(run.outputs['succeeded-count']).toBe('4');
      expect(run.summary).toContain(run.results[0]!['attachmentId']);
      // The entity lookup ran once, before the files; every request carried the bearer token.
      expect(ion.operations.filter((o) => o.fields[0] === 'runStep')).toHaveLength(1);
      expect(ion.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
      const printed = run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::'));
      expect(JSON.stringify(run.outputs) + run.summary + printed.join('\n')).not.toMatch(/downloadUrl|X-Amz-/);
      expectNoLeaks(run, ion);
    });

    it('resolves every attach-to kind to its entity, and takes entity-id as it is (token from ION_TOKEN)', async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const kinds: IonKind[] = ['run', 'procedure', 'step', 'part', 'runStepField'];
      const targets: { input: Record<string, string>; entityId: string }[] = [
        ...kinds.map((kind) => {
          const { id, entityId } = ion.addObject(kind);
          return { input: { 'attach-to': `${kind}:${id}` }, entityId };
        }),
        { input: { 'entity-id': ion.objects.part.get('501')! }, entityId: ion.objects.part.get('501')! },
      ];
      const runs = await Promise.all(
        targets.map((t) => runAction({ ...inputs(ion, { path: 'drawings/*.pdf', token: '' }), ...t.input }, { workspace: ws, node: bin, env: { ION_TOKEN: TOKEN } })),
      );
      for (const run of runs) await expectIonHolds(expect, ion, ws, run);
      runs.forEach((run, i) => {
        expect(run.exitCode, log(run)).toBe(0);
        expect(run.results[0]).toMatchObject({ status: 'succeeded', entityId: targets[i]!.entityId });
        expect(ion.attachmentsFor(targets[i]!.entityId)).toHaveLength(1);
        expectNoLeaks(run, ion);
      });
      expect(ion.attachments).toHaveLength(targets.length);
    });

    it('client credentials: one token per run, refreshed on a 401, masked; the legacy realm path is found', async (t) => {
      const ion = await startIon(t, { tokenMaxUses: 4 });
      const ws = await makeWorkspace(releaseFiles());
      const run = await runAction(
        inputs(ion, { token: '', 'client-id': ion.clientId, 'client-secret': ion.clientSecret, 'auth-url': ion.tokenUrl, 'attach-to': 'runStep:101', concurrency: '1' }),
        { workspace: ws, node: bin },
      );
      expect(run.exitCode, log(run)).toBe(0);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.results.every((r) => r['status'] === 'succeeded')).toBe(true);
      expect(ion.attachments).toHaveLength(3);
      // 1 lookup + 3 × 2 operations with 4 uses per token: two 401s, each answered by one new token.
      expect(ion.tokensIssued).toHaveLength(2);
      expect(ion.requests.filter((r) => r.status === 401)).toHaveLength(1);
      expect(ion.authRequests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        `POST ${ION_TOKEN_PATHS[0]} 200`,
        `POST ${ION_TOKEN_PATHS[0]} 200`,
      ]);
      expect(run.stdout).toContain('fetched a new one');
      for (const t of ion.tokensIssued) expect(run.stdout).toContain(`::add-mask::${t}`);
      expectNoLeaks(run, ion);

      // A bare auth host: the current path first, then the older /auth/realms/… one.
      const legacy = await startIon(t, { authPaths: [ION_TOKEN_PATHS[1]!] });
      const run2 = await runAction(
        inputs(legacy, { token: '', 'client-id': legacy.clientId, 'client-secret': legacy.clientSecret, 'auth-url': legacy.authUrl, 'entity-id': legacy.objects.run.get('201')! }),
        { workspace: ws, node: bin },
      );
      expect(run2.exitCode, log(run2)).toBe(0);
      await expectIonHolds(expect, legacy, ws, run2);
      expect(legacy.attachments).toHaveLength(3);
      expect(legacy.authRequests.map((r) => r.status)).toEqual([404, 200]);
      expectNoLeaks(run2, legacy);
    });

    it('a wrong client secret or a stale token fails the run clearly without printing it', async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace(releaseFiles());
      const wrong = 'ion-secret-WRONG-0123456789abcdef';
      const run = await runAction(inputs(ion, { token: '', 'client-id': ion.clientId, 'client-secret': wrong, 'auth-url': ion.tokenUrl, 'attach-to': 'run:201' }), {
        workspace: ws,
        node: bin,
      });
      expect(run.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.stdout).toMatch(/ION token request to http:\/\/127\.0\.0\.1:\d+\/realms\/api-keys\/protocol\/openid-connect\/token failed: HTTP 401 invalid_client/);
      expect(run.stdout).toContain('check client-id and client-secret');
      expect(ion.requests).toHaveLength(0);
      expect(findLeaks(run, [wrong, TOKEN])).toEqual([]);

      const stale = 'ion_user_token_expired_000000';
      const run2 = await runAction(inputs(ion, { token: stale, 'attach-to': 'run:201' }), { workspace: ws, node: bin });
      expect(run2.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run2);
      expect(run2.stdout).toContain('attach-to run:201: ION answered 401 Unauthorized: the access token is missing, expired or invalid');
      expect(findLeaks(run2, [stale])).toEqual([]);
    });

    it('an expired and then an already used upload URL: starts again from requestFileUploadUrl, attaches once', async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      ion.expireNextUploadUrls(1);
      ion.handOutUsedUploadUrls(1);
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
      expect(run.exitCode, log(run)).toBe(0);
      await expectIonHolds(expect, ion, ws, run);
      expect(ion.operations.filter((o) => o.fields[0] === 'requestFileUploadUrl')).toHaveLength(3);
      expect(run.stdout).toMatch(/the upload URL expired or was already used \(Request has expired\); starting again from presign/);
      expect(run.stdout).toMatch(/\(Request has expired or was already used\); starting again from presign/);
      expect(ion.attachments).toHaveLength(1);
      expect(ion.blob.get(ion.attachments[0]!.s3Key)!.bytes.equals(samples.pdf())).toBe(true);
      expectNoLeaks(run, ion);
    });

    it("a run step's own ID as entity-id, and an unknown attach-to, fail with what to do; dry-run writes nothing", async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const [wrong, unknown] = await Promise.all([
        runAction(inputs(ion, { 'entity-id': '101' }), { workspace: ws, node: bin }),
        runAction(inputs(ion, { 'attach-to': 'runStep:999' }), { workspace: ws, node: bin }),
      ]);
      expect(wrong.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, wrong);
      expect(wrong.results[0]!['error']).toMatchObject({ code: 'not_found', providerCode: 'NOT_FOUND', message: expect.stringContaining('ION createFileAttachment: Entity 101 does not exist') });
      expect(wrong.results[0]!['error'].message).toContain('use attach-to (e.g. runStep:<id>)');
      expect(unknown.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, unknown);
      expect(unknown.stdout).toContain('attach-to runStep:999: ION has no runStep with ID 999');
      expect(ion.attachments).toHaveLength(0);
      expectNoLeaks(wrong, ion);
      expectNoLeaks(unknown, ion);

      // dry-run resolves the target (a read) and writes nothing.
      const before = ion.operations.length;
      const dry = await runAction(inputs(ion, { 'attach-to': 'runStep:101', 'dry-run': 'true' }), { workspace: ws, node: bin });
      expect(dry.exitCode, log(dry)).toBe(0);
      await expectIonHolds(expect, ion, ws, dry);
      expect(dry.stdout).toContain('ION: attaching to runStep 101 (entity 7001)');
      expect(dry.results[0]).toMatchObject({ status: 'skipped' });
      expect(ion.operations.slice(before).map((o) => o.fields)).toEqual([['runStep']]);
      expect(ion.attachments).toHaveLength(0);
    });

    it("errors[] answers fail the file with ION's message; the others go on", async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace(releaseFiles());
      ion.failNext('requestFileUploadUrl', 'Storage backend unavailable');
      ion.failNext('createFileAttachment', 'Database is in read-only mode');
      const run = await runAction(inputs(ion, { 'attach-to': 'part:501', concurrency: '1' }), { workspace: ws, node: bin });
      expect(run.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.results.map((r) => r['status'])).toEqual(['failed', 'failed', 'succeeded']);
      expect(run.results[0]!['error']).toEqual({ code: 'rejected_by_provider', message: 'ION requestFileUploadUrl: Storage backend unavailable' });
      expect(run.results[1]!['error']).toEqual({ code: 'rejected_by_provider', message: 'ION createFileAttachment: Database is in read-only mode' });
      expect(run.outputs['failed-count']).toBe('2');
      expect(JSON.parse(run.outputs['attachment-ids']!)).toEqual([run.results[2]!['attachmentId']]);
      expect(ion.attachments).toHaveLength(1);
      expectNoLeaks(run, ion);
    });

    it('a partly successful createFileAttachment (the attachment and errors[]) succeeds with a warning and keeps the ID', async (t) => {
      const ion = await startIon(t);
      ion.partialNext('createFileAttachment', 'Notification service unavailable:\nsubscribers were not notified');
      ion.failNext('createFileAttachment', 'Database is in read-only mode');
      const ws = await makeWorkspace(releaseFiles());
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101', concurrency: '1' }), { workspace: ws, node: bin });
      expect(run.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run);
      // The first file: ION made nothing (fileAttachment null with errors[]): a failure. The second: ION made
      // the attachment and said something else went wrong: a success with a warning, the ID kept.
      expect(run.results.map((r) => r['status'])).toEqual(['failed', 'succeeded', 'succeeded']);
      expect(run.results[0]!['error']).toEqual({ code: 'rejected_by_provider', message: 'ION createFileAttachment: Database is in read-only mode' });
      const partial = run.results[1]!;
      expect(partial['attachmentId']).toBe(ion.attachments[0]!.id);
      expect(partial['warning']).toBe('ION created the attachment but also answered errors: Notification service unavailable: subscribers were not notified');
      expect(run.results[2]).not.toHaveProperty('warning');
      expect(run.stdout).toMatch(/^::warning::drawings\/GA-101\.pdf: createFileAttachment: ION created attachment \d+ but also answered errors: Notification service unavailable: subscribers were not notified\. The file counts as published/m);
      expect(JSON.parse(run.outputs['attachment-ids']!)).toEqual([partial['attachmentId'], run.results[2]!['attachmentId']]);
      expect(ion.operations.filter((o) => o.fields[0] === 'createFileAttachment')).toHaveLength(3);
      expect(ion.attachments).toHaveLength(2);
      expectNoLeaks(run, ion);
    });

    it('the same answer under HTTP 502 (a gateway in front): the attachment in the body is kept, never sent again', async (t) => {
      const ion = await startIon(t);
      ion.partialNext('createFileAttachment', 'Upstream audit service timed out', 1, 502);
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
      expect(run.exitCode, log(run)).toBe(0);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.results[0]).toMatchObject({ status: 'succeeded', attachmentId: ion.attachments[0]!.id, warning: expect.stringContaining('HTTP 502: Upstream audit service timed out') });
      expect(ion.operations.filter((o) => o.fields[0] === 'createFileAttachment').map((o) => o.status)).toEqual([502]);
      expectNoLeaks(run, ion);
    });

    for (const status of [400, 200]) {
      it(`a server without entity on the attach-to type (validation error, HTTP ${status}) names the field and entity-id`, async (t) => {
        const ion = await startIon(t, { noEntityOn: ['runStep'], validationErrorStatus: status });
        const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
        const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
        expect(run.exitCode).toBe(1);
        await expectIonHolds(expect, ion, ws, run);
        expect(run.stdout).toContain(
          'attach-to runStep:101: this ION server does not accept the field "entity" on type "RunStep" (Cannot query field "entity" on type "RunStep".',
        );
        expect(run.stdout).toMatch(/pass entity-id instead of attach-to: the entity ID of runStep 101/);
        expect(ion.operations.filter((o) => o.status === status && o.errors.length > 0)).toHaveLength(1); // a validation error is not retried
        expect(ion.attachments).toHaveLength(0);
        // Another kind still has entity { id }, and entity-id skips the lookup on this server.
        const direct = await runAction(inputs(ion, { 'entity-id': ion.objects.runStep.get('101')! }), { workspace: ws, node: bin });
        expect(direct.exitCode, log(direct)).toBe(0);
        await expectIonHolds(expect, ion, ws, direct);
      });
    }

    it('a permission error says which permission is missing', async (t) => {
      const ion = await startIon(t);
      ion.missingPermissions.add('CreateFileAttachment');
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
      expect(run.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.results[0]!['error'].code).toBe('permission_denied');
      expect(run.results[0]!['error'].message).toMatch(/^ION createFileAttachment: Permission denied: the CreateFileAttachment permission is required; give the user or API key that permission/);
      expect(run.summary).toContain('CreateFileAttachment');
      expect(ion.attachments).toHaveLength(0);
      expectNoLeaks(run, ion);
    });

    it('429s (also on the mutation), a 503 on a query, storage 5xx and a reset mid-body: every file attached exactly once', async (t) => {
      const ion = await startIon(t);
      const s3 = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
      // The first GraphQL request is the attach-to lookup (a query, safe to repeat after a 503).
      ion.faults.add({ method: 'POST', path: '/graphql', action: { kind: 'status', status: 503, body: '{"errors":[{"message":"Service Unavailable"}]}' } });
      ion.rateLimit(1);
      // A 429 is answered before the operation runs, so even createFileAttachment is sent again.
      ion.rateLimitNext('requestFileUploadUrl', 2);
      ion.rateLimitNext('createFileAttachment', 3);
      ion.blob.faults.add({ method: 'PUT', path: '/ion-files/*', times: 2, action: { kind: 'status', status: 503, body: s3('SlowDown', 'Please reduce your request rate.') } });
      ion.blob.faults.add({ method: 'PUT', path: '/ion-files/*', action: { kind: 'reset', afterBytes: 64 } });
      ion.blob.faults.add({ method: 'PUT', path: '/ion-files/*', action: { kind: 'status', status: 500, body: s3('InternalError', 'We encountered an internal error. Please try again.') } });
      const files = releaseFiles();
      const ws = await makeWorkspace(files);
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101', concurrency: '2' }), { workspace: ws, node: bin });
      expect(run.exitCode, log(run)).toBe(0);
      await expectIonHolds(expect, ion, ws, run);
      expect(ion.faults.injected.map((f) => f.status ?? f.action)).toEqual([503, 429]);
      expect(ion.operations.filter((o) => o.status === 429).map((o) => o.fields[0]).sort()).toEqual([
        'createFileAttachment',
        'createFileAttachment',
        'createFileAttachment',
        'requestFileUploadUrl',
        'requestFileUploadUrl',
      ]);
      expect(ion.blob.faults.injected.map((f) => f.status ?? f.action)).toEqual([503, 503, 'reset', 500]);
      expect(ion.attachments.map((a) => a.filename).sort()).toEqual(['GA-100.pdf', 'GA-101.pdf', 'weld-01.jpg']);
      expect(ion.operations.filter((o) => o.fields[0] === 'createFileAttachment' && o.status === 200)).toHaveLength(3);
      for (const a of ion.attachments) {
        const rel = Object.keys(files).find((f) => f.endsWith(a.filename))!;
        expect(ion.blob.get(a.s3Key)!.bytes.equals(files[rel as keyof typeof files] as Buffer)).toBe(true);
      }
      expectNoLeaks(run, ion);
    });

    it('a createFileAttachment whose answer was lost is not sent again (no duplicate); endless 429s fail the file', async (t) => {
      const ion = await startIon(t);
      ion.loseNextAnswer('createFileAttachment');
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const run = await runAction(inputs(ion, { 'attach-to': 'runStep:101' }), { workspace: ws, node: bin });
      expect(run.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, run);
      expect(run.results[0]!['error']).toMatchObject({ code: 'outcome_unknown', message: expect.stringContaining('ION may or may not have created the attachment') });
      expect(ion.operations.filter((o) => o.fields[0] === 'createFileAttachment')).toHaveLength(1);
      expect(ion.attachments).toHaveLength(1);
      expectNoLeaks(run, ion);

      // A 429 uses no attempt (the run waits for the server's rate limit), but one that asks for longer than the
      // run may wait (Retry-After 1 h, wait-timeout-minutes 1) fails the file at once, saying so.
      ion.rateLimitNext('requestFileUploadUrl', 2, 3600);
      const limited = await runAction(inputs(ion, { 'attach-to': 'runStep:101', 'wait-timeout-minutes': '1' }), { workspace: ws, node: bin });
      expect(limited.exitCode).toBe(1);
      await expectIonHolds(expect, ion, ws, limited);
      expect(limited.results[0]!['error']).toEqual({ code: 'rate_limited', providerCode: 'http_429', message: 'ION requestFileUploadUrl: ION kept answering 429 Too Many Requests for longer than this run may wait; raise wait-timeout-minutes, or run again later' });
    });

    it('input errors name the input and the accepted form', async (t) => {
      const ion = await startIon(t);
      const ws = await makeWorkspace({ 'drawings/GA-100.pdf': samples.pdf() });
      const cases: [Record<string, string>, RegExp][] = [
        [{ 'entity-id': '7001', 'attach-to': 'runStep:101' }, /Input 'attach-to': give exactly one of entity-id and attach-to/],
        [{}, /Input 'entity-id': is required for ION: pass entity-id .* or attach-to/],
        [{ 'attach-to': 'task:12' }, /Input 'attach-to': got "task:12"; expected <kind>:<id> with kind one of runStep, run, procedure, step, part, runStepField/],
        [{ 'attach-to': 'run:1', token: '', 'client-id': 'abc', 'client-secret': 'def' }, /Input 'auth-url': is required with client-id\/client-secret when server-url \(http:\/\/127\.0\.0\.1:\d+\) is not one of ION's environments/],
        [{ 'attach-to': 'run:1', 'client-id': 'abc' }, /Input 'client-secret': is required with client-id/],
        [{ 'attach-to': 'run:1', token: '' }, /Input 'token': is required: pass an ION access token .* or set ION_TOKEN/],
      ];
      const runs = await Promise.all(cases.map(([extra]) => runAction(inputs(ion, extra), { workspace: ws, node: bin })));
      runs.forEach((run, i) => {
        expect(run.exitCode).toBe(1);
        expect(run.stdout).toMatch(cases[i]![1]);
      });
      expect(ion.requests).toHaveLength(0);
    });
  });
});
