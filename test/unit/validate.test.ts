import { describe, expect, it } from 'vitest';
import type { LocalFile } from '../../src/core/types.js';
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
    expect(await check('a.ifc', samples.step().replace('AUTOMOTIVE_DESIGN', 'GEOMETRY_ONLY'))).toMatch(/FILE_SCHEMA is 'GEOMETRY_ONLY.*expected IFC2X3, IFC4 or IFC4X3/);
    expect(await check('a.ifc', 'ISO-10303-21;\nHEADER;\nENDSEC;\n')).toMatch(/no FILE_SCHEMA/);
    expect(await check('a.step', samples.pdf())).toMatch(/STEP.*ISO-10303-21/);
    expect(await check('a.stl', samples.stlAscii().replace(/endsolid.*\n$/, ''))).toMatch(/does not end with "endsolid"/);
    expect(await check('a.stl', samples.stlBinary().subarray(0, 500))).toMatch(/declares 12 triangles, which needs 684 bytes \(84 \+ 50 × 12\), but the file has 500 \(184 bytes short: truncated\)/);
    expect(await check('a.pdf', samples.pdf().subarray(0, 200))).toMatch(/%%EOF/);
    expect(await check('a.pdf', samples.png())).toMatch(/%PDF-/);
    expect(await check('a.png', samples.jpeg())).toMatch(/PNG signature/);
    expect(await check('a.jpeg', samples.png())).toMatch(/FF D8 FF/);
    expect(await check('a.dxf', 'garbage')).toMatch(/DXF/);
    expect(await check('a.dwg', 'garbage')).toMatch(/AC10xx/);
  });

  describe('says what the bytes are', () => {
    const lfs = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345678\n';
    it.each(['a.ifc', 'a.step', 'a.stl', 'a.pdf', 'a.3dm', 'a.obj'])('a Git LFS pointer named %s: checked out without lfs: true, and how to fix it', async (name) => {
      const reason = await check(name, lfs);
      expect(reason).toMatch(/Git LFS pointer file \(for 12 MiB stored in LFS\), not the file itself: the repository was checked out without Git LFS/);
      expect(reason).toMatch(/Add `lfs: true` to the actions\/checkout step/);
    });
    it('an HTML page (a saved error page)', async () => {
      expect(await check('a.step', '<!DOCTYPE html>\n<html><body>404 Not Found</body></html>')).toMatch(/STEP.*ISO-10303-21.*; it is an HTML page \(a saved error or sign-in page\?\)/);
      expect(await check('a.ifc', '\n  <html><head><title>Sign in</title></head></html>')).toMatch(/it is an HTML page/);
    });
    it('a ZIP archive', async () => {
      expect(await check('a.step', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(60)]))).toMatch(/not a valid STEP file.*; it is a ZIP archive: unpack it/);
    });
    it('a STEP file named .ifc', async () => {
      expect(await check('a.ifc', samples.step())).toMatch(/not an IFC file: it is a STEP CAD file \(FILE_SCHEMA 'AUTOMOTIVE_DESIGN.*'\) named \.ifc; give it a \.step extension/);
    });
    it('a PDF or an image under a model extension', async () => {
      expect(await check('a.stl', samples.pdf())).toMatch(/; it is a PDF document$/);
      expect(await check('a.step', samples.png())).toMatch(/; it is a PNG image$/);
      expect(await check('a.dwg', samples.jpeg())).toMatch(/; it is a JPEG image$/);
    });
    it('an IFC or STEP file cut short: no END-ISO-10303-21; at the end, however long the file', async () => {
      const ifc = samples.ifc('a.ifc', 'IFC4', 400);
      expect(ifc.length).toBeGreaterThan(16 * 1024);
      expect(await check('a.ifc', ifc)).toBeUndefined();
      expect(await check('a.ifc', ifc.slice(0, Math.floor(ifc.length * 0.7)))).toMatch(/not a complete IFC file: it does not end with END-ISO-10303-21; .*truncated/);
      expect(await check('a.step', samples.step().replace('END-ISO-10303-21;\n', ''))).toMatch(/not a complete STEP file/);
      // Past the head's 64 KiB the end is read on its own; within it, it is taken from the head: both ways.
      const big = samples.ifc('a.ifc', 'IFC4', 2000);
      expect(big.length).toBeGreaterThan(64 * 1024);
      expect(await check('a.ifc', big)).toBeUndefined();
      expect(await check('a.ifc', big.slice(0, big.length - 40))).toMatch(/not a complete IFC file/);
      // A little after the marker (a comment, a newline, NULs) is not a truncation.
      expect(await check('a.step', `${samples.step()}\n/* exported */\n\u0000\u0000`)).toBeUndefined();
    });
    it('an empty file is refused before any check (0 bytes)', async () => {
      expect(await check('a.ifc', '')).toBeUndefined(); // run.ts refuses it first: "the file is empty (0 bytes)"
    });
    it('a binary STL whose size disagrees with its triangle count: short or long', async () => {
      const stl = samples.stlBinary();
      expect(await check('a.stl', Buffer.concat([stl, Buffer.alloc(7)]))).toMatch(/declares 12 triangles, which needs 684 bytes .* the file has 691 \(7 bytes too many/);
      expect(await check('a.stl', stl.subarray(0, 634))).toMatch(/has 634 \(50 bytes short: truncated\)/);
    });
  });
});
