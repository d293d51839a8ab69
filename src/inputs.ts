// Input helpers shared by the configuration and the provider modules: each parses one input and, when it
// is wrong, throws a UsageError that names it and says what is accepted.
import * as z from './core/schema.js';
import { UsageError } from './core/errors.js';

/** Reads an input by its action.yml name (`project-id`); answers '' when it is not set. */
export type InputReader = (name: string) => string;

/** Settings every provider shares, already validated. */
export interface CommonSettings {
  /** The credential (token, API key); may be empty where a provider has another way in (ION client credentials). */
  token: string;
  /** Without a trailing slash; the provider's public API when the input is empty. */
  serverUrl: string;
  /** Whether `server-url` was given (Coldstream derives two hosts from `region` when not). */
  serverUrlGiven: boolean;
  /** For traceability: where the run comes from, when known. */
  origin?: { sha?: string; ref?: string; runUrl?: string; repository?: string; runId?: string };
}

/** Inputs as the runner passes them: `INPUT_<NAME>`, upper-cased, spaces as underscores, hyphens kept. */
export function inputReader(env: Record<string, string | undefined>): InputReader {
  return (name) => (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** Parse one input with a zod schema; the message names the input and the accepted form. */
export function parseInput<T>(input: InputReader, name: string, schema: z.core.$ZodType<T>, accepted: string): T {
  const raw = input(name);
  const result = z.safeParse(schema, raw);
  if (!result.success) throw new UsageError(name, `got ${JSON.stringify(raw)}; expected ${accepted}`);
  return result.data;
}

export const booleanInput = (fallback: boolean) =>
  z.pipe(
    z.pipe(
      z.pipe(
        z.string(),
        z.transform((s: string) => (s === '' ? String(fallback) : s.toLowerCase())),
      ),
      z.enum(['true', 'false']),
    ),
    z.transform((s: 'true' | 'false') => s === 'true'),
  );

export const intInput = (fallback: number, min: number, max: number) =>
  z.pipe(
    z.pipe(
      z.pipe(
        z.pipe(
          z.string(),
          z.transform((s: string) => (s === '' ? String(fallback) : s)),
        ),
        z.string().check(z.regex(/^\d+$/)),
      ),
      z.transform(Number),
    ),
    z.int().check(z.gte(min), z.lte(max)),
  );

/** An ID as the vendors issue them: letters, digits, `-` and `_` (no spaces, slashes or quotes). */
export const idInput = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/));

/** Require an ID input; the message says where to find it. */
export function requireId(input: InputReader, name: string, where: string): string {
  const raw = input(name);
  if (raw === '') throw new UsageError(name, `is required: ${where}`);
  return parseInput(input, name, idInput, `an ID of letters, digits, '-', '_', '.' or ':' (${where})`);
}

export function optionalId(input: InputReader, name: string, where: string): string | undefined {
  return input(name) === '' ? undefined : requireId(input, name, where);
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** An API base URL: https, or http for a loopback host (emulators, local servers). */
export function parseServerUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(name, `got ${JSON.stringify(raw)}; expected an absolute URL such as https://example.com`);
  }
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) {
    throw new UsageError(name, `http:// is accepted only for loopback hosts (localhost, 127.0.0.1, [::1]); use https://${url.host}${url.pathname === '/' ? '' : url.pathname}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(name, `expected an https:// URL, got ${url.protocol}`);
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(name, 'expected a base URL without query, fragment or credentials');
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

/** A credential must be one line of printable characters (a pasted secret with a newline in it is broken). */
export function checkCredential(name: string, value: string): string {
  if (/[\s]/.test(value)) {
    throw new UsageError(name, 'contains whitespace or a line break; store the secret as a single line without spaces');
  }
  return value;
}

/** The credential, or a UsageError saying where it can come from. */
export function requireToken(common: CommonSettings, envName: string, what: string): string {
  if (common.token === '') throw new UsageError('token', `is required: pass ${what} as the token input (from a secret) or set ${envName}`);
  return common.token;
}
