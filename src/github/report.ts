// What the run leaves behind on GitHub: the outputs of the interface, the job summary and an error
// annotation per failed file. Pure functions build the values; `writeReport` hands them to @actions/core.
import * as core from './actions-core.js';
import type { Secrets } from '../core/secrets.js';
import type { Evidence, FileResult } from '../core/types.js';
import { linkableUrl, markdownText, safeLine, safeProperty } from '../core/untrusted.js';
import { formatBytes } from '../core/units.js';
import type { ProviderInfo, RunFailure } from '../providers/types.js';
import { fileOutcome, shardsLine, type MergeReport } from '../merge.js';
import { buildOutputs, failedByRun, idKind } from '../results.js';

const STATUS_ICON: Record<FileResult['status'], string> = {
  succeeded: '✅ succeeded',
  submitted: '📤 submitted, not verified',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
};

/** How each piece of evidence reads in the summary. */
const EVIDENCE_LABEL: Record<Evidence, string> = {
  'etag-md5': 'storage ETag (MD5)',
  'content-md5': 'storage Content-MD5',
  'speckle-etag': 'Speckle ETag check',
  'ion-validate-upload': 'ION validateUpload',
  'arcnm-sha256': 'ARCNM SHA-256',
  'arcnm-size': 'ARCNM size',
};

function verifiedCell(r: FileResult): string {
  // The provider's own record of the file's SHA-256 equals the bytes on disk: that is what skipped it.
  if (r.reason === 'unchanged') return 'SHA-256 held by the provider';
  if (r.status !== 'succeeded' && r.status !== 'submitted') return '—';
  const evidence = (r.verifiedBy ?? []).map((e) => EVIDENCE_LABEL[e]);
  return evidence.length > 0 ? evidence.join(', ') : '⚠️ no checksum available';
}

/** Our own text in an attribute or element (an https URL already checked): HTML-escaped. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** One results row's cells; every value from a file name or a server goes through markdownText. */
export function resultRow(r: FileResult): string[] {
  const id = r.ids?.id;
  const url = linkableUrl(r.ids?.url);
  const kind = idKind(r.ids);
  const attached = r.ids?.['partId'] ? ` (attached to part <code>${markdownText(r.ids['partId'])}</code> revision <code>${markdownText(r.ids['revisionId'] ?? '')}</code>)` : '';
  const idCell = id === undefined ? '—' : `${kind ? `${kind} ` : ''}${url ? `<a href="${escapeHtml(url)}">${markdownText(id)}</a>` : `<code>${markdownText(id)}</code>`}${attached}`;
  const status = r.status === 'skipped' && r.reason ? `${STATUS_ICON.skipped} (${SKIP_REASON[r.reason]})` : STATUS_ICON[r.status];
  return [`<code>${markdownText(r.path)}</code>`, formatBytes(r.bytes), idCell, status, verifiedCell(r), `${(r.durationMs / 1000).toFixed(1)} s`];
}

/** One failure line: the file, the message and the code, all as text. */
export function failureLine(r: FileResult): string {
  return `<code>${markdownText(r.path)}</code>: ${markdownText(r.error?.message ?? 'failed')}${r.error?.code ? ` (<code>${markdownText(r.error.code)}</code>)` : ''}`;
}

/** The job summary as HTML/Markdown (what core.summary writes), built without touching the runner. */
export interface ReportExtra {
  dryRun: boolean;
  shard?: string;
  /** The run failed as a whole: shown first, with its fix, instead of once per file. */
  failure?: RunFailure;
  /** Where the run publishes (ConfiguredProvider.target). */
  target?: string;
  /** changed-since: the matched files left out as unchanged since that commit. */
  unchanged?: { since: string; commit: string; count: number };
  /** The merge step's report: the shards, their results files and what is wrong with the set. */
  merge?: MergeReport;
}

/** Text from a results file, shortened for a table cell or a list item (the log has it whole). */
const clip = (t: string, max = 600) => (t.length > max ? `${t.slice(0, max)}…` : t);

/** At most this many problems are listed (each names its shard); the rest are counted. */
const MAX_PROBLEMS = 20;

/** The merge's own lines: which shards were merged, what is missing or wrong. Everything from a file is text. */
export function mergeHead(m: MergeReport): string {
  const lines = [`<p>${markdownText(shardsLine(m))}.</p>`];
  if (m.problems.length > 0) {
    const shown = m.problems.slice(0, MAX_PROBLEMS).map((p) => `<li>${markdownText(clip(p))}</li>`);
    const more = m.problems.length > MAX_PROBLEMS ? [`<li>…and ${m.problems.length - MAX_PROBLEMS} more problem(s): see the log.</li>`] : [];
    lines.push(`<p><strong>❌ This report may not cover every file:</strong></p>`, `<ul>${[...shown, ...more].join('')}</ul>`);
  }
  return lines.join('\n');
}

/** One row per results file and per missing shard, in shard order. */
function shardRows(m: MergeReport): string[][] {
  const rows: [number, string[]][] = m.files.map((f) => [
    f.shard?.index ?? 0,
    [f.shard ? `${f.shard.index}/${f.shard.total}` : '—', `<code>${markdownText(f.file)}</code>`, `${f.used ? '' : '⚠️ '}${markdownText(clip(fileOutcome(f)))}`],
  ]);
  for (const k of m.missing) if (!m.files.some((f) => f.used && f.shard?.index === k)) rows.push([k, [`${k}/${m.total}`, '—', '❌ missing: no results file']]);
  return rows.sort((a, b) => a[0] - b[0]).map(([, r]) => r);
}

/** How many files were published, submitted and failed: the summary's and the comment's first line. */
export function countsLine(results: readonly FileResult[], provider: ProviderInfo, extra: Pick<ReportExtra, 'dryRun' | 'shard' | 'unchanged'>): string {
  const count = (status: FileResult['status']) => results.filter((r) => r.status === status).length;
  const [ok, submitted, failed] = [count('succeeded'), count('submitted'), count('failed')];
  const unchanged = results.filter((r) => r.reason === 'unchanged').length;
  const otherSkips = count('skipped') - unchanged - (extra.dryRun ? results.filter((r) => r.reason === 'dry-run').length : 0);
  const wouldPublish = results.filter((r) => r.reason === 'dry-run').length;
  const skips = `${unchanged ? `, ${unchanged} skipped as unchanged (${provider.displayName} already holds them)` : ''}${otherSkips > 0 ? `, ${otherSkips} skipped (not started)` : ''}`;
  const leftOut = extra.unchanged ? `; ${extra.unchanged.count} matched file(s) unchanged since <code>${markdownText(extra.unchanged.since)}</code> left out (changed-since)` : '';
  if (extra.dryRun) {
    return `Dry run: nothing was uploaded. ${wouldPublish} of ${results.length} file(s) would be published${skips}${failed ? `, ${failed} failed` : ''}${extra.shard ? ` (shard ${extra.shard})` : ''}${leftOut}`;
  }
  return `${ok} of ${results.length} file(s) published${submitted ? `, ${submitted} submitted without waiting for ${provider.displayName}'s verdict (wait is false, or the run was cancelled): not verified` : ''}${skips}${failed ? `, ${failed} failed` : ''}${extra.shard ? ` (shard ${extra.shard})` : ''}${leftOut}`;
}

/** Why a skipped file was not sent, as the summary's status cell says it. */
const SKIP_REASON: Record<NonNullable<FileResult['reason']>, string> = {
  unchanged: 'unchanged: already held',
  'dry-run': 'dry run: would publish',
};

/**
 * GitHub refuses a step's summary over 1 MiB (and the step then shows none). The results table and the failures
 * list are each held to a share of it (what the failures leave unused goes to the table): failed files first,
 * then files submitted without a verdict, then the rest, shown in their own order; what does not fit is counted.
 * Sizes are of the cells' text, with room for the table's tags.
 */
const TABLE_BUDGET = 800 * 1024;
const FAILURES_BUDGET = 150 * 1024;
const TAGS_PER_ROW = 80;
const PRIORITY: Record<FileResult['status'], number> = { failed: 0, submitted: 1, succeeded: 2, skipped: 3 };

/** Which of `items` (by index, in their order) fit within `budget` bytes of `texts`, by PRIORITY; and their size. */
function withinBudget(items: readonly FileResult[], texts: readonly string[], budget: number): { shown: number[]; left: number; bytes: number } {
  const sizes = texts.map((t) => Buffer.byteLength(t) + TAGS_PER_ROW);
  let total = sizes.reduce((a, b) => a + b, 0);
  if (total <= budget) return { shown: items.map((_, i) => i), left: 0, bytes: total };
  const order = items.map((_, i) => i).sort((a, b) => PRIORITY[items[a]!.status] - PRIORITY[items[b]!.status] || a - b);
  const keep: number[] = [];
  total = 0;
  for (const i of order) {
    if (total + sizes[i]! > budget) break;
    total += sizes[i]!;
    keep.push(i);
  }
  return { shown: keep.sort((a, b) => a - b), left: items.length - keep.length, bytes: total };
}

export function buildSummary(results: readonly FileResult[], provider: ProviderInfo, extra: ReportExtra): string {
  const s = core.summary.emptyBuffer();
  s.addHeading(`Model Publisher → ${provider.displayName}`, 2);
  if (extra.target) s.addRaw(`<p>Target: ${markdownText(`${provider.displayName} ${extra.target}`)}</p>`, true);
  // A run that failed as a whole says so first, with the input to change: it must not read like "0 of 0".
  if (extra.failure) {
    const f = extra.failure;
    const affected = results.filter((r) => failedByRun(r, f)).length;
    s.addRaw(
      `<p><strong>❌ The run failed: ${markdownText(f.message)}</strong></p><p><strong>Fix:</strong> ${markdownText(f.fix)} (input <code>${markdownText(f.input)}</code>). ${affected} of ${results.length} file(s) were not published for this reason.</p>`,
      true,
    );
  }
  if (extra.merge) {
    s.addRaw(mergeHead(extra.merge), true);
    s.addTable([[{ data: 'Shard', header: true }, { data: 'Results file', header: true }, { data: 'Outcome', header: true }], ...shardRows(extra.merge)]);
  }
  s.addRaw(`<p>${countsLine(results, provider, extra)}.</p>`, true);
  // Failures, and files a cancelled run never started.
  const unpublished = results.filter((r) => r.error && !failedByRun(r, extra.failure));
  const failureLines = unpublished.map(failureLine);
  const failures = withinBudget(unpublished, failureLines, FAILURES_BUDGET);
  if (results.length > 0) {
    const cells = results.map(resultRow);
    const rows = withinBudget(
      results,
      cells.map((c) => c.join('')),
      TABLE_BUDGET + FAILURES_BUDGET - failures.bytes,
    );
    s.addTable([
      [
        { data: 'File', header: true },
        { data: 'Size', header: true },
        { data: 'ID', header: true },
        { data: 'Status', header: true },
        { data: 'Verified by', header: true },
        { data: 'Time', header: true },
      ],
      ...rows.shown.map((i) => cells[i]!),
    ]);
    if (rows.left > 0) {
      s.addRaw(`<p>…and ${rows.left} more file(s), not listed: a job summary holds at most 1 MiB. Every file is in the <code>results</code> output and the log.</p>`, true);
    }
  }
  if (failures.shown.length > 0) {
    s.addHeading('Failures', 3);
    s.addList(failures.shown.map((i) => failureLines[i]!));
    if (failures.left > 0) s.addRaw(`<p>…and ${failures.left} more failure(s): see the log and the <code>results</code> output.</p>`, true);
  }
  const text = s.stringify();
  s.emptyBuffer();
  return text;
}

/** Hand outputs, summary and annotations to the runner; every string is scrubbed of secrets first. */
export async function writeReport(results: readonly FileResult[], provider: ProviderInfo, secrets: Secrets, extra: ReportExtra): Promise<void> {
  for (const [name, value] of Object.entries(buildOutputs(results, provider))) core.setOutput(name, secrets.scrub(value));
  for (const r of results) {
    if (r.status === 'failed' && !failedByRun(r, extra.failure)) {
      // @actions/core escapes `%`, CR and LF in the data and `:` and `,` in properties (the runner's command
      // format); safeLine and safeProperty close the rest: no other control character, no terminal code, no `##[`.
      core.error(safeLine(secrets.scrub(`${r.path}: ${r.error?.message ?? 'failed'}`)), {
        title: `${provider.displayName} publish failed`,
        file: safeProperty(secrets.scrub(r.path)),
      });
    }
  }
  if (process.env['GITHUB_STEP_SUMMARY']) {
    await core.summary.addRaw(secrets.scrub(buildSummary(results, provider, extra))).write();
  }
}
