// `name` end to end for ION, Coldstream and ARCNM: `{path}` keeps a/… and b/… apart at the provider (ARCNM takes
// the folder as is, ION and Coldstream take bare file names: `/` becomes `_`), checked at each emulator byte for
// byte; two files that would share a name are refused before any request, dry run included; the dry run's plan
// shows each file's destination name.
import { describe, it } from 'vitest';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { IonEmulator } from '../emulators/ion.js';
import { makeWorkspace, runAction } from '../support/action.js';
import { expectArcnmHolds, startArcnm } from '../support/arcnm.js';
import { expectColdstreamHolds } from '../support/coldstream.js';
import { expectIonHolds } from '../support/ion.js';
import * as samples from '../support/samples.js';

const ION_TOKEN = 'ion_user_token_names0000000000';
const CS_TOKEN = 'cs_live_names000000000000000000';
const ARCNM_KEY = 'ak_test_names00000000000000000';

const flat = (p: string) => p.replace(/\//g, '_');

describe.concurrent('name: where files land, and the refusal of one name for two files', () => {
  it('ION: {path} attaches a/sheet.pdf and b/sheet.pdf as a_sheet.pdf and b_sheet.pdf', async ({ expect, onTestFinished }) => {
    const ion = new IonEmulator({ tokens: [ION_TOKEN] });
    await ion.start();
    onTestFinished(() => ion.close());
    const ws = await makeWorkspace({ 'a/sheet.pdf': samples.pdf('A'), 'b/sheet.pdf': samples.pdf('B'), 'b/c/sheet.pdf': samples.pdf('C') });
    const run = await runAction({ provider: 'ion', path: '**/*.pdf', 'server-url': ion.url, token: ION_TOKEN, 'attach-to': 'runStep:101', name: '{path}' }, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(0);
    await expectIonHolds(expect, ion, ws, run, flat);
    expect(ion.attachments.map((a) => a.filename).sort()).toEqual(['a_sheet.pdf', 'b_c_sheet.pdf', 'b_sheet.pdf']);
    expect(ion.attachments.every((a) => a.contentType === 'application/pdf')).toBe(true);
  });

  it('ION: the default name refuses two sheet.pdf before any request, naming both and the input', async ({ expect, onTestFinished }) => {
    const ion = new IonEmulator({ tokens: [ION_TOKEN] });
    await ion.start();
    onTestFinished(() => ion.close());
    const ws = await makeWorkspace({ 'a/sheet.pdf': samples.pdf('A'), 'b/sheet.pdf': samples.pdf('B') });
    for (const dryRun of ['false', 'true']) {
      const run = await runAction({ provider: 'ion', path: '**/*.pdf', 'server-url': ion.url, token: ION_TOKEN, 'attach-to': 'runStep:101', 'dry-run': dryRun }, { workspace: ws });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toContain(
        `::error::Input 'name': a/sheet.pdf and b/sheet.pdf would both be named "sheet.pdf" at ION the entity of runStep 101 on ${ion.url}, and nobody could tell them apart there; set name to a template that keeps them apart, e.g. {path}`,
      );
    }
    expect(ion.requests).toEqual([]);
    expect(ion.authRequests).toEqual([]);
    expect(ion.blob.requests).toEqual([]);
  });

  it('Coldstream: {path} creates file records a_part.step and b_part.step, and converts both', async ({ expect, onTestFinished }) => {
    const cs = new ColdstreamEmulator({ token: CS_TOKEN, cases: { '1001': ['2001'] } });
    await cs.start();
    onTestFinished(() => cs.close());
    const ws = await makeWorkspace({ 'a/part.step': samples.step('a part'), 'b/part.step': samples.step('b part') });
    const inputs = { provider: 'coldstream', path: '**/*.step', 'server-url': cs.url, token: CS_TOKEN, 'case-id': '1001', 'component-id': '2001', name: '{path}' };
    const run = await runAction(inputs, { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(0);
    await expectColdstreamHolds(expect, cs, ws, run, flat);
    expect(cs.files.map((f) => f.fileName).sort()).toEqual(['a_part.step', 'b_part.step']);
    expect(cs.jobs).toHaveLength(2);
    // Without {path}: refused before any request.
    const requests = cs.requests.length + cs.blob.requests.length;
    const clash = await runAction({ ...inputs, name: '{stem}' }, { workspace: ws });
    expect(clash.exitCode).toBe(1);
    expect(clash.stdout).toContain(`::error::Input 'name': a/part.step and b/part.step would both be named "part.step" at Coldstream case 1001`);
    expect(cs.requests.length + cs.blob.requests.length).toBe(requests);
  });

  it('ARCNM: {path} uploads a/sheet.pdf as is, the dry run shows it, and a clash is refused before any request', async ({ expect }) => {
    const fixture = await startArcnm(ARCNM_KEY);
    try {
      const ws = await makeWorkspace({ 'a/sheet.pdf': samples.pdf('A'), 'b/sheet.pdf': samples.pdf('B'), 'top.pdf': samples.pdf('top') });
      const inputs = { provider: 'arcnm', path: '**/*.pdf', 'server-url': fixture.arcnm.url, token: ARCNM_KEY, name: '{dir}/{name}' };
      const plan = await runAction({ ...inputs, 'dry-run': 'true' }, { workspace: ws });
      expect(plan.exitCode, plan.stdout).toBe(0);
      expect(plan.stdout).toContain('dry-run: would publish a/sheet.pdf');
      expect(plan.stdout).toContain('to ARCNM upload "a/sheet.pdf" as application/pdf');
      expect(plan.stdout).toContain('to ARCNM upload "top.pdf" as application/pdf');
      expect(fixture.arcnm.uploads.size).toBe(0);

      const run = await runAction({ ...inputs, name: '{path}' }, { workspace: ws });
      expect(run.exitCode, run.stdout).toBe(0);
      await expectArcnmHolds(fixture, ws, run.results, undefined, (p) => p);
      expect([...fixture.arcnm.uploads.values()].map((u) => u.name).sort()).toEqual(['a/sheet.pdf', 'b/sheet.pdf', 'top.pdf']);

      const requests = fixture.arcnm.requests.length + fixture.blob.requests.length;
      // Every job of a matrix refuses, whichever shard each of the two files falls in.
      for (const extra of [{ 'dry-run': 'false' }, { 'dry-run': 'true' }, { shard: '1/2' }, { shard: '2/2' }] as Record<string, string>[]) {
        const clash = await runAction({ ...inputs, name: '', ...extra }, { workspace: ws });
        expect(clash.exitCode).toBe(1);
        expect(clash.stdout).toContain(`::error::Input 'name': a/sheet.pdf and b/sheet.pdf would both be named "sheet.pdf" at ARCNM`);
      }
      expect(fixture.arcnm.requests.length + fixture.blob.requests.length).toBe(requests);
    } finally {
      await fixture.close();
    }
  });

  it('refuses a template with an unknown placeholder, naming name', async ({ expect }) => {
    const ws = await makeWorkspace({ 'a/sheet.pdf': samples.pdf('A') });
    const run = await runAction({ provider: 'arcnm', path: '**/*.pdf', 'server-url': 'http://127.0.0.1:9', token: ARCNM_KEY, name: '{folder}/{name}' }, { workspace: ws });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain("::error::Input 'name': has an unknown placeholder {folder}; use {path}, {dir}, {name}, {stem} and {ext}");
  });
});
