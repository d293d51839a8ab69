// Answers are read to a cap, never whole: a server that sends a 2 GiB (or endless) error page costs a few KiB
// of memory and one closed connection, not the run.
import type { Readable } from 'node:stream';

/** Enough of an error body for the message in it; the rest is discarded with the connection. */
export const ERROR_BODY_CAP = 8 * 1024;
/** No API answer the providers give comes near this; a bigger one is refused rather than held. */
export const SUCCESS_BODY_CAP = 16 * 1024 * 1024;

export interface CappedText {
  text: string;
  /** The body went on past the cap (and was not read further). */
  truncated: boolean;
}

/**
 * Read at most `cap` bytes of a body as UTF-8. Past the cap the body is destroyed (the socket closed), so the
 * sender stops and nothing more is buffered.
 */
export async function readCapped(body: Readable, cap: number): Promise<CappedText> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    if (size + buf.length > cap) {
      chunks.push(buf.subarray(0, cap - size));
      size = cap;
      truncated = true;
      break;
    }
    chunks.push(buf);
    size += buf.length;
  }
  if (truncated) body.destroy();
  return { text: Buffer.concat(chunks, size).toString('utf8'), truncated };
}
