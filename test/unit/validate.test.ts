import { describe, expect, it } from 'vitest';
import type { LocalFile } from '../../src/engine/types.js';
import { checkContent } from '../../src/files/validate.js';
import { makeWorkspace } from '../support/action.js';
import * as samples from '../support/samples.js';

async function check(name: string, content: string | Buffer): Promise<string | undefined> {
  const ws = await makeWorkspace({ [name]: content });
  const bytes = Buffer.byteLength(content);
  const file: LocalFile = { absolutePath: `${ws}/${name}`, path: name, name, ext: name.split('.').pop()!.toLowerCase(), bytes };
  return checkContent(file);
}

describe('local format checks', () => {
  it('accepts every real-looking sample', async () => {
    expect(await check('a.ifc', samples.ifc())).toBeUndefined();
    expect(await check('a.ifc', samples.ifc('a.ifc', 'IFC2X3'))).toBeUndefined();
    expect(await check('a.ifc', samples.ifc('a.ifc', 'IFC4X3'))).toBeUndefined();
    expect(await check('a.step', samples.step())).toBeUndefined();
    expect(await check('a.STP', samples.step())).toBeUndefined();
    expect(await check('a.stl', samples.stlAscii())).toBeUndefined();
    expect(await check('b.stl', samples.stlBinary())).toBeUndefined();
    expect(await check('a.pdf', samples.pdf())).toBeUndefined();
    expect(await check('a.png', samples.png())).toBeUndefined();
    expect(await check('a.jpg', samples.jpeg())).toBeUndefined();
    expect(await check('a.dxf', samples.dxf())).toBeUndefined();
    expect(await check('a.dwg', samples.dwg())).toBeUndefined();
    expect(await check('notes.txt', 'anything')).toBeUndefined();
  });

  it('refuses content that does not match the extension, with a precise reason', async () => {
    expect(await check('a.ifc', 'hello')).toMatch(/IFC.*ISO-10303-21; header/);
    expect(await check('a.ifc', samples.step())).toMatch(/FILE_SCHEMA is 'AUTOMOTIVE_DESIGN.*expected IFC2X3, IFC4 or IFC4X3/);
    expect(await check('a.ifc', 'ISO-10303-21;\nHEADER;\nENDSEC;\n')).toMatch(/no FILE_SCHEMA/);
    expect(await check('a.step', samples.pdf())).toMatch(/STEP.*ISO-10303-21/);
    expect(await check('a.stl', samples.stlAscii().replace(/endsolid.*\n$/, ''))).toMatch(/does not end with "endsolid"/);
    expect(await check('a.stl', samples.stlBinary().subarray(0, 500))).toMatch(/declares 12 triangles, which needs 684 bytes, but the file has 500/);
    expect(await check('a.pdf', samples.pdf().subarray(0, 200))).toMatch(/%%EOF/);
    expect(await check('a.pdf', samples.png())).toMatch(/%PDF-/);
    expect(await check('a.png', samples.jpeg())).toMatch(/PNG signature/);
    expect(await check('a.jpeg', samples.png())).toMatch(/FF D8 FF/);
    expect(await check('a.dxf', 'garbage')).toMatch(/DXF/);
    expect(await check('a.dwg', 'garbage')).toMatch(/AC10xx/);
  });
});
