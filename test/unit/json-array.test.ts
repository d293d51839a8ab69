// A JSON list read element by element as it arrives (JsonArrayReader), and Http.requestList, which keeps only
// the elements asked for: the same elements as JSON.parse of the whole, however the bytes are cut, and a refusal
// of anything that is not one JSON array.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/core/errors.js';
import { Http } from '../../src/http/client.js';
import { JsonArrayError, JsonArrayReader, MAX_ELEMENT_BYTES } from '../../src/http/json-array.js';

/** The elements read from `chunks`, fed in order. */
function read(chunks: Buffer[]): unknown[] {
  const out: unknown[] = [];
  const reader = new JsonArrayReader((e) => out.push(e));
  for (const c of chunks) reader.push(c);
  reader.end();
  return out;
}

/** `bytes` cut at `at` (two chunks), and one byte at a time. */
const cuts = (bytes: Buffer) => [...Array.from({ length: bytes.length + 1 }, (_, at) => [bytes.subarray(0, at), bytes.subarray(at)]), [...bytes].map((b) => Buffer.from([b]))];

const lists = [
  '[]',
  ' \n[ ] \r\n',
  '[1]',
  '[1,2.5e3,-0,true,false,null]',
  ' [ 1 , "a" , {} , [] ] ',
  '["]",  "[", "{", "}", ",", "\\"", "\\\\", "\\\\\\"]", "\\u005d"]',
  '[{"id":"a","name":"tower]{.step","sha256":null,"size_bytes":12},{"id":7,"status":"pending","nested":{"a":[1,[2,{"b":"}"}]]}}]',
  JSON.stringify([{ id: 'ü', name: 'Bürogebäude — 東京タワー 🏗.ifc' }, 'é', { k: ['ß', { x: '😀' }] }]),
  `[\n  {"id": "x"},\n  {"id": "y"}\n]\n`,
  // Runs of backslashes before a quote, odd and even, wherever a cut falls in them.
  JSON.stringify(['\\', '\\\\"', 'x\\', '"\\"', '\\\\\\"]', { k: '\\"}' }]),
];

describe('JsonArrayReader', () => {
  it('gives the elements JSON.parse gives, wherever the chunks are cut (multi-byte characters too)', () => {
    for (const list of lists) {
      const bytes = Buffer.from(list);
      const whole = JSON.parse(list) as unknown[];
      for (const chunks of cuts(bytes)) expect(read(chunks), `${list} in ${chunks.length} chunks`).toEqual(whole);
    }
  });

  it('reads a long list element by element', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: `u-${i}`, status: i % 7 ? 'confirmed' : 'pending', sha256: 'ab'.repeat(32), size_bytes: i }));
    const bytes = Buffer.from(JSON.stringify(rows));
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 16_381) chunks.push(bytes.subarray(at, at + 16_381));
    let n = 0;
    let last: unknown;
    const reader = new JsonArrayReader((e) => {
      n++;
      last = e;
    });
    for (const c of chunks) reader.push(c);
    reader.end();
    expect(n).toBe(20_000);
    expect(last).toEqual(rows.at(-1));
  });

  const refused: [string, RegExp][] = [
    ['', /ends before the closing bracket \(after 0 elements\)/],
    ['{"items":[]}', /not a JSON array \(it starts with "\{"\)/],
    ['"[1]"', /not a JSON array/],
    ['[1,]', /"\]" where an element was expected \(after element 1\)/],
    ['[,1]', /"," where an element was expected/],
    ['[1 2]', /"2" after element 1/],
    ['[{"a":1}{"a":2}]', /"\{" after element 1/],
    ['[1]x', /goes on after the closing bracket \("x"\)/],
    ['[1][2]', /goes on after the closing bracket/],
    ['[{"a":1}', /ends before the closing bracket \(after 1 elements\)/],
    ['[{"a":"}', /ends before the closing bracket \(after 0 elements\)/],
    ['[{"a":1,}]', /element 1 is not JSON/],
    ['[tru]', /element 1 is not JSON/],
    ['[1,{"a":[}]', /element 2 is not JSON/],
    ['\ufeff[1]', /not a JSON array \(it starts with byte 0xef\)/],
  ];
  it('refuses what is not one JSON array, naming what is wrong, wherever the chunks are cut', () => {
    for (const [text, why] of refused) {
      for (const chunks of cuts(Buffer.from(text))) expect(() => read(chunks), `${JSON.stringify(text)} in ${chunks.length} chunks`).toThrow(why);
    }
  });

  it('refuses a body cut off anywhere before the closing bracket (never a short list called whole)', () => {
    const bytes = Buffer.from(lists[6]!);
    for (let at = 0; at < bytes.length; at++) expect(() => read([bytes.subarray(0, at)]), `cut at ${at}`).toThrow(JsonArrayError);
  });

  it('refuses an element longer than the cap, in one chunk or across many, without holding more', () => {
    const long = Buffer.from(`[{"a":"${'x'.repeat(MAX_ELEMENT_BYTES)}"}]`);
    expect(() => read([long])).toThrow(/element 1 is longer than 1024 KiB/);
    const chunks: Buffer[] = [];
    for (let at = 0; at < long.length; at += 4096) chunks.push(long.subarray(at, at + 4096));
    expect(() => read(chunks)).toThrow(/element 1 is longer than 1024 KiB/);
    // An element of the cap exactly is an element like any other, in one chunk or across many.
    const fits = `{"a":"${'x'.repeat(MAX_ELEMENT_BYTES - 8)}"}`;
    expect(Buffer.byteLength(fits)).toBe(MAX_ELEMENT_BYTES);
    const list = Buffer.from(`[${fits}]`);
    expect(read([list])).toEqual([JSON.parse(fits)]);
    expect(read([list.subarray(0, 5000), list.subarray(5000)])).toEqual([JSON.parse(fits)]);
  });
});

describe('Http.requestList', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });
  const quiet = { info: () => {}, warn: () => {}, debug: () => {} };
  const http = () => new Http({ policy: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 }, requestTimeoutMs: 20_000, stallTimeoutMs: 5000, userAgent: 'test', log: quiet });

  /** A server answering each request with `answer(n)` (n from 1): a status and the body's chunks, sent apart. */
  async function serve(answer: (n: number) => { status: number; chunks: (string | Buffer)[]; drop?: boolean }): Promise<string> {
    let n = 0;
    server = createServer(async (_req, res) => {
      const { status, chunks, drop } = answer(++n);
      res.writeHead(status, { 'content-type': 'application/json' });
      for (const c of chunks) {
        res.write(c);
        await new Promise((r) => setTimeout(r, 1));
      }
      if (drop) res.socket?.destroy();
      else res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/list`;
  }

  it('keeps only the elements asked for, from a list longer than any answer read whole may be', async () => {
    // 24 MiB of rows: more than the 16 MiB a whole answer may have (SUCCESS_BODY_CAP).
    const row = (i: number) => JSON.stringify({ id: `u-${i}`, status: 'confirmed', name: `part-${i}.step`, pad: 'p'.repeat(200) });
    const count = Math.ceil((24 * 1024 * 1024) / row(0).length);
    const chunks: string[] = ['['];
    for (let i = 0; i < count; i += 1000) chunks.push(Array.from({ length: Math.min(1000, count - i) }, (_, k) => row(i + k)).join(',') + (i + 1000 < count ? ',' : ''));
    chunks.push(']');
    const url = await serve(() => ({ status: 200, chunks }));
    const wanted = new Set(['u-0', 'u-77777', `u-${count - 1}`, 'u-missing']);
    const res = await http().requestList({ method: 'GET', url, idempotent: true, label: 'list' }, (e) => wanted.has((e as { id: string }).id));
    expect(res.ok).toBe(true);
    expect(res.kept.map((e) => (e as { id: string }).id)).toEqual(['u-0', 'u-77777', `u-${count - 1}`]);
    expect(res.parseMs).toBeGreaterThan(0);
  });

  it('calls an answer that is not one JSON list invalid, and does not retry it', async () => {
    let calls = 0;
    const url = await serve(() => (calls++, { status: 200, chunks: ['[{"id":1},', '{"id":2}', ' oops'] }));
    const err = await http()
      .requestList({ method: 'GET', url, idempotent: true, label: 'list' }, () => true)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).code).toBe('invalid_response');
    expect(String(err)).toMatch(/list: GET http:\/\/127\.0\.0\.1:\d+\/list answered HTTP 200 with something other than a JSON list: it has "o" after element 2/);
    expect(calls).toBe(1);
  });

  it('reads an endless list until the request deadline, holding one element at a time', async () => {
    // One 64 KiB run of rows, sent again and again as fast as the client reads it.
    const rows = Buffer.from(Array.from({ length: 256 }, (_, i) => JSON.stringify({ id: `u-${i}`, pad: 'p'.repeat(230) })).join(',') + ',');
    let sent = 0;
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const pump = () => {
        while (!res.destroyed) {
          sent += rows.length;
          if (!res.write(rows)) {
            res.once('drain', pump);
            return;
          }
        }
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/list`;
    const client = new Http({ policy: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20 }, requestTimeoutMs: 1500, stallTimeoutMs: 5000, userAgent: 'test', log: quiet });
    let seen = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    let heapMost = heapBefore;
    const started = Date.now();
    const err = await client
      .requestList({ method: 'GET', url, idempotent: true, label: 'list' }, () => {
        if (++seen % 10_000 === 0) heapMost = Math.max(heapMost, process.memoryUsage().heapUsed);
        return false;
      })
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/request timed out/);
    expect(Date.now() - started).toBeLessThan(5000);
    // Far more than any answer read whole may be, read and let go: the heap holds about one chunk of it.
    expect(sent).toBeGreaterThan(32 * 1024 * 1024);
    expect(seen).toBeGreaterThan(100_000);
    expect(heapMost - heapBefore).toBeLessThan(24 * 1024 * 1024);
  });

  it('says an HTML page is one, and points at server-url', async () => {
    const url = await serve(() => ({ status: 200, chunks: ['\n<!DOCTYPE html><html><body>Sign in', '</body></html>'] }));
    const err = await http()
      .requestList({ method: 'GET', url, idempotent: true, label: 'list' }, () => true)
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/answered HTTP 200 with HTML or XML where a JSON list was expected; check that server-url points at the API \(first bytes: "\\n<!DOCTYPE html><html><body>Sign in"\)/);
  });

  it('reads a list cut off by a dropped connection again from its start, keeping nothing twice', async () => {
    const url = await serve((n) => (n === 1 ? { status: 200, chunks: ['[{"id":1},{"id":2}', ','], drop: true } : { status: 200, chunks: ['[{"id":1},', '{"id":2},{"id":3}]'] }));
    const res = await http().requestList({ method: 'GET', url, idempotent: true, label: 'list' }, () => true);
    expect(res.kept).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it('answers an error status as request does: its body as text, nothing kept', async () => {
    const url = await serve(() => ({ status: 403, chunks: ['{"error":{"code":"insufficient_scope",', '"message":"no"}}'] }));
    const res = await http().requestList({ method: 'GET', url, idempotent: true, label: 'list' }, () => true);
    expect(res.status).toBe(403);
    expect(res.kept).toEqual([]);
    expect(res.json()).toEqual({ error: { code: 'insufficient_scope', message: 'no' } });
  });
});
