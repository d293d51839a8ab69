// What the run leaves behind on GitHub: the outputs of the interface, the job summary and an error
// annotation per failed file. Pure functions build the values; `writeReport` hands them to @actions/core.
import * as core from '@actions/core';
import type { Secrets } from '../engine/secrets.js';
import type { FileResult } from '../engine/types.js';
import { escapeControls, linkableUrl, markdownText, safeLine } from '../engine/untrusted.js';
import type { ProviderModule } from '../providers/types.js';

export interface ResultRecord {
  path: string;
  bytes: number;
  sha256?: string;
  status: FileResult['status'];
  id?: string;
  url?: string;
  error?: { message: string; code?: string };
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
    ...(id !== undefined ? { id } : {}),
    ...Object.fromEntries(Object.entries(vendorIds).filter(([, v]) => v !== undefined)),
    ...(url ? { url } : {}),
    ...(r.error ? { error: r.error } : {}),
    durationMs: r.durationMs,
  };
}

export type OutputName = 'results' | 'version-ids' | 'attachment-ids' | 'job-ids' | 'ids' | 'succeeded-count' | 'failed-count';

export function buildOutputs(results: readonly FileResult[], provider: ProviderModule): Record<OutputName, string> {
  const records = results.map(toRecord);
  const succeeded = results.filter((r) => r.status === 'succeeded');
  const idsOf = (output: string) =>
    JSON.stringify(
      provider.idOutputs
        .filter((o) => o.output === output)
        .flatMap((o) => succeeded.map((r) => r.ids?.[o.field]).filter((v): v is string => typeof v === 'string')),
    );
  return {
    results: JSON.stringify(records),
    'version-ids': idsOf('version-ids'),
    'attachment-ids': idsOf('attachment-ids'),
    'job-ids': idsOf('job-ids'),
    ids: JSON.stringify(succeeded.map((r) => r.ids!.id)),
    'succeeded-count': String(succeeded.length),
    'failed-count': String(results.filter((r) => r.status === 'failed').length),
  };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const STATUS_ICON: Record<FileResult['status'], string> = { succeeded: '✅ succeeded', failed: '❌ failed', skipped: '⏭️ skipped' };

/** Our own text in an attribute or element (an https URL already checked): HTML-escaped. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One results row's cells; every value from a file name or a server goes through markdownText. */
export function resultRow(r: FileResult): string[] {
  const id = r.ids?.id;
  const url = linkableUrl(r.ids?.url);
  const idCell = id === undefined ? '—' : url ? `<a href="${escapeHtml(url)}">${markdownText(id)}</a>` : `<code>${markdownText(id)}</code>`;
  return [`<code>${markdownText(r.path)}</code>`, formatBytes(r.bytes), idCell, STATUS_ICON[r.status], `${(r.durationMs / 1000).toFixed(1)} s`];
}

/** One failure line: the file, the message and the code, all as text. */
export function failureLine(r: FileResult): string {
  return `<code>${markdownText(r.path)}</code>: ${markdownText(r.error?.message ?? 'failed')}${r.error?.code ? ` (<code>${markdownText(r.error.code)}</code>)` : ''}`;
}

/** The job summary as HTML/Markdown (what core.summary writes), built without touching the runner. */
export function buildSummary(results: readonly FileResult[], provider: ProviderModule, extra: { dryRun: boolean; shard?: string }): string {
  const s = core.summary.emptyBuffer();
  const ok = results.filter((r) => r.status === 'succeeded').length;
  const failed = results.filter((r) => r.status === 'failed');
  s.addHeading(`Model Publisher → ${provider.displayName}`, 2);
  s.addRaw(
    `<p>${extra.dryRun ? 'Dry run: nothing was uploaded. ' : ''}${ok} of ${results.length} file(s) published${failed.length ? `, ${failed.length} failed` : ''}${extra.shard ? ` (shard ${extra.shard})` : ''}.</p>`,
    true,
  );
  if (results.length > 0) {
    s.addTable([
      [
        { data: 'File', header: true },
        { data: 'Size', header: true },
        { data: 'ID', header: true },
        { data: 'Status', header: true },
        { data: 'Time', header: true },
      ],
      ...results.map(resultRow),
    ]);
  }
  // Failures, and files a cancelled run never started.
  const unpublished = results.filter((r) => r.error);
  if (unpublished.length > 0) {
    s.addHeading('Failures', 3);
    s.addList(unpublished.map(failureLine));
  }
  const text = s.stringify();
  s.emptyBuffer();
  return text;
}

/** Hand outputs, summary and annotations to the runner; every string is scrubbed of secrets first. */
export async function writeReport(results: readonly FileResult[], provider: ProviderModule, secrets: Secrets, extra: { dryRun: boolean; shard?: string }): Promise<void> {
  for (const [name, value] of Object.entries(buildOutputs(results, provider))) core.setOutput(name, secrets.scrub(value));
  for (const r of results) {
    if (r.status === 'failed') {
      // @actions/core escapes `%`, CR and LF in the data and `:` and `,` in properties (the runner's command
      // format); safeLine and escapeControls close the rest: no other control character, no terminal code.
      core.error(safeLine(secrets.scrub(`${r.path}: ${r.error?.message ?? 'failed'}`)), {
        title: `${provider.displayName} publish failed`,
        file: escapeControls(secrets.scrub(r.path)),
      });
    }
  }
  if (process.env['GITHUB_STEP_SUMMARY']) {
    await core.summary.addRaw(secrets.scrub(buildSummary(results, provider, extra))).write();
  }
}
