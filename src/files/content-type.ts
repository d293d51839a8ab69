// MIME types by extension for the engineering files we publish. Providers that sign a Content-Type into an
// upload URL must send exactly this value, so one table serves them all.
const TYPES: Record<string, string> = {
  ifc: 'application/x-step',
  ifczip: 'application/zip',
  step: 'application/step',
  stp: 'application/step',
  iges: 'model/iges',
  igs: 'model/iges',
  stl: 'model/stl',
  obj: 'model/obj',
  '3dm': 'model/vnd.3dm',
  dxf: 'image/vnd.dxf',
  dwg: 'image/vnd.dwg',
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  json: 'application/json',
  csv: 'text/csv',
  txt: 'text/plain',
  zip: 'application/zip',
};

export function contentTypeFor(ext: string): string {
  return TYPES[ext.toLowerCase()] ?? 'application/octet-stream';
}
