// Turns the `path` patterns into the list of files to publish, in ONE walk of the file system: from each
// include pattern's literal root, reading folders with synchronous calls in batches (a turn of the event loop
// between), never entering a folder an exclusion removes whole, following symbolic links only where they resolve
// inside the workspace (a folder reached again through a link is not walked twice), reading names as bytes so a
// name that is not UTF-8 is reported, not dropped. Like `find`, it stats nothing the folder listing already
// answers: a listing gives each entry's type (file, folder, link; Node lstats an entry whose type the file system
// leaves unknown), so only links are stat-ed, to follow them, and no file's size is read here: the run reads it
// when it plans the file (withSize), for this job's files only. Stat-ing every matched file for its size was most
// of a large walk's time (76 % with `--cpu-prof`, 40,500 matched files), even with a second thread sharing it.
// Directories are dropped, hidden files left out unless asked for, the list sorted, deduplicated and cut to this
// job's shard; the same walk notes which include line matched a file, for the typo warning. Pure planning:
// nothing is read or sent.
//
// Until issue 16 this was @actions/glob's listing plus two more walks (odd entries, one per include line). Its
// walk is sequential (one lstat/stat and realpath per entry, awaited one after the other), enters every folder an
// include may reach even when an exclusion removes it whole, drops names that are not UTF-8 and dangling links,
// and throws on a link loop: about 30x `find` on 50,000 files. The options it offers cannot change that, so the
// walk is ours; its pattern meaning is kept exactly (src/files/patterns.ts mirrors its Pattern on minimatch).
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import type { LocalFile, MatchedFile } from '../core/types.js';
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
  /** Sorted by path, deduplicated, this shard's share; without sizes (withSize reads one). */
  files: MatchedFile[];
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
 * followed by synchronous work that queues the next steps. Folders are read with synchronous calls (readFolder);
 * links are followed with asynchronous ones. Matching is synchronous, on strings.
 */
class Walk {
  readonly files = new Map<string, MatchedFile>();
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
    const failure = await done;
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

  private record(entry: MatchedFile, file: string, name: string, parent: Folder, tests?: readonly NameTest[]): void {
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

  private fileEntry(itemPath: string, name: string, real: string): MatchedFile {
    const dot = name.lastIndexOf('.');
    return { absolutePath: real, path: this.relative(itemPath), name, ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '' };
  }

  private refuseLink(itemPath: string, real: string): never {
    throw new UsageError('path', `${this.relative(itemPath)} is a symbolic link to ${real}, outside the workspace; only links that stay inside the workspace are followed`);
  }

  /**
   * One entry of `parent` (synchronous): matched, and the calls it needs queued. `tests`: the folder's name tests;
   * none for a root. A file is recorded as the listing typed it, unstat-ed (see the top of this file).
   */
  private entry(itemPath: string, name: string, kind: Kind, parent: Folder, tests?: readonly NameTest[]): void {
    if (tests && !this.includeHiddenFiles && name.startsWith('.')) return;
    if (kind === 'file') {
      const taken = tests ? matchAllName(this.patterns, name, tests) : matchAllFile(this.patterns, itemPath, parent.covered);
      if (!(taken & MATCH_FILE)) {
        // Excluded, or taken by no line: it still counts for a line that takes it on its own.
        this.noteLines(itemPath, name, parent, tests);
        return;
      }
      this.record(this.fileEntry(itemPath, name, parent.real === parent.path ? itemPath : `${parent.real}/${name}`), itemPath, name, parent, tests);
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
      else this.record(this.fileEntry(itemPath, name, real), itemPath, name, parent);
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
    // Read synchronously, with a turn of the event loop every READ_BATCH names: a readdir through libuv's thread
    // pool waits for a pool thread, and on two busy cores that wait was most of the walk (measured: 100-140 ms
    // for 450 folders of 100 names, of which 30-40 ms on this thread).
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
    const tests = folderTests(this.patterns, dir, folder.covered);
    for (const entry of entries) {
      const name = entry.name;
      const child = dir === '/' ? `/${name}` : `${dir}/${name}`;
      if (!notUtf8?.has(name)) {
        this.entry(child, name, kindOf(entry), folder, tests);
        continue;
      }
      if (!this.includeHiddenFiles && name.startsWith('.')) continue;
      if (matchAllName(this.patterns, name, tests) & MATCH_FILE) this.record(problemFile(this.workspace, child, reasons.notUtf8), child, name, folder, tests);
    }
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

export async function matchFiles(patterns: readonly string[], options: MatchOptions): Promise<MatchedFile[]> {
  return (await matchPatterns(patterns, options)).files;
}

/**
 * A matched file with its size, read when the run plans it (run.ts), so only the files this job plans are
 * stat-ed: one synchronous stat (about 3 µs for a file whose inode the walk's listing brought into the cache, where
 * a round trip through libuv's thread pool costs 8-20 µs of this thread). Throws, for that file alone, when it is
 * gone or is no longer a file since the walk listed it.
 */
export function withSize(file: MatchedFile): LocalFile {
  const info = statSync(file.absolutePath);
  if (!info.isFile()) throw new Error('it is no longer a file (it was replaced after the path patterns matched it)');
  return { ...file, bytes: info.size };
}
