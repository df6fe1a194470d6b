/**
 * ingress-nginx's rate limits (annotations.md#rate-limiting) through the real stack: Ingresses of
 * class `nginx` with `limit-rps`, `limit-rpm`, `limit-connections` and `limit-allowlist` (and its
 * older name `limit-whitelist`), served by
 * pier-controller with `--ingress-class-compat=nginx` and a real dataplane (one worker), against
 * the real API server and Redis. Two client addresses: the stand's default and 127.0.0.1.
 * Timings are generous: a rate of 2 a second leaves 500 ms before one more request is let in.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import type { EchoPod } from '../lib/echo-pod.ts';
import { listDocument } from '../lib/ingress-fixtures.ts';
import { N, NginxStand, type StandReply, type StandRequest } from '../lib/nginx-stand.ts';
import { kubectl } from '../lib/test-cluster.ts';

let stand: NginxStand;
let web: EchoPod;
let slow: EchoPod;

/** Long enough for a bucket of 2 a second (burst 2) to drain whole, with room to spare. */
const DRAIN_MS = 2_000;

before(async () => {
  stand = await NginxStand.open('limits', '203.0.113.232/30');
  [web] = (await stand.service('web', ['192.0.2.233'])) as [EchoPod];
  [slow] = (await stand.service('slow', ['192.0.2.234'])) as [EchoPod];
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      stand.ingress('rps', { [`${N}limit-rps`]: '2', [`${N}limit-burst-multiplier`]: '1' }),
      stand.ingress('exempt', {
        [`${N}limit-rps`]: '1',
        [`${N}limit-burst-multiplier`]: '1',
        [`${N}limit-allowlist`]: '127.0.0.1',
      }),
      stand.ingress('conn', { [`${N}limit-connections`]: '1' }, { service: 'slow' }),
      // ingress-nginx's default burst multiplier, 5.
      stand.ingress('rpm', { [`${N}limit-rpm`]: '1' }),
      stand.ingress('whitelisted', {
        [`${N}limit-rps`]: '1',
        [`${N}limit-burst-multiplier`]: '1',
        [`${N}limit-whitelist`]: '127.0.0.1',
      }),
    ]),
  });
  await stand.serve(['rps', 'exempt', 'conn', 'rpm', 'whitelisted']);
  // The stand's readiness probes came from 127.0.0.1: let that budget fill up again.
  await sleep(DRAIN_MS);
});

after(async () => {
  await stand?.close();
});

/** Requests of `path` the pod saw (health probes aside). */
const seen = (pod: EchoPod, path: string) => pod.seen.filter((r) => r.url === path).length;

/** `count` requests at once; the replies, and how long they took from first sent to last answered. */
async function burst(name: string, path: string, count: number, options: StandRequest = {}) {
  const started = performance.now();
  const replies = await Promise.all(
    Array.from({ length: count }, () => stand.get('http', name, path, options)),
  );
  return { replies, ms: performance.now() - started };
}

const passed = (replies: StandReply[]) => replies.filter((r) => r.status === 200).length;

async function rateLimitedTotal(zone: string, limit: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${stand.dataplane.opsPort}/metrics`);
  const text = await res.body.text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(`pier_dataplane_rate_limited_total{zone="${zone}",limit="${limit}"}`),
    );
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/**
 * An upgrade request written by hand from the stand's default address; resolves with the socket
 * and the first bytes of the answer (the echo pod answers an upgrade as a plain request, on a
 * connection it keeps open).
 */
function upgrade(name: string, path: string): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: stand.address, port: stand.dataplane.httpPort }, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${stand.host(name)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer to the upgrade')));
    socket.once('data', (chunk: Buffer) => resolve({ socket, head: chunk.toString('latin1') }));
    socket.once('error', reject);
  });
}

test('annotations.md#rate-limiting: limit-rps with its burst; past it 503 PIER_RATE_LIMITED, the pod sees only what passed', async () => {
  const before = await rateLimitedTotal(`${stand.namespace}/rps`, 'rps');
  const { replies, ms } = await burst('rps', '/burst', 8);
  // nginx's leaky bucket: the first request and the burst (2 × 1) at once, then one each 500 ms.
  const served = passed(replies);
  assert.ok(
    served >= 3 && served <= 3 + Math.floor(ms / 500),
    `${served} of 8 served in ${Math.round(ms)} ms`,
  );
  for (const reply of replies.filter((r) => r.status !== 200)) {
    assert.deepEqual(reply, { status: 503, error: 'PIER_RATE_LIMITED' });
  }
  assert.equal(seen(web, '/burst'), served, 'the refused requests never reached the pod');
  assert.equal(
    (await rateLimitedTotal(`${stand.namespace}/rps`, 'rps')) - before,
    8 - served,
    'pier_dataplane_rate_limited_total counts the refusals',
  );

  assert.deepEqual(
    await stand.get('http', 'rps', '/other-client', { from: stand.fromLoopback }),
    { status: 200, seen: '/other-client' },
    'another client address has a budget of its own',
  );

  await sleep(DRAIN_MS);
  const again = await burst('rps', '/again', 3);
  assert.equal(passed(again.replies), 3, 'once drained, a whole burst passes again');
});

test('annotations.md#rate-limiting: limit-allowlist: its addresses are never limited', async () => {
  const exempt = await burst('exempt', '/exempt', 6, { from: stand.fromLoopback });
  assert.equal(passed(exempt.replies), 6, '127.0.0.1 is in the allowlist');
  const limited = await burst('exempt', '/limited', 6);
  assert.ok(
    passed(limited.replies) <= 2 + Math.floor(limited.ms / 1000),
    `${passed(limited.replies)} of 6 served in ${Math.round(limited.ms)} ms`,
  );
  assert.ok(limited.replies.some((r) => r.error === 'PIER_RATE_LIMITED'));
});

test('annotations.md#rate-limiting: limit-rpm with the default burst, 5 × the rate; past it refused for the rest of the minute', async () => {
  const zone = `${stand.namespace}/rpm`;
  const before = await rateLimitedTotal(zone, 'rpm');
  const { replies } = await burst('rpm', '/minute', 10);
  assert.equal(passed(replies), 6, 'the first request and the burst (5 × 1) at once');
  for (const reply of replies.filter((r) => r.status !== 200)) {
    assert.deepEqual(reply, { status: 503, error: 'PIER_RATE_LIMITED' });
  }
  assert.equal(seen(web, '/minute'), 6, 'the refused requests never reached the pod');
  await sleep(DRAIN_MS);
  assert.deepEqual(
    await stand.get('http', 'rpm', '/minute-later'),
    { status: 503, error: 'PIER_RATE_LIMITED' },
    'one a minute: 2 s later still refused (one a second would let it in)',
  );
  assert.equal((await rateLimitedTotal(zone, 'rpm')) - before, 5);
});

test('annotations.md#rate-limiting: limit-whitelist, the older name of limit-allowlist: its addresses are never limited', async () => {
  const exempt = await burst('whitelisted', '/whitelisted', 6, { from: stand.fromLoopback });
  assert.equal(passed(exempt.replies), 6, '127.0.0.1 is in the allowlist');
  const limited = await burst('whitelisted', '/not-whitelisted', 6);
  assert.ok(
    passed(limited.replies) <= 2 + Math.floor(limited.ms / 1000),
    `${passed(limited.replies)} of 6 served in ${Math.round(limited.ms)} ms`,
  );
  assert.ok(limited.replies.some((r) => r.error === 'PIER_RATE_LIMITED'));
});

test('annotations.md#rate-limiting: limit-connections: one in progress, a second at once gets 503, one after passes', async () => {
  const slowPath = '/slow?delay=3000';
  const inFlight = stand.get('http', 'conn', slowPath);
  await waitUntil('the slow request to reach the pod', async () =>
    seen(slow, slowPath) === 1 ? true : undefined,
  );
  assert.deepEqual(await stand.get('http', 'conn', '/meanwhile'), {
    status: 503,
    error: 'PIER_RATE_LIMITED',
  });
  assert.equal(seen(slow, '/meanwhile'), 0);
  assert.deepEqual(
    await stand.get('http', 'conn', '/meanwhile-other', { from: stand.fromLoopback }),
    { status: 200, seen: '/meanwhile-other' },
    'another address counts alone',
  );
  assert.deepEqual(await inFlight, { status: 200, seen: slowPath });
  for (const path of ['/after-1', '/after-2']) {
    assert.deepEqual(
      await stand.get('http', 'conn', path),
      { status: 200, seen: path },
      'sequential requests never pile up',
    );
  }
});

test('annotations.md#rate-limiting: a WebSocket upgrade counts while its tunnel is open, and is limited', async () => {
  const tunnel = await upgrade('conn', '/ws');
  assert.match(tunnel.head, /^HTTP\/1\.1 200 /, 'the pod answered through the tunnel');
  assert.deepEqual(
    await stand.get('http', 'conn', '/beside-the-tunnel'),
    { status: 503, error: 'PIER_RATE_LIMITED' },
    'the open tunnel holds the one connection allowed',
  );
  tunnel.socket.destroy();
  await waitUntil('the closed tunnel to free its slot', async () => {
    const reply = await stand.get('http', 'conn', '/after-the-tunnel');
    return reply.status === 200 ? true : undefined;
  });

  await sleep(DRAIN_MS);
  const drained = await burst('rps', '/fill', 8);
  assert.ok(drained.replies.some((r) => r.status === 503));
  const refused = await upgrade('rps', '/ws');
  assert.match(refused.head, /^HTTP\/1\.1 503 /);
  assert.match(refused.head, /\r\nx-pier-error: PIER_RATE_LIMITED\r\n/);
  refused.socket.destroy();
});
