// Odd but legal files: names that are not UTF-8, links that point nowhere or at themselves. The walk
// (match.ts) turns each into a file entry with a `problem`, reported as failed for that file alone, never
// dropped (the @actions/glob listing used before dropped the first two silently and threw on a link loop).
import path from 'node:path';
import type { MatchedFile } from '../core/types.js';

/** Whether `candidate` is `root` or below it. `..data/m.step` is below it: only a `..` segment climbs out. */
export function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** A matched entry that cannot be published, with the reason, for the report. */
export function problemFile(workspace: string, found: string, problem: string): MatchedFile {
  const name = path.basename(found);
  const dot = name.lastIndexOf('.');
  return {
    absolutePath: found,
    path: path.relative(workspace, found).split(path.sep).join('/'),
    name,
    ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '',
    problem,
  };
}

export const reasons = {
  notUtf8: 'the file name is not valid UTF-8 (shown with \uFFFD); rename the file',
  /** Why a symbolic link cannot be followed, from the error its stat gave. */
  ofLink(code: string | undefined): string {
    if (code === 'ELOOP') return 'the symbolic link loops (it points at itself, or a chain of links comes back to it)';
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'the symbolic link is dangling: its target does not exist';
    return `the file cannot be read (${code ?? 'unknown error'})`;
  },
};
