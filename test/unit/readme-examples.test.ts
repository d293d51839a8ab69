// README examples are code: every ```yaml block in README.md parses strictly (duplicate keys, tabs and other
// YAML errors fail), and every workflow among them passes actionlint 1.7.x and this project's rules for a
// workflow people paste: permissions, a concurrency group, current major versions of GitHub's own actions, step
// outputs passed to scripts through env:, and the action's tag as the release workflow makes it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { FLAGS } from '../../src/cli-args.js';
import { CURRENT_MAJOR, actionlint } from '../support/actionlint.js';
import { ROOT } from '../support/action.js';

interface Block {
  line: number;
  text: string;
}

export function yamlBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ya?ml\s*$/.test(lines[i]!)) continue;
    const start = i + 1;
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!));
    if (i >= lines.length) throw new Error(`README.md:${start}: a yaml block is never closed`);
    blocks.push({ line: start + 1, text: `${lines.slice(start, i).join('\n')}\n` });
  }
  return blocks;
}

function parseStrict(text: string) {
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, prettyErrors: true });
  return { doc, problems: [...doc.errors, ...doc.warnings].map((e) => e.message) };
}

/** Every `run:` script and every `uses:` reference in a workflow. */
function stepsOf(workflow: any): { uses?: string; run?: string; env?: unknown }[] {
  return Object.values<any>(workflow.jobs ?? {}).flatMap((job) => (Array.isArray(job?.steps) ? job.steps : []));
}

describe('README examples', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const major = pkg.version.split('.')[0];
  const blocks = yamlBlocks(readme);
  const named = blocks.map((b) => [`README.md:${b.line}`, b] as const);
  const workflows = named.filter(([, b]) => (parseStrict(b.text).doc.toJS() as any)?.jobs !== undefined);

  it('has yaml examples, most of them workflows', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    expect(workflows.length).toBeGreaterThanOrEqual(6);
  });

  it.each(named)('%s is valid YAML (strict: unique keys, no warnings)', (_, b) => {
    const { doc, problems } = parseStrict(b.text);
    expect(problems).toEqual([]);
    expect(isMap(doc.contents)).toBe(true);
  });

  it.each(workflows)('%s passes actionlint', async (name, b) => {
    expect(await actionlint(b.text, name)).toEqual([]);
  });

  it.each(workflows)('%s is a whole workflow with permissions and a concurrency group', (_, b) => {
    const wf = parseStrict(b.text).doc.toJS() as any;
    expect(wf.on, 'an on: trigger, so the example is a workflow as it stands').toBeDefined();
    const jobs = Object.values<any>(wf.jobs);
    expect(wf.permissions !== undefined || jobs.every((j) => j.permissions !== undefined), 'permissions: for the workflow or every job').toBe(true);
    expect(wf.concurrency !== undefined || jobs.every((j) => j.concurrency !== undefined), 'concurrency: so two runs never publish the same files at once').toBe(true);
  });

  it.each(workflows)('%s uses current major versions and this action by its release tag', (_, b) => {
    const wf = parseStrict(b.text).doc.toJS() as any;
    for (const step of stepsOf(wf)) {
      if (!step.uses) continue;
      const [repo, ref] = step.uses.split('@') as [string, string];
      if (repo in CURRENT_MAJOR) expect(step.uses).toBe(`${repo}@v${CURRENT_MAJOR[repo]}`);
      if (repo.endsWith('/model-publisher')) expect(step.uses).toBe(`acme/model-publisher@v${major}`);
      expect(ref, `${step.uses}: a version`).toMatch(/^v\d+/);
    }
    expect(stepsOf(wf).some((s) => s.uses?.endsWith('/model-publisher@v' + major))).toBe(true);
  });

  it.each(workflows)('%s passes expressions to scripts through env:, never into the script', (_, b) => {
    const { doc } = parseStrict(b.text);
    const scripts: string[] = [];
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && pair.key.value === 'run' && isScalar(pair.value)) scripts.push(String(pair.value.value));
      },
    });
    for (const script of scripts) expect(script).not.toContain('${{');
  });

  it('refers to this action everywhere by one name and the major tag the release workflow moves', () => {
    const uses = [...readme.matchAll(/([\w.-]+)\/model-publisher@(\S+)/g)];
    const clones = [...readme.matchAll(/--branch (\S+) https:\/\/github\.com\/([\w.-]+)\/model-publisher/g)];
    expect(uses.length + clones.length).toBeGreaterThan(0);
    for (const [, owner, tag] of uses) expect(`${owner}@${tag}`).toBe(`acme@v${major}`);
    for (const [, tag, owner] of clones) expect(`${owner}@${tag}`).toBe(`acme@v${major}`);
  });

  // GitLab CI examples (blocks that start with `# .gitlab-ci.yml`): jobs that GitLab would accept as written, and
  // command lines with flags the program has.
  const gitlab = named.filter(([, b]) => b.text.startsWith('# .gitlab-ci.yml'));
  const GLOBAL = new Set(['stages', 'variables', 'default', 'include', 'workflow', 'image', 'services', 'cache', 'before_script', 'after_script']);
  const jobsOf = (ci: Record<string, any>) => Object.entries(ci).filter(([k]) => !GLOBAL.has(k) && !k.startsWith('.'));
  const scriptOf = (job: any): string => (Array.isArray(job.script) ? job.script.join('\n') : String(job.script ?? ''));
  const flagsIn = (script: string) => [...script.matchAll(/dist\/cli\/index\.js([^\n]*)/g)].flatMap((m) => [...m[1]!.matchAll(/(?:^|\s)--([a-z-]+)/g)].map((f) => f[1]!));

  it('has GitLab CI examples, one of them a fan-out and merge', () => {
    expect(gitlab.length).toBeGreaterThanOrEqual(2);
  });

  it.each(gitlab)('%s is GitLab CI as it stands: jobs with scripts, stages and needs that exist, real flags', (_, b) => {
    const ci = parseStrict(b.text).doc.toJS() as Record<string, any>;
    const stages: string[] | undefined = ci['stages'];
    const jobs = jobsOf(ci);
    expect(jobs.length).toBeGreaterThan(0);
    const known = new Set([...FLAGS.map((f) => f.name), 'help', 'version']);
    for (const [name, job] of jobs) {
      expect(scriptOf(job), `${name}: a script`).not.toBe('');
      if (job.stage !== undefined) expect(stages, `${name}: its stage is listed in stages:`).toContain(job.stage);
      for (const need of job.needs ?? []) expect(ci, `${name} needs a job of this file`).toHaveProperty([typeof need === 'string' ? need : need.job]);
      for (const flag of flagsIn(scriptOf(job))) expect(known, `${name}: --${flag} is a flag of the program`).toContain(flag);
      // Expressions belong to GitHub: GitLab expands $VARIABLES, and ${{ }} would reach the shell as it is.
      expect(scriptOf(job)).not.toContain('${{');
    }
  });

  it('shows GitLab fan-out and merge: parallel: N writes --results-file artifacts always, a job that needs them merges always', () => {
    const fanOut = gitlab
      .map(([, b]) => parseStrict(b.text).doc.toJS() as Record<string, any>)
      .find((ci) => jobsOf(ci).some(([, job]) => Number.isInteger(job.parallel) && job.parallel >= 2));
    expect(fanOut, 'a GitLab example with a parallel: N job').toBeDefined();
    const jobs = jobsOf(fanOut!);
    const [shardName, shard] = jobs.find(([, job]) => Number.isInteger(job.parallel))!;
    // The shard comes from CI_NODE_INDEX/CI_NODE_TOTAL; each copy writes a file of its own, kept even when it fails.
    expect(flagsIn(scriptOf(shard))).not.toContain('shard');
    expect(scriptOf(shard)).toMatch(/--results-file "?[\w/.-]*\$CI_NODE_INDEX[\w.-]*"?/);
    expect(shard.artifacts?.when).toBe('always');
    const dir = scriptOf(shard).match(/--results-file "?([\w.-]+)\//)![1]!;
    expect(shard.artifacts?.paths.some((p: string) => p.replace(/\/$/, '') === dir)).toBe(true);
    const merge = jobs.find(([, job]) => flagsIn(scriptOf(job)).includes('merge-results'));
    expect(merge, 'a job that merges').toBeDefined();
    const [, report] = merge!;
    expect((report.needs ?? []).map((n: any) => (typeof n === 'string' ? n : n.job))).toContain(shardName);
    // It runs when a shard failed too: that is when its report matters most.
    expect(report.when === 'always' || (report.rules ?? []).every((r: any) => r.when === 'always')).toBe(true);
    expect(scriptOf(report)).toContain(`--merge-results '${dir}/*.json'`);
  });

  it('the rules above catch what they are for', async () => {
    const bad = 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "ids: ${{ steps.x.outputs.ids }}"\n      - run: echo ids: 1\n';
    expect(parseStrict(bad).problems.join('\n')).toMatch(/Nested mappings|mapping/i);
    expect(parseStrict('a: 1\na: 2\n').problems.join('\n')).toMatch(/unique/i);
    expect(yamlBlocks('x\n```yaml\na: 1\n```\n```yml\nb: 2\n```\n').map((b) => b.text)).toEqual(['a: 1\n', 'b: 2\n']);
    expect(isSeq(parseDocument('- a').contents)).toBe(true);
  });
});
