// Odd but legal files: names that are not UTF-8, links that point nowhere or at themselves. @actions/glob
// drops the first two silently and throws on a link loop (losing the whole listing); here each one becomes a
// file entry with a `problem`, reported as failed for that file alone, never dropped.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LocalFile } from '../core/types.js';

/** Whether `candidate` is `root` or below it. `..data/m.step` is below it: only a `..` segment climbs out. */
export function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** A matched entry that cannot be published, with the reason, for the report. */
export function problemFile(workspace: string, found: string, problem: string): LocalFile {
  const name = path.basename(found);
  const dot = name.lastIndexOf('.');
  return {
    absolutePath: found,
    path: path.relative(workspace, found).split(path.sep).join('/'),
    name,
    ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '',
    bytes: 0,
    problem,
  };
}

/** Why an entry the listing gave cannot be read as a file, or undefined when it can. */
export async function whyUnreadable(found: string): Promise<string | undefined> {
  try {
    await stat(found);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Node decodes directory entries as UTF-8 and puts U+FFFD where bytes are not: that name leads nowhere.
    if (found.includes('\uFFFD')) return 'the file name is not valid UTF-8 (shown with \uFFFD); rename the file';
    if (code === 'ELOOP') return 'the symbolic link loops (it points at itself, or a chain of links comes back to it)';
    if (code === 'ENOENT') {
      const link = await lstat(found).then((s) => s.isSymbolicLink(), () => false);
      return link ? 'the symbolic link is dangling: its target does not exist' : 'the file vanished after it was matched';
    }
    return `the file cannot be read (${code ?? (err as Error).message})`;
  }
}

/** `path.matchesGlob` (Node 20.17+, 22.5+), without the ExperimentalWarning Node 20 prints on first use. */
function matchesGlob(file: string, pattern: string): boolean {
  const emit = process.emitWarning;
  process.emitWarning = (() => {}) as typeof process.emitWarning;
  try {
    return path.matchesGlob(file, pattern);
  } finally {
    process.emitWarning = emit;
  }
}

/** Whether the anchored patterns (absolute, `!` to exclude, a directory meaning all below it) take `file`. */
export function patternsTake(anchored: readonly string[], file: string): boolean {
  let taken = false;
  for (const line of anchored) {
    const negate = line.startsWith('!');
    const pattern = negate ? line.slice(1) : line;
    if (matchesGlob(file, pattern) || matchesGlob(file, `${pattern.replace(/\/+$/, '')}/**`)) taken = !negate;
  }
  return taken;
}

/** Where a pattern's walk starts: its segments up to the first one with a glob character. */
function literalRoot(pattern: string): string {
  const segments = pattern.split('/');
  const i = segments.findIndex((s) => /[*?[{]/.test(s));
  return i === -1 ? pattern : segments.slice(0, i).join('/') || '/';
}

/**
 * Walks the patterns' roots without following links, reading names as bytes, for what @actions/glob drops or
 * throws on: a name that is not UTF-8, a dangling link, a looping link. Answers those (as problem files) and
 * every other entry the patterns take that reads as a file (used when the glob listing itself failed).
 */
export async function walkForOddEntries(
  anchored: readonly string[],
  workspace: string,
  includeHiddenFiles: boolean,
): Promise<{ problems: LocalFile[]; readable: string[] }> {
  const problems: LocalFile[] = [];
  const readable: string[] = [];
  const roots = [...new Set(anchored.filter((l) => !l.startsWith('!')).map(literalRoot))];
  const visited = new Set<string>();
  const stack = roots.filter((r) => inside(workspace, r));
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (visited.has(entry)) continue;
    visited.add(entry);
    const info = await lstat(entry).catch(() => undefined);
    if (!info) continue;
    if (info.isDirectory()) {
      const names = await readdir(entry, { encoding: 'buffer' }).catch(() => [] as Buffer[]);
      for (const raw of names) {
        const name = raw.toString('utf8');
        if (!includeHiddenFiles && name.startsWith('.')) continue;
        const child = path.join(entry, name);
        if (!Buffer.from(name, 'utf8').equals(raw)) {
          if (patternsTake(anchored, child)) problems.push(problemFile(workspace, child, 'the file name is not valid UTF-8 (shown with \uFFFD); rename the file'));
          continue;
        }
        stack.push(child);
      }
      continue;
    }
    if (!patternsTake(anchored, entry)) continue;
    const problem = await whyUnreadable(entry);
    if (problem) problems.push(problemFile(workspace, entry, problem));
    else readable.push(entry);
  }
  return { problems, readable };
}

/** The real path of a listed entry, or the reason it has none. */
export async function resolveEntry(found: string): Promise<{ real: string } | { problem: string }> {
  try {
    return { real: await realpath(found) };
  } catch {
    return { problem: (await whyUnreadable(found)) ?? 'the file cannot be read' };
  }
}
