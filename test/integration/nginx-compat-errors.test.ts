/**
 * ingress-nginx's custom errors through the real stack (annotations.md#custom-http-errors,
 * #default-backend, #disable-proxy-intercept-errors; custom-errors.md): an app pod answers 404,
 * 503 or 418 by path, and an error-backend pod answers with the status its `X-Code` header
 * names (as ingress-nginx's custom-error-pages image) and echoes the request it got. What the
 * client sees is the status, which pod answered and what that pod was told.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import type { EchoPod, EchoReply } from '../lib/echo-pod.ts';
import { createService } from '../lib/echo-pod.ts';
import { eventsFor, listDocument } from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { kubectl } from '../lib/test-cluster.ts';

const APP = '192.0.2.110';
const ERRORS = '192.0.2.111';
const SICK = '192.0.2.112';
const DEAD_ERRORS = '192.0.2.113';
const REFUSED = '192.0.2.114';

let stand: NginxStand;
let app: EchoPod;
let errors: EchoPod;
let sick: EchoPod;

/** The app's answers by path. */
const APP_STATUS: Record<string, number> = { '/missing': 404, '/down': 503, '/teapot': 418 };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The echo of the pod that answered, when one did. */
  echo?: EchoReply;
}

async function ask(
  name: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const res = await request(stand.url('http', path), {
    method: (options.method ?? 'GET') as 'GET',
    headers: { host: stand.host(name), ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: stand.agent,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  const reply: Reply = { status: res.statusCode, headers: res.headers, text };
  if (res.headers['x-echo-pod'] !== undefined && text !== '') {
    reply.echo = JSON.parse(text) as EchoReply;
  }
  return reply;
}

const errorAnnotations = (more: Record<string, string>) =>
  Object.fromEntries(Object.entries(more).map(([k, v]) => [N + k, v]));

before(async () => {
  stand = await NginxStand.open('errors', '203.0.113.212/30');
  [app] = (await stand.service('app', [APP])) as [EchoPod];
  app.respond = (url) => {
    // An error page longer than Pier drains (64 KiB): its connection is cut instead.
    if (url === '/big') return { status: 404, body: 'x'.repeat(200 * 1024) };
    const status = APP_STATUS[url.split('?')[0] ?? ''];
    return status === undefined ? undefined : { status };
  };
  [errors] = (await stand.service('errors', [ERRORS])) as [EchoPod];
  errors.respond = (_url, headers) => {
    const code = Number(headers['x-code']);
    return Number.isInteger(code) && code > 0 ? { status: code } : undefined;
  };
  [sick] = (await stand.service('sick', [SICK])) as [EchoPod];
  // Services whose pods are gone: nothing listens on their endpoints.
  const [deadErrors] = await stand.service('dead-errors', [DEAD_ERRORS]);
  const [refused] = await stand.service('refused', [REFUSED]);
  await deadErrors?.close();
  await refused?.close();
  // A Service with no EndpointSlice at all.
  await createService(stand.kc, stand.namespace, 'empty', { port: 80, targetPort: 8080 });

  const ns = stand.namespace;
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      stand.ingress(
        'custom',
        errorAnnotations({ 'custom-http-errors': '404,503', 'default-backend': 'errors' }),
        { service: 'app' },
      ),
      stand.ingress('fallback', errorAnnotations({ 'default-backend': 'errors' }), {
        service: 'empty',
      }),
      stand.ingress(
        'own',
        errorAnnotations({ 'custom-http-errors': '503', 'default-backend': 'errors' }),
        { service: 'sick' },
      ),
      stand.ingress(
        'dead',
        errorAnnotations({ 'custom-http-errors': '404', 'default-backend': 'dead-errors' }),
        { service: 'app' },
      ),
      stand.ingress(
        'missing',
        errorAnnotations({ 'custom-http-errors': '404', 'default-backend': 'no-such-service' }),
        { service: 'app' },
      ),
      stand.ingress(
        'passes',
        errorAnnotations({
          'custom-http-errors': '404,502,503',
          'default-backend': 'errors',
          'disable-proxy-intercept-errors': 'true',
        }),
        { service: 'app' },
      ),
      stand.ingress(
        'passes-down',
        errorAnnotations({
          'custom-http-errors': '404,502,503',
          'default-backend': 'errors',
          'disable-proxy-intercept-errors': 'true',
        }),
        { service: 'refused' },
      ),
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: 'sick', namespace: ns },
        spec: {
          targetRef: { name: 'sick' },
          http: { path: '/healthz' },
          interval: '1s',
          timeout: '500ms',
          unhealthyThreshold: 1,
        },
      },
    ]),
  });
  await stand.serve(['custom', 'fallback', 'own', 'dead', 'missing', 'passes']);
});

after(async () => {
  await stand?.close();
});

test('annotations.md#custom-http-errors: a listed status from the app is answered by the default-backend Service, told what failed', async () => {
  const res = await ask('custom', '/missing?from=client', {
    headers: { accept: 'application/json', 'x-request-id': 'req-123' },
  });
  assert.equal(res.status, 404, res.text);
  assert.equal(res.echo?.address, ERRORS, 'the error backend answered, not the app');
  assert.equal(res.echo?.url, '/', 'ingress-nginx rewrites the error request to /');
  assert.equal(res.echo?.method, 'GET');
  const seen = res.echo?.headers ?? {};
  assert.equal(seen['x-code'], '404');
  assert.equal(seen['x-format'], 'application/json');
  assert.equal(seen['x-original-uri'], '/missing?from=client');
  assert.equal(seen['x-namespace'], stand.namespace);
  assert.equal(seen['x-ingress-name'], 'custom');
  assert.equal(seen['x-service-name'], 'app');
  assert.equal(seen['x-service-port'], '80');
  assert.equal(seen['x-request-id'], 'req-123');
  assert.equal(seen.host, stand.host('custom'));

  // The app's 503 too, for a POST: the error backend gets the method, not the body.
  const post = await ask('custom', '/down', { method: 'POST', body: 'payload' });
  assert.equal(post.status, 503);
  assert.equal(post.echo?.address, ERRORS);
  assert.equal(post.echo?.method, 'POST');
  assert.equal(post.echo?.headers['x-code'], '503');
  assert.ok([undefined, '0'].includes(post.echo?.headers['content-length'] as string));
  assert.match(String(post.echo?.headers['x-request-id']), /^[0-9a-f]{32}$/);

  // A long error body is not read whole: the answer is the error backend's all the same.
  const big = await ask('custom', '/big');
  assert.equal(big.status, 404);
  assert.equal(big.echo?.address, ERRORS);
  assert.equal(big.echo?.headers['x-original-uri'], '/big');

  // HEAD: the error backend's status and headers, no body.
  const head = await ask('custom', '/missing', { method: 'HEAD' });
  assert.equal(head.status, 404);
  assert.equal(head.headers['x-echo-pod'] !== undefined, true);
  assert.equal(head.text, '');
});

test('annotations.md#custom-http-errors: statuses not listed, and successes, pass unchanged', async () => {
  const teapot = await ask('custom', '/teapot');
  assert.equal(teapot.status, 418);
  assert.equal(teapot.echo?.address, APP);
  const ok = await ask('custom', '/fine');
  assert.equal(ok.status, 200);
  assert.equal(ok.echo?.address, APP);
  assert.equal(ok.echo?.url, '/fine');
});

test('annotations.md#default-backend: alone, it serves the requests while the Service has no endpoints', async () => {
  const res = await ask('fallback', '/some/page?q=1');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.echo?.address, ERRORS);
  assert.equal(res.echo?.url, '/some/page?q=1', 'the request as it came, not an error request');
  assert.equal(res.echo?.headers['x-code'], undefined);
});

test("annotations.md#custom-http-errors: Pier's own 503 (no healthy endpoint) goes to the default backend when 503 is listed", async () => {
  const before = await ask('own', '/');
  assert.equal(before.status, 200);
  assert.equal(before.echo?.address, SICK);
  sick.healthy = false;
  const res = await waitUntil(
    'the sick endpoint to be marked unhealthy',
    async () => {
      const r = await ask('own', '/');
      return r.status === 503 ? r : undefined;
    },
    15_000,
  );
  assert.equal(res.echo?.address, ERRORS, res.text);
  assert.equal(res.echo?.headers['x-code'], '503');
  assert.equal(res.echo?.headers['x-service-name'], 'sick');
  sick.healthy = true;
});

test("annotations.md#custom-http-errors: when the error backend fails, Pier's own page with the original status", async () => {
  const res = await ask('dead', '/missing');
  assert.equal(res.status, 404, res.text);
  assert.equal(res.echo, undefined, 'neither pod answered');
  assert.equal(res.headers['x-pier-error'], 'PIER_UPSTREAM_STATUS');
  assert.equal(res.text, '404 Not Found\n');
  // The error backend's failure is not intercepted in turn: the app's own path still works.
  assert.equal((await ask('dead', '/fine')).status, 200);
  const metrics = await (
    await request(`http://127.0.0.1:${stand.dataplane.opsPort}/metrics`)
  ).body.text();
  assert.match(
    metrics,
    /pier_dataplane_intercepted_responses_total\{code="404",answer="page"\} [1-9]/,
  );
  assert.match(
    metrics,
    /pier_dataplane_intercepted_responses_total\{code="404",answer="backend"\} [1-9]/,
  );
});

test('annotations.md#default-backend: a missing Service is reported naming the annotation; the route is served without it', async () => {
  const event = await waitUntil('the ServiceNotFound Event', async () => {
    const events = await eventsFor(stand.kc, stand.namespace, 'missing');
    return events.find((e) => e.reason === 'ServiceNotFound');
  });
  assert.match(
    event.message,
    /nginx\.ingress\.kubernetes\.io\/default-backend: Service .*\/no-such-service not found/,
  );
  assert.equal(event.type, 'Warning');
  const res = await ask('missing', '/missing');
  assert.equal(res.status, 404);
  assert.equal(
    res.headers['x-pier-error'],
    'PIER_UPSTREAM_STATUS',
    "Pier's own page for the status",
  );
  assert.equal((await ask('missing', '/fine')).echo?.address, APP);
});

test("annotations.md#disable-proxy-intercept-errors: the app's statuses pass; Pier's own still go to the default backend", async () => {
  const res = await ask('passes', '/missing');
  assert.equal(res.status, 404);
  assert.equal(res.echo?.address, APP, "the app's own 404");
  // Nothing listens on the pod: Pier's 502 (or 503 once the endpoint is known down).
  const down = await waitUntil('passes-down to be served', async () => {
    const r = await ask('passes-down', '/');
    return r.status === 404 ? undefined : r;
  });
  assert.ok(down.status === 502 || down.status === 503, `${down.status} ${down.text}`);
  assert.equal(down.echo?.address, ERRORS, down.text);
  assert.equal(down.echo?.headers['x-code'], String(down.status));
  assert.equal(down.echo?.headers['x-service-name'], 'refused');
});
