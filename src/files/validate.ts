// Local format checks (`validate`): a file whose content does not match its extension is refused before
// any upload, so a broken export fails a pull request in seconds. Each check reads only the bytes it needs.
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { LocalFile } from '../core/types.js';
import { formatBytes } from '../core/units.js';

/** What a check reads of a file's start; a file no larger is read whole. */
export const HEAD_BYTES = 64 * 1024;
/** How much of a STEP/IFC file's end is read to find END-ISO-10303-21; (exporters may add a little after it). */
const TAIL_BYTES = 4 * 1024;

async function readAt(file: LocalFile, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(Math.max(0, Math.min(length, file.bytes - position)));
  // A few KiB: one synchronous read costs less CPU than four promises through the thread pool.
  if (buf.length <= 64 * 1024) {
    const fd = openSync(file.absolutePath, 'r');
    try {
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, position));
    } finally {
      closeSync(fd);
    }
  }
  const handle = await open(file.absolutePath, 'r');
  try {
    const { bytesRead } = await handle.read(buf, 0, buf.length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

const latin1 = (b: Buffer) => b.toString('latin1');

/**
 * The last `length` bytes of the file. A file no larger than HEAD_BYTES was read whole with its head: its end is
 * taken from there, not read again (for a run of thousands of small files, one open and read fewer each).
 */
function readTail(file: LocalFile, head: Buffer, length: number): Promise<Buffer> {
  if (head.length === file.bytes) return Promise.resolve(head.subarray(Math.max(0, file.bytes - length)));
  return readAt(file, Math.max(0, file.bytes - length), length);
}

/** ISO 10303-21 (STEP physical file): the header every IFC and STEP file starts with. */
function checkStepHeader(head: string, kind: string): string | undefined {
  if (!/^\uFEFF?\s*ISO-10303-21\s*;/.test(head)) return `not a valid ${kind} file: it does not start with the ISO-10303-21; header (a ${kind} export writes it first)`;
  return undefined;
}

const IFC_SCHEMAS = ['IFC2X3', 'IFC4', 'IFC4X1', 'IFC4X2', 'IFC4X3'];
/** The STEP application protocols CAD tools export (AP203, AP214, AP242), by their FILE_SCHEMA names. */
const CAD_SCHEMAS = /^(CONFIG_CONTROL_DESIGN|AUTOMOTIVE_DESIGN|AP203|AP214|AP242|AP2\d\d|MANAGED_MODEL_BASED_3D_ENGINEERING|STRUCTURAL_ANALYSIS_DESIGN)/i;

function checkIfc(head: string): string | undefined {
  const header = checkStepHeader(head, 'IFC');
  if (header) return header;
  const schema = head.match(/FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'/i)?.[1];
  if (!schema) return 'not a valid IFC file: the header has no FILE_SCHEMA; expected IFC2X3, IFC4 or IFC4X3';
  const base = schema.toUpperCase().replace(/_.*$/, '');
  if (CAD_SCHEMAS.test(schema.trim())) {
    return `not an IFC file: it is a STEP CAD file (FILE_SCHEMA '${schema}') named .ifc; give it a .step extension, or export IFC (IFC2X3, IFC4 or IFC4X3) from the authoring tool`;
  }
  if (!IFC_SCHEMAS.includes(base)) return `not a valid IFC file: FILE_SCHEMA is '${schema}'; expected IFC2X3, IFC4 or IFC4X3 (is this a STEP file named .ifc?)`;
  return undefined;
}

/** An ISO 10303-21 file ends with END-ISO-10303-21; a file without it was cut short (export or transfer). */
async function checkStepEnd(file: LocalFile, head: Buffer, kind: string): Promise<string | undefined> {
  const tail = latin1(await readTail(file, head, TAIL_BYTES));
  if (/END-ISO-10303-21\s*;/.test(tail)) return undefined;
  return `not a complete ${kind} file: it does not end with END-ISO-10303-21; (the last ${formatBytes(Math.min(file.bytes, TAIL_BYTES))} hold no end marker), so it was truncated: by a failed export, an interrupted copy or a size limit`;
}

/**
 * What the bytes are when they are recognisably something else than the extension says: a Git LFS pointer, an
 * HTML page (a saved error or login page), a ZIP archive, a PDF, PNG or JPEG. Undefined when not recognised.
 */
export function identify(head: Buffer): string | undefined {
  const text = latin1(head.subarray(0, 512)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  if (text.startsWith('version https://git-lfs.github.com/spec/')) {
    const size = text.match(/^size (\d+)$/m)?.[1];
    return `it is a Git LFS pointer file${size ? ` (for ${formatBytes(Number(size))} stored in LFS)` : ''}, not the file itself: the repository was checked out without Git LFS. Add \`lfs: true\` to the actions/checkout step (with: lfs: true), or run git lfs pull before publishing`;
  }
  if (/^\s*(<!doctype html|<html|<head|<body)/i.test(text)) return 'it is an HTML page (a saved error or sign-in page?), not a model: download the file itself again';
  if (head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'it is a ZIP archive: unpack it and publish the files inside, or publish the archive under its own extension';
  if (text.startsWith('%PDF-')) return 'it is a PDF document';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'it is a PNG image';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'it is a JPEG image';
  return undefined;
}

async function checkStl(file: LocalFile, head: Buffer): Promise<string | undefined> {
  // Binary STL: the size follows from the triangle count at bytes 80-83 (the head holds them).
  const count = file.bytes >= 84 ? head.readUInt32LE(80) : undefined;
  if (count !== undefined && 84 + 50 * count === file.bytes) return undefined;
  if (/^\s*solid\b/.test(latin1(head.subarray(0, 512)))) {
    const tail = latin1(await readTail(file, head, 512));
    if (/endsolid\b[^\n]*\s*$/.test(tail)) return undefined;
    return 'not a valid STL file: an ASCII STL starts with "solid" but this one does not end with "endsolid" (truncated export?)';
  }
  if (count !== undefined) {
    const needs = 84 + 50 * count;
    const why = file.bytes < needs ? `${needs - file.bytes} bytes short: truncated` : `${file.bytes - needs} bytes too many: a damaged header or extra data`;
    return `not a valid STL file: as binary STL it declares ${count} triangles, which needs ${needs} bytes (84 + 50 × ${count}), but the file has ${file.bytes} (${why}); nor is it ASCII STL (solid … endsolid)`;
  }
  return 'not a valid STL file: too short for binary STL and not ASCII STL (solid … endsolid)';
}

async function checkPdf(file: LocalFile, head: Buffer): Promise<string | undefined> {
  if (!latin1(head.subarray(0, 1024)).includes('%PDF-')) return 'not a valid PDF file: no %PDF- header';
  const tail = latin1(await readTail(file, head, 1024));
  if (!tail.includes('%%EOF')) return 'not a valid PDF file: no %%EOF trailer (truncated?)';
  return undefined;
}

function checkDxf(head: string): string | undefined {
  if (head.startsWith('AutoCAD Binary DXF')) return undefined;
  if (/^\s*0\s*\r?\n\s*SECTION\b/.test(head) || /^\s*999\s*\r?\n/.test(head)) return undefined;
  return 'not a valid DXF file: it starts neither with a "0 / SECTION" group nor with the binary DXF sentinel';
}

/**
 * A reason to refuse the file, or undefined when its content matches its extension (or the type is unchecked).
 * When the bytes are recognisably something else (see identify), the reason says what they are. `whole`: the
 * file's bytes, when the caller has read all of them already (a small file).
 */
export async function checkContent(file: LocalFile, whole?: Buffer): Promise<string | undefined> {
  if (file.bytes === 0) return undefined; // refused elsewhere as empty
  const head = whole && whole.length <= HEAD_BYTES ? whole : await readAt(file, 0, HEAD_BYTES);
  const what = identify(head);
  // A Git LFS pointer is never the model, whatever the extension (checked types or not).
  if (what?.startsWith('it is a Git LFS pointer')) return `not the ${file.ext ? `.${file.ext} ` : ''}file: ${what}`;
  const reason = await checkByExtension(file, head);
  return reason && what ? `${reason}; ${what}` : reason;
}

async function checkByExtension(file: LocalFile, head: Buffer): Promise<string | undefined> {
  switch (file.ext) {
    case 'ifc':
      return checkIfc(latin1(head)) ?? checkStepEnd(file, head, 'IFC');
    case 'step':
    case 'stp':
      return checkStepHeader(latin1(head), 'STEP') ?? checkStepEnd(file, head, 'STEP');
    case 'stl':
      return checkStl(file, head);
    case 'pdf':
      return checkPdf(file, head);
    case 'png':
      return head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) ? undefined : 'not a valid PNG file: the 8-byte PNG signature is missing';
    case 'jpg':
    case 'jpeg':
      return head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff ? undefined : 'not a valid JPEG file: it does not start with the FF D8 FF marker';
    case 'dxf':
      return checkDxf(latin1(head.subarray(0, 256)));
    case 'dwg':
      return /^AC10\d\d/.test(latin1(head.subarray(0, 6))) ? undefined : 'not a valid DWG file: no AC10xx version header';
    default:
      return undefined;
  }
}
