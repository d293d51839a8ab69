// Turns the `path` patterns into the list of files to publish: matched with @actions/glob, directories
// dropped, hidden files left out unless asked for, symlinks kept only when they resolve inside the
// workspace, sorted, deduplicated, and cut to this job's shard. Pure planning: nothing is read or sent.
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import * as glob from '@actions/glob';
import { UsageError } from '../core/errors.js';
import type { LocalFile } from '../core/types.js';
import { inside, problemFile, resolveEntry, walkForOddEntries } from './odd.js';

export interface MatchOptions {
  workspace: string;
  includeHiddenFiles: boolean;
  shard?: { index: number; total: number };
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

export async function matchFiles(patterns: readonly string[], options: MatchOptions): Promise<LocalFile[]> {
  const workspace = await realpath(options.workspace);
  const anchored = anchorPatterns(patterns, workspace);
  const globber = await glob.create(anchored.join('\n'), {
    followSymbolicLinks: true,
    matchDirectories: false,
    implicitDescendants: true,
    excludeHiddenFiles: !options.includeHiddenFiles,
  });
  // The glob listing drops dangling links and names that are not UTF-8, and throws on a link loop: a walk
  // that reads names as bytes and follows no link finds those, to be reported per file (odd.ts); when the
  // listing threw, the walk's own entries stand in for it.
  const listed = await globber.glob().catch(() => undefined);
  const odd = await walkForOddEntries(anchored, workspace, options.includeHiddenFiles);
  const seen = new Map<string, LocalFile>();
  for (const p of odd.problems) seen.set(p.path, p);
  for (const found of listed ?? odd.readable) {
    const resolved = await resolveEntry(found);
    if ('problem' in resolved) {
      const entry = problemFile(workspace, found, resolved.problem);
      seen.set(entry.path, entry);
      continue;
    }
    const real = resolved.real;
    if (!inside(workspace, real)) {
      const rel = path.relative(workspace, found).split(path.sep).join('/');
      throw new UsageError('path', `${rel} is a symbolic link to ${real}, outside the workspace; only links that stay inside the workspace are followed`);
    }
    const info = await stat(real);
    if (!info.isFile()) continue;
    const rel = path.relative(workspace, found).split(path.sep).join('/');
    if (seen.has(rel)) continue;
    const name = path.basename(found);
    const dot = name.lastIndexOf('.');
    seen.set(rel, {
      absolutePath: real,
      path: rel,
      name,
      ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '',
      bytes: info.size,
    });
  }
  let files = [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (options.shard) {
    const { index, total } = options.shard;
    files = files.filter((f) => shardOf(f.path, total) === index);
  }
  return files;
}

/**
 * The include lines that match no file on their own (exclusions aside: a line whose files are all excluded
 * matched them), so a mistyped pattern is named even when other lines match. One glob walk per include line,
 * stopping at its first file; only asked when there are several.
 */
export async function unmatchedPatterns(patterns: readonly string[], options: Pick<MatchOptions, 'workspace' | 'includeHiddenFiles'>): Promise<string[]> {
  const includes = patterns.filter((p) => !p.startsWith('!'));
  if (includes.length < 2) return [];
  const workspace = await realpath(options.workspace);
  const unmatched: string[] = [];
  for (const line of includes) {
    const globber = await glob.create(anchorPatterns([line], workspace).join('\n'), {
      followSymbolicLinks: true,
      matchDirectories: false,
      implicitDescendants: true,
      excludeHiddenFiles: !options.includeHiddenFiles,
    });
    let found = false;
    try {
      for await (const hit of globber.globGenerator()) {
        if ((await stat(hit).catch(() => undefined))?.isFile()) {
          found = true;
          break;
        }
      }
    } catch {
      // The listing stops at a link loop (reported as that file's failure, odd.ts): the line did match it.
      found = true;
    }
    if (!found) unmatched.push(line);
  }
  return unmatched;
}
