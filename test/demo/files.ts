// The demo's workspace: a few small, real-looking engineering files.
import * as samples from '../support/samples.js';

export const demoFiles: Record<string, string | Buffer> = {
  'cad/brackets/bracket-L.step': samples.step('bracket-L.step'),
  'cad/housing.stp': samples.step('housing.stp'),
  'cad/meshes/cube.stl': samples.stlBinary(),
  'drawings/GA-100.pdf': samples.pdf('GA-100 general arrangement'),
  'photos/inspection-2026-11-23.jpg': samples.jpeg(),
  'models/site/tower.ifc': samples.ifc('tower.ifc', 'IFC4', 3),
  'models/site/podium.ifc': samples.ifc('podium.ifc', 'IFC2X3', 2),
  // Named .ifc but exported as plain STEP: Speckle refuses to ingest it (and the local check would too).
  'models/broken/export.ifc': samples.step('export.ifc'),
};
