// What a file is called at its destination: the name templates of the `model` (Speckle) and `name` (ION,
// Coldstream, ARCNM) inputs, filled in per file, and the refusal of two files that would share one name. Vendor-free:
// each provider says what it does with the result (Speckle lowercases model names, ION and Coldstream take no `/`).
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import type { LocalFile } from '../core/types.js';

export const PLACEHOLDERS = ['path', 'dir', 'name', 'stem', 'ext'] as const;

/**
 * The template filled in for one file: {path} is the workspace-relative path without its extension, {dir} the
 * folder part ('' at the top), {name} the base name, {stem} the name without its extension, {ext} the extension.
 */
export function expandTemplate(template: string, file: Pick<LocalFile, 'path' | 'name'>): string {
  const dot = file.name.lastIndexOf('.');
  const stem = dot > 0 ? file.name.slice(0, dot) : file.name;
  const ext = dot > 0 ? file.name.slice(dot + 1) : '';
  const dir = path.posix.dirname(file.path) === '.' ? '' : path.posix.dirname(file.path);
  const values: Record<(typeof PLACEHOLDERS)[number], string> = { path: dir ? `${dir}/${stem}` : stem, dir, name: file.name, stem, ext };
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? values[key as keyof typeof values] : whole));
}

/** A UsageError naming `input` when the template has a placeholder other than the five. */
export function checkPlaceholders(input: string, template: string, example: string): void {
  for (const [, key] of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(key!)) {
      throw new UsageError(input, `has an unknown placeholder {${key}}; use {path}, {dir}, {name}, {stem} and {ext} (e.g. ${JSON.stringify(example)})`);
    }
  }
}

export interface FileNameRules {
  /** What a `/` (or `\`) of the rendered name becomes: kept as `/`, or this text where the vendor takes a bare file name. */
  separator: '/' | string;
}

/**
 * The `name` template read: `{name}` when empty; a UsageError naming `name` for an unknown placeholder or a
 * template that names nothing.
 */
export function readNameTemplate(raw: string): string {
  const template = raw === '' ? '{name}' : raw;
  checkPlaceholders('name', template, '{path}');
  if (template.replace(/\{\w+\}/g, 'x').replace(/[/\\\s]/g, '') === '') {
    throw new UsageError('name', `got ${JSON.stringify(raw)}; expected a file name template such as {name} or {path}`);
  }
  return template;
}

/**
 * The name a file is given at the destination (the `name` template), or why it cannot have one. Empty levels are
 * dropped (so `{dir}/{name}` is `tower.step` at the top, not `/tower.step`); the name
 * keeps the file's extension, added when the template leaves it out (`{path}` is `a/sheet.pdf`), because ION
 * and ARCNM read the file's type from the name's extension and Coldstream converts only names ending in .step/.stp.
 */
export function fileNameFor(template: string, file: Pick<LocalFile, 'path' | 'name' | 'ext'>, rules: FileNameRules): { name: string } | { problem: string } {
  // Where folders are kept, only `/` separates them (a `\` is a legal character of a Linux file name); where the
  // vendor takes a bare file name, a `\` is a separator too (Windows-minded services read it as one).
  const levels = expandTemplate(template, file)
    .split(rules.separator === '/' ? '/' : /[/\\]/)
    .filter((level) => level !== '');
  if (levels.length === 0) return { problem: `the name template ${JSON.stringify(template)} gives an empty name for this file (set name to a template such as {name} or {path})` };
  if (levels.some((level) => level === '.' || level === '..')) {
    return { problem: `the name template ${JSON.stringify(template)} gives ${JSON.stringify(levels.join('/'))}, with a "." or ".." level (set name to a template such as {name} or {path})` };
  }
  let name = levels.join(rules.separator);
  if (file.ext !== '' && !name.toLowerCase().endsWith(`.${file.ext}`)) name = `${name}.${file.name.slice(file.name.length - file.ext.length)}`;
  return { name };
}

/**
 * Two files that would land under one name at one target: the first such pair (in path order), or none. Refused
 * before any request, because the second would sit beside the first under the same name (two attachments both
 * called sheet.pdf) and nobody could tell them apart.
 */
export function firstCollision<F extends Pick<LocalFile, 'path'>>(files: readonly F[], nameOf: (file: F) => string | undefined): { a: F; b: F; name: string } | undefined {
  const seen = new Map<string, F>();
  for (const file of files) {
    const name = nameOf(file);
    if (name === undefined) continue;
    const first = seen.get(name);
    if (first) return { a: first, b: file, name };
    seen.set(name, file);
  }
  return undefined;
}

/** A provider's `name` setting: the template and what its vendor does with a `/`. */
export interface NameSetting {
  template: string;
  rules: FileNameRules;
}

/** The name of a file the provider has not refused (its `refuse` returned fileNameFor's problem). */
export function nameOf(setting: NameSetting, file: Pick<LocalFile, 'path' | 'name' | 'ext'>): string {
  const named = fileNameFor(setting.template, file, setting.rules);
  if ('problem' in named) throw new UsageError('name', `${file.path}: ${named.problem}`);
  return named.name;
}

/** The name of a file, or undefined where it cannot be named (its `refuse` says why: nameProblem). */
export function nameIfAny(setting: NameSetting, file: Pick<LocalFile, 'path' | 'name' | 'ext'>): string | undefined {
  const named = fileNameFor(setting.template, file, setting.rules);
  return 'problem' in named ? undefined : named.name;
}

/** Why the file cannot be named (for the provider's `refuse`), or undefined. */
export function nameProblem(setting: NameSetting, file: Pick<LocalFile, 'path' | 'name' | 'ext'>): string | undefined {
  const named = fileNameFor(setting.template, file, setting.rules);
  return 'problem' in named ? named.problem : undefined;
}
