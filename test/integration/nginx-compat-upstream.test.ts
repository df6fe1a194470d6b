/**
 * ingress-nginx's upstream timeouts and retries, end to end: `proxy-read-timeout`,
 * `proxy-send-timeout` and the `proxy-next-upstream` family on Ingresses of class `nginx`, served by pier-controller with
 * `--ingress-class-compat=nginx` and a real dataplane against the real API server and Redis.
 * Each test names the section of ingress-nginx's annotation docs whose behaviour it checks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import {
  createService,
  type EchoPod,
  type EchoReply,
  exposeAsEndpointSlice,
} from '../lib/echo-pod.ts';
import { listDocument } from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { opensslCertificate } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';

let stand: NginxStand;
/** `flaky` answers 503 to every /flaky request; `steady` answers them. */
let flaky: EchoPod;
let steady: EchoPod;
/** Speaks HTTPS only. */
let secure: EchoPod;
const certDir = mkdtempSync(join(tmpdir(), 'pier-upstream-certs-'));
/** Takes the head of `POST /upload` and then reads nothing more; answers anything else. */
let stalling: StallingPod;

interface StallingPod {
  readonly server: Server;
  readonly port: number;
  /** Upload heads taken so far. */
  uploads: number;
  /** The connections it stopped reading. */
  readonly held: Set<Socket>;
}

/**
 * A pod of plain `node:net`: each connection's head is read; `POST /upload` is then left unread
 * (`socket.pause()`, so its buffers fill and stay full); any other request (health probes, the
 * stand's probe) gets a 200 with the echo's `{"url"}` and the connection closes.
 */
async function startStallingPod(address: string): Promise<StallingPod> {
  const held = new Set<Socket>();
  const pod = { server: createServer(), port: 0, uploads: 0, held };
  pod.server.on('connection', (socket) => {
    let head = '';
    socket.on('error', () => {});
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const [method, url] = head.slice(0, head.indexOf('\r\n')).split(' ');
      if (method === 'POST' && url === '/upload') {
        socket.pause();
        pod.uploads++;
        held.add(socket);
        socket.on('close', () => held.delete(socket));
        return;
      }
      const body = JSON.stringify({ url });
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    socket.on('data', onData);
  });
  pod.server.listen(0, address);
  await once(pod.server, 'listening');
  pod.port = (pod.server.address() as { port: number }).port;
  return pod;
}

/** 32 MiB in 64 KiB chunks: far more than the sockets between client and pod hold. */
const UPLOAD_BYTES = 32 * 1024 * 1024;
async function* upload(): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  for (let sent = 0; sent < UPLOAD_BYTES; sent += chunk.length) yield chunk;
}

before(async () => {
  stand = await NginxStand.open('upstream', '203.0.113.204/30');
  const [slow] = await stand.service('slow', ['192.0.2.238']);
  (slow as EchoPod).respond = (url) => (url.startsWith('/slow') ? { delayMs: 2_500 } : undefined);
  [flaky, steady] = (await stand.service('flaky', ['192.0.2.239', '192.0.2.240'])) as [
    EchoPod,
    EchoPod,
  ];
  flaky.respond = (url) => (url.startsWith('/flaky') ? { status: 503 } : undefined);
  // Balancing is per backend: each Ingress below has a Service of its own over the two pods.
  await stand.alias('flaky-off', [flaky, steady]);
  await stand.alias('flaky-post', [flaky, steady]);
  await stand.alias('hashed', [flaky, steady]);
  const pem = await opensslCertificate(certDir, 'pod', 'secure.pod.test');
  [secure] = (await stand.service('secure', ['192.0.2.241'], pem)) as [EchoPod];
  stalling = await startStallingPod('198.51.100.170');
  await createService(stand.kc, stand.namespace, 'stalling', {
    port: 80,
    targetPort: stalling.port,
  });
  const stallingPod = {
    name: `stalling-170-${stand.suffix}`,
    ...stalling,
    address: '198.51.100.170',
  };
  await exposeAsEndpointSlice(stand.kc, stand.namespace, 'stalling', [stallingPod as never]);
  const roundRobin = { [`${N}load-balance`]: 'round_robin' };
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      stand.ingress('impatient', { [`${N}proxy-read-timeout`]: '1' }, { service: 'slow' }),
      stand.ingress('patient', {}, { service: 'slow' }),
      stand.ingress('send-impatient', { [`${N}proxy-send-timeout`]: '1' }, { service: 'stalling' }),
      stand.ingress('send-patient', {}, { service: 'stalling' }),
      stand.ingress(
        'retry',
        { ...roundRobin, [`${N}proxy-next-upstream`]: 'error timeout http_503' },
        { service: 'flaky' },
      ),
      stand.ingress(
        'noretry',
        { ...roundRobin, [`${N}proxy-next-upstream`]: 'off' },
        { service: 'flaky-off' },
      ),
      stand.ingress('hashed', { [`${N}upstream-hash-by`]: '$request_uri' }, { service: 'hashed' }),
      stand.ingress('tls', { [`${N}backend-protocol`]: 'HTTPS' }, { service: 'secure' }),
      stand.ingress('grpc', { [`${N}backend-protocol`]: 'GRPC' }),
      stand.ingress('prefixed', { [`${N}x-forwarded-prefix`]: '/shop' }, { service: 'slow' }),
      stand.ingress(
        'post',
        { ...roundRobin, [`${N}proxy-next-upstream`]: 'http_503' },
        { service: 'flaky-post' },
      ),
    ]),
  });
  await stand.serve([
    'impatient',
    'patient',
    'send-impatient',
    'send-patient',
    'retry',
    'noretry',
    'post',
    'prefixed',
    'tls',
    'grpc',
    'hashed',
  ]);
});

after(async () => {
  for (const socket of stalling?.held ?? []) socket.destroy();
  stalling?.server.close();
  await stand?.close();
  rmSync(certDir, { recursive: true, force: true });
});

test('annotations.md#custom-timeouts: proxy-read-timeout answers 504 when the pod is slower; without it the pod is waited for', async () => {
  const started = performance.now();
  assert.deepEqual(await stand.get('http', 'impatient', '/slow'), {
    status: 504,
    error: 'PIER_UPSTREAM_TIMEOUT',
  });
  const waited = performance.now() - started;
  assert.ok(waited >= 900 && waited < 2_400, `answered after ${waited.toFixed(0)} ms, not ~1 s`);
  assert.deepEqual(await stand.get('http', 'patient', '/slow'), { status: 200, seen: '/slow' });
});

test('annotations.md#custom-timeouts: proxy-send-timeout answers 504 when the pod stops taking the upload; without it the upload is not cut', async () => {
  const uploads = stalling.uploads;
  const started = performance.now();
  const res = await request(stand.url('http', '/upload'), {
    method: 'POST',
    headers: {
      host: stand.host('send-impatient'),
      'content-length': String(UPLOAD_BYTES),
      connection: 'close',
    },
    body: Readable.from(upload()),
    dispatcher: stand.agent,
    headersTimeout: 10_000,
  });
  const waited = performance.now() - started;
  await res.body.text();
  assert.equal(res.statusCode, 504);
  assert.equal(res.headers['x-pier-error'], 'PIER_UPSTREAM_SEND_TIMEOUT');
  assert.ok(waited >= 900 && waited < 2_500, `answered after ${waited.toFixed(0)} ms, not ~1 s`);
  assert.equal(stalling.uploads, uploads + 1, 'the pod had the request head');

  // The same upload without the annotation: still going at 2 s (the client gives up then).
  const abort = new AbortController();
  const patient = request(stand.url('http', '/upload'), {
    method: 'POST',
    headers: { host: stand.host('send-patient'), 'content-length': String(UPLOAD_BYTES) },
    body: Readable.from(upload()),
    dispatcher: stand.agent,
    signal: abort.signal,
  }).then(
    (answer) => `answered ${answer.statusCode}`,
    (err: Error) => (abort.signal.aborted ? 'still going' : `failed: ${err.message}`),
  );
  const early = await Promise.race([patient, sleep(2_000, 'still going')]);
  abort.abort();
  assert.equal(early, 'still going');
  assert.equal(await patient, 'still going');
  assert.equal(stalling.uploads, uploads + 2, 'the second upload reached the pod too');
});

test('annotations.md#custom-timeouts (proxy-next-upstream): http_503 sends the request to the other pod; off answers what the pod said', async () => {
  const before = flaky.requests;
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(await stand.get('http', 'retry', `/flaky/${i}`), {
      status: 200,
      seen: `/flaky/${i}`,
    });
  }
  assert.ok(flaky.requests - before >= 4, 'round robin still sent some requests to the flaky pod');

  const statuses = new Map<number, number>();
  for (let i = 0; i < 10; i++) {
    const { status } = await stand.get('http', 'noretry', `/flaky/${i}`);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(statuses), { 200: 5, 503: 5 });
});

test('annotations.md#custom-timeouts (proxy-next-upstream): POST is not sent again without non_idempotent', async () => {
  const statuses = new Map<number, number>();
  for (let i = 0; i < 10; i++) {
    const { status } = await stand.get('http', 'post', `/flaky/${i}`, { method: 'POST' });
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  // Five 503s in a row would eject the flaky pod (passive health): the count stops at ten.
  assert.deepEqual(Object.fromEntries(statuses), { 200: 5, 503: 5 });
});

test('annotations.md#x-forwarded-prefix-header: the pod sees X-Forwarded-Prefix, replacing the client’s', async () => {
  const res = await request(stand.url('http', '/items'), {
    headers: { host: stand.host('prefixed'), 'x-forwarded-prefix': '/evil' },
    dispatcher: stand.agent,
  });
  const reply = (await res.body.json()) as EchoReply;
  assert.equal(res.statusCode, 200);
  assert.equal(reply.headers['x-forwarded-prefix'], '/shop');
  const plain = await request(stand.url('http', '/items'), {
    headers: { host: stand.host('patient'), 'x-forwarded-prefix': '/mine' },
    dispatcher: stand.agent,
  });
  const untouched = (await plain.body.json()) as EchoReply;
  assert.equal(untouched.headers['x-forwarded-prefix'], '/mine', 'without it the header passes');
});

test('annotations.md#backend-protocol: HTTPS reaches a pod that speaks only TLS, and its health check probes over TLS', async () => {
  assert.deepEqual(await stand.get('http', 'tls', '/over/tls?x=1'), {
    status: 200,
    seen: '/over/tls?x=1',
  });
  // A plain-HTTP probe never reaches an HTTPS server's handler: a probe seen went over TLS.
  await waitUntil('a health probe over TLS', async () =>
    secure.seen.some((r) => r.userAgent.startsWith('pier-health-check')) ? true : undefined,
  );
  assert.deepEqual(await stand.get('http', 'tls', '/still'), { status: 200, seen: '/still' });
});

test('annotations.md#backend-protocol: GRPC is reported as not supported in kubectl describe', async () => {
  const described = await waitUntil('the InvalidAnnotation Event', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'grpc',
    ]);
    return /backend-protocol/.test(stdout) ? stdout.replace(/\s+/g, ' ') : undefined;
  });
  assert.match(
    described,
    /InvalidAnnotation .*backend-protocol: GRPC is not supported by Pier, which speaks HTTP\/1\.1 \(or HTTPS\) to pods/,
  );
});

test('annotations.md#custom-nginx-upstream-hashing: upstream-hash-by $request_uri keeps each URI on one pod', async () => {
  const podsOf = new Map<string, Set<string>>();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 12; i++) {
      const uri = `/h/${i}?v=${i % 3}`;
      const res = await request(stand.url('http', uri), {
        headers: { host: stand.host('hashed') },
        dispatcher: stand.agent,
      });
      const reply = (await res.body.json()) as EchoReply;
      assert.equal(res.statusCode, 200);
      const seen = podsOf.get(uri) ?? new Set();
      seen.add(reply.pod);
      podsOf.set(uri, seen);
    }
  }
  for (const [uri, pods] of podsOf) assert.equal(pods.size, 1, `${uri} went to ${[...pods]}`);
  const used = new Set([...podsOf.values()].flatMap((pods) => [...pods]));
  assert.equal(used.size, 2, 'the URIs spread over both pods');
});
