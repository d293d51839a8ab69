// The part of @actions/core the action uses, from @actions/core's own modules: workflow commands (command.js,
// with its escaping), the files the runner reads (file-command.js: GITHUB_OUTPUT) and the job summary
// (summary.js). Not its index: that also loads its OIDC client, @actions/http-client and with it undici's
// whole index (fetch, WebSocket, the cache, mocks…): about 20 ms more from process start to the first request
// (124 → 104 ms in one interleaved run), for an ID token a run never asks for. The functions below are @actions/core's
// own (lib/core.js 3.0), word for word but for their types and the batching of lines below; a test holds them to
// its index's output.
// @actions/core's package.json exports its index only, so its modules are reached by path.
import { EOL } from 'node:os';
import { issueCommand } from '../../node_modules/@actions/core/lib/command.js';
import { issueFileCommand, prepareKeyValueMessage } from '../../node_modules/@actions/core/lib/file-command.js';
import { toCommandProperties, toCommandValue } from '../../node_modules/@actions/core/lib/utils.js';

export { summary } from '../../node_modules/@actions/core/lib/summary.js';

// Lines printed in one turn of the event loop leave in one write: the stream is corked at the first and uncorked
// in the same turn's check phase (or at exit), so a run of thousands of files does not pay a system call, and a
// wake-up of whatever reads the pipe, for every line and every `add-mask`. Order is kept (one stream), and a line
// waits at most for the rest of its turn.
let corked = false;
function batched(): void {
  if (corked) return;
  corked = true;
  process.stdout.cork();
  setImmediate(flushLines);
}
function flushLines(): void {
  if (!corked) return;
  corked = false;
  process.stdout.uncork();
}
process.once('exit', flushLines);

/** Registers a secret which will get masked from logs. */
export function setSecret(secret: string): void {
  batched();
  issueCommand('add-mask', {}, secret);
}

/** Sets the value of an output. */
export function setOutput(name: string, value: unknown): void {
  const filePath = process.env['GITHUB_OUTPUT'] || '';
  if (filePath) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value));
    return;
  }
  batched();
  process.stdout.write(EOL);
  issueCommand('set-output', { name }, toCommandValue(value));
}

/** Sets the action status to failed; the step fails once the process exits. */
export function setFailed(message: string | Error): void {
  process.exitCode = 1;
  error(message);
}

export function debug(message: string): void {
  batched();
  issueCommand('debug', {}, message);
}

/** An annotation's properties (@actions/core's AnnotationProperties, the ones the action sets). */
export interface AnnotationProperties {
  title?: string;
  file?: string;
}

export function error(message: string | Error, properties: AnnotationProperties = {}): void {
  batched();
  issueCommand('error', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}

export function warning(message: string | Error, properties: AnnotationProperties = {}): void {
  batched();
  issueCommand('warning', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}

export function info(message: string): void {
  batched();
  process.stdout.write(message + EOL);
}
