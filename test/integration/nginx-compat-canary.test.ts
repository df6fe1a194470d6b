/**
 * ingress-nginx's canaries through the real stack (annotations.md#canary): a canary Ingress on
 * the same host and path as a main Ingress becomes the alternative backend of the main route,
 * chosen per request by header, then cookie, then weight. A main Service with one pod and a
 * canary Service with another; what the client sees is which pod answered.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import {
  eventsFor,
  ingressManifest,
  listDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { kubectl } from '../lib/test-cluster.ts';

const MAIN = '192.0.2.235';
const CANARY = '192.0.2.236';
/** The main pod of the host with cookie affinity: balancing is per Service. */
const STICKY_MAIN = '192.0.2.237';

let stand: NginxStand;
/** Keeps connections open: the weight test sends thousands of requests. */
const keepAlive = new Agent({ connections: 8, pipelining: 1 });

/** A canary Ingress for the host of main Ingress `main`, to the canary Service. */
function canary(name: string, main: string, annotations: Record<string, string>) {
  return ingressManifest(stand.namespace, name, {
    className: 'nginx',
    host: stand.host(main),
    service: 'canary',
    annotations: {
      'pier.dev/address-pool': stand.pool,
      [`${N}canary`]: 'true',
      ...Object.fromEntries(Object.entries(annotations).map(([k, v]) => [N + k, v])),
    },
  });
}

/** Which pod answered a request to the host of Ingress `name`, and its affinity cookie if any. */
async function hit(
  name: string,
  headers: Record<string, string> = {},
): Promise<{ pod: string; setCookie?: string }> {
  const res = await request(stand.url('http', '/'), {
    headers: { host: stand.host(name), ...headers },
    dispatcher: keepAlive,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  assert.equal(res.statusCode, 200, `${name}: ${text}`);
  const cookie = res.headers['set-cookie'];
  const pod = (JSON.parse(text) as { address: string }).address;
  return typeof cookie === 'string' ? { pod, setCookie: cookie.split(';')[0] as string } : { pod };
}

async function pods(name: string, n: number, headers: Record<string, string> = {}) {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await hit(name, headers)).pod);
  return [...seen].sort();
}

before(async () => {
  stand = await NginxStand.open('canary', '203.0.113.236/30');
  await stand.service('main', [MAIN]);
  await stand.service('canary', [CANARY]);
  await stand.service('sticky-main', [STICKY_MAIN]);
  const mains = ['weighted', 'total', 'header', 'value', 'pattern'].map((name) =>
    stand.ingress(name, {}, { service: 'main' }),
  );
  const sticky = stand.ingress(
    'sticky',
    { [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'route' },
    { service: 'sticky-main' },
  );
  // Applied together, so of equal age: a main's name sorts first, and it stays the older one.
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      ...mains,
      sticky,
      canary('weighted-canary', 'weighted', { 'canary-weight': '20' }),
      // 50 of 200: a quarter; read out of 100, half.
      canary('total-canary', 'total', { 'canary-weight': '50', 'canary-weight-total': '200' }),
      canary('header-canary', 'header', {
        'canary-by-header': 'X-Canary',
        'canary-by-cookie': 'use_canary',
      }),
      canary('value-canary', 'value', {
        'canary-by-header': 'X-Region',
        'canary-by-header-value': 'eu-west',
      }),
      canary('pattern-canary', 'pattern', {
        'canary-by-header': 'X-User',
        'canary-by-header-pattern': '^beta-[0-9]+$',
      }),
      canary('sticky-canary', 'sticky', { 'canary-weight': '50', 'canary-by-header': 'X-Canary' }),
      // No main Ingress has this host.
      canary('alone-canary', 'alone', { 'canary-weight': '100' }),
    ]),
  });
  await stand.serve(['weighted', 'total', 'header', 'value', 'pattern', 'sticky']);
});

after(async () => {
  await keepAlive.close();
  await stand?.close();
});

/** The canary's share of `total` requests to the host of Ingress `name`, 20 at a time. */
async function canaryShare(name: string, total: number): Promise<number> {
  let canaryHits = 0;
  for (let sent = 0; sent < total; sent += 20) {
    const batch = await Promise.all(Array.from({ length: 20 }, () => hit(name)));
    for (const { pod } of batch) {
      assert.ok(pod === MAIN || pod === CANARY, pod);
      if (pod === CANARY) canaryHits++;
    }
  }
  return canaryHits / total;
}

test('annotations.md#canary: canary-weight 20 sends a fifth of the requests to the canary', async () => {
  const total = 2_000;
  const share = await canaryShare('weighted', total);
  const canaryHits = Math.round(share * total);
  assert.ok(share >= 0.15 && share <= 0.25, `canary share ${share} (${canaryHits}/${total})`);
  // The dataplane's metrics name the backend each request actually went to.
  const metrics = await (
    await request(`http://127.0.0.1:${stand.dataplane.opsPort}/metrics`)
  ).body.text();
  const count = (service: string) => {
    const labels = `host="${stand.host('weighted')}",status="200",backend="${stand.namespace}/${service}:80"`;
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith(`pier_dataplane_requests_total{${labels}}`));
    return Number(line?.split(' ').pop() ?? 0);
  };
  assert.ok(count('canary') >= canaryHits, metrics);
  assert.ok(count('main') >= total - canaryHits);
});

test('annotations.md#canary: canary-weight 50 of canary-weight-total 200 sends a quarter to the canary', async () => {
  const share = await canaryShare('total', 2_000);
  // Out of 100 (the total ignored) it would be a half.
  assert.ok(share >= 0.2 && share <= 0.3, `canary share ${share} of 2000`);
});

test('annotations.md#canary: canary-by-header always and never, else the cookie, header first', async () => {
  assert.deepEqual(await pods('header', 5, { 'x-canary': 'always' }), [CANARY]);
  assert.deepEqual(await pods('header', 5, { 'x-canary': 'never' }), [MAIN]);
  assert.deepEqual(await pods('header', 5), [MAIN], 'no weight: the main backend');
  assert.deepEqual(await pods('header', 5, { cookie: 'use_canary=always' }), [CANARY]);
  assert.deepEqual(await pods('header', 5, { cookie: 'a=1; use_canary=never' }), [MAIN]);
  assert.deepEqual(
    await pods('header', 5, { 'x-canary': 'maybe', cookie: 'use_canary=always' }),
    [CANARY],
    'another header value falls through to the cookie',
  );
  assert.deepEqual(
    await pods('header', 5, { 'x-canary': 'never', cookie: 'use_canary=always' }),
    [MAIN],
    'the header wins over the cookie',
  );
  assert.deepEqual(await pods('header', 5, { 'x-canary': 'always', cookie: 'use_canary=never' }), [
    CANARY,
  ]);
});

test('annotations.md#canary: canary-by-header-value matches exactly; always no longer counts', async () => {
  assert.deepEqual(await pods('value', 5, { 'x-region': 'eu-west' }), [CANARY]);
  assert.deepEqual(await pods('value', 5, { 'x-region': 'eu-west-2' }), [MAIN]);
  assert.deepEqual(await pods('value', 5, { 'x-region': 'always' }), [MAIN]);
});

test('annotations.md#canary: canary-by-header-pattern, a regular expression on the value', async () => {
  assert.deepEqual(await pods('pattern', 5, { 'x-user': 'beta-42' }), [CANARY]);
  assert.deepEqual(await pods('pattern', 5, { 'x-user': 'beta-x' }), [MAIN]);
  assert.deepEqual(await pods('pattern', 5, { 'x-user': 'alpha-beta-42' }), [MAIN]);
});

test('annotations.md#session-affinity: a client pinned by the main’s affinity cookie stays on its side (affinity-canary-behavior: sticky)', async () => {
  const cookies = new Map<string, string>();
  for (let i = 0; i < 200 && cookies.size < 2; i++) {
    const { pod, setCookie } = await hit('sticky');
    if (setCookie !== undefined) cookies.set(pod, setCookie);
  }
  assert.deepEqual([...cookies.keys()].sort(), [CANARY, STICKY_MAIN].sort(), 'both sides seen');
  for (const value of cookies.values()) assert.match(value, /^route=/, "the main's cookie name");
  assert.deepEqual(
    await pods('sticky', 10, { cookie: cookies.get(STICKY_MAIN) as string, 'x-canary': 'always' }),
    [STICKY_MAIN],
    'pinned to the main: the header is not looked at, as ingress-nginx',
  );
  assert.deepEqual(
    await pods('sticky', 10, { cookie: cookies.get(CANARY) as string, 'x-canary': 'never' }),
    [CANARY],
    'pinned to the canary: it stays there',
  );
});

test('annotations.md#canary: the canary gets no RouteConflict; one without a main Ingress is not used, and says so', async () => {
  const alone = await waitUntil('the CanaryWithoutMain Event', async () => {
    const events = await eventsFor(stand.kc, stand.namespace, 'alone-canary');
    return events.find((e) => e.reason === 'CanaryWithoutMain');
  });
  assert.equal(alone.type, 'Warning');
  assert.equal(
    alone.message,
    `Prefix path '/' on host '${stand.host('alone')}': no main Ingress serves this host, path and path type on the address; the canary is not used, as in ingress-nginx`,
  );
  const res = await stand.get('http', 'alone', '/');
  assert.deepEqual(res, { status: 404, error: 'PIER_NO_ROUTE' }, 'as ingress-nginx: no server');
  const addresses = await waitForAddresses(stand.kc, stand.namespace, [
    'alone-canary',
    'weighted-canary',
  ]);
  for (const name of ['alone-canary', 'weighted-canary']) {
    assert.deepEqual(
      addresses.get(name),
      [stand.address],
      `${name}: the address, as ingress-nginx`,
    );
  }
  for (const name of [
    'weighted-canary',
    'total-canary',
    'header-canary',
    'value-canary',
    'pattern-canary',
    'sticky-canary',
  ]) {
    const events = await eventsFor(stand.kc, stand.namespace, name);
    assert.deepEqual(
      events.filter((e) => e.type === 'Warning'),
      [],
      `${name}: no Warning Event`,
    );
  }
});

test('annotations.md#canary: without the canary annotation, or without the canary Ingress, the main backend serves everything', async () => {
  await kubectl(stand.env.kubeconfig, [
    'annotate',
    'ingress',
    '-n',
    stand.namespace,
    'header-canary',
    `${N}canary-`,
  ]);
  await waitUntil('the header no longer picks the canary', async () =>
    (await pods('header', 3, { 'x-canary': 'always' })).join() === MAIN ? true : undefined,
  );
  assert.deepEqual(
    await pods('header', 20, { 'x-canary': 'always', cookie: 'use_canary=always' }),
    [MAIN],
  );
  // An ordinary Ingress now, for the same path as the older main Ingress: it says so.
  const events = await waitUntil('the RouteConflict of the former canary', async () => {
    const list = await eventsFor(stand.kc, stand.namespace, 'header-canary');
    return list.some((e) => e.reason === 'RouteConflict') ? list : undefined;
  });
  assert.ok(
    events.some((e) => e.reason === 'InvalidAnnotation' && /canary-by-header/.test(e.message)),
  );

  await kubectl(stand.env.kubeconfig, [
    'delete',
    'ingress',
    '-n',
    stand.namespace,
    'weighted-canary',
  ]);
  await waitUntil('the weighted host to serve its main pod only', async () =>
    (await pods('weighted', 20)).join() === MAIN ? true : undefined,
  );
  assert.deepEqual(await pods('weighted', 200), [MAIN]);
});
