// Turns the `path` patterns into the list of files to publish, in ONE walk of the file system: from each
// include pattern's literal root, reading folders and stat-ing files with synchronous calls in batches (a turn
// of the event loop between), the stat calls of a large walk shared with a second thread, never entering a folder an exclusion removes whole, following symbolic links only where they resolve inside
// the workspace (a folder reached again through a link is not walked twice), reading names as bytes so a name
// that is not UTF-8 is reported, not dropped. Directories are dropped, hidden files left out unless asked for,
// the list sorted, deduplicated and cut to this job's shard; the same walk notes which include line matched a
// file, for the typo warning. Pure planning: nothing is read or sent.
//
// Until issue 16 this was @actions/glob's listing plus two more walks (odd entries, one per include line). Its
// walk is sequential (one lstat/stat and realpath per entry, awaited one after the other), enters every folder an
// include may reach even when an exclusion removes it whole, drops names that are not UTF-8 and dangling links,
// and throws on a link loop: about 30x `find` on 50,000 files. The options it offers cannot change that, so the
// walk is ours; its pattern meaning is kept exactly (src/files/patterns.ts mirrors its Pattern on minimatch).
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { type Dirent, type Stats, readdirSync, statSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../core/errors.js';
import type { LocalFile } from '../core/types.js';
import { inside, problemFile, reasons } from './odd.js';
import {
  MATCH_FILE,
  type NameTest,
  type Pattern,
  anyPartialMatch,
  compile,
  coverage,
  coverageFromTop,
  excludedWhole,
  folderTests,
  matchAll,
  matchAllFile,
  matchAllName,
  searchPaths,
} from './patterns.js';

export interface MatchOptions {
  workspace: string;
  includeHiddenFiles: boolean;
  shard?: { index: number; total: number };
}

export interface MatchResult {
  /** Sorted by path, deduplicated, this shard's share. */
  files: LocalFile[];
  /**
   * The include lines that match no file on their own (exclusions aside: a line whose files are all excluded
   * matched them), so a mistyped pattern is named even when other lines match; only named when there are
   * several include lines. A matched entry that cannot be read (odd.ts) counts as a match.
   */
  unmatched: string[];
  /** How many files matched before the list was cut to this shard: the whole set the N shards share. */
  matched: number;
}

/** Anchor each pattern in the workspace; a pattern that climbs out of it is refused. */
export function anchorPatterns(patterns: readonly string[], workspace: string): string[] {
  return patterns.map((line) => {
    const negate = line.startsWith('!');
    const pattern = negate ? line.slice(1).trim() : line;
    const absolute = path.resolve(workspace, pattern);
    if (!inside(workspace, absolute)) {
      throw new UsageError('path', `pattern ${JSON.stringify(line)} leads outside the workspace (${workspace}); use paths relative to the repository`);
    }
    return `${negate ? '!' : ''}${absolute}`;
  });
}

/** Stable across jobs and across runs: a file's shard depends on its path only, not on what else matched. */
export function shardOf(relativePath: string, total: number): number {
  const h = createHash('sha256').update(relativePath).digest();
  return (h.readUInt32BE(0) % total) + 1;
}

/** File-system calls in flight at once: enough to keep libuv's threads and the disk busy, bounded. */
const IN_FLIGHT = 32;
/** Names read synchronously between two turns of the event loop (readFolder). */
const READ_BATCH = 2048;
/** Synchronous stat calls between two turns of the event loop (statFiles). */
const STAT_BATCH = 512;
/**
 * Matched files the walk stats as it finds them; past these, it starts a thread (about 30 ms of the other core
 * and 10 MiB to start, so a run matching a few files never starts one) and leaves the rest to the end.
 */
const STAT_THREAD_AFTER = 4096;
/** Files per list handed to the stat thread; two lists are in its hands at a time, so it never waits. */
const STAT_THREAD_LIST = 1024;
/** Files the walk stats itself between two turns of the event loop while the thread stats beside it. */
const STAT_OWN_LIST = 256;

// The stat thread's code (CommonJS, as `eval` workers are): the size of each path that is a file, else -1.
const STAT_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { statSync } = require('node:fs');
parentPort.on('message', (paths) => {
  const sizes = new Float64Array(paths.length);
  for (let i = 0; i < paths.length; i++) {
    let info;
    try { info = statSync(paths[i], { throwIfNoEntry: false }); } catch {}
    sizes[i] = info !== undefined && info.isFile() ? info.size : -1;
  }
  parentPort.postMessage(sizes);
});
`;

/**
 * A second thread that stats lists of files for a large walk, so the stat calls (most of a walk's time: the
 * readdir gives names and types, not sizes) run on both cores. Answers come in the order asked. If the thread
 * fails, every pending and later list is answered `undefined` and the walk stats them itself.
 */
class StatThread {
  private readonly worker: Worker;
  private readonly waiting: ((sizes: Float64Array | undefined) => void)[] = [];
  private broken = false;

  constructor() {
    this.worker = new Worker(STAT_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', (sizes: Float64Array) => this.answer(sizes));
    this.worker.on('error', () => this.fail());
    this.worker.on('exit', () => this.fail());
  }

  private answer(sizes: Float64Array | undefined): void {
    this.waiting.shift()?.(sizes);
  }

  private fail(): void {
    this.broken = true;
    while (this.waiting.length > 0) this.answer(undefined);
  }

  get working(): boolean {
    return !this.broken;
  }

  sizes(paths: string[]): Promise<Float64Array | undefined> {
    return new Promise((answer) => {
      this.waiting.push(answer);
      this.worker.postMessage(paths);
    });
  }

  close(): void {
    this.broken = true;
    void this.worker.terminate();
  }
}

/** A folder the walk entered, with its real path (a link back to one above it is a cycle) and coverage. */
interface Folder {
  path: string;
  real: string;
  parent?: Folder;
  /** covered[i]: patterns[i] takes everything below this folder (patterns.ts coverage). */
  covered: boolean[];
}

type Kind = 'file' | 'dir' | 'link' | 'other';
const kindOf = (d: Pick<Dirent, 'isFile' | 'isDirectory' | 'isSymbolicLink'>): Kind =>
  d.isFile() ? 'file' : d.isDirectory() ? 'dir' : d.isSymbolicLink() ? 'link' : 'other';

/**
 * One walk: a pool of steps (a folder read, a link's stat and realpath), at most IN_FLIGHT at once, each
 * followed by synchronous work that queues the next steps. Folders are read and files stat-ed with synchronous
 * calls (readFolder, statFiles); links are followed with asynchronous ones. Matching is synchronous, on strings.
 */
class Walk {
  readonly files = new Map<string, LocalFile>();
  /** Include lines (indexes into the anchored lines) that matched at least one file, exclusions aside. */
  readonly matchedLines = new Set<number>();
  /** Folders an exclusion removed whole, left unwalked: asked again only for lines that matched nothing. */
  readonly pruned: Folder[] = [];
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private failure: { error: unknown } | undefined;
  private settle: ((failure?: { error: unknown }) => void) | undefined;
  /** Pattern indexes per include line, for the typo warning. */
  private readonly lines: number[][];
  private readonly prunes: boolean;
  private readonly prefix: string;
  /** Matched files found so far; past STAT_THREAD_AFTER, the lists left to stat at the end, and the thread. */
  private statted = 0;
  private readonly later: { folder: Folder; names: readonly string[]; tests: readonly NameTest[] | undefined }[] = [];
  private statThread: StatThread | undefined;
  /** Names read since the last turn of the event loop. */
  private unyielded = 0;
  stopped = false;

  constructor(
    private readonly workspace: string,
    private readonly patterns: readonly Pattern[],
    private readonly includeHiddenFiles: boolean,
    /** The main walk: refuses links that leave the workspace, prunes, records files. Else: one line's search. */
    private readonly main: boolean,
  ) {
    this.prunes = main && patterns.some((p) => p.negate);
    this.prefix = workspace === '/' ? '/' : `${workspace}/`;
    const byLine = new Map<number, number[]>();
    patterns.forEach((p, i) => {
      if (!p.negate) byLine.set(p.line, [...(byLine.get(p.line) ?? []), i]);
    });
    this.lines = [...byLine.values()];
  }

  /** Runs the walk from `start` (which queues the first calls) to its last call; rejects with its first error. */
  async run(start: () => void): Promise<void> {
    const done = new Promise<{ error: unknown } | undefined>((resolve) => (this.settle = resolve));
    start();
    this.pump();
    let failure = await done;
    if (!failure && this.later.length > 0) failure = await this.statLater().then(() => undefined, (error: unknown) => ({ error }));
    this.statThread?.close();
    if (failure) throw failure.error;
  }

  private call(op: () => Promise<void>): void {
    this.queue.push(op);
  }

  private pump(): void {
    while (this.running < IN_FLIGHT && this.queue.length > 0 && !this.failure && !this.stopped) {
      const op = this.queue.pop()!;
      this.running++;
      op().then(
        () => this.finished(),
        (error: unknown) => {
          this.failure ??= { error };
          this.finished();
        },
      );
    }
    if (this.running === 0 && (this.queue.length === 0 || this.failure || this.stopped)) this.settle?.(this.failure);
  }

  private finished(): void {
    this.running--;
    this.pump();
  }

  root(searchPath: string): void {
    this.call(async () => {
      const info = await lstat(searchPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
        throw err;
      });
      if (!info) return;
      const parentPath = path.dirname(searchPath);
      const parent: Folder = { path: parentPath, real: await realpath(parentPath), covered: coverageFromTop(this.patterns, parentPath) };
      // The root is spelled out by the pattern, so it is never left out as hidden (`..data/*`, `.github/*`):
      // only names the walk finds are. @actions/glob left out a hidden root, so `.github/*` matched nothing
      // while `.github/workflows/*` matched; the red-team test pins `..data/*` matched without
      // include-hidden-files.
      this.entry(searchPath, path.basename(searchPath), kindOf(info), parent);
    });
  }

  /** Walks from a folder an exclusion removed whole (for one line's search). */
  from(folder: Folder): void {
    this.call(() => this.readFolder(folder));
  }

  private record(entry: LocalFile, file: string, name: string, parent: Folder, tests?: readonly NameTest[]): void {
    if (this.main && !this.files.has(entry.path)) this.files.set(entry.path, entry);
    this.noteLines(file, name, parent, tests);
  }

  /** Which include lines take this file on their own (exclusions aside); once all have, nothing to ask. */
  private noteLines(file: string, name: string, parent: Folder, tests?: readonly NameTest[]): void {
    if (this.matchedLines.size === this.lines.length) return;
    const takes = (i: number) => {
      const p = this.patterns[i]!;
      if (!(p.kind & MATCH_FILE)) return false;
      if (!tests) return (p.matchFile(file, parent.covered[i]!) & MATCH_FILE) !== 0;
      const t = tests[i]!;
      return t === true || (t !== false && t(name));
    };
    for (const line of this.lines) {
      const index = this.patterns[line[0]!]!.line;
      if (!this.matchedLines.has(index) && line.some(takes)) this.matchedLines.add(index);
    }
    if (!this.main && this.matchedLines.size > 0) this.stopped = true;
  }

  private relative(itemPath: string): string {
    // The walk builds paths below the workspace by joining names with '/': cut the prefix.
    if (itemPath.startsWith(this.prefix)) return itemPath.slice(this.prefix.length);
    return path.relative(this.workspace, itemPath).split(path.sep).join('/');
  }

  private fileEntry(itemPath: string, name: string, real: string, bytes: number): LocalFile {
    const dot = name.lastIndexOf('.');
    return { absolutePath: real, path: this.relative(itemPath), name, ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '', bytes };
  }

  private refuseLink(itemPath: string, real: string): never {
    throw new UsageError('path', `${this.relative(itemPath)} is a symbolic link to ${real}, outside the workspace; only links that stay inside the workspace are followed`);
  }

  /** One entry of `parent` (synchronous): matched, and the calls it needs queued. */
  /** `tests`/`batch`: the folder's name tests and the list of its files to stat; none for a root. */
  private entry(itemPath: string, name: string, kind: Kind, parent: Folder, tests?: readonly NameTest[], batch?: string[]): void {
    if (tests && !this.includeHiddenFiles && name.startsWith('.')) return;
    if (kind === 'file') {
      const taken = tests ? matchAllName(this.patterns, name, tests) : matchAllFile(this.patterns, itemPath, parent.covered);
      if (!(taken & MATCH_FILE)) {
        // Excluded, or taken by no line: it still counts for a line that takes it on its own.
        this.noteLines(itemPath, name, parent, tests);
        return;
      }
      if (batch) batch.push(name);
      else this.call(async () => this.statFiles(parent, [name]));
      return;
    }
    if (kind === 'other') return; // a socket, a pipe, a device: nothing to publish
    const taken = matchAll(this.patterns, itemPath);
    if (!taken && !anyPartialMatch(this.patterns, itemPath)) return;
    if (kind === 'dir') {
      this.enter(itemPath, `${parent.real}/${name}`, parent);
      return;
    }
    // A symbolic link: followed, to a file or a folder, only where it stays inside the workspace.
    this.call(async () => {
      let info;
      try {
        info = await stat(itemPath);
      } catch (err) {
        if (taken & MATCH_FILE) this.record(problemFile(this.workspace, itemPath, reasons.ofLink((err as NodeJS.ErrnoException).code)), itemPath, name, parent);
        return;
      }
      if (!info.isDirectory() && !(info.isFile() && taken & MATCH_FILE)) return;
      const real = await realpath(itemPath);
      if (!inside(this.workspace, real)) {
        if (this.main) this.refuseLink(itemPath, real);
        return;
      }
      if (info.isDirectory()) this.enter(itemPath, real, parent);
      else this.record(this.fileEntry(itemPath, name, real, info.size), itemPath, name, parent);
    });
  }

  private enter(dir: string, real: string, parent: Folder): void {
    for (let f: Folder | undefined = parent; f; f = f.parent) if (f.real === real) return; // a link back up: walked already
    const folder: Folder = { path: dir, real, parent, covered: coverage(this.patterns, dir, parent.covered) };
    if (this.prunes && excludedWhole(this.patterns, dir)) {
      this.pruned.push(folder);
      return;
    }
    this.call(() => this.readFolder(folder));
  }

  private async readFolder(folder: Folder): Promise<void> {
    const dir = folder.path;
    // Names as strings: Node decodes them as UTF-8 and puts U+FFFD where the bytes are not. Only a folder with
    // a U+FFFD in a name is read again as bytes, to tell a name that is not UTF-8 (it leads nowhere: reported)
    // from one that really holds U+FFFD (one Buffer per name for every folder costs the walk a third more).
    // Read synchronously, as files are stat-ed (statFiles), with a turn of the event loop every READ_BATCH
    // names: a readdir through libuv's thread pool waits for a pool thread, and on two busy cores that wait was
    // most of the walk (measured: 100-140 ms for 450 folders of 100 names, of which 30-40 ms on this thread).
    if (this.unyielded > READ_BATCH) {
      this.unyielded = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      entries = [];
    }
    this.unyielded += entries.length;
    let notUtf8: Set<string> | undefined;
    if (entries.some((e) => e.name.includes('\uFFFD'))) {
      let raw: Buffer[];
      try {
        raw = readdirSync(dir, { encoding: 'buffer' });
      } catch {
        raw = [];
      }
      notUtf8 = new Set(raw.filter((b) => !isUtf8(b)).map((b) => b.toString('utf8')));
    }
    const files: string[] = [];
    const tests = folderTests(this.patterns, dir, folder.covered);
    for (const entry of entries) {
      const name = entry.name;
      const child = dir === '/' ? `/${name}` : `${dir}/${name}`;
      if (!notUtf8?.has(name)) {
        this.entry(child, name, kindOf(entry), folder, tests, files);
        continue;
      }
      if (!this.includeHiddenFiles && name.startsWith('.')) continue;
      if (matchAllName(this.patterns, name, tests) & MATCH_FILE) this.record(problemFile(this.workspace, child, reasons.notUtf8), child, name, folder, tests);
    }
    await this.statFiles(folder, files, tests);
  }

  /**
   * The sizes of a folder's matched files. Synchronous stat calls, STAT_BATCH at a time with a turn of the event
   * loop between batches: on a local disk whose inodes the readdir just brought into the cache, a stat on the
   * main thread costs about 3 µs, while a round trip through libuv's thread pool costs 8-20 µs of the main
   * thread's time and more on a busy machine (measured with 45,000 files on two busy cores: 115-155 ms
   * synchronous, 335-400 ms with callbacks and 650-940 ms with promises, 32 in flight). Folders are still read in
   * parallel, and a timer or a cancellation waits at most one batch. The stat calls are still most of a large
   * walk's time (`--cpu-prof`: 76 % for 40,500 matched files), so past STAT_THREAD_AFTER files the walk leaves
   * the rest to the end (statLater), where a second thread stats beside it.
   */
  private async statFiles(folder: Folder, names: readonly string[], tests?: readonly NameTest[]): Promise<void> {
    this.statted += names.length;
    if (this.main && this.statted > STAT_THREAD_AFTER) {
      this.statThread ??= new StatThread();
      this.later.push({ folder, names, tests });
      return;
    }
    for (let start = 0; start < names.length; start += STAT_BATCH) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      this.statOwn(folder, names, start, Math.min(names.length, start + STAT_BATCH), tests);
    }
  }

  /** Stats names[start, end) of `folder` on this thread and records the files. */
  private statOwn(folder: Folder, names: readonly string[], start: number, end: number, tests?: readonly NameTest[]): void {
    for (let i = start; i < end; i++) {
      const file = `${folder.path}/${names[i]!}`;
      let info: Stats | undefined;
      try {
        info = statSync(file, { throwIfNoEntry: false });
      } catch {
        info = undefined;
      }
      // Gone between the listing and the stat: as if it had never been there.
      if (info?.isFile()) this.found(folder, names[i]!, file, info.size, tests);
    }
  }

  /**
   * The files of a large walk left to the end (statFiles): this thread and the stat thread take lists from the
   * same queue until it is empty, the thread STAT_THREAD_LIST files at a time (two lists in its hands, so it
   * never waits for this one), this one STAT_OWN_LIST at a time with a turn of the event loop between, when
   * the thread's answers are taken in. Both cores stat, and neither waits for the other.
   */
  private async statLater(): Promise<void> {
    const folders: Folder[] = [];
    const names: string[] = [];
    const tests: (readonly NameTest[] | undefined)[] = [];
    for (const list of this.later) {
      for (const name of list.names) {
        folders.push(list.folder);
        names.push(name);
        tests.push(list.tests);
      }
    }
    this.later.length = 0;
    let next = 0;
    const thread = this.statThread!;
    const threadLists = async () => {
      while (next < names.length && thread.working) {
        const start = next;
        const end = (next = Math.min(names.length, start + STAT_THREAD_LIST));
        const files = [];
        for (let i = start; i < end; i++) files.push(`${folders[i]!.path}/${names[i]!}`);
        const sizes = await thread.sizes(files);
        for (let i = start; i < end; i++) {
          const size = sizes?.[i - start];
          if (size === undefined) this.statOwn(folders[i]!, names, i, i + 1, tests[i]); // the thread failed
          else if (size >= 0) this.found(folders[i]!, names[i]!, files[i - start]!, size, tests[i]);
        }
      }
    };
    const ownLists = async () => {
      while (next < names.length) {
        const start = next;
        const end = (next = Math.min(names.length, start + STAT_OWN_LIST));
        for (let i = start; i < end; i++) this.statOwn(folders[i]!, names, i, i + 1, tests[i]);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all([threadLists(), threadLists(), ownLists()]);
  }

  private found(folder: Folder, name: string, file: string, bytes: number, tests?: readonly NameTest[]): void {
    this.record(this.fileEntry(file, name, folder.real === folder.path ? file : `${folder.real}/${name}`, bytes), file, name, folder, tests);
  }
}

export async function matchPatterns(patterns: readonly string[], options: MatchOptions): Promise<MatchResult> {
  const workspace = await realpath(options.workspace);
  const anchored = anchorPatterns(patterns, workspace);
  const compiled = compile(anchored);
  const walk = new Walk(workspace, compiled, options.includeHiddenFiles, true);
  await walk.run(() => {
    for (const root of searchPaths(compiled)) walk.root(root);
  });

  const includeLines = anchored.flatMap((line, i) => (line.startsWith('!') ? [] : [i]));
  const unmatched: string[] = [];
  if (includeLines.length >= 2) {
    for (const i of includeLines) {
      if (walk.matchedLines.has(i)) continue;
      // Only a line that matched nothing in the walk looks into the folders an exclusion removed whole.
      const alone = compiled.filter((p) => p.line === i);
      const search = new Walk(workspace, alone, options.includeHiddenFiles, false);
      await search.run(() => {
        for (const folder of walk.pruned) {
          if (alone.some((p) => p.match(folder.path) || p.partialMatch(folder.path))) search.from({ ...folder, covered: coverageFromTop(alone, folder.path) });
        }
      });
      if (search.matchedLines.size === 0) unmatched.push(patterns[i]!);
    }
  }

  // Sorted by path in UTF-16 code unit order: the default sort of the keys (no comparator called per pair).
  let files = [...walk.files.keys()].sort().map((key) => walk.files.get(key)!);
  const matched = files.length;
  if (options.shard) {
    const { index, total } = options.shard;
    files = files.filter((f) => shardOf(f.path, total) === index);
  }
  return { files, unmatched, matched };
}

export async function matchFiles(patterns: readonly string[], options: MatchOptions): Promise<LocalFile[]> {
  return (await matchPatterns(patterns, options)).files;
}
