import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { request } from 'undici';
import {
  createService,
  type EchoPod,
  type EchoReply,
  exposeAsEndpointSlice,
  exposeAsPod,
  startEchoPod,
  waitForEndpoints,
} from '../lib/echo-pod.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';

const kc = adminKubeConfig();
const discovery = kc.makeApiClient(DiscoveryV1Api);
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
const echos: EchoPod[] = [];

before(async () => {
  ns = await createTestNamespace(kc, 'echo');
});
after(async () => {
  await Promise.all(echos.map((e) => e.close()));
});

test('an echo pod behind a selector Service gets into an EndpointSlice made by the real controller', async () => {
  const echo = await startEchoPod('echo-a', '198.51.100.21');
  echos.push(echo);
  await createService(kc, ns.name, 'echo', { port: 80, targetPort: 'http' }, { app: 'echo' });
  await exposeAsPod(kc, ns.name, echo, { app: 'echo' });

  const slices = await waitForEndpoints(kc, ns.name, 'echo', ['198.51.100.21']);
  const slice = slices.find((s) => s.endpoints?.length);
  assert.equal(
    slice?.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'],
    'endpointslice-controller.k8s.io',
  );
  assert.equal(
    slice?.ports?.[0]?.port,
    echo.port,
    'the named target port resolves to the pod port',
  );
  assert.equal(slice?.endpoints?.[0]?.targetRef?.name, 'echo-a');

  const res = await request(`${echo.url}/hello?x=1`);
  assert.equal(res.statusCode, 200);
  const reply = (await res.body.json()) as EchoReply;
  assert.equal(reply.pod, 'echo-a');
  assert.equal(reply.address, '198.51.100.21');
  assert.equal(reply.url, '/hello?x=1');
});

test('echo pods on IPv6 and by hand-made EndpointSlice of a selector-less Service', async () => {
  const v6 = await startEchoPod('echo-v6', '2001:db8::21');
  echos.push(v6);
  await createService(kc, ns.name, 'external', { port: 80, targetPort: v6.port });
  await exposeAsEndpointSlice(kc, ns.name, 'external', [v6]);
  await waitForEndpoints(kc, ns.name, 'external', ['2001:db8::21']);
  const res = await request(`${v6.url}/`);
  assert.equal(((await res.body.json()) as EchoReply).pod, 'echo-v6');
});

test('the API server refuses a loopback address in an EndpointSlice', async () => {
  await assert.rejects(
    discovery.createNamespacedEndpointSlice({
      namespace: ns.name,
      body: {
        metadata: { name: 'loopback', labels: { 'kubernetes.io/service-name': 'external' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 80 }],
        endpoints: [{ addresses: ['127.0.0.1'] }],
      },
    }),
    (err: unknown) => {
      assert.equal((err as { code?: number }).code, 422);
      assert.match(String((err as { body?: unknown }).body), /loopback/);
      return true;
    },
  );
});

test('deleting the test namespace completes', async () => {
  await ns.remove(90_000);
});

test('an echo pod answers ?delay=<ms> that much later, other requests at once', async () => {
  const slow = await startEchoPod('echo-slow', '198.51.100.21');
  echos.push(slow);
  const timed = async (path: string) => {
    const started = performance.now();
    const res = await request(`${slow.url}${path}`);
    const reply = (await res.body.json()) as EchoReply;
    return { ms: performance.now() - started, url: reply.url };
  };
  const delayed = await timed('/a?x=1&delay=400');
  assert.equal(delayed.url, '/a?x=1&delay=400');
  assert.ok(delayed.ms >= 390, `answered after ${delayed.ms} ms`);
  assert.ok((await timed('/a?nodelay=400')).ms < 390, 'only the delay parameter counts');
});
