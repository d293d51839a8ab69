// The merge step (`merge-results`): the results files of a matrix's shards, read and checked as one set, become
// one report. It publishes nothing and needs no credential. The set is checked before it is believed: every
// shard 1..N present exactly once, the same provider, target, commit, patterns and match on every shard, no
// file in two shards (nor in a shard it does not belong to), and the files together equal to what was matched.
// Whatever is wrong is a problem that names the shard and its file; the report still shows what it has.
// Vendor-free and GitHub-free: the action's edge (main.ts) and the command line render it.
import { UsageError } from './core/errors.js';
import type { FileResult } from './core/types.js';
import { matchPatterns, shardOf } from './files/match.js';
import { providers } from './providers/index.js';
import type { ProviderInfo, RunFailure } from './providers/types.js';
import { ResultsFileError, fromRecord, readResultsFile, type ResultsFile, type Shard } from './results-file.js';

export interface MergeSettings {
  /** The `merge-results` glob lines. */
  patterns: string[];
  workspace: string;
  includeHiddenFiles: boolean;
  /** The `provider` input, when given: every file must agree with it. */
  provider?: string;
}

/** One results file as the merge saw it. */
export interface MergedFile {
  /** Its path, relative to the workspace. */
  file: string;
  shard?: Shard;
  /** Whether its results are in the merged report (a duplicate, a mismatch or a bad file is left out). */
  used: boolean;
  outcome?: ResultsFile['outcome'];
  /** How many results it holds. */
  count: number;
  failure?: RunFailure;
  error?: string;
  /** Why it is left out (the file's problem), when it is. */
  problem?: string;
}

export interface MergeReport {
  /** The provider the files name (undefined when no file could be read). */
  provider?: ProviderInfo;
  target?: string;
  commit?: string | null;
  /** N of `shard: K/N`; 1 for a single run that was not sharded. */
  total: number;
  /** Whether the shards were dry runs. */
  dryRun: boolean;
  /** Files matched before sharding, as the shards report it. */
  matched?: number;
  /** changed-since: the matched files the shards left out as unchanged since that commit, together. */
  unchanged?: { since: string; commit: string; count: number };
  /** Every results file found, in shard order (then path). */
  files: MergedFile[];
  /** Every file's result once, in path order. */
  results: FileResult[];
  /** Shards for which no usable results file was found. */
  missing: number[];
  /** What is wrong with the set, each naming the shard and its file; any problem fails the step. */
  problems: string[];
}

const shardName = (s: Shard | undefined) => (s ? `shard ${s.index}/${s.total}` : 'the run (not sharded)');
const describe = (f: { file: string; shard?: Shard }) => `${shardName(f.shard)} (${f.file})`;

/** A run that stopped with an error before it had a result for any file. */
const stoppedEarly = (d: ResultsFile) => d.error !== undefined && d.results.length === 0;

/** The fields every shard of one matrix run shares, and how a difference reads. */
const AGREE: { field: string; differs: (a: ResultsFile, b: ResultsFile) => boolean; show: (d: ResultsFile) => string }[] = [
  { field: 'provider', differs: (a, b) => a.provider !== b.provider, show: (d) => d.provider },
  { field: 'target', differs: (a, b) => a.target !== b.target, show: (d) => JSON.stringify(d.target) },
  { field: 'commit', differs: (a, b) => a.commit !== b.commit, show: (d) => d.commit ?? 'unknown' },
  { field: 'shard count', differs: (a, b) => (a.shard?.total ?? 1) !== (b.shard?.total ?? 1), show: (d) => String(d.shard?.total ?? 'not sharded') },
  { field: 'patterns', differs: (a, b) => JSON.stringify(a.patterns) !== JSON.stringify(b.patterns), show: (d) => JSON.stringify(d.patterns) },
  { field: 'dry run', differs: (a, b) => a.dryRun !== b.dryRun, show: (d) => String(d.dryRun) },
  // A run that stopped before it had its files may have stopped before matching: its count says nothing.
  { field: 'matched file count', differs: (a, b) => a.matched !== b.matched && !stoppedEarly(a) && !stoppedEarly(b), show: (d) => String(d.matched) },
];

export async function mergeResults(settings: MergeSettings): Promise<MergeReport> {
  const found = await matchPatterns(settings.patterns, { workspace: settings.workspace, includeHiddenFiles: settings.includeHiddenFiles }).then(
    (m) => m.files,
    (err: unknown) => {
      // The walk names `path`, the input it usually reads; here the patterns are merge-results'.
      if (err instanceof UsageError) throw new UsageError('merge-results', err.message.replace(/^Input 'path': /, ''));
      throw err;
    },
  );
  if (found.length === 0) {
    throw new UsageError(
      'merge-results',
      `no results file matched ${settings.patterns.map((p) => JSON.stringify(p)).join(', ')} in ${settings.workspace}; check that every shard wrote its results-file and uploaded it, and that the download step put them there`,
    );
  }
  const problems: string[] = [];
  const files: MergedFile[] = [];
  const docs = new Map<MergedFile, ResultsFile>();
  for (const f of found) {
    if (f.problem) {
      files.push({ file: f.path, used: false, count: 0, problem: f.problem });
      continue;
    }
    try {
      const doc = await readResultsFile(f.absolutePath, f.path);
      const entry: MergedFile = {
        file: f.path,
        ...(doc.shard ? { shard: doc.shard } : {}),
        used: true,
        outcome: doc.outcome,
        count: doc.results.length,
        ...(doc.failure ? { failure: doc.failure } : {}),
        ...(doc.error !== undefined ? { error: doc.error } : {}),
      };
      files.push(entry);
      docs.set(entry, doc);
    } catch (err) {
      if (!(err instanceof ResultsFileError)) throw err;
      files.push({ file: f.path, used: false, count: 0, problem: err.problem });
    }
  }
  for (const f of files) if (f.problem) problems.push(`${f.file}: ${f.problem}`);
  // Shard order, then path: the reference is the lowest shard's first file.
  files.sort((a, b) => (a.shard?.index ?? 0) - (b.shard?.index ?? 0) || (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const readable = files.filter((f) => docs.has(f));
  const reference = readable[0];
  const ref = reference ? docs.get(reference)! : undefined;

  const reject = (f: MergedFile, problem: string) => {
    f.used = false;
    f.problem = problem;
    problems.push(problem);
  };
  if (reference && ref) {
    if (settings.provider !== undefined && settings.provider !== ref.provider) {
      for (const f of readable) reject(f, `${describe(f)} was published to ${docs.get(f)!.provider}, but the provider input says ${settings.provider}`);
    }
    for (const f of readable.slice(1)) {
      if (!f.used) continue;
      const doc = docs.get(f)!;
      const d = AGREE.find((a) => a.differs(doc, ref));
      if (d) reject(f, `${describe(f)} has ${d.field} ${d.show(doc)}, but ${describe(reference)} has ${d.show(ref)}: the files are not from one matrix run`);
    }
    // A run that was not sharded is a set of one: a second such file is a duplicate (below), and beside shards
    // its shard count differs (above).
  }

  const total = ref?.shard?.total ?? 1;
  // Each shard exactly once: a second file for a shard is named with the first.
  const byShard = new Map<number, MergedFile>();
  for (const f of files) {
    if (!f.used) continue;
    const index = f.shard?.index ?? 1;
    const first = byShard.get(index);
    if (first) reject(f, `${shardName(f.shard)} appears twice: ${first.file} and ${f.file} (give each shard's artifact a name of its own, and run the merge on one run's files)`);
    else byShard.set(index, f);
  }
  const missing: number[] = [];
  if (ref) {
    for (let k = 1; k <= total; k++) {
      if (byShard.has(k)) continue;
      missing.push(k);
      const rejected = files.filter((f) => !f.used && f.shard?.index === k && f.shard.total === total);
      problems.push(
        rejected.length > 0
          ? `shard ${k}/${total} has no usable results file (${rejected.map((f) => f.file).join(', ')} left out, above): its files are not in this report`
          : `shard ${k}/${total} is missing: no results file for it was found (its job failed before writing results-file, or its artifact was not uploaded or downloaded): its files are not in this report`,
      );
    }
  }

  // Every file once, in the shard it belongs to.
  const owner = new Map<string, MergedFile>();
  const results: FileResult[] = [];
  for (const f of files) {
    if (!f.used) continue;
    const doc = docs.get(f)!;
    for (const r of doc.results) {
      const other = owner.get(r.path);
      if (other) {
        problems.push(`${JSON.stringify(r.path)} is in ${describe(other)} and in ${describe(f)}: a file belongs to one shard`);
        continue;
      }
      if (f.shard && shardOf(r.path, f.shard.total) !== f.shard.index) {
        problems.push(`${JSON.stringify(r.path)} is listed by ${describe(f)} but belongs to shard ${shardOf(r.path, f.shard.total)}/${f.shard.total}`);
      }
      owner.set(r.path, f);
      results.push(fromRecord(r));
    }
  }
  results.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  // The union equals what was matched: a shard that stopped early (or lost files) is named.
  const matched = [...docs.entries()].find(([f, d]) => f.used && !stoppedEarly(d))?.[1].matched ?? ref?.matched;
  // Files changed-since left out are counted by their shard, not listed: together with the results they are the match.
  const usedDocs = files.filter((f) => f.used).map((f) => docs.get(f)!);
  const sinceDoc = usedDocs.find((d) => d.unchanged);
  const unchanged = sinceDoc?.unchanged ? { since: sinceDoc.unchanged.since, commit: sinceDoc.unchanged.commit, count: usedDocs.reduce((n, d) => n + (d.unchanged?.count ?? 0), 0) } : undefined;
  if (ref && matched !== undefined && missing.length === 0 && results.length + (unchanged?.count ?? 0) !== matched) {
    const stopped = files.filter((f) => f.used && f.error !== undefined);
    const names = stopped.map((f) => `${describe(f)} stopped with: ${f.error}`);
    problems.push(
      `the shards report ${results.length} file(s)${unchanged ? ` and ${unchanged.count} left out as unchanged since ${unchanged.since}` : ''}, but ${matched} were matched${names.length ? `; ${names.join('; ')}` : ': a shard left files out'}`,
    );
  }

  const provider = ref ? providers.find((p) => p.id === ref.provider) : undefined;
  return {
    ...(provider ? { provider } : {}),
    ...(ref ? { target: ref.target, commit: ref.commit } : {}),
    ...(matched !== undefined ? { matched } : {}),
    ...(unchanged ? { unchanged } : {}),
    total,
    dryRun: ref?.dryRun ?? false,
    files,
    results,
    missing,
    problems,
  };
}

/** The merged report's first line about the shards: how many files from how many shards, and what is missing. */
export function shardsLine(m: MergeReport): string {
  const used = m.files.filter((f) => f.used).length;
  const base = m.total > 1 ? `Merged ${used} of ${m.total} shards' results` : `Read ${used} results file(s)`;
  const missing = m.missing.length > 0 ? `; missing: ${m.missing.map((k) => `shard ${k}/${m.total}`).join(', ')}` : '';
  const listed = m.results.length + (m.unchanged?.count ?? 0);
  const files = m.matched !== undefined && listed !== m.matched ? ` (${listed} of the ${m.matched} files matched)` : '';
  return `${base}${m.commit ? ` for commit ${m.commit.slice(0, 12)}` : ''}${files}${missing}`;
}

/** How a results file reads in the shards table. */
export function fileOutcome(f: MergedFile): string {
  if (f.problem) return `left out: ${f.problem}`;
  if (f.outcome === 'cancelled') return `cancelled, ${f.count} file(s)`;
  if (f.failure) return `the run failed: ${f.failure.message}`;
  if (f.error !== undefined) return `the run stopped: ${f.error}`;
  return `completed, ${f.count} file(s)`;
}
