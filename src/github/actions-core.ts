// The part of @actions/core the action uses, from @actions/core's own modules: workflow commands (command.js,
// with its escaping), the files the runner reads (file-command.js: GITHUB_OUTPUT) and the job summary
// (summary.js). Not its index: that also loads its OIDC client, @actions/http-client and with it undici's
// whole index (fetch, WebSocket, the cache, mocks…): about 20 ms more from process start to the first request
// (124 → 104 ms in one interleaved run), for an ID token a run never asks for. The functions below are @actions/core's
// own (lib/core.js 3.0), word for word but for their types; a test holds them to its index's output.
// @actions/core's package.json exports its index only, so its modules are reached by path.
import { EOL } from 'node:os';
import { issueCommand } from '../../node_modules/@actions/core/lib/command.js';
import { issueFileCommand, prepareKeyValueMessage } from '../../node_modules/@actions/core/lib/file-command.js';
import { toCommandProperties, toCommandValue } from '../../node_modules/@actions/core/lib/utils.js';

export { summary } from '../../node_modules/@actions/core/lib/summary.js';

/** Registers a secret which will get masked from logs. */
export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret);
}

/** Sets the value of an output. */
export function setOutput(name: string, value: unknown): void {
  const filePath = process.env['GITHUB_OUTPUT'] || '';
  if (filePath) {
    issueFileCommand('OUTPUT', prepareKeyValueMessage(name, value));
    return;
  }
  process.stdout.write(EOL);
  issueCommand('set-output', { name }, toCommandValue(value));
}

/** Sets the action status to failed; the step fails once the process exits. */
export function setFailed(message: string | Error): void {
  process.exitCode = 1;
  error(message);
}

export function debug(message: string): void {
  issueCommand('debug', {}, message);
}

/** An annotation's properties (@actions/core's AnnotationProperties, the ones the action sets). */
export interface AnnotationProperties {
  title?: string;
  file?: string;
}

export function error(message: string | Error, properties: AnnotationProperties = {}): void {
  issueCommand('error', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}

export function warning(message: string | Error, properties: AnnotationProperties = {}): void {
  issueCommand('warning', toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}

export function info(message: string): void {
  process.stdout.write(message + EOL);
}
