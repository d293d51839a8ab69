// The command-line program: the same engine and providers, settings from flags or MODEL_PUBLISHER_* variables.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArcnmEmulator } from '../emulators/arcnm.js';
import { startArcnm, type ArcnmFixture } from '../support/arcnm.js';
import { ROOT, makeWorkspace } from '../support/action.js';
import * as samples from '../support/samples.js';

const API_KEY = 'ak_test_cli00000000000000000';
let fixture: ArcnmFixture;
let arcnm: ArcnmEmulator;
beforeAll(async () => {
  fixture = await startArcnm(API_KEY);
  arcnm = fixture.arcnm;
});
afterAll(() => fixture.close());

function cli(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/cli/index.js'), ...args], { cwd, env: { PATH: process.env['PATH']!, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('command line', () => {
  it('publishes with flags and environment variables, printing JSON results and a plain summary', async () => {
    const ws = await makeWorkspace({ 'cad/a.step': samples.step('a.step'), 'cad/b.stl': samples.stlBinary(), 'cad/bad.stl': 'solid nope' });
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*.step', '--path=cad/*.stl', '--server-url', arcnm.url], { ARCNM_API_KEY: API_KEY, MODEL_PUBLISHER_CONCURRENCY: '2' }, ws);
    expect(run.code, run.stderr).toBe(1);
    const results = JSON.parse(run.stdout);
    expect(results.map((r: { path: string; status: string }) => [r.path, r.status])).toEqual([
      ['cad/a.step', 'succeeded'],
      ['cad/b.stl', 'succeeded'],
      ['cad/bad.stl', 'failed'],
    ]);
    expect(run.stderr).toMatch(/succeeded\s+cad\/a.step\s+572 B\s+job_/);
    expect(run.stderr).toMatch(/2 of 3 file\(s\) published/);
    expect(arcnm.stats.presigns).toBe(2);
    expect(run.stdout + run.stderr).not.toContain(API_KEY);
    expect(run.stdout + run.stderr).not.toMatch(/X-Amz-Signature=[0-9a-f]/);
  });

  it('names the bad flag and exits 2 before any request', async () => {
    const before = arcnm.requests.length;
    const run = await cli(['--provider', 'arcnm', '--path', 'cad/*', '--concurrency', '99'], { ARCNM_API_KEY: API_KEY }, ROOT);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Input 'concurrency'.*1 to 32/);
    expect(arcnm.requests.length).toBe(before);
    // Bad input found only once the files are looked at is bad input too.
    const none = await cli(['--provider', 'arcnm', '--path', 'nothing/*.step', '--server-url', arcnm.url], { ARCNM_API_KEY: API_KEY }, ROOT);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/Input 'path': no files matched/);
    expect(arcnm.requests.length).toBe(before);
  });
});
