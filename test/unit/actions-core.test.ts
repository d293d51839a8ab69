// src/github/actions-core.ts takes @actions/core's functions from its modules instead of its index (which
// loads undici's whole index at start-up): the same calls must write exactly what @actions/core writes.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as actionsCore from '@actions/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as ours from '../../src/github/actions-core.js';

type Core = Pick<typeof ours, 'setSecret' | 'setOutput' | 'setFailed' | 'debug' | 'error' | 'warning' | 'info'>;

const TEXT = ['plain', 'a%b\r\nc::warning::x', 'title: a, b', '', 'ünï 🚀'];

async function written(core: Core): Promise<{ stdout: string; output: string; exitCode: typeof process.exitCode }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp-core-'));
  const outputFile = path.join(dir, 'output');
  await writeFile(outputFile, '');
  vi.stubEnv('GITHUB_OUTPUT', outputFile);
  let stdout = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const exitCode = process.exitCode;
  let failedWith: typeof process.exitCode;
  try {
    for (const t of TEXT) {
      core.setSecret(t);
      core.setOutput(`out-${TEXT.indexOf(t)}`, t);
      core.debug(t);
      core.info(t);
      core.warning(t);
      core.error(t, { title: t, file: t });
      core.warning(new Error(t));
    }
    core.setFailed('failed: %0A');
    failedWith = process.exitCode;
  } finally {
    write.mockRestore();
    process.exitCode = exitCode;
  }
  // The output file's delimiters are random per call: compare them as a placeholder.
  const output = (await readFile(outputFile, 'utf8')).replace(/ghadelimiter_[0-9a-f-]+/g, 'ghadelimiter_X');
  return { stdout, output, exitCode: failedWith };
}

afterEach(() => vi.unstubAllEnvs());

describe('the GitHub edge without @actions/core’s index', () => {
  it('writes what @actions/core writes: commands, outputs, annotations and the exit code', async () => {
    const expected = await written(actionsCore);
    const actual = await written(ours);
    expect(actual).toEqual(expected);
    expect(actual.exitCode).toBe(1);
    expect(actual.stdout).toContain('::error title=title%3A a%2C b,file=title%3A a%2C b::title: a, b');
    expect(actual.output).toContain('out-1<<ghadelimiter_X');
  });

  it('writes the job summary with @actions/core’s own summary (the same module, not a copy)', () => {
    expect(ours.summary).toBe(actionsCore.summary);
  });
});
