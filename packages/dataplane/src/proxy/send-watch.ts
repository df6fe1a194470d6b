/**
 * nginx's `proxy_send_timeout` for a streamed request body: the upstream connection must take
 * some of the body within the timeout whenever body bytes are waiting for it.
 *
 * The body goes to undici through a {@link SendWatch} (a {@link BodyLimit}, so a chunked body is
 * still counted). undici pauses the stream it reads when the connection's write buffer is full
 * and resumes it on `drain`: a stream that stays paused while undici takes nothing from it is a
 * send stall. A slow client is not one (the stream flows, it just has nothing), nor is the time
 * before undici starts reading (waiting for a connection: the connect timeout's business).
 *
 * One shared wheel (an interval that runs only while some body is watched) looks at every
 * watched body; a body pays a counter per chunk, no timer and no closure of its own. A stall is
 * seen within one tick after the timeout: it fires between `timeoutMs` and `timeoutMs` plus
 * {@link SEND_WATCH_TICK_MS} after the last byte was taken, never earlier.
 */
import type { TransformCallback } from 'node:stream';
import { BodyLimit } from './body-limit.ts';
import { markedError, SEND_TIMEOUT } from './exchange-marks.ts';

/** How often the wheel looks at the watched bodies, ms. */
export const SEND_WATCH_TICK_MS = 100;

const watched = new Set<SendWatch>();
let wheel: NodeJS.Timeout | undefined;

function tick(): void {
  const now = performance.now();
  for (const watch of watched) watch.check(now);
}

/** How many request bodies the wheel watches now (for tests). */
export function watchedBodies(): number {
  return watched.size;
}

/**
 * A request body on its way upstream, failed with a `SEND_TIMEOUT`-marked error (undici then
 * ends the attempt) once the upstream has taken none of it for `timeoutMs` while it waited.
 */
export class SendWatch extends BodyLimit {
  readonly #timeoutMs: number;
  /** Bytes passed to the readable side; minus what is still buffered there, what was taken. */
  #pushed = 0;
  #taken = -1;
  /** When {@link #taken} last changed (or the stream last flowed), by the wheel's clock. */
  #since = 0;

  /** `limit`: the body's byte limit (Infinity when its length was checked up front). */
  constructor(limit: number, timeoutMs: number) {
    super(limit);
    this.#timeoutMs = timeoutMs;
    watched.add(this);
    if (wheel === undefined) {
      wheel = setInterval(tick, SEND_WATCH_TICK_MS);
      wheel.unref();
    }
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    this.#pushed += chunk.length;
    super._transform(chunk, encoding, callback);
  }

  /** One look by the wheel at `now` (performance.now()). */
  check(now: number): void {
    const taken = this.#pushed - this.readableLength;
    if (this.readableFlowing !== false || taken !== this.#taken) {
      this.#taken = taken;
      this.#since = now;
    } else if (now - this.#since >= this.#timeoutMs) {
      this.stop();
      this.destroy(markedError('upstream timed out while sending the request body', SEND_TIMEOUT));
    }
  }

  /** Stops watching (the attempt is over); the stream itself is left as it is. */
  stop(): void {
    if (!watched.delete(this) || watched.size > 0 || wheel === undefined) return;
    clearInterval(wheel);
    wheel = undefined;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.stop();
    super._destroy(err, callback);
  }
}
