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
  await consume(body, (buf) => {
    if (size + buf.length > cap) {
      chunks.push(buf.subarray(0, cap - size));
      size = cap;
      truncated = true;
      return false;
    }
    chunks.push(buf);
    size += buf.length;
    return true;
  });
  return { text: Buffer.concat(chunks, size).toString('utf8'), truncated };
}

/**
 * Hand each chunk of a body to `onChunk` as it arrives. Resolves when the body ends, or at once when `onChunk`
 * answers false (enough was read); rejects with what `onChunk` throws. Either way the rest of the body is
 * destroyed (the socket closed), so the sender stops and nothing more is buffered. Read through its events, not
 * `for await`: the async iterator costs a promise per chunk and a stream-end watcher per body, for what is most
 * often one chunk.
 */
export function consume(body: Readable, onChunk: (chunk: Buffer) => boolean | void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, early = false) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (early) {
        // A destroyed body may still report an error (undici's says the request was aborted): nobody needs it.
        body.on('error', () => {});
        body.destroy();
      }
      if (err !== undefined) reject(err);
      else resolve();
    };
    const onData = (chunk: Buffer | string) => {
      let more: boolean | void;
      try {
        more = onChunk(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      } catch (err) {
        finish(err, true);
        return;
      }
      if (more === false) finish(undefined, true);
    };
    const onEnd = () => finish(undefined);
    const onError = (err: unknown) => finish(err);
    // Closed before its end, without an error of its own (a destroyed body): the answer is lost.
    const onClose = () => finish(Object.assign(new Error('the answer ended before its end (premature close)'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}
