// Untrusted text stays text: log lines, summary/comment HTML, and the one registry of secrets.
import { describe, expect, it } from 'vitest';
import { Secrets } from '../../src/core/secrets.js';
import type { FileResult } from '../../src/core/types.js';
import { escapeControls, linkableUrl, markdownText, safeLine, safeProperty } from '../../src/core/untrusted.js';
import { buildComment, COMMENT_LIMIT } from '../../src/github/comment.js';
import { buildSummary } from '../../src/github/report.js';
import { providers } from '../../src/providers/index.js';

const arcnm = providers.find((p) => p.id === 'arcnm')!;

describe('safeProperty', () => {
  it('keeps an annotation property to one line without the ##[ command form', () => {
    expect(safeProperty('cad/esc\u001b[31m##[error]x.step\nnext')).toBe('cad/esc\\x1b[31m#\\x23[error]x.step\\nnext');
    expect(safeProperty('cad/a.step')).toBe('cad/a.step');
  });
});

describe('safeLine', () => {
  it('never lets a line start a workflow command', () => {
    for (const name of ['::stop-commands::x.step', '  ::add-mask::x', '\t::error::x', '::set-output name=a::b']) {
      const line = safeLine(name);
      expect(line.trim().startsWith('::'), line).toBe(false);
      expect(line).not.toMatch(/[\r\n\t]/);
    }
    expect(safeLine('a.step\n::stop-commands::t')).toBe('a.step\\n::stop-commands::t');
    expect(safeLine('x ##[error]y')).not.toContain('##[');
  });
  it('shows control and ANSI characters escaped, and keeps ordinary text as it is', () => {
    expect(escapeControls('\u001b[31mred\u001b[0m\r')).toBe('\\x1b[31mred\\x1b[0m\\r');
    expect(escapeControls('a\u202eb\u0085c')).toBe('a\\u202eb\\x85c');
    expect(safeLine('models/Tower A (v2).ifc: uploaded 12 bytes')).toBe('models/Tower A (v2).ifc: uploaded 12 bytes');
  });
});

describe('markdownText', () => {
  it('leaves no Markdown or HTML meaning, on one line', () => {
    const evil = '# Title\n| a | b |\n![img](https://evil.example/x.png) [link](https://evil.example) <img src=x onerror=alert(1)> @octocat #12 `code` **bold** www.evil.example';
    const out = markdownText(evil);
    expect(out).not.toMatch(/[\n\r<>|[\]()`*!]/);
    expect(out).not.toMatch(/@[A-Za-z0-9]/);
    expect(out).not.toMatch(/https?:\/\//);
    expect(out).not.toMatch(/www\./);
    expect(out).not.toContain('&#35;1'); // #12 would be an issue reference
  });
  it('links only http(s) URLs', () => {
    expect(linkableUrl('javascript:alert(1)')).toBeUndefined();
    expect(linkableUrl('https://app.example/p/1')).toBe('https://app.example/p/1');
  });
});

describe('Secrets', () => {
  it('masks every form at once and scrubs the same live set', () => {
    const masked: string[] = [];
    const secrets = new Secrets((s) => masked.push(s));
    secrets.add('tok/en+"1234');
    expect(masked).toEqual(['tok/en+"1234', 'tok%2Fen%2B%221234', 'tok/en+\\"1234']);
    expect(secrets.scrub(`a tok/en+"1234 b ${JSON.stringify('tok/en+"1234')} c tok%2Fen%2B%221234`)).toBe('a *** b "***" c ***');
    secrets.add('later-fetched-token');
    expect(secrets.scrub('echo: later-fetched-token')).toBe('echo: ***');
    expect(secrets.scrub('https://s3/b/k?X-Amz-Signature=abc123&x=1 sig=zz')).toBe('https://s3/b/k?X-Amz-Signature=***&x=1 sig=***');
  });
});

describe('summary and comment', () => {
  const result = (i: number, status: FileResult['status']): FileResult => ({
    path: `models/part-${i}-${'x'.repeat(60)}.step`,
    bytes: 1000,
    status,
    durationMs: 10,
    ...(status === 'failed' ? { error: { message: `rejected ${i}: ${'y'.repeat(200)}`, code: 'invalid_content' } } : { ids: { id: `job_${i}` } }),
  });
  it('stays under GitHub\'s comment limit with many files, failures first', () => {
    const results = [...Array.from({ length: 3000 }, (_, i) => result(i, 'succeeded')), ...Array.from({ length: 500 }, (_, i) => result(i, 'failed'))];
    expect(buildSummary(results, arcnm, { dryRun: false }).length).toBeGreaterThan(COMMENT_LIMIT);
    const body = buildComment(results, arcnm, { dryRun: false, runUrl: 'https://github.com/acme/models/actions/runs/1' }, (t) => t);
    expect(body.length).toBeLessThan(COMMENT_LIMIT - 100);
    expect(body).toContain('3000 of 3500 file(s) published, 500 failed');
    expect(body).toContain('part-0-');
    expect(body).toMatch(/more failure\(s\): see the job summary/);
    expect(body).not.toContain('job_1<');
  });
  it("stays under GitHub's 1 MiB job summary limit with many files, failures shown first and the rest counted", () => {
    const results = [...Array.from({ length: 6000 }, (_, i) => result(i, 'succeeded')), ...Array.from({ length: 500 }, (_, i) => result(i, 'failed'))];
    const summary = buildSummary(results, arcnm, { dryRun: false });
    expect(Buffer.byteLength(summary)).toBeLessThan(1024 * 1024);
    expect(summary).toContain('6000 of 6500 file(s) published, 500 failed');
    const rows = summary.match(/<tr>/g)!.length - 1; // the header row
    expect(summary).toContain(`…and ${6500 - rows} more file(s), not listed`);
    // Every failure has its row (failures come first), and the shown rows keep their order.
    const table = summary.slice(0, summary.indexOf('<h3>Failures</h3>'));
    expect(table.match(/❌ failed/g)).toHaveLength(500);
    expect(table.match(/✅ succeeded/g)!.length).toBe(rows - 500);
    expect(table.indexOf('job_0<')).toBeLessThan(table.indexOf('job_1<'));
    const failuresList = summary.slice(summary.indexOf('<h3>Failures</h3>'));
    expect(failuresList).toContain('rejected 0');
    const listed = failuresList.match(/<li>/g)!.length;
    expect(failuresList).toContain(`…and ${500 - listed} more failure(s): see the log`);
  });
  it('keeps the whole table when it fits', () => {
    const results = [result(1, 'succeeded'), result(2, 'failed')];
    expect(buildComment(results, arcnm, { dryRun: false }, (t) => t)).toBe(buildSummary(results, arcnm, { dryRun: false }));
  });
});

describe('Secrets.scrub', () => {
  it('covers overlapping secrets whole, whichever is registered first', () => {
    const secrets = new Secrets();
    secrets.add('xxab');
    secrets.add('abcdef');
    expect(secrets.scrub('1 xxabcdef 2 abcdef 3 xxab')).toBe('1 *** 2 *** 3 ***');
  });
  it('finds one among ten thousand registered signatures, in every line', () => {
    const secrets = new Secrets();
    for (let i = 0; i < 10_000; i++) secrets.add(`signature-${i.toString(16).padStart(8, '0')}-of-a-presigned-url`);
    const lines = Array.from({ length: 1000 }, (_, i) => `cad/part-${i}.step: uploaded 1200 bytes, signature-${(i * 7).toString(16).padStart(8, '0')}-of-a-presigned-url`);
    const out = lines.map((l) => secrets.scrub(l));
    expect(out.every((l, i) => l === `cad/part-${i}.step: uploaded 1200 bytes, ***`)).toBe(true);
  });
  it('covers exactly what a plain search covers, at every position (start, end, adjacent, non-ASCII)', () => {
    // The rolling hash only chooses where to compare: the result must equal covering every occurrence found by
    // indexOf. A small alphabet makes occurrences, overlaps and neighbours frequent.
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const alphabet = ['a', 'b', 'c', 'é', '\u{1F600}', '%', '"'];
    const word = (len: number) => Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join('');
    for (let round = 0; round < 300; round++) {
      const list = Array.from({ length: 1 + rand(4) }, () => word(2 + rand(6)));
      const secrets = new Secrets();
      for (const s of list) secrets.add(s);
      const text = word(rand(60));
      const covered = new Uint8Array(text.length);
      for (const form of secrets.list().filter((f) => f.length >= 4)) {
        for (let i = text.indexOf(form); i !== -1; i = text.indexOf(form, i + 1)) covered.fill(1, i, i + form.length);
      }
      let expected = '';
      for (let i = 0; i < text.length; ) {
        if (!covered[i]) expected += text[i++];
        else {
          expected += '***';
          while (covered[i]) i++;
        }
      }
      expect(secrets.scrub(text), JSON.stringify({ list, text })).toBe(expected.replace(/((?:X-Amz-Signature|sig|Signature)=)[^&\s"'<>\\]+/g, '$1***'));
    }
  });
});
