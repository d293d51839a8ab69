// `npm run demo`: start the emulators, write a few real-looking files, run the committed bundle as the
// GitHub runner does for each provider, and print the outputs and where the rendered summary is.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, makeWorkspace, runAction, type ActionRun } from '../support/action.js';
import { startEmulators } from './emulators.js';
import { demoFiles } from './files.js';

const emulators = await startEmulators();
const workspace = await makeWorkspace(demoFiles);
const outDir = path.join(ROOT, '.tmp/demo');
await mkdir(outDir, { recursive: true });

interface Scenario {
  title: string;
  inputs: Record<string, string>;
  /** A scenario expected to fail a file (to show a failure with its reason). */
  expectFailure?: boolean;
}

const { env } = emulators;
const scenarios: Scenario[] = [
  {
    title: 'Speckle: two IFC models in nested folders become versions of models named after their paths',
    inputs: { provider: 'speckle', path: 'models/site/*.ifc', 'server-url': env['SPECKLE_URL']!, token: env['SPECKLE_TOKEN']!, 'project-id': env['SPECKLE_PROJECT_ID']! },
  },
  {
    title: "Speckle: a broken IFC export fails with Speckle's reason (local check off, so Speckle sees it); podium.ifc, published unchanged by the first scenario, is skipped with its existing version",
    inputs: { provider: 'speckle', path: 'models/**/*.ifc\n!models/site/tower.ifc', 'server-url': env['SPECKLE_URL']!, token: env['SPECKLE_TOKEN']!, 'project-id': env['SPECKLE_PROJECT_ID']!, validate: 'false' },
    expectFailure: true,
  },
  {
    title: 'ARCNM: CAD files and drawings, attached to part prt_demo revision rev_A',
    inputs: { provider: 'arcnm', path: 'cad/**/*.step\ncad/**/*.stp\ncad/**/*.stl\ndrawings/*.pdf', 'server-url': env['ARCNM_URL']!, token: env['ARCNM_API_KEY']!, 'part-id': 'prt_demo', 'revision-id': 'rev_A' },
  },
  {
    title: 'Coldstream: a component STEP file (converted) and an STL mesh (no job) to case 1001',
    inputs: { provider: 'coldstream', path: 'cad/brackets/*.step\ncad/meshes/*.stl', 'server-url': env['COLDSTREAM_URL']!, token: env['COLDSTREAM_TOKEN']!, 'case-id': '1001', 'component-id': '2001' },
  },
  {
    title: 'ION: a PDF drawing and an inspection photo attached to run step 101 (API key exchanged for a token)',
    inputs: { provider: 'ion', path: 'drawings/*.pdf\nphotos/*.jpg', 'server-url': env['ION_URL']!, 'auth-url': env['ION_AUTH_URL']!, 'client-id': env['ION_CLIENT_ID']!, 'client-secret': env['ION_CLIENT_SECRET']!, 'attach-to': 'runStep:101' },
  },
];

let unexpected = 0;
for (const [i, s] of scenarios.entries()) {
  console.log(`\n=== ${s.title}`);
  const run: ActionRun = await runAction(s.inputs, { workspace });
  const summaryFile = path.join(outDir, `summary-${i + 1}-${s.inputs['provider']}.html`);
  await writeFile(summaryFile, run.summary);
  for (const r of run.results) {
    const extra = Object.entries(r)
      .filter(([k]) => !['path', 'bytes', 'sha256', 'status', 'durationMs', 'error'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const mark = r.status === 'succeeded' ? '✔' : r.status === 'skipped' && !r.error ? '⏭' : '✘';
    console.log(`  ${mark} ${r.path}  ${extra}${r.error ? `  ${r.error.code ?? ''} ${r.error.message}` : ''}`);
  }
  for (const name of ['version-ids', 'attachment-ids', 'job-ids', 'ids', 'succeeded-count', 'skipped-count', 'failed-count']) console.log(`  ${name}: ${run.outputs[name]}`);
  console.log(`  exit code ${run.exitCode}; summary: ${path.relative(process.cwd(), summaryFile)}`);
  if ((run.exitCode !== 0) !== Boolean(s.expectFailure)) {
    unexpected++;
    console.log(run.stdout);
  }
}
await emulators.close();
console.log(unexpected === 0 ? '\nDemo finished: every scenario behaved as expected.' : `\nDemo: ${unexpected} scenario(s) did not behave as expected.`);
process.exit(unexpected === 0 ? 0 : 1);
