// Turns the `path` patterns into the list of files to publish, in ONE walk of the file system: from each
// include pattern's literal root, reading folders and stat-ing files in parallel (a bounded number in flight),
// never entering a folder an exclusion removes whole, following symbolic links only where they resolve inside
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
import type { Dirent } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import type { LocalFile } from '../core/types.js';
import { inside, problemFile, reasons } from './odd.js';
import { MATCH_FILE, type Pattern, anyPartialMatch, compile, excludedWhole, matchAll, searchPaths } from './patterns.js';

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

/** A folder on the walk's current path, with its real path: a link back to one of them is a cycle. */
interface Folder {
  real: string;
  parent?: Folder;
}

type Kind = 'file' | 'dir' | 'link' | 'other';
const kindOf = (d: Pick<Dirent, 'isFile' | 'isDirectory' | 'isSymbolicLink'>): Kind =>
  d.isFile() ? 'file' : d.isDirectory() ? 'dir' : d.isSymbolicLink() ? 'link' : 'other';

class Walk {
  readonly files = new Map<string, LocalFile>();
  /** Include lines (indexes into the anchored lines) that matched at least one file, exclusions aside. */
  readonly matchedLines = new Set<number>();
  /** Folders an exclusion removed whole, left unwalked: asked again only for lines that matched nothing. */
  readonly pruned: { path: string; folder: Folder }[] = [];
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly includes: Pattern[][];
  private readonly prunes: boolean;
  stopped = false;

  constructor(
    private readonly workspace: string,
    private readonly patterns: readonly Pattern[],
    private readonly includeHiddenFiles: boolean,
    /** The main walk: refuses links that leave the workspace, prunes, records files. Else: one line's search. */
    private readonly main: boolean,
  ) {
    this.prunes = main && patterns.some((p) => p.negate);
    const byLine = new Map<number, Pattern[]>();
    for (const p of patterns) if (!p.negate) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
    this.includes = [...byLine.values()];
  }

  private async limited<T>(op: () => Promise<T>): Promise<T> {
    while (this.active >= IN_FLIGHT) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await op();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  async root(searchPath: string): Promise<void> {
    const info = await lstat(searchPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!info) return;
    const parentReal = await realpath(path.dirname(searchPath));
    // The root is spelled out by the pattern, so it is never left out as hidden (`..data/*`, `.github/*`): only
    // names the walk finds are. @actions/glob left out a hidden root, so `.github/*` matched nothing while
    // `.github/workflows/*` matched; the red-team test pins `..data/*` matched without include-hidden-files.
    await this.visit(searchPath, '', kindOf(info), parentReal, undefined, path.basename(searchPath));
  }

  /** Walk from a folder an exclusion removed whole (for one line's search). */
  async from(dir: string, folder: Folder): Promise<void> {
    await this.folder(dir, folder);
  }

  private record(itemPath: string, entry: LocalFile | undefined): void {
    if (entry && this.main && !this.files.has(entry.path)) this.files.set(entry.path, entry);
    this.noteLines(itemPath);
  }

  /** Which include lines take this file on their own (exclusions aside); once all have, nothing to ask. */
  private noteLines(itemPath: string): void {
    if (this.matchedLines.size === this.includes.length) return;
    for (const line of this.includes) {
      const index = line[0]!.line;
      if (!this.matchedLines.has(index) && line.some((p) => p.match(itemPath) & MATCH_FILE)) this.matchedLines.add(index);
    }
    if (!this.main && this.matchedLines.size > 0) this.stopped = true;
  }

  private relative(itemPath: string): string {
    return path.relative(this.workspace, itemPath).split(path.sep).join('/');
  }

  private fileEntry(itemPath: string, real: string, bytes: number): LocalFile {
    const name = path.basename(itemPath);
    const dot = name.lastIndexOf('.');
    return { absolutePath: real, path: this.relative(itemPath), name, ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '', bytes };
  }

  private refuseLink(itemPath: string, real: string): never {
    throw new UsageError('path', `${this.relative(itemPath)} is a symbolic link to ${real}, outside the workspace; only links that stay inside the workspace are followed`);
  }

  private async visit(itemPath: string, hiddenAs: string, kind: Kind, parentReal: string, parent: Folder | undefined, name = hiddenAs): Promise<void> {
    if (this.stopped) return;
    if (!this.includeHiddenFiles && hiddenAs.startsWith('.')) return;
    const taken = matchAll(this.patterns, itemPath);
    if (kind === 'file') {
      if (!(taken & MATCH_FILE)) {
        // Excluded, or taken by no line: it still counts for a line that takes it on its own.
        this.noteLines(itemPath);
        return;
      }
      const info = await this.limited(() => stat(itemPath)).catch(() => undefined);
      // Gone between the listing and the stat: as if it had never been there.
      if (info?.isFile()) this.record(itemPath, this.fileEntry(itemPath, `${parentReal}/${name}`, info.size));
      return;
    }
    if (kind === 'other') return; // a socket, a pipe, a device: nothing to publish
    if (kind === 'dir') {
      if (!taken && !anyPartialMatch(this.patterns, itemPath)) return;
      await this.enter(itemPath, `${parentReal}/${name}`, parent);
      return;
    }
    // A symbolic link: followed, to a file or a folder, only where it stays inside the workspace.
    if (!taken && !anyPartialMatch(this.patterns, itemPath)) return;
    let info;
    try {
      info = await this.limited(() => stat(itemPath));
    } catch (err) {
      if (taken & MATCH_FILE) this.record(itemPath, problemFile(this.workspace, itemPath, reasons.ofLink((err as NodeJS.ErrnoException).code)));
      return;
    }
    if (info.isDirectory()) {
      const real = await this.limited(() => realpath(itemPath));
      if (!inside(this.workspace, real)) {
        if (this.main) this.refuseLink(itemPath, real);
        return;
      }
      await this.enter(itemPath, real, parent);
      return;
    }
    if (!info.isFile() || !(taken & MATCH_FILE)) return;
    const real = await this.limited(() => realpath(itemPath));
    if (!inside(this.workspace, real)) {
      if (this.main) this.refuseLink(itemPath, real);
      return;
    }
    this.record(itemPath, this.fileEntry(itemPath, real, info.size));
  }

  private async enter(dir: string, real: string, parent: Folder | undefined): Promise<void> {
    for (let f = parent; f; f = f.parent) if (f.real === real) return; // a link back up: walked already
    const folder = { real, parent };
    if (this.prunes && excludedWhole(this.patterns, dir)) {
      this.pruned.push({ path: dir, folder });
      return;
    }
    await this.folder(dir, folder);
  }

  private async folder(dir: string, folder: Folder): Promise<void> {
    if (this.stopped) return;
    const entries = (await this.limited(() => readdir(dir, { withFileTypes: true, encoding: 'buffer' })).catch(() => [])) as unknown as Dirent<Buffer>[];
    await Promise.all(
      entries.map((entry) => {
        const raw = entry.name;
        const name = raw.toString('utf8');
        const child = dir === '/' ? `/${name}` : `${dir}/${name}`;
        if (!isUtf8(raw)) {
          // Node would put U+FFFD where the bytes are not UTF-8: that name leads nowhere, so it is reported.
          if (!this.includeHiddenFiles && name.startsWith('.')) return undefined;
          if (matchAll(this.patterns, child) & MATCH_FILE) this.record(child, problemFile(this.workspace, child, reasons.notUtf8));
          return undefined;
        }
        return this.visit(child, name, kindOf(entry), folder.real, folder);
      }),
    );
  }
}

export async function matchPatterns(patterns: readonly string[], options: MatchOptions): Promise<MatchResult> {
  const workspace = await realpath(options.workspace);
  const anchored = anchorPatterns(patterns, workspace);
  const compiled = compile(anchored);
  const walk = new Walk(workspace, compiled, options.includeHiddenFiles, true);
  await Promise.all(searchPaths(compiled).map((root) => walk.root(root)));

  const includeLines = anchored.flatMap((line, i) => (line.startsWith('!') ? [] : [i]));
  const unmatched: string[] = [];
  if (includeLines.length >= 2) {
    for (const i of includeLines) {
      if (walk.matchedLines.has(i)) continue;
      // Only a line that matched nothing in the walk looks into the folders an exclusion removed whole.
      const alone = compiled.filter((p) => p.line === i);
      const search = new Walk(workspace, alone, options.includeHiddenFiles, false);
      for (const { path: dir, folder } of walk.pruned) {
        if (search.stopped) break;
        if (alone.some((p) => p.match(dir) || p.partialMatch(dir))) await search.from(dir, folder);
      }
      if (search.matchedLines.size === 0) unmatched.push(patterns[i]!);
    }
  }

  let files = [...walk.files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (options.shard) {
    const { index, total } = options.shard;
    files = files.filter((f) => shardOf(f.path, total) === index);
  }
  return { files, unmatched };
}

export async function matchFiles(patterns: readonly string[], options: MatchOptions): Promise<LocalFile[]> {
  return (await matchPatterns(patterns, options)).files;
}
