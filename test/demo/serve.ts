// `npm run emulators`: start every emulator and keep them running until interrupted.
//   --write-env FILE   append NAME=value lines (URLs, demo credentials) to FILE, e.g. "$GITHUB_ENV"
//   --samples DIR     write the demo's sample files under DIR
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmulators } from './emulators.js';
import { demoFiles } from './files.js';

const { values } = parseArgs({ options: { 'write-env': { type: 'string' }, samples: { type: 'string' } } });
if (values.samples) {
  for (const [rel, content] of Object.entries(demoFiles)) {
    const abs = path.resolve(values.samples, rel);
    await mkdir(path.dirname(abs), { recursive: true });
    await writeFile(abs, content);
  }
  console.log(`sample files written under ${values.samples}`);
}
const emulators = await startEmulators();
const lines = Object.entries(emulators.env).map(([k, v]) => `${k}=${v}`);
console.log(lines.join('\n'));
if (values['write-env']) await appendFile(values['write-env'], `${lines.join('\n')}\n`);
console.log('emulators running; Ctrl-C to stop');
const stop = async () => {
  await emulators.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
