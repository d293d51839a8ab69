// The GraphQL operations the ION provider sends, each with whether it may be repeated and why. Written from
// ION's file-upload guide: requestFileUploadUrl → PUT to storage → createFileAttachment, and the
// `<kind>(id) { entity { id } }` lookups that turn an object ID into the entity ID attachments hang off.

export interface IonOperation {
  /** The root field, as ION names it (used in messages). */
  field: string;
  document: string;
  /**
   * Whether the same request may be sent again after a 5xx or a dropped connection (a 429 and a 401 are
   * answered before the operation runs, so those are repeated whatever this says).
   */
  idempotent: boolean;
  /** The permission ION checks for this operation, where ION's permission list names it. */
  permission?: string;
}

/** The targets `attach-to` accepts, in ION's own field names. */
export const ATTACH_KINDS = ['runStep', 'run', 'procedure', 'step', 'part', 'runStepField'] as const;
export type AttachKind = (typeof ATTACH_KINDS)[number];

/**
 * A query: it only reads, so repeating it is harmless.
 */
export function entityLookup(kind: AttachKind): IonOperation {
  const name = `${kind[0]!.toUpperCase()}${kind.slice(1)}Entity`;
  return {
    field: kind,
    document: `query ${name}($id: ID!) { ${kind}(id: $id) { id entity { id } } }`,
    idempotent: true,
  };
}

/**
 * A query that mints a fresh single-use upload URL and storage key. Repeating it only mints another URL
 * that nobody uses and that expires within minutes, so it is safe to retry.
 */
export const requestFileUploadUrl: IonOperation = {
  field: 'requestFileUploadUrl',
  document: 'query RequestFileUploadUrl($filename: String!) { requestFileUploadUrl(filename: $filename) { uploadUrl s3Key contentType } }',
  idempotent: true,
  permission: 'CreateFileAttachment',
};

/**
 * A mutation that creates an attachment record. ION documents no idempotency key and no query that lists an
 * entity's attachments, so after a 5xx or a dropped connection we cannot tell whether the record was made:
 * sending it again could attach the file twice. It is therefore never repeated after the request may have
 * reached ION. `downloadUrl` is deliberately not selected: it is a signed URL we never need.
 */
export const createFileAttachment: IonOperation = {
  field: 'createFileAttachment',
  document:
    'mutation CreateFileAttachment($input: CreateFileAttachmentInput!) { createFileAttachment(input: $input) { fileAttachment { id entityId filename } } }',
  idempotent: false,
  permission: 'CreateFileAttachment',
};
