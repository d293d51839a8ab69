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

/** What a pattern takes of the files of one folder: all of them, none, or those whose names pass. */
export type NameTest = boolean | ((name: string) => boolean);

/** A pattern split into its folder part and its last segment (minimatch's matcher for it), when it can be. */
function splitLast(segments: readonly string[]): { prefix: (dir: string) => boolean; last: (name: string) => boolean } | undefined {
  if (segments.length < 3) return undefined;
  const whole = new Minimatch(path.join(...segments), OPTIONS);
  const set = whole.set.length === 1 ? whole.set[0] : undefined;
  const last = set?.[set.length - 1];
  if (last === undefined || last === GLOBSTAR || set!.length !== segments.length) return undefined;
  const prefix = new Minimatch(path.join(...segments.slice(0, -1)), OPTIONS);
  return {
    prefix: (dir) => prefix.match(`${dir}/`),
    last: typeof last === 'string' ? (name) => name === last : (name) => (last as RegExp).test(name),
  };
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
  /**
   * For a pattern `X/**`: X alone. `X/**` takes a path exactly when X takes one of the folders above it (or,
   * for an explicit `X/**`, which @actions/glob tests as `path/`, the path itself), so the walk tests X once per
   * folder and passes the answer down instead of testing every file against the globstar.
   */
  private readonly base: ((item: string) => boolean) | undefined;
  /** This pattern (or, for `X/**`, X) as a test of the folder and a test of the name (folderTest). */
  private readonly byName: { prefix: (dir: string) => boolean; last: (name: string) => boolean } | undefined;

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
    if (this.endsInGlobstar && this.segments.length > 2) {
      const baseSegments = this.segments.slice(0, -1);
      const base = new Minimatch(path.join(...baseSegments), OPTIONS);
      const re = (base.set[0]?.filter((s) => s === GLOBSTAR).length ?? 0) <= 1 && base.set.length === 1 ? base.makeRe() : false;
      this.base = re ? (item) => re.test(item) : (item) => base.match(item);
      this.byName = splitLast(baseSegments);
    } else if (!this.endsInGlobstar) {
      this.byName = splitLast(this.segments);
    }
  }

  /**
   * What the pattern takes of the files in the folder `dir`, by their names: all, none, or a test of the name
   * (`covered` as for matchFile). A pattern `P/last` (last not `**`) takes `dir/name` exactly when P takes
   * `dir/` (minimatch takes a trailing '/' after a full match) and `last`, minimatch's own matcher for the
   * segment, takes `name`: tested once per folder and once per name instead of the whole path per file.
   */
  folderTest(dir: string, covered: boolean): NameTest {
    if (this.base) {
      if (covered) return true;
      if (this.implicit) return false;
    }
    if (!this.byName) return (name) => this.matchFile(`${dir}/${name}`, covered) !== 0;
    return this.byName.prefix(dir) ? this.byName.last : false;
  }

  /** MATCH_* bits of what it takes of a file it matches. */
  get kind(): number {
    return this.trailingSeparator ? MATCH_DIRECTORY : MATCH_ALL;
  }

  /** Whether everything below the folder `dir` matches this pattern: it is `X/**` and X takes `dir`. */
  coversBelowFolder(dir: string): boolean {
    return this.base !== undefined && this.base(dir);
  }

  /**
   * What the pattern takes of the file `file`; `covered`: whether it covers everything below one of the folders
   * above the file (coversBelowFolder, passed down the walk). The same answer as match(file), faster.
   */
  matchFile(file: string, covered: boolean): number {
    const hit = this.base ? covered || (!this.implicit && this.base(file)) : this.re ? this.re.test(file) : this.mm.match(file);
    return hit ? (this.trailingSeparator ? MATCH_DIRECTORY : MATCH_ALL) : 0;
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

/** matchAll for a file, with `covered[i]`: whether patterns[i] covers a folder above it (Pattern.matchFile). */
export function matchAllFile(patterns: readonly Pattern[], file: string, covered: readonly boolean[]): number {
  let result = 0;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i]!;
    if (p.negate) {
      if (result !== 0) result &= ~p.matchFile(file, covered[i]!);
    } else if (result !== MATCH_ALL) result |= p.matchFile(file, covered[i]!);
  }
  return result;
}

/** The name tests of every pattern for the files of `dir` (Pattern.folderTest). */
export function folderTests(patterns: readonly Pattern[], dir: string, covered: readonly boolean[]): NameTest[] {
  return patterns.map((p, i) => p.folderTest(dir, covered[i]!));
}

/** matchAll for the file `name` of a folder, from that folder's name tests: the same answer as matchAllFile. */
export function matchAllName(patterns: readonly Pattern[], name: string, tests: readonly NameTest[]): number {
  let result = 0;
  for (let i = 0; i < patterns.length; i++) {
    const t = tests[i]!;
    if (t === false) continue;
    const p = patterns[i]!;
    if (p.negate) {
      if (result !== 0 && (t === true || t(name))) result &= ~p.kind;
    } else if (result !== MATCH_ALL && (t === true || t(name))) result |= p.kind;
  }
  return result;
}

/** Which patterns cover everything below `dir`, from what covers its parent folder. */
export function coverage(patterns: readonly Pattern[], dir: string, parent: readonly boolean[] | undefined): boolean[] {
  return patterns.map((p, i) => parent?.[i] === true || p.coversBelowFolder(dir));
}

/** coverage() for a folder whose parents the walk did not visit: every folder from '/' down to it. */
export function coverageFromTop(patterns: readonly Pattern[], dir: string): boolean[] {
  let covered: boolean[] | undefined;
  let at = '';
  for (const segment of dir.split('/').filter(Boolean)) {
    at = `${at}/${segment}`;
    covered = coverage(patterns, at, covered);
  }
  return covered ?? patterns.map(() => false);
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
    // A trailing '/' makes an exclusion remove folders only, not the files below them.
    if (!p.trailingSeparator && p.coversBelowFolder(dir)) return true;
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
