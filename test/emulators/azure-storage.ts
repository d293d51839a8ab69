/**
 * Real Azure Blob storage for tests: Azurite (Microsoft's emulator, the `azurite` devDependency) started as a
 * child process of the test, under the Node running the test, on a free loopback port, in memory.
 *
 * What it offers the tests: a container, Service SAS URLs for Put Blob (`sp=cw`, a short expiry) signed
 * with the well-known development account key exactly as Azure Storage defines the string-to-sign (version
 * 2020-12-06 and later), and the stored blob read back (ETag, Content-MD5, size, blob type, bytes) through
 * read-only SAS URLs. `speckleStorage()` is the adapter the Speckle emulator hands its upload URLs out from.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { SpeckleStorage } from './speckle.js';

/** Azurite's (and the Azure Storage Emulator's) documented development account. */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The service version the SAS tokens are signed for (sv) and our own requests speak (x-ms-version). */
export const SAS_VERSION = '2024-11-04';

const AZURITE_BLOB_MAIN = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');

export interface BlobProperties {
  /** As Azure sends it, quotes included: "\"0x8DC…\"" */
  etag: string;
  /** Base64, when storage reports one. */
  contentMd5: string | undefined;
  size: number;
  blobType: string | undefined;
  contentType: string | undefined;
}

export interface SasOptions {
  /** Service SAS permissions in Azure's canonical order, e.g. `cw` (create, write) or `r`. */
  permissions: string;
  expiresInSec?: number;
  /** Start time back-dated a little, as SDKs do against clock skew (default 60 s). */
  startSkewSec?: number;
}

/** `2025-01-02T03:04:05Z`: the SAS time format (no milliseconds). */
function sasTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function hmac(stringToSign: string): string {
  return createHmac('sha256', Buffer.from(DEV_ACCOUNT_KEY, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

/** Each path segment percent-encoded; `/` kept, as Azure blob names use it for virtual folders. */
export function encodeBlobName(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

/**
 * A Service SAS for one blob (sr=b), string-to-sign of version 2020-12-06 and later:
 * sp, st, se, canonicalizedResource, si, sip, spr, sv, sr, snapshot time, ses, rscc, rscd, rsce, rscl, rsct.
 * https://learn.microsoft.com/rest/api/storageservices/create-service-sas
 */
export function blobSas(container: string, blobName: string, opts: SasOptions, now = new Date()): URLSearchParams {
  const start = sasTime(new Date(now.getTime() - (opts.startSkewSec ?? 60) * 1000));
  const expiry = sasTime(new Date(now.getTime() + (opts.expiresInSec ?? 300) * 1000));
  const canonicalizedResource = `/blob/${DEV_ACCOUNT}/${container}/${blobName}`;
  const stringToSign = [opts.permissions, start, expiry, canonicalizedResource, '', '', 'http', SAS_VERSION, 'b', '', '', '', '', '', '', ''].join('\n');
  return new URLSearchParams({ sv: SAS_VERSION, spr: 'http', st: start, se: expiry, sr: 'b', sp: opts.permissions, sig: hmac(stringToSign) });
}

/**
 * An Account SAS for the blob service (what creating a container needs; a Service SAS cannot):
 * account, sp, ss, srt, st, se, sip, spr, sv, ses, and a trailing newline.
 * https://learn.microsoft.com/rest/api/storageservices/create-account-sas
 */
export function accountSas(permissions: string, resourceTypes: string, expiresInSec = 300, now = new Date()): URLSearchParams {
  const start = sasTime(new Date(now.getTime() - 60_000));
  const expiry = sasTime(new Date(now.getTime() + expiresInSec * 1000));
  const stringToSign = [DEV_ACCOUNT, permissions, 'b', resourceTypes, start, expiry, '', 'http', SAS_VERSION, '', ''].join('\n');
  return new URLSearchParams({ sv: SAS_VERSION, ss: 'b', srt: resourceTypes, sp: permissions, st: start, se: expiry, spr: 'http', sig: hmac(stringToSign) });
}

export interface AzuriteOptions {
  /** How long Azurite may take to listen (default 20 s). */
  startTimeoutMs?: number;
  /** Node to run it with (default the test's own: process.execPath). */
  node?: string;
}

/** Azurite's blob service, in memory, on a free loopback port; `close()` stops it. */
export class Azurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1`: the account's blob endpoint (path-style, as Azurite serves it). */
  readonly endpoint: string;
  /** Everything Azurite printed (its access log included), for diagnosing a failure. */
  readonly log: string[];
  private child: ChildProcess | undefined;
  private readonly cwd: string;
  private readonly onExit: () => void;

  private constructor(endpoint: string, child: ChildProcess, cwd: string, log: string[]) {
    this.endpoint = endpoint;
    this.child = child;
    this.cwd = cwd;
    this.log = log;
    this.onExit = () => child.kill('SIGKILL');
    process.once('exit', this.onExit);
  }

  static async start(opts: AzuriteOptions = {}): Promise<Azurite> {
    // With --inMemoryPersistence nothing is written; the empty cwd makes sure nothing lands in the checkout.
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'mp-azurite-'));
    const args = [
      AZURITE_BLOB_MAIN,
      '--blobHost', '127.0.0.1',
      '--blobPort', '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit', '256',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ];
    const child = spawn(opts.node ?? process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: cwd } });
    const log: string[] = [];
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`Azurite did not listen within ${timeoutMs} ms:\n${log.join('')}`)), timeoutMs);
        const onData = (d: Buffer) => {
          const s = d.toString();
          log.push(s);
          out += s;
          const m = /successfully listens on (http:\/\/[\d.]+:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`Azurite exited (${code ?? signal}) before listening:\n${log.join('')}`));
        });
      });
      return new Azurite(`${url}/${DEV_ACCOUNT}`, child, cwd, log);
    } catch (err) {
      child.kill('SIGKILL');
      await rm(cwd, { recursive: true, force: true });
      throw err;
    }
  }

  /** SIGTERM (Azurite closes its server), SIGKILL after 5 s. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    process.removeListener('exit', this.onExit);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(this.cwd, { recursive: true, force: true });
  }

  /** The blob's URL, without a SAS. */
  blobUrl(container: string, blobName: string): string {
    return `${this.endpoint}/${container}/${encodeBlobName(blobName)}`;
  }

  /** A URL for Put Blob: Service SAS with `sp=cw` and a short expiry. */
  presignPut(container: string, blobName: string, expiresInSec = 300): string {
    return `${this.blobUrl(container, blobName)}?${blobSas(container, blobName, { permissions: 'cw', expiresInSec })}`;
  }

  async createContainer(container: string): Promise<void> {
    const res = await fetch(`${this.endpoint}/${container}?restype=container&${accountSas('c', 'c')}`, { method: 'PUT', headers: { 'x-ms-version': SAS_VERSION } });
    if (res.status !== 201) throw new Error(`Azurite: create container ${container}: HTTP ${res.status}: ${await res.text()}`);
  }

  /** Get Blob Properties (a HEAD), or undefined when there is no such blob. */
  async properties(container: string, blobName: string): Promise<BlobProperties | undefined> {
    const url = `${this.blobUrl(container, blobName)}?${blobSas(container, blobName, { permissions: 'r' })}`;
    const res = await fetch(url, { method: 'HEAD', headers: { 'x-ms-version': SAS_VERSION } });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`Azurite: properties of ${container}/${blobName}: HTTP ${res.status}`);
    return {
      etag: res.headers.get('etag') ?? '',
      contentMd5: res.headers.get('content-md5') ?? undefined,
      size: Number(res.headers.get('content-length')),
      blobType: res.headers.get('x-ms-blob-type') ?? undefined,
      contentType: res.headers.get('content-type') ?? undefined,
    };
  }

  /** Get Blob: the stored bytes, or undefined. */
  async read(container: string, blobName: string): Promise<Buffer | undefined> {
    const url = `${this.blobUrl(container, blobName)}?${blobSas(container, blobName, { permissions: 'r' })}`;
    const res = await fetch(url, { headers: { 'x-ms-version': SAS_VERSION } });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`Azurite: read ${container}/${blobName}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  /** Storage for the Speckle emulator: upload URLs are Put Blob SAS URLs into `container`; keys are blob names. */
  speckleStorage(container: string, expiresInSec = 300): SpeckleStorage & { container: string } {
    return {
      container,
      presignPut: (key) => this.presignPut(container, key, expiresInSec),
      stored: async (key) => {
        const props = await this.properties(container, key);
        const bytes = props && (await this.read(container, key));
        return props && bytes ? { etag: props.etag, bytes } : undefined;
      },
    };
  }
}
