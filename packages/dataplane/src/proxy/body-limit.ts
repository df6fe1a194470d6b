import { Transform, type TransformCallback } from 'node:stream';
import { BODY_TOO_LARGE, markedError } from './exchange-marks.ts';

/**
 * Counts a chunked request body as it streams and fails once it exceeds the limit, before the
 * chunk that crosses it is forwarded. Only used without Content-Length (which is checked up
 * front), so the common case keeps the IncomingMessage as the upstream body directly.
 */
export class BodyLimit extends Transform {
  #left: number;

  constructor(limit: number) {
    super();
    this.#left = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#left -= chunk.length;
    if (this.#left < 0) callback(markedError('request body too large', BODY_TOO_LARGE));
    else callback(null, chunk);
  }
}
