import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'undici';
import { BODY_TOO_LARGE, SEND_TIMEOUT } from './exchange-marks.ts';
import { SEND_WATCH_TICK_MS, SendWatch, watchedBodies } from './send-watch.ts';

const MiB = 1024 * 1024;
const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/**
 * A raw HTTP/1.1 server: `onHead` gets each connection once its request head is in; on
 * `stall` it reads nothing more, on `read` it answers 200 after the whole body.
 */
async function pod(onHead: (socket: Socket) => 'read' | 'stall'): Promise<string> {
  const server = createServer((socket) => {
    let head = '';
    let body = 0;
    let mode: 'head' | 'read' | 'stall' = 'head';
    socket.on('data', (chunk: Buffer) => {
      if (mode === 'head') {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        mode = onHead(socket);
        if (mode === 'stall') {
          socket.pause();
          return;
        }
        body = Buffer.byteLength(head, 'latin1') - end - 4;
        head = head.slice(0, end);
      } else body += chunk.length;
      const want = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? -1);
      if (body >= want) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

/** `total` bytes in 64 KiB chunks, each after `gapMs` when given. */
function source(total: number, gapMs = 0): Readable {
  async function* chunks() {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (gapMs > 0) await sleep(gapMs);
      yield chunk.subarray(0, Math.min(chunk.length, total - sent));
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** POSTs `body` through undici as the proxy does; the error's code, or the status. */
async function post(
  origin: string,
  body: SendWatch,
  length: number,
): Promise<{ status?: number; code?: string; ms: number }> {
  const client = new Client(origin);
  const started = performance.now();
  try {
    const res = await client.request({
      path: '/upload',
      method: 'POST',
      headers: ['content-length', String(length)],
      body,
    });
    await res.body.text();
    return { status: res.statusCode, ms: performance.now() - started };
  } catch (err) {
    return { code: (err as { code?: string }).code, ms: performance.now() - started };
  } finally {
    await client.destroy();
  }
}

test('SendWatch fails the body once the upstream took none of it for the timeout', async () => {
  const origin = await pod(() => 'stall');
  const total = 64 * MiB;
  const watch = new SendWatch(Infinity, 400);
  const from = source(total);
  from.pipe(watch);
  const result = await post(origin, watch, total);
  from.destroy();
  assert.equal(result.code, SEND_TIMEOUT);
  // The buffers fill within a few ms on loopback; then 400 ms without progress, plus a tick.
  assert.ok(result.ms >= 400, `fired after ${result.ms.toFixed(0)} ms, before the timeout`);
  assert.ok(result.ms < 400 + SEND_WATCH_TICK_MS + 600, `fired late: ${result.ms.toFixed(0)} ms`);
  assert.equal(watchedBodies(), 0, 'the wheel lets go of a fired watch');
});

test('SendWatch: a slow client is not a send stall, nor an upstream that reads slowly', async () => {
  // The client sends 64 KiB every 400 ms: each gap is longer than the 300 ms timeout.
  const origin = await pod(() => 'read');
  const slowClient = new SendWatch(Infinity, 300);
  source(4 * 64 * 1024, 400).pipe(slowClient);
  assert.equal((await post(origin, slowClient, 4 * 64 * 1024)).status, 200);

  // The upstream takes 4 MiB in bursts, 200 ms apart: always some within 300 ms.
  const slowPod = await pod((socket) => {
    const timer = setInterval(() => {
      socket.resume();
      setTimeout(() => socket.pause(), 20);
    }, 200);
    socket.on('close', () => clearInterval(timer));
    return 'read';
  });
  const total = 16 * MiB;
  const steady = new SendWatch(Infinity, 300);
  source(total).pipe(steady);
  assert.equal((await post(slowPod, steady, total)).status, 200);
  assert.equal(watchedBodies(), 0, 'finished bodies are no longer watched');
});

test('SendWatch: stop() lets go, and a chunked body past its limit still fails as too large', async () => {
  const idle = new SendWatch(Infinity, 50);
  assert.equal(watchedBodies(), 1);
  idle.pause();
  idle.stop();
  await sleep(SEND_WATCH_TICK_MS * 2);
  assert.equal(idle.destroyed, false, 'a stopped watch never fires');
  assert.equal(watchedBodies(), 0);

  const limited = new SendWatch(10, 1_000);
  const failed = once(limited, 'error');
  limited.write(Buffer.alloc(11));
  const [err] = (await failed) as [{ code?: string }];
  assert.equal(err.code, BODY_TOO_LARGE);
  assert.equal(watchedBodies(), 0);
});
