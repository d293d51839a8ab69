// The command line's flags: the action's inputs (src/action-inputs.ts, the table action.yml is held equal to),
// plus --workspace, --help and --version. Strict: an unknown flag, a flag without its value or a stray argument
// is an error that says what was meant, before anything is read or sent.
import { INPUTS, type InputSpec } from './action-inputs.js';
import { providerIds } from './providers/index.js';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export type CliRequest =
  | { kind: 'help' }
  | { kind: 'version' }
  /** `shardFrom`: where the shard came from when no --shard was given (GitLab CI's parallel: variables). */
  | { kind: 'run'; env: Record<string, string | undefined>; shardFrom?: string };

interface Flag {
  name: string;
  description: string;
  default?: string;
  boolean: boolean;
}

const WORKSPACE: Flag = { name: 'workspace', description: 'The directory that path patterns are relative to (default: the current directory).', boolean: false };

/** Every flag the program takes, in action.yml's order. */
export const FLAGS: readonly Flag[] = [
  ...INPUTS.filter((i) => !i.actionOnly).map((i: InputSpec) => ({
    name: i.name,
    description: i.description,
    ...(i.default ? { default: i.default } : {}),
    boolean: i.default === 'true' || i.default === 'false',
  })),
  WORKSPACE,
];
const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));
const ENV_PREFIX = 'MODEL_PUBLISHER_';

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/** The flag a mistyped name most likely meant, if one is close enough. */
export function nearestFlag(name: string): string | undefined {
  const bare = name.replace(/^-+/, '').toLowerCase();
  const squash = (s: string) => s.replace(/[-_]/g, '');
  let best: { name: string; d: number } | undefined;
  for (const f of [...FLAGS.map((f) => f.name), 'help', 'version']) {
    const d = squash(f) === squash(bare) ? 0 : distance(bare, f);
    if (!best || d < best.d) best = { name: f, d };
  }
  return best && best.d <= Math.max(2, Math.floor(bare.length / 3)) ? best.name : undefined;
}

function unknown(what: string, name: string, spell: (flag: string) => string): CliUsageError {
  const near = nearestFlag(name);
  return new CliUsageError(`unknown ${what} ${JSON.stringify(spell(name))}${near ? `; did you mean ${spell(near)}?` : ''} (see --help for every flag)`);
}

const asFlag = (name: string) => `--${name}`;
const asEnv = (name: string) => `${ENV_PREFIX}${name.toUpperCase().replace(/-/g, '_')}`;

/** Turn argv and the environment into the runner-style environment (INPUT_*) the configuration reads. */
export function parseArgs(argv: readonly string[], env: Record<string, string | undefined>): CliRequest {
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help' };
  if (argv.includes('--version') || argv.includes('-V')) return { kind: 'version' };
  const out: Record<string, string | undefined> = { ...env };
  // The environment first, flags override it; a repeated --path adds a line.
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(ENV_PREFIX) || value === undefined) continue;
    const name = key.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-');
    const flag = BY_NAME.get(name);
    if (!flag) throw unknown('environment variable', name, asEnv);
    if (flag === WORKSPACE) out['GITHUB_WORKSPACE'] = value;
    else out[`INPUT_${name.toUpperCase()}`] = value;
  }
  const given = new Set<string>();
  const strays: string[] = [];
  let after: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-') {
      strays.push(arg);
      continue;
    }
    const m = arg.match(/^--?([^=]*)(?:=(.*))?$/s);
    const name = m?.[1] ?? '';
    const flag = arg.startsWith('--') ? BY_NAME.get(name) : undefined;
    if (!flag) throw unknown('flag', name, (n) => (n === name ? arg.replace(/=.*$/s, '') : asFlag(n)));
    let value = m?.[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (flag.boolean) {
        // A boolean flag alone means true: `--dry-run`. `--dry-run false` still works.
        if (next !== undefined && /^(true|false)$/i.test(next)) value = argv[++i];
        else value = 'true';
      } else if (next === undefined || (next.startsWith('-') && next !== '-')) {
        throw new CliUsageError(`--${name} needs a value, e.g. --${name} ${flag.name === 'path' ? "'models/**/*.ifc'" : '<value>'}`);
      } else {
        value = argv[++i];
      }
    }
    const again = given.has(name);
    if (again && name !== 'path') throw new CliUsageError(`--${name} is given twice; give it once`);
    given.add(name);
    after = name;
    if (flag === WORKSPACE) out['GITHUB_WORKSPACE'] = value;
    else out[`INPUT_${name.toUpperCase()}`] = again ? `${out['INPUT_PATH']}\n${value}` : value;
  }
  if (strays.length > 0) {
    const listed = strays.slice(0, 3).map((s) => JSON.stringify(s)).join(', ') + (strays.length > 3 ? `, … (${strays.length} in all)` : '');
    const expanded = strays.length > 1 || after === 'path';
    throw new CliUsageError(
      expanded
        ? `unexpected arguments ${listed}: the shell expanded a glob pattern into file names before the program saw it. Quote the pattern so it reaches the program whole: --path 'models/**/*.ifc'`
        : `unexpected argument ${listed}: every setting is a flag (--provider speckle); to publish files matching it, pass --path ${JSON.stringify(strays[0])}`,
    );
  }
  // GitLab CI's `parallel: N` gives each job CI_NODE_INDEX (1-based, set only in a parallel job) and
  // CI_NODE_TOTAL: the shard, unless --shard (or MODEL_PUBLISHER_SHARD) says otherwise. A merge job is not a shard.
  const nodeIndex = env['CI_NODE_INDEX'] ?? '';
  if ((out['INPUT_SHARD'] ?? '') === '' && (out['INPUT_MERGE-RESULTS'] ?? '') === '' && nodeIndex !== '') {
    const nodeTotal = env['CI_NODE_TOTAL'] ?? '';
    if (!/^\d{1,4}$/.test(nodeIndex) || !/^\d{1,4}$/.test(nodeTotal)) {
      throw new CliUsageError(
        `GitLab CI's CI_NODE_INDEX=${JSON.stringify(nodeIndex)} and CI_NODE_TOTAL=${JSON.stringify(nodeTotal)} do not make a shard (whole numbers, the index from 1); pass --shard K/N, or --shard 1/1 to publish every file`,
      );
    }
    out['INPUT_SHARD'] = `${nodeIndex}/${nodeTotal}`;
    return { kind: 'run', env: out, shardFrom: `shard ${nodeIndex}/${nodeTotal} from GitLab CI's CI_NODE_INDEX and CI_NODE_TOTAL (parallel:); pass --shard to choose another` };
  }
  return { kind: 'run', env: out };
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

/** --help: every flag with its meaning, from the same table as action.yml. */
export function helpText(version: string): string {
  const flags = FLAGS.map((f) => {
    const head = `  --${f.name}${f.boolean ? ' [true|false]' : ' <value>'}${f.default ? `  (default: ${f.default})` : ''}`;
    const env = f === WORKSPACE ? `${ENV_PREFIX}WORKSPACE` : asEnv(f.name);
    return `${head}\n${wrap(`${f.description} Environment: ${env}.`, 92, '      ')}`;
  });
  return [
    `model-publisher ${version}: publish engineering files to Speckle, First Resonance ION, Coldstream or ARCNM.`,
    '',
    `Usage: model-publisher --provider <${providerIds().join('|')}> --path '<glob>' [--<flag> <value>]...`,
    '',
    'Quote glob patterns so the shell does not expand them; repeat --path for several patterns. Every flag can',
    'also be set as an environment variable; a flag overrides it. The results JSON goes to stdout, progress and a',
    'plain-text summary to stderr. Exit code: 0 when every file was published (or fail-on-error is false),',
    '1 when a file failed, 2 for bad input (an unknown flag, a missing value, an input out of range).',
    'In a GitLab CI job with parallel: N, the shard is read from CI_NODE_INDEX/CI_NODE_TOTAL when --shard is',
    'not given. --merge-results reads the shards\' --results-file files and prints the merged results (exit',
    'code 1 also when a shard is missing, duplicated or from another run).',
    '',
    'Flags:',
    ...flags,
    '  --help, -h',
    '      Print this help.',
    '  --version, -V',
    '      Print the version.',
  ].join('\n');
}
