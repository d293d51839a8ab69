// Small but real-looking engineering files, generated so the repository holds no binaries: used by the
// tests and by the demo. Each is a valid file of its kind (a viewer opens it), just a tiny one.
import { deflateSync } from 'node:zlib';

const stepHeader = (name: string, schema: string) =>
  `ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('${name}'),'2;1');\nFILE_NAME('${name}','2026-11-23T12:00:00',('Model Publisher'),('Acme Engineering'),'model-publisher samples','model-publisher','');\nFILE_SCHEMA(('${schema}'));\nENDSEC;\n`;

/** An IFC4 file with a project, a site, a building, a storey and one wall. */
export function ifc(name = 'tower.ifc', schema: 'IFC2X3' | 'IFC4' | 'IFC4X3' = 'IFC4', walls = 1): string {
  let data = `DATA;\n#1=IFCPROJECT('0YvctVUKr0kugbFTf53O9L',$,'${name}',$,$,$,$,$,$);\n#2=IFCSITE('1YvctVUKr0kugbFTf53O9L',$,'Site',$,$,$,$,$,.ELEMENT.,$,$,$,$,$);\n#3=IFCBUILDING('2YvctVUKr0kugbFTf53O9L',$,'Building',$,$,$,$,$,.ELEMENT.,$,$,$);\n#4=IFCBUILDINGSTOREY('3YvctVUKr0kugbFTf53O9L',$,'Level 1',$,$,$,$,$,.ELEMENT.,0.);\n`;
  for (let i = 0; i < walls; i++) data += `#${10 + i}=IFCWALL('${(4 + i).toString(36).padStart(22, 'W')}',$,'Wall ${i + 1}',$,$,$,$,$,.STANDARD.);\n`;
  return `${stepHeader(name, schema)}${data}ENDSEC;\nEND-ISO-10303-21;\n`;
}

/** A STEP AP214 file describing a 10 mm cube's product and shape representation. */
export function step(name = 'bracket.step'): string {
  return `${stepHeader(name, 'AUTOMOTIVE_DESIGN { 1 0 10303 214 1 1 1 1 }')}DATA;\n#1=APPLICATION_CONTEXT('automotive design');\n#2=PRODUCT('${name}','${name}','',(#3));\n#3=PRODUCT_CONTEXT('',#1,'mechanical');\n#4=CARTESIAN_POINT('',(0.,0.,0.));\n#5=CARTESIAN_POINT('',(10.,10.,10.));\n#6=SHAPE_REPRESENTATION('cube',(#4,#5),#7);\n#7=GEOMETRIC_REPRESENTATION_CONTEXT(3);\nENDSEC;\nEND-ISO-10303-21;\n`;
}

const cubeFacets: [number, number, number][][] = [
  [[0, 0, 0], [1, 1, 0], [1, 0, 0]], [[0, 0, 0], [0, 1, 0], [1, 1, 0]],
  [[0, 0, 1], [1, 0, 1], [1, 1, 1]], [[0, 0, 1], [1, 1, 1], [0, 1, 1]],
  [[0, 0, 0], [1, 0, 0], [1, 0, 1]], [[0, 0, 0], [1, 0, 1], [0, 0, 1]],
  [[0, 1, 0], [1, 1, 1], [1, 1, 0]], [[0, 1, 0], [0, 1, 1], [1, 1, 1]],
  [[0, 0, 0], [0, 0, 1], [0, 1, 1]], [[0, 0, 0], [0, 1, 1], [0, 1, 0]],
  [[1, 0, 0], [1, 1, 0], [1, 1, 1]], [[1, 0, 0], [1, 1, 1], [1, 0, 1]],
];

export function stlAscii(name = 'cube'): string {
  const facets = cubeFacets.map((f) => `  facet normal 0 0 0\n    outer loop\n${f.map((v) => `      vertex ${v.join(' ')}`).join('\n')}\n    endloop\n  endfacet`);
  return `solid ${name}\n${facets.join('\n')}\nendsolid ${name}\n`;
}

export function stlBinary(): Buffer {
  const buf = Buffer.alloc(84 + 50 * cubeFacets.length);
  buf.write('binary STL cube from model-publisher samples', 0, 'ascii');
  buf.writeUInt32LE(cubeFacets.length, 80);
  cubeFacets.forEach((facet, i) => {
    const at = 84 + i * 50;
    facet.forEach((v, j) => v.forEach((c, k) => buf.writeFloatLE(c * 10, at + 12 + j * 12 + k * 4)));
  });
  return buf;
}

/** A binary STL strip of `facets` distinct triangles (84 + 50·n bytes, as the format requires). */
export function stlMesh(facets: number): Buffer {
  const buf = Buffer.alloc(84 + 50 * facets);
  buf.write('binary STL strip from model-publisher samples', 0, 'ascii');
  buf.writeUInt32LE(facets, 80);
  for (let i = 0; i < facets; i++) {
    const at = 84 + i * 50;
    const v = [i, 0, 0, i + 1, 0, 0, i, 1, 0];
    v.forEach((c, k) => buf.writeFloatLE(c, at + 12 + k * 4));
  }
  return buf;
}

/** A one-page PDF drawing with a title block. */
export function pdf(title = 'GA drawing'): Buffer {
  const content = `BT /F1 18 Tf 72 720 Td (${title}) Tj ET\n0 0 1 RG 72 100 450 500 re S`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** A 16×16 PNG inspection "photo" (a grey gradient). */
export function png(size = 16): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc(size * (size + 1));
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) raw[y * (size + 1) + 1 + x] = ((x + y) * 255) / (2 * size);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A baseline JPEG header with a JFIF marker and an EOI (enough for any signature check). */
export function jpeg(): Buffer {
  const jfif = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00]);
  const comment = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x1a]), Buffer.from('inspection photo sample!', 'ascii')]);
  return Buffer.concat([jfif, comment, Buffer.from([0xff, 0xd9])]);
}

/** An ASCII DXF with one line entity. */
export function dxf(): string {
  return ['0', 'SECTION', '2', 'HEADER', '9', '$ACADVER', '1', 'AC1015', '0', 'ENDSEC', '0', 'SECTION', '2', 'ENTITIES', '0', 'LINE', '8', '0', '10', '0.0', '20', '0.0', '30', '0.0', '11', '100.0', '21', '50.0', '31', '0.0', '0', 'ENDSEC', '0', 'EOF', ''].join('\n');
}

/** A DWG (AutoCAD 2018 header magic, then padding). */
export function dwg(): Buffer {
  return Buffer.concat([Buffer.from('AC1032', 'ascii'), Buffer.alloc(122)]);
}
