// The README's inputs and outputs tables, generated from action.yml, and its error-code table, generated from
// src/core/error-codes.ts (run this file to print them).
import { ERROR_CODES } from '../../src/core/error-codes.js';
import { actionYml } from './action.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export async function inputsTable(): Promise<string> {
  const yml = (await actionYml()) as unknown as { inputs: Record<string, { description: string; default?: string; required?: boolean }> };
  const rows = Object.entries(yml.inputs).map(
    ([name, i]) => `| \`${name}\` | ${i.required ? '**required**' : i.default ? `\`${cell(i.default)}\`` : ''} | ${cell(i.description)} |`,
  );
  return ['| input | default | description |', '|---|---|---|', ...rows].join('\n');
}

export async function outputsTable(): Promise<string> {
  const yml = (await actionYml()) as unknown as { outputs: Record<string, { description: string }> };
  const rows = Object.entries(yml.outputs).map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`);
  return ['| output | description |', '|---|---|', ...rows].join('\n');
}

export function errorCodesTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, c]) => `| \`${code}\` | ${cell(c.meaning)} | ${cell(c.fix)} |`);
  return ['| code | meaning | usual fix |', '|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${await inputsTable()}\n\n${await outputsTable()}\n\n${errorCodesTable()}`);
}
