/**
 * ingress-nginx's upstream timeouts and retries, end to end: `proxy-read-timeout`,
 * `proxy-send-timeout` and the `proxy-next-upstream` family on Ingresses of class `nginx`,
 * served by pier-controller with `--ingress-class-compat=nginx` and a real dataplane against the real API server and Redis.
 * Each test names the section of ingress-nginx's annotation docs whose behaviour it checks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import type { EchoPod, EchoReply } from '../lib/echo-pod.ts';
import { listDocument } from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { opensslCertificate } from '../lib/route-tables.ts';
import { type SilentListener, startSilentListener } from '../lib/silent-listener.ts';
import { type StallingPod, startStallingPod } from '../lib/stalling-pod.ts';
import { kubectl } from '../lib/test-cluster.ts';

let stand: NginxStand;
/** `flaky` answers 503 to every /flaky request; `steady` answers them. */
let flaky: EchoPod;
let steady: EchoPod;
/** Speaks HTTPS only. */
let secure: EchoPod;
/** Answers /lag requests 503, after 1.5 s. */
let lagging: EchoPod;
/** Never completes a connection. */
let silent: SilentListener;
const certDir = mkdtempSync(join(tmpdir(), 'pier-upstream-certs-'));
/** Takes the head of `POST /upload` and then reads nothing more; answers anything else. */
let stalling: StallingPod;

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
  // One port for both, as the Services below name a single target port.
  const [laggingPod, prompt] = (await stand.service('lagging', ['192.0.2.142', '192.0.2.144'])) as [
    EchoPod,
    EchoPod,
  ];
  lagging = laggingPod;
  lagging.respond = (url) => (url.startsWith('/lag') ? { status: 503, delayMs: 1_500 } : undefined);
  await stand.alias('flaky-once', [flaky, steady]);
  await stand.alias('lagging-deadline', [lagging, prompt]);
  await stand.alias('lagging-retry', [lagging, prompt]);
  await stand.alias('samesite', [prompt]);
  silent = await startSilentListener('192.0.2.143');
  const silentPod = { name: 'silent', address: silent.address, port: silent.port };
  await stand.alias('silent', [silentPod as unknown as EchoPod]);
  stalling = await startStallingPod('198.51.100.170');
  const stallingPod = { name: 'stalling', address: '198.51.100.170', port: stalling.port };
  await stand.alias('stalling', [stallingPod as unknown as EchoPod]);
  const roundRobin = { [`${N}load-balance`]: 'round_robin' };
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      // Probed once at the start, then not for ten minutes: the silent pod stays in rotation.
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: 'silent', namespace: stand.namespace },
        spec: { targetRef: { name: 'silent' }, interval: '10m', timeout: '1s' },
      },
      stand.ingress('unanswered', { [`${N}proxy-connect-timeout`]: '1' }, { service: 'silent' }),
      stand.ingress(
        'once',
        {
          ...roundRobin,
          [`${N}proxy-next-upstream`]: 'error timeout http_503',
          [`${N}proxy-next-upstream-tries`]: '1',
        },
        { service: 'flaky-once' },
      ),
      stand.ingress(
        'deadline',
        {
          ...roundRobin,
          [`${N}proxy-next-upstream`]: 'http_503',
          [`${N}proxy-next-upstream-timeout`]: '1',
        },
        { service: 'lagging-deadline' },
      ),
      stand.ingress(
        'nodeadline',
        { ...roundRobin, [`${N}proxy-next-upstream`]: 'http_503' },
        { service: 'lagging-retry' },
      ),
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
        'samesite',
        {
          [`${N}affinity`]: 'cookie',
          [`${N}session-cookie-samesite`]: 'None',
          [`${N}session-cookie-conditional-samesite-none`]: 'true',
        },
        { service: 'samesite' },
      ),
      stand.ingress('vhost', { [`${N}upstream-vhost`]: 'internal.shop.svc' }, { service: 'slow' }),
      stand.ingress(
        'tenant',
        { [`${N}upstream-vhost`]: '$http_x_tenant.tenants.svc' },
        { service: 'slow' },
      ),
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
    'vhost',
    'tenant',
    'samesite',
    'unanswered',
    'once',
    'deadline',
    'nodeadline',
  ]);
});

after(async () => {
  await stalling?.close();
  await stand?.close();
  await silent?.close();
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

test('annotations.md#custom-timeouts: proxy-connect-timeout gives up on a pod that never accepts after its seconds, 504', async () => {
  const started = performance.now();
  assert.deepEqual(await stand.get('http', 'unanswered', '/x'), {
    status: 504,
    error: 'PIER_UPSTREAM_CONNECT_TIMEOUT',
  });
  const waited = performance.now() - started;
  // ingress-nginx's default, and Pier's, is 5 s.
  assert.ok(waited >= 900 && waited < 2_400, `answered after ${waited.toFixed(0)} ms, not ~1 s`);
});

test('annotations.md#custom-timeouts (proxy-next-upstream-tries): 1 try sends nothing to the other pod', async () => {
  const statuses = new Map<number, number>();
  for (let i = 0; i < 10; i++) {
    const { status } = await stand.get('http', 'once', `/flaky/${i}`);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  // The same conditions with the default 3 tries answer every one 200 ('retry' above).
  assert.deepEqual(Object.fromEntries(statuses), { 200: 5, 503: 5 });
});

test('annotations.md#custom-timeouts (proxy-next-upstream-timeout): no next pod once its seconds have passed', async () => {
  const statuses = new Map<number, number>();
  for (let i = 0; i < 6; i++) {
    const { status } = await stand.get('http', 'deadline', `/lag/${i}`);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
  // The lagging pod's 503 comes after 1.5 s, past the 1 s: it is the answer.
  assert.deepEqual(Object.fromEntries(statuses), { 200: 3, 503: 3 });
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(
      await stand.get('http', 'nodeadline', `/lag/${i}`),
      { status: 200, seen: `/lag/${i}` },
      'without the timeout the other pod is tried',
    );
  }
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

test('annotations.md#custom-nginx-upstream-vhost: the pod sees the annotation’s Host, X-Forwarded-Host keeps the client’s', async () => {
  const seen = async (name: string, headers: Record<string, string> = {}) => {
    const res = await request(stand.url('http', '/items'), {
      headers: { host: stand.host(name), ...headers },
      dispatcher: stand.agent,
    });
    assert.equal(res.statusCode, 200);
    const reply = (await res.body.json()) as EchoReply;
    return [reply.headers.host, reply.headers['x-forwarded-host']];
  };
  assert.deepEqual(await seen('vhost'), ['internal.shop.svc', stand.host('vhost')]);
  assert.deepEqual(await seen('tenant', { 'x-tenant': 'acme' }), [
    'acme.tenants.svc',
    stand.host('tenant'),
  ]);
  assert.deepEqual(
    await seen('tenant', { 'x-tenant': 'evil.example/x' }),
    [stand.host('tenant'), stand.host('tenant')],
    'a value that is no Host keeps the client’s',
  );
  assert.deepEqual(await seen('patient'), [stand.host('patient'), stand.host('patient')]);
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

test('annotations.md#cookie-affinity: session-cookie-conditional-samesite-none leaves SameSite=None out for browsers that reject it', async () => {
  const cookieFor = async (userAgent: string) => {
    const res = await request(stand.url('http', '/'), {
      headers: { host: stand.host('samesite'), 'user-agent': userAgent },
      dispatcher: stand.agent,
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    return String(res.headers['set-cookie']);
  };
  const chrome62 =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0.3202.94 Safari/537.36';
  const chrome120 =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  assert.match(
    await cookieFor(chrome120),
    /^INGRESSCOOKIE=[^;]+; Path=\/; HttpOnly; SameSite=None$/,
  );
  assert.match(await cookieFor(chrome62), /^INGRESSCOOKIE=[^;]+; Path=\/; HttpOnly$/);
});
