// What a run's results become, wherever they are read (the action's outputs, the command line's JSON): one
// record per file, the ID lists, the counts. Nothing here knows GitHub.
import type { FileResult } from './core/types.js';
import type { ProviderInfo, RunFailure } from './providers/types.js';

export interface ResultRecord {
  path: string;
  bytes: number;
  sha256?: string;
  status: FileResult['status'];
  reason?: FileResult['reason'];
  id?: string;
  url?: string;
  verifiedBy?: string[];
  error?: FileResult['error'];
  durationMs: number;
  [vendorField: string]: unknown;
}

export function toRecord(r: FileResult): ResultRecord {
  const { id, url, ...vendorIds } = r.ids ?? { id: undefined };
  return {
    path: r.path,
    bytes: r.bytes,
    sha256: r.sha256,
    status: r.status,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(id !== undefined ? { id } : {}),
    ...Object.fromEntries(Object.entries(vendorIds).filter(([, v]) => v !== undefined)),
    ...(url ? { url } : {}),
    ...(r.verifiedBy ? { verifiedBy: r.verifiedBy } : {}),
    ...(r.error ? { error: r.error } : {}),
    durationMs: r.durationMs,
  };
}

export type OutputName = 'results' | 'version-ids' | 'attachment-ids' | 'job-ids' | 'ids' | 'succeeded-count' | 'submitted-count' | 'failed-count' | 'skipped-count';

export function buildOutputs(results: readonly FileResult[], provider: ProviderInfo): Record<OutputName, string> {
  const records = results.map(toRecord);
  const succeeded = results.filter((r) => r.status === 'succeeded');
  // Submitted files (wait: false) have real IDs too: a later step can follow them up. So do unchanged files:
  // the IDs the provider already held, so a later step gets every file's current version, upload or job.
  const handedOver = results.filter((r) => r.status === 'succeeded' || r.status === 'submitted' || (r.reason === 'unchanged' && r.ids));
  const idsOf = (output: string) =>
    JSON.stringify(
      provider.idOutputs
        .filter((o) => o.output === output)
        .flatMap((o) => handedOver.map((r) => r.ids?.[o.field]).filter((v): v is string => typeof v === 'string')),
    );
  return {
    results: JSON.stringify(records),
    'version-ids': idsOf('version-ids'),
    'attachment-ids': idsOf('attachment-ids'),
    'job-ids': idsOf('job-ids'),
    ids: JSON.stringify(handedOver.map((r) => r.ids!.id)),
    'succeeded-count': String(succeeded.length),
    'submitted-count': String(results.filter((r) => r.status === 'submitted').length),
    'failed-count': String(results.filter((r) => r.status === 'failed').length),
    'skipped-count': String(results.filter((r) => r.status === 'skipped').length),
  };
}

/** What kind of ID a result's `id` is, from the vendor field that holds the same value. */
const ID_KINDS: [field: string, kind: string][] = [
  ['versionId', 'version'],
  ['attachmentId', 'attachment'],
  ['jobId', 'job'],
  ['dataSourceId', 'data source'],
  ['fileId', 'file'],
  ['ingestionId', 'ingestion'],
];

export function idKind(ids: FileResult['ids']): string | undefined {
  if (!ids) return undefined;
  return ID_KINDS.find(([field]) => ids[field] !== undefined && ids[field] === ids.id)?.[1];
}

/** Whether a file failed with the run's own failure (reported once, not per file). */
export function failedByRun(r: FileResult, failure: RunFailure | undefined): boolean {
  return failure !== undefined && r.status === 'failed' && r.error?.code === failure.code && r.error.message === failure.message;
}
