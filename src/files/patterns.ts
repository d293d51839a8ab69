// The `path` patterns, with the meaning @actions/glob gave them (the action matched with it until issue 16):
// minimatch with { dot, nobrace, noext, nocomment, nonegate }; a pattern that names a directory means every
// file below it (an implicit `<pattern>/**` beside it); `!` lines apply in order, so a later include line can
// take back what an earlier exclusion removed; a trailing '/' matches directories only. This module mirrors
// @actions/glob's internal Pattern (lib/internal-pattern.js, POSIX paths) without its walk, which src/files/match.ts
// replaces. Patterns come here anchored: absolute, normalised, inside the workspace (match.ts anchorPatterns).
import path from 'node:path';
import { GLOBSTAR, Minimatch } from 'minimatch';

const OPTIONS = { dot: true, nobrace: true, noext: true, nocomment: true, nonegate: true } as const;

/** What a pattern matches of a path, as bits: a directory, a file, or both (@actions/glob's MatchKind). */
export const MATCH_DIRECTORY = 1;
export const MATCH_FILE = 2;
const MATCH_ALL = MATCH_DIRECTORY | MATCH_FILE;

/** A segment without glob characters as the literal name it stands for, or '' when it is a glob. */
export function literalOf(segment: string): string {
  let literal = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '\\' && i + 1 < segment.length) {
      literal += segment[++i];
      continue;
    }
    if (c === '*' || c === '?') return '';
    if (c === '[' && i + 1 < segment.length) {
      let set = '';
      let closed = -1;
      for (let j = i + 1; j < segment.length; j++) {
        const d = segment[j]!;
        if (d === '\\' && j + 1 < segment.length) {
          set += segment[++j];
          continue;
        }
        if (d === ']') {
          closed = j;
          break;
        }
        set += d;
      }
      if (closed >= 0) {
        if (set.length > 1) return '';
        if (set) {
          literal += set;
          i = closed;
          continue;
        }
      }
    }
    literal += c;
  }
  return literal;
}

export class Pattern {
  readonly negate: boolean;
  /** The include line (index among all lines) this pattern comes from; the implicit `/**` shares it. */
  readonly line: number;
  readonly implicit: boolean;
  readonly segments: string[];
  readonly trailingSeparator: boolean;
  /** Where a walk for this pattern starts: its leading literal segments. */
  readonly searchPath: string;
  /** Whether it ends in `**`: it then takes everything below any directory it matches. */
  readonly endsInGlobstar: boolean;
  private readonly mm: Minimatch;
  // minimatch's own regular expression for the pattern, about 4x faster than mm.match; used only where it gives
  // the same answer: minimatch 10.2's makeRe drops a trailing globstar that follows another (the expression for
  // `/ws/**/old/**` takes `/ws/…/old` itself and nothing below it), so a pattern with two globstars is matched
  // segment by segment.
  private readonly re: RegExp | false;

  constructor(pattern: string, negate: boolean, line: number, implicit = false) {
    this.negate = negate;
    this.line = line;
    this.implicit = implicit;
    this.trailingSeparator = pattern.endsWith('/') && pattern.length > 1;
    const trimmed = this.trailingSeparator ? pattern.replace(/\/+$/, '') : pattern;
    this.segments = ['/', ...trimmed.split('/').filter((s) => s !== '')];
    let foundGlob = false;
    const literal = this.segments.map(literalOf).filter((s) => !foundGlob && !(foundGlob = s === ''));
    this.searchPath = path.join(...literal);
    this.endsInGlobstar = this.segments[this.segments.length - 1] === '**';
    this.mm = new Minimatch(trimmed, OPTIONS);
    const globstars = this.mm.set[0]?.filter((s) => s === GLOBSTAR).length ?? 0;
    this.re = globstars <= 1 && this.mm.set.length === 1 ? this.mm.makeRe() : false;
  }

  /** The implicit `<pattern>/**` that makes a directory pattern take every file below it. */
  implicitDescendants(): Pattern | undefined {
    if (!this.trailingSeparator && this.endsInGlobstar) return undefined;
    return new Pattern(`${path.join(...this.segments)}/**`, this.negate, this.line, true);
  }

  /** What the pattern takes of `itemPath` (absolute, no trailing '/'): MATCH_* bits, 0 for nothing. */
  match(itemPath: string): number {
    // As @actions/glob: an explicit `…/**` also matches the directory it starts from (`a/**` takes `a/`).
    const item = this.endsInGlobstar && !this.implicit ? `${itemPath}/` : itemPath;
    const hit = this.re ? this.re.test(item) : this.mm.match(item);
    return hit ? (this.trailingSeparator ? MATCH_DIRECTORY : MATCH_ALL) : 0;
  }

  /** Whether this `…/**` pattern takes every path below the directory `dir` (its `**` then matches the rest). */
  coversBelow(dir: string): boolean {
    if (!this.endsInGlobstar || this.trailingSeparator) return false;
    const test = (item: string) => (this.re ? this.re.test(item) : this.mm.match(item));
    return test(`${dir}/`) && test(`${dir}/x`);
  }

  /** Whether something below the directory `itemPath` may match. */
  partialMatch(itemPath: string): boolean {
    if (itemPath === '/') return true; // every anchored pattern starts at '/'
    return this.mm.matchOne(itemPath.split(/\/+/), this.mm.set[0]!, true);
  }
}

/** The anchored lines as patterns, each with its implicit descendants, in the order they apply. */
export function compile(anchored: readonly string[]): Pattern[] {
  const patterns: Pattern[] = [];
  anchored.forEach((line, i) => {
    const negate = line.startsWith('!');
    const p = new Pattern(negate ? line.slice(1) : line, negate, i);
    patterns.push(p);
    const implicit = p.implicitDescendants();
    if (implicit) patterns.push(implicit);
  });
  return patterns;
}

/** What all patterns, applied in order, take of `itemPath`: includes add, exclusions remove. */
export function matchAll(patterns: readonly Pattern[], itemPath: string): number {
  let result = 0;
  for (const p of patterns) {
    if (p.negate) {
      if (result !== 0) result &= ~p.match(itemPath);
    } else if (result !== MATCH_ALL) result |= p.match(itemPath);
  }
  return result;
}

/** Whether any include pattern may match below the directory `itemPath`. */
export function anyPartialMatch(patterns: readonly Pattern[], itemPath: string): boolean {
  return patterns.some((p) => !p.negate && p.partialMatch(itemPath));
}

/**
 * Whether an exclusion removes the directory `dir` whole: an exclusion ending in `**` matches it (so it matches
 * every path below it) and no include line after that exclusion may match anything below it. Then the walk
 * never enters it.
 */
export function excludedWhole(patterns: readonly Pattern[], dir: string): boolean {
  for (let i = patterns.length - 1; i >= 0; i--) {
    const p = patterns[i]!;
    if (!p.negate) {
      if (p.partialMatch(dir)) return false;
      continue;
    }
    if (p.coversBelow(dir)) return true;
  }
  return false;
}

/** The search paths of the include patterns, leaving out any below another (@actions/glob getSearchPaths). */
export function searchPaths(patterns: readonly Pattern[]): string[] {
  const candidates = new Set(patterns.filter((p) => !p.negate).map((p) => p.searchPath));
  const result: string[] = [];
  for (const candidate of candidates) {
    let below = false;
    for (let parent = path.dirname(candidate), at = candidate; parent !== at; at = parent, parent = path.dirname(parent)) {
      if (candidates.has(parent)) {
        below = true;
        break;
      }
    }
    if (!below) result.push(candidate);
  }
  return result;
}
