// Bad input, table-driven, across every provider: each case must fail the step with a message that names the
// problem and the fix, and send no request that writes anything (reads such as a server-capability query or an
// entity lookup are allowed: they are how some problems are found). Prints how many cases passed.
import { symlink } from 'node:fs/promises';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArcnmEmulator } from '../emulators/arcnm.js';
import { BlobStore } from '../emulators/blob.js';
import { ColdstreamEmulator } from '../emulators/coldstream.js';
import { IonEmulator } from '../emulators/ion.js';
import { sendJson, startServer, type RequestLogEntry, type RunningServer } from '../emulators/server.js';
import { makeWorkspace, runAction } from '../support/action.js';
import * as samples from '../support/samples.js';

const ARCNM_KEY = 'ak_test_badinput000000000000';
const CS_TOKEN = 'cs_badinput_token_000000000';
const ION_TOKEN = 'ion_badinput_token_00000000';

let blob: BlobStore;
let arcnm: ArcnmEmulator;
let coldstream: ColdstreamEmulator;
let ion: IonEmulator;
let html: RunningServer;
let wrongShape: RunningServer;
let outside: string;

beforeAll(async () => {
  blob = new BlobStore();
  await blob.start();
  arcnm = new ArcnmEmulator({ blob, apiKey: ARCNM_KEY });
  await arcnm.start();
  coldstream = new ColdstreamEmulator({ blob, token: CS_TOKEN });
  await coldstream.start();
  ion = new IonEmulator({ blob, tokens: [ION_TOKEN] });
  await ion.start();
  // A login page where the API should be, and a GraphQL server answering the wrong shape.
  html = await startServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>Sign in</body></html>'));
  wrongShape = await startServer((_req, res) => sendJson(res, 200, { data: { runStep: { id: '101', entity: null } } }));
  outside = await mkdtemp(path.join(os.tmpdir(), 'mp-outside-'));
  await writeFile(path.join(outside, 'secret.step'), samples.step());
});

let passed = 0;
const cases: [string, () => Record<string, string>, RegExp, Record<string, string | Buffer>?][] = [];
afterAll(async () => {
  console.log(`bad input: ${cases.length} cases, ${passed} passed`);
  await Promise.all([arcnm.close(), coldstream.close(), ion.close(), html.close(), wrongShape.close()]);
  await blob.close();
});

const arcnmInputs = () => ({ provider: 'arcnm', path: 'cad/*.step', 'server-url': arcnm.url, token: ARCNM_KEY });
const csInputs = () => ({ provider: 'coldstream', path: 'cad/*.step', 'server-url': coldstream.url, token: CS_TOKEN, 'case-id': '1001' });
const ionInputs = () => ({ provider: 'ion', path: 'drawings/*.pdf', 'server-url': ion.url, token: ION_TOKEN, 'attach-to': 'runStep:101' });

const files = { 'cad/a.step': samples.step(), 'drawings/a.pdf': samples.pdf() };
const writes = (log: RequestLogEntry[]) => log.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !(r.method === 'POST' && /graphql/.test(r.path)));

// [name, inputs (over a provider's valid ones), expected message, extra files]
function table(): typeof cases {
  return [
    ['unknown provider', () => ({ ...arcnmInputs(), provider: 'dropbox' }), /Input 'provider': got "dropbox"; expected one of speckle, ion, coldstream, arcnm/],
    ['missing provider', () => ({ ...arcnmInputs(), provider: '' }), /Input 'provider': is required/],
    ['missing path', () => ({ ...arcnmInputs(), path: '' }), /Input 'path': is required: one or more glob patterns/],
    ['only exclusions', () => ({ ...arcnmInputs(), path: '!cad/*.step' }), /Input 'path': has only exclusions.*add a pattern/],
    ['ARCNM: missing token', () => ({ ...arcnmInputs(), token: '' }), /Input 'token': is required.*ARCNM_API_KEY/],
    ['Coldstream: missing token', () => ({ ...csInputs(), token: '' }), /Input 'token': is required.*COLDSTREAM_TOKEN/],
    ['ION: missing credentials', () => ({ ...ionInputs(), token: '' }), /Input 'token'|Input 'client-id'|ION_TOKEN/],
    ['Coldstream: missing case-id', () => ({ ...csInputs(), 'case-id': '' }), /Input 'case-id': is required/],
    ['Coldstream: malformed case-id', () => ({ ...csInputs(), 'case-id': '10 01' }), /Input 'case-id'/],
    ['Coldstream: unknown region', () => ({ ...csInputs(), 'server-url': '', region: 'mars1' }), /Input 'region'.*eu1, us1.*ap1/],
    ['Coldstream: unknown finalize', () => ({ ...csInputs(), finalize: 'render' }), /Input 'finalize'.*auto.*convert.*initialize.*none/],
    ['ARCNM: malformed part-id', () => ({ ...arcnmInputs(), 'part-id': 'part/1', 'revision-id': 'B' }), /Input 'part-id'/],
    ['ARCNM: revision without part', () => ({ ...arcnmInputs(), 'revision-id': 'B' }), /Input 'part-id': part-id and revision-id go together/],
    ['ION: neither entity-id nor attach-to', () => ({ ...ionInputs(), 'attach-to': '' }), /Input 'entity-id': is required for ION.*attach-to/],
    ['ION: entity-id with attach-to', () => ({ ...ionInputs(), 'entity-id': '7001' }), /Input 'attach-to': give exactly one of entity-id and attach-to/],
    ['ION: malformed attach-to', () => ({ ...ionInputs(), 'attach-to': 'wafer:12' }), /Input 'attach-to': got "wafer:12"; expected .*runStep/],
    ['ION: token and client credentials', () => ({ ...ionInputs(), 'client-id': 'cid', 'client-secret': 'csecret' }), /Input 'token': give either token or client-id\/client-secret/],
    ['ION: client-id without secret', () => ({ ...ionInputs(), token: '', 'client-id': 'cid' }), /Input 'client-secret': is required with client-id/],
    ['ION: client credentials on an unknown server without auth-url', () => ({ ...ionInputs(), token: '', 'client-id': 'cid', 'client-secret': 'csecret' }), /Input 'auth-url'/],
    ['shard out of range', () => ({ ...arcnmInputs(), shard: '5/4' }), /Input 'shard'.*1 ≤ K ≤ N/],
    ['shard malformed', () => ({ ...arcnmInputs(), shard: 'half' }), /Input 'shard'.*K\/N/],
    ['concurrency 0', () => ({ ...arcnmInputs(), concurrency: '0' }), /Input 'concurrency'.*1 to 32/],
    ['concurrency 33', () => ({ ...arcnmInputs(), concurrency: '33' }), /Input 'concurrency'.*1 to 32/],
    ['max-attempts not a number', () => ({ ...arcnmInputs(), 'max-attempts': 'many' }), /Input 'max-attempts'.*whole number/],
    ['wait not a boolean', () => ({ ...arcnmInputs(), wait: 'maybe' }), /Input 'wait'.*true or false/],
    ['if-no-files-found unknown', () => ({ ...arcnmInputs(), 'if-no-files-found': 'fail' }), /Input 'if-no-files-found'.*error, warn or ignore/],
    ['http:// to a remote host', () => ({ ...arcnmInputs(), 'server-url': 'http://api.arcnm.io' }), /Input 'server-url': http:\/\/ is accepted only for loopback hosts.*use https:\/\/api.arcnm.io/],
    ['server-url not a URL', () => ({ ...arcnmInputs(), 'server-url': 'api.arcnm.io' }), /Input 'server-url'.*absolute URL/],
    ['server-url with credentials', () => ({ ...arcnmInputs(), 'server-url': 'https://user:pw@api.arcnm.io' }), /Input 'server-url'.*without query, fragment or credentials/],
    ['token with a newline', () => ({ ...arcnmInputs(), token: `${ARCNM_KEY}\nextra` }), /Input 'token': contains whitespace or a line break/],
    ['glob outside the workspace', () => ({ ...arcnmInputs(), path: '../**/*.step' }), /Input 'path'.*leads outside the workspace/],
    ['symlink outside the workspace', () => ({ ...arcnmInputs(), path: 'linked/*.step' }), /is a symbolic link to .* outside the workspace/, { 'linked/.keep': '' }],
    ['no files matched', () => ({ ...arcnmInputs(), path: 'missing/**/*.step' }), /Input 'path': no files matched.*if-no-files-found/],
    ['an empty file', () => ({ ...arcnmInputs(), path: 'cad/empty.step' }), /the file is empty \(0 bytes\)/, { 'cad/empty.step': '' }],
    ['ARCNM: an extension it does not accept', () => ({ ...arcnmInputs(), path: 'models/*.ifc' }), /ARCNM accepts .*\.ifc is not accepted.*change the path pattern/, { 'models/t.ifc': samples.ifc() }],
    ['Coldstream: an extension it does not accept', () => ({ ...csInputs(), path: 'drawings/*.pdf' }), /\.pdf.*(not accepted|accepts)/i],
    ['content that does not match its extension', () => ({ ...arcnmInputs(), path: 'cad/fake.step' }), /not a valid STEP file.*ISO-10303-21/, { 'cad/fake.step': 'PK\u0003\u0004 zip' }],
    ['changed-since that would be a git option', () => ({ ...arcnmInputs(), 'changed-since': '--output=/tmp/x' }), /Input 'changed-since': got "--output=\/tmp\/x"; expected a commit SHA or a ref/],
    ['changed-since outside a git checkout', () => ({ ...arcnmInputs(), 'changed-since': 'HEAD~1' }), /Input 'changed-since': needs a git checkout.*actions\/checkout/],
    ['name with an unknown placeholder', () => ({ ...csInputs(), name: '{folder}/{name}' }), /Input 'name': has an unknown placeholder \{folder\}/],
    ['ION: two files, one name', () => ({ ...ionInputs(), path: 'drawings/**/*.pdf' }), /Input 'name': drawings\/a\.pdf and drawings\/b\/a\.pdf would both be named "a\.pdf".*e\.g\. \{path\}/, { 'drawings/b/a.pdf': samples.pdf() }],
    ['ION: a server that answers HTML', () => ({ ...ionInputs(), 'server-url': html.url }), /HTML or XML where JSON was expected.*server-url/],
    ['ION: a GraphQL answer of the wrong shape', () => ({ ...ionInputs(), 'server-url': wrongShape.url }), /ION.*(unexpected|shape|entity)/i],
  ];
}

describe('bad input fails fast, clearly, and writes nothing', async () => {
  cases.push(...table());
  it.each(cases.map((c, n) => [n, c[0]] as const))('%i %s', async (n) => {
    const [, inputs, message, extra] = cases[n]!;
    const ws = await makeWorkspace({ ...files, ...(extra ?? {}) });
    if (extra && 'linked/.keep' in extra) await symlink(path.join(outside, 'secret.step'), path.join(ws, 'linked/escape.step'));
    const before = { arcnm: writes(arcnm.requests).length, cs: writes(coldstream.requests).length, ion: writes(ion.requests).length, blob: blob.requests.length };
    const run = await runAction(inputs(), { workspace: ws });
    expect(run.exitCode, run.stdout).toBe(1);
    expect(run.stdout).toMatch(message);
    expect({ arcnm: writes(arcnm.requests).length, cs: writes(coldstream.requests).length, ion: writes(ion.requests).length, blob: blob.requests.length }).toEqual(before);
    // GraphQL writes are mutations: none may have been executed (upload URLs are asked for by a query).
    expect(ion.operations.filter((o) => o.fields.some((f) => f.startsWith('create') || f === 'requestFileUploadUrl'))).toEqual([]);
    passed++;
  });
  it('has at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));
});
