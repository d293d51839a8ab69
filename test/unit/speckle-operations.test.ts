// Every GraphQL document the Speckle provider sends, validated against the real schema: the public SDL of
// speckle-server 2.31 plus the ingestion API of app.speckle.systems for `live` operations, the public SDL
// alone for the 2.x fallback. Documents are found by reading the source files, so one written inline
// (outside speckle/operations.ts) is validated too, and a schema change that breaks one fails CI.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NoDeprecatedCustomRule, parse, validate, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SPECKLE_OPERATIONS } from '../../src/providers/speckle/operations.js';
import { loadSpeckleSchema } from '../emulators/speckle.js';
import { ROOT } from '../support/action.js';

const SRC = path.join(ROOT, 'src');

/** Template or string literals in src/ that hold a GraphQL operation and talk about Speckle's types. */
function documentsInSource(): { file: string; document: string }[] {
  const found: { file: string; document: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/^speckle.*\.ts$/.test(entry.name) || (entry.name.endsWith('.ts') && full.split(path.sep).includes('speckle'))) {
        const text = readFileSync(full, 'utf8');
        // A literal that opens with an operation keyword, up to its own closing delimiter.
        for (const re of [/`\s*((?:query|mutation|subscription)\b[^`]*)`/g, /'\s*((?:query|mutation|subscription)\s+\w+\s*[({][^'\n]*)'/g, /"\s*((?:query|mutation|subscription)\s+\w+\s*[({][^"\n]*)"/g]) {
          for (const m of text.matchAll(re)) found.push({ file: path.relative(ROOT, full), document: m[1]! });
        }
      }
    }
  };
  walk(SRC);
  return found;
}

const live = loadSpeckleSchema('live');
const legacy = loadSpeckleSchema('2.x');

function errorsOf(schema: typeof live, document: string) {
  return validate(schema, parse(document)).map((e) => e.message);
}

describe('Speckle GraphQL documents in src/', () => {
  const sources = documentsInSource();

  it('finds every document, and each is one of SPECKLE_OPERATIONS', () => {
    expect(sources.length).toBe(SPECKLE_OPERATIONS.length);
    const listed = new Set(SPECKLE_OPERATIONS.map((op) => op.document));
    // A document built for a number of names (latestVersionsByName) is listed as one instance of it: its literal
    // must be the start of a listed document up to the first substitution.
    const isListed = (document: string) => listed.has(document) || (document.includes('${') && [...listed].some((d) => d.startsWith(document.slice(0, document.indexOf('${')))));
    for (const { file, document } of sources) expect(isListed(document), `${file}: ${document.slice(0, 60)}… is not in SPECKLE_OPERATIONS`).toBe(true);
  });

  it.each(SPECKLE_OPERATIONS.map((op) => [op.name, op] as const))('%s is valid for the servers it is sent to', (_name, op) => {
    const doc = parse(op.document);
    const def = doc.definitions[0] as OperationDefinitionNode;
    expect(doc.definitions).toHaveLength(1);
    expect(def.name?.value).toBe(op.name);
    if (op.servers !== '2.x') expect(errorsOf(live, op.document), 'against app.speckle.systems (public SDL + ingestion supplement)').toEqual([]);
    if (op.servers !== 'live') expect(errorsOf(legacy, op.document), 'against speckle-server 2.31 (public SDL)').toEqual([]);
    // Every read is safe to repeat; whether a mutation is, each operation says (and why) in its comment.
    if (def.operation === 'query') expect(op.idempotent).toBe(true);
  });

  it('uses no deprecated field', () => {
    for (const op of SPECKLE_OPERATIONS) {
      const schema = op.servers === '2.x' ? legacy : live;
      expect(validate(schema, parse(op.document), [NoDeprecatedCustomRule]).map((e) => e.message), op.name).toEqual([]);
    }
  });

  it('the ingestion-API operations really need the live server: 2.x rejects them', () => {
    for (const op of SPECKLE_OPERATIONS.filter((o) => o.servers === 'live')) {
      expect(errorsOf(legacy, op.document).length, `${op.name} should not validate against 2.x`).toBeGreaterThan(0);
    }
  });

  it('a drifted document fails (the check is real)', () => {
    const drifted = SPECKLE_OPERATIONS.find((o) => o.name === 'IngestionStatus')!.document.replace('errorReason', 'failureReason');
    expect(errorsOf(live, drifted)).toEqual([expect.stringContaining('Cannot query field "failureReason" on type "ModelIngestionFailedStatus"')]);
  });
});

describe('the vendored Speckle schema', () => {
  const shared = path.resolve(ROOT, '../shared/reference/speckle');
  it.skipIf(!existsSync(shared))('equals the shared reference, file for file', () => {
    const list = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile() && /\.(graphql|gql|md)$/.test(d.name))
        .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
        .filter((f) => f.startsWith('schema') || f.startsWith('live-supplement') || f === 'README.md')
        .sort();
    const vendored = path.join(ROOT, 'test/fixtures/speckle');
    expect(list(vendored)).toEqual(list(shared));
    for (const f of list(shared)) expect(readFileSync(path.join(vendored, f), 'utf8'), f).toBe(readFileSync(path.join(shared, f), 'utf8'));
  });
});
