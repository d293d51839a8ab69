// A lean start: a run loads only what it needs. The bundle's entry (dist/index.js) holds what every run needs;
// each GraphQL provider's session code (with graphql-request and graphql), the pull-request comment (Octokit)
// and the like are chunks next to it, loaded with import() when a run needs them. Proved by running the entry
// alone, without any chunk: ARCNM and Coldstream publish as usual, and Speckle, which needs its session chunk,
// cannot open (so the test would notice if a chunk stopped being one, or the entry stopped needing it). And
// what the entry itself loads: Node's own modules, as Node lists them (process.moduleLoadList) at exit.
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { BlobStore } from '../emulators/blob.js';
import { SpeckleEmulator } from '../emulators/speckle.js';
import { expectArcnmHolds, startArcnm } from '../support/arcnm.js';
import { BUNDLE, makeWorkspace, runAction } from '../support/action.js';
import { expectColdstreamHolds } from '../support/coldstream.js';
import * as samples from '../support/samples.js';

let entryOnly: string;
let dir: string;

beforeAll(async () => {
  const dist = path.dirname(BUNDLE);
  const chunks = (await readdir(dist)).filter((f) => /^\d+\.index\.js$/.test(f));
  expect(chunks.length, 'dist/ holds the lazily loaded chunks next to index.js').toBeGreaterThan(0);
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp-entry-only-'));
  // package.json makes the entry an ES module, as in dist/.
  for (const f of ['index.js', 'package.json']) await copyFile(path.join(dist, f), path.join(dir, f));
  entryOnly = path.join(dir, 'index.js');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the bundle entry alone, without its chunks', () => {
  it('publishes to ARCNM: an ARCNM run loads no chunk (no GraphQL, no Octokit)', async () => {
    const key = 'ak_test_9f3c1e7d5b2a4f60a1b2c3d4';
    const { blob, arcnm, close } = await startArcnm(key);
    try {
      const ws = await makeWorkspace({ 'cad/bracket.step': samples.step('bracket.step'), 'drawings/GA-100.pdf': samples.pdf('GA-100') });
      const run = await runAction({ provider: 'arcnm', path: 'cad/*.step\ndrawings/*.pdf', 'server-url': arcnm.url, token: key }, { workspace: ws, bundle: entryOnly });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.results.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      await expectArcnmHolds({ arcnm, blob }, ws, run.results);
    } finally {
      await close();
    }
  });

  it('loads neither undici\'s index nor @actions/http-client: no fetch, no https module, no zlib, no child processes', async () => {
    // undici's index (fetch, WebSocket, the cache) loads zlib and Node's own bundled undici; @actions/http-client
    // (behind @actions/core's index, for OIDC tokens) loads https and, through tunnel, child_process. Our client
    // loads undici's agent and request API alone (src/http/undici.ts), the edge @actions/core's modules
    // (src/github/actions-core.ts). The emulator is plain HTTP, so a run needs none of them.
    const key = 'ak_test_9f3c1e7d5b2a4f60a1b2c3d4';
    const { arcnm, close } = await startArcnm(key);
    try {
      const ws = await makeWorkspace({ 'cad/bracket.step': samples.step('bracket.step') });
      const listFile = path.join(dir, 'modules.txt');
      const hook = path.join(dir, 'list-modules.mjs');
      await writeFile(hook, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(${JSON.stringify(listFile)}, process.moduleLoadList.join('\\n')));\n`);
      const run = await runAction({ provider: 'arcnm', path: 'cad/*.step', 'server-url': arcnm.url, token: key }, { workspace: ws, bundle: entryOnly, env: { NODE_OPTIONS: `--import ${hook}` } });
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.results.map((r) => r.status)).toEqual(['succeeded']);
      const loaded = (await readFile(listFile, 'utf8')).split('\n').filter((l) => l.startsWith('NativeModule ')).map((l) => l.slice('NativeModule '.length));
      expect(loaded, 'the list is read (the run loaded net and worker_threads)').toEqual(expect.arrayContaining(['net', 'http', 'worker_threads']));
      for (const unwanted of ['https', 'zlib', 'child_process', 'internal/deps/undici/undici', 'perf_hooks']) expect(loaded, unwanted).not.toContain(unwanted);
    } finally {
      await close();
    }
  });

  it('publishes to Coldstream: a Coldstream run loads no chunk', async () => {
    const token = 'cs_live_3b8e0f4a6c2d4e1f9a7b5c3d';
    const cs = new ColdstreamEmulator({ token, cases: { '1001': ['2001'] } });
    await cs.start();
    try {
      const ws = await makeWorkspace({ 'geometry/fin.step': samples.step('fin.step') });
      const run = await runAction(
        { provider: 'coldstream', path: 'geometry/**', 'server-url': cs.url, 'case-id': '1001' },
        { workspace: ws, bundle: entryOnly, env: { COLDSTREAM_TOKEN: token } },
      );
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(run.results.map((r) => r.status)).toEqual(['succeeded']);
      await expectColdstreamHolds(expect, cs, ws, run);
    } finally {
      await cs.close();
    }
  });

  it('cannot open Speckle: its session code (with GraphQL) is a chunk, loaded only by a Speckle run', async () => {
    const token = 'spk_e2e_4b1d9c0e7a3f5b2d8c6e1a9f0b3d5c7e';
    const blob = new BlobStore();
    await blob.start();
    const speckle = new SpeckleEmulator({ blob, mode: 'live', tokens: { [token]: {} }, queuedMs: 30, processingMs: 80 });
    await speckle.start();
    try {
      const ws = await makeWorkspace({ 'models/annex.ifc': samples.ifc('annex.ifc', 'IFC2X3') });
      const inputs = { provider: 'speckle', path: 'models/*.ifc', 'server-url': speckle.url, token, 'project-id': 'p0ject1d' };
      const run = await runAction(inputs, { workspace: ws, bundle: entryOnly });
      expect(run.exitCode).toBe(1);
      expect(run.stdout + run.stderr).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
      expect(speckle.requests.length, 'nothing reached Speckle before its session code loaded').toBe(0);
      // The whole bundle, chunks included, publishes the same file.
      const full = await runAction(inputs, { workspace: ws });
      expect(full.exitCode, full.stdout + full.stderr).toBe(0);
      expect(full.results.map((r) => r.status)).toEqual(['succeeded']);
    } finally {
      await speckle.close();
      await blob.close();
    }
  });
});
