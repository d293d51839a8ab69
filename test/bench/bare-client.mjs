// The floor of "no CPU while only waiting" (npm run bench, many files): the ARCNM chain's three requests per file
// (presign → PUT to the returned URL → confirm) from a Node client that does nothing else: undici with keep-alive,
// no hashing, no file checks, no logging, no verdict wait. Its CPU at concurrency 1 beside its CPU at concurrency
// 32 for the same files is what waking up for every answer costs on this machine, whatever the client does.
//
// Usage: node bare-client.mjs <server-url> <api-key> <concurrency> <file>...
// Prints one line of JSON: {"confirmed": n}.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';

const [server, apiKey, concurrencyText, ...files] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
if (!server || !apiKey || !(concurrency >= 1) || files.length === 0) {
  console.error('usage: node bare-client.mjs <server-url> <api-key> <concurrency> <file>...');
  process.exit(2);
}
const dispatcher = new Agent({ connections: concurrency });
const TYPES = { step: 'model/step', stp: 'model/step', stl: 'model/stl', pdf: 'application/pdf' };

async function call(url, method, body, headers) {
  const res = await request(url, { method, body, headers, dispatcher });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${text.slice(0, 200)}`);
  return text;
}

async function publish(file) {
  const content = await readFile(file);
  const ext = path.extname(file).slice(1).toLowerCase();
  const api = { 'x-api-key': apiKey, 'content-type': 'application/json' };
  const presign = JSON.parse(
    await call(`${server}/api/v1/uploads/presign`, 'POST', JSON.stringify({ name: path.basename(file), content_type: TYPES[ext] ?? 'application/octet-stream', size_bytes: content.length }), { ...api, 'idempotency-key': randomUUID() }),
  );
  await call(presign.url, 'PUT', content, presign.headers ?? {});
  await call(`${server}/api/v1/uploads/confirm`, 'POST', JSON.stringify({ data_source_id: presign.data_source_id }), { ...api, 'idempotency-key': randomUUID() });
}

let next = 0;
let confirmed = 0;
await Promise.all(
  Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    while (next < files.length) {
      await publish(files[next++]);
      confirmed++;
    }
  }),
);
await dispatcher.close();
console.log(JSON.stringify({ confirmed }));
