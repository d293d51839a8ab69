// What "succeeded" means for ION, checked at the emulator: the one assertion every ION end-to-end run makes.
// A file reported `succeeded` has an attachment on ION with the reported ID, on the reported entity (an entity
// ION knows), named as the file, pointing at a storage key ION handed out, whose stored bytes equal the local
// file. No upload is attached twice, and attachment-ids lists exactly the reported attachments.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExpectStatic } from 'vitest';
import type { IonEmulator } from '../emulators/ion.js';
import type { ActionRun } from './action.js';

export async function expectIonHolds(
  expect: ExpectStatic,
  ion: IonEmulator,
  workspace: string,
  run: ActionRun,
  /** The name each attachment should carry (the `name` input): the base name unless a test says otherwise. */
  nameOf: (file: string) => string = (file) => path.basename(file),
): Promise<void> {
  const perKey = new Map<string, number>();
  for (const a of ion.attachments) perKey.set(a.s3Key, (perKey.get(a.s3Key) ?? 0) + 1);
  for (const [key, n] of perKey) expect(n, `${key}: attached once`).toBe(1);

  const succeeded = run.results.filter((r) => r.status === 'succeeded');
  for (const r of succeeded) {
    const where = `${r.path} (reported succeeded)`;
    const attachment = ion.attachments.find((a) => a.id === r.attachmentId);
    expect(attachment, `${where}: ION has attachment ${r.attachmentId}`).toBeDefined();
    expect(attachment!.entityId, `${where}: on the reported entity`).toBe(r.entityId);
    expect(ion.entities.has(attachment!.entityId), `${where}: an entity ION knows`).toBe(true);
    expect(attachment!.filename, `${where}: named as the file`).toBe(nameOf(r.path));
    expect(ion.uploads.has(attachment!.s3Key), `${where}: at a storage key ION handed out`).toBe(true);
    const stored = ion.blob.get(attachment!.s3Key);
    const local = await readFile(path.join(workspace, r.path));
    expect(stored?.bytes.equals(local), `${where}: the attachment's stored bytes equal the local file`).toBe(true);
  }
  const ids = succeeded.map((r) => r.attachmentId as string);
  expect(new Set(ids).size, 'no attachment reported twice').toBe(ids.length);
  if (run.outputs['attachment-ids'] !== undefined) expect(JSON.parse(run.outputs['attachment-ids']), 'attachment-ids lists exactly the reported attachments').toEqual(ids);
}
