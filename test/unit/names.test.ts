// The name templates (`model`, `name`): the language they share, the names ION, Coldstream and ARCNM receive,
// and the refusal of two files that would share one name.
import { describe, expect, it } from 'vitest';
import { checkPlaceholders, expandTemplate, fileNameFor, firstCollision, readNameTemplate } from '../../src/files/names.js';

const file = (p: string) => {
  const name = p.split('/').pop()!;
  const dot = name.lastIndexOf('.');
  return { path: p, name, ext: dot > 0 ? name.slice(dot + 1).toLowerCase() : '' };
};
const keep = { separator: '/' };
const flat = { separator: '_' };
const named = (template: string, p: string, rules = keep) => {
  const r = fileNameFor(template, file(p), rules);
  return 'name' in r ? r.name : `problem: ${r.problem}`;
};

describe('name templates', () => {
  it('fill in the five placeholders', () => {
    expect(expandTemplate('{path}|{dir}|{name}|{stem}|{ext}', file('a/b/Tower A.ifc'))).toBe('a/b/Tower A|a/b|Tower A.ifc|Tower A|ifc');
    expect(expandTemplate('{path}|{dir}', file('top.ifc'))).toBe('top|');
  });

  it('refuse an unknown placeholder or a template that names nothing, naming the input', () => {
    expect(() => checkPlaceholders('model', '{folder}', 'ci/{path}')).toThrow(/Input 'model': has an unknown placeholder \{folder\}/);
    expect(() => readNameTemplate('{dir}/{file}')).toThrow(/Input 'name': has an unknown placeholder \{file\}/);
    expect(() => readNameTemplate(' / ')).toThrow(/Input 'name': got " \/ "; expected a file name template/);
    expect(readNameTemplate('')).toBe('{name}');
  });

  it('keep the extension, drop empty levels, and send / as the vendor takes it', () => {
    expect(named('{name}', 'a/sheet.pdf')).toBe('sheet.pdf');
    expect(named('{path}', 'a/sheet.pdf')).toBe('a/sheet.pdf');
    expect(named('{path}', 'a/b/sheet.pdf', flat)).toBe('a_b_sheet.pdf');
    expect(named('{dir}/{name}', 'sheet.pdf')).toBe('sheet.pdf');
    expect(named('{stem}', 'A/Part.STEP')).toBe('Part.STEP');
    expect(named('{name}.bak', 'part.step')).toBe('part.step.bak.step');
    expect(named('ci-{stem}', 'README')).toBe('ci-README');
  });

  it('refuse a name that is empty or climbs', () => {
    expect(named('{dir}', 'sheet.pdf')).toMatch(/^problem: the name template "\{dir\}" gives an empty name/);
    expect(named('../{name}', 'a/sheet.pdf')).toMatch(/^problem: .* with a "\." or "\.\." level/);
  });

  it('find the first two files that share a name, in path order', () => {
    const files = ['a/sheet.pdf', 'b/plan.pdf', 'b/sheet.pdf', 'c/sheet.pdf'].map(file);
    expect(firstCollision(files, (f) => f.name)).toMatchObject({ a: { path: 'a/sheet.pdf' }, b: { path: 'b/sheet.pdf' }, name: 'sheet.pdf' });
    expect(firstCollision(files, (f) => f.path)).toBeUndefined();
    expect(firstCollision(files, (f) => (f.path.startsWith('b/') ? f.name : undefined))).toBeUndefined();
  });
});

describe('names keep what the default sent before', () => {
  it('sends {name} exactly as the base name, spaces and backslashes included, where folders are kept', () => {
    expect(named('{name}', 'a/ sheet .pdf')).toBe(' sheet .pdf');
    expect(named('{name}', 'a/x\\y.pdf')).toBe('x\\y.pdf');
    expect(named('{name}', 'a/x\\y.pdf', flat)).toBe('x_y.pdf');
  });
});
