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
 * sender stops and nothing more is buffered. Read through its events, not `for await`: the async iterator costs a
 * promise per chunk and a stream-end watcher per body, for what is most often one chunk.
 */
export function readCapped(body: Readable, cap: number): Promise<CappedText> {
  return new Promise<CappedText>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: unknown, truncated = false) => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
      if (err !== undefined) reject(err);
      else resolve({ text: Buffer.concat(chunks, size).toString('utf8'), truncated });
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (size + buf.length > cap) {
        chunks.push(buf.subarray(0, cap - size));
        size = cap;
        finish(undefined, true);
        // A destroyed body may still report an error (undici's says the request was aborted): nobody needs it.
        body.on('error', () => {});
        body.destroy();
        return;
      }
      chunks.push(buf);
      size += buf.length;
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
