// One table of inputs (src/action-inputs.ts) feeds the command line's flags and --help; action.yml must say
// exactly what it says, in the same order, so the action and the CLI cannot drift apart.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INPUTS } from '../../src/action-inputs.js';
import { FLAGS, helpText, nearestFlag, parseArgs } from '../../src/cli-args.js';
import { ROOT } from '../support/action.js';

describe('the inputs table', async () => {
  const yml = parse(await readFile(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, { description: string; default?: string; required?: boolean }> };
  it('is action.yml, input for input, in order', () => {
    expect(INPUTS.map((i) => ({ name: i.name, description: i.description, default: i.default, required: i.required }))).toEqual(
      Object.entries(yml.inputs).map(([name, i]) => ({ name, description: i.description, default: i.default, required: Boolean(i.required) })),
    );
  });
  it('gives every input but the pull-request comment a flag, with its meaning in --help', () => {
    const help = helpText('9.9.9');
    for (const input of INPUTS) {
      if (input.actionOnly) expect(help).not.toContain(`--${input.name} `);
      else expect(help.replace(/\s+/g, ' ')).toContain(input.description);
    }
    expect(FLAGS.map((f) => f.name)).toContain('workspace');
  });
  it.each([
    ['dryrun', 'dry-run'],
    ['dry_run', 'dry-run'],
    ['projectid', 'project-id'],
    ['servr-url', 'server-url'],
    ['provder', 'provider'],
    ['paths', 'path'],
    ['verison', 'version'],
    ['zzzzzz', undefined],
  ])('--%s is nearest to %s', (typo, flag) => expect(nearestFlag(typo)).toBe(flag));
  it('reads MODEL_PUBLISHER_* and refuses a mistyped one', () => {
    const r = parseArgs(['--path', 'a/*.step', '--path=b/*.stl'], { MODEL_PUBLISHER_DRY_RUN: 'true', MODEL_PUBLISHER_PATH: 'ignored' });
    expect(r.kind === 'run' && [r.env['INPUT_DRY-RUN'], r.env['INPUT_PATH']]).toEqual(['true', 'a/*.step\nb/*.stl']);
    expect(() => parseArgs([], { MODEL_PUBLISHER_DRYRUN: 'true' })).toThrow(/unknown environment variable "MODEL_PUBLISHER_DRYRUN"; did you mean MODEL_PUBLISHER_DRY_RUN\?/);
  });
  it('takes the shard from GitLab CI parallel: variables when --shard is not given', () => {
    const gitlab = { CI_NODE_INDEX: '2', CI_NODE_TOTAL: '4' };
    const run = (argv: string[], env: Record<string, string>) => {
      const r = parseArgs(argv, env);
      return r.kind === 'run' ? [r.env['INPUT_SHARD'], r.shardFrom] : undefined;
    };
    expect(run([], gitlab)).toEqual(['2/4', expect.stringContaining("shard 2/4 from GitLab CI's CI_NODE_INDEX and CI_NODE_TOTAL")]);
    expect(run(['--shard', '1/1'], gitlab)).toEqual(['1/1', undefined]);
    expect(run([], { ...gitlab, MODEL_PUBLISHER_SHARD: '3/4' })).toEqual(['3/4', undefined]);
    // A job that is not parallel has CI_NODE_TOTAL=1 and no CI_NODE_INDEX; the merge job is no shard.
    expect(run([], { CI_NODE_TOTAL: '1' })).toEqual([undefined, undefined]);
    expect(run(['--merge-results', 'r/*.json'], gitlab)).toEqual([undefined, undefined]);
    expect(() => parseArgs([], { CI_NODE_INDEX: 'two', CI_NODE_TOTAL: '4' })).toThrow(/CI_NODE_INDEX="two" and CI_NODE_TOTAL="4" do not make a shard.*--shard K\/N/);
  });
});
