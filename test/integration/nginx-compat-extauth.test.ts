/**
 * ingress-nginx's external authentication (annotations.md#external-authentication), end to
 * end: an auth service of the test's own that records what it was sent and answers by the
 * request's `x-token`, an app pod, Ingresses of class `nginx`, pier-controller with
 * `--ingress-class-compat=nginx` and a real dataplane, against the real API server and Redis.
 * Each test checks what a user sees: statuses, Location, cookies, and what the auth service and
 * the pod received.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import type { EchoPod } from '../lib/echo-pod.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { kubectl } from '../lib/test-cluster.ts';

const AUTH_ADDRESS = '192.0.2.100';
/** Nothing listens here: an unreachable auth service. */
const DOWN_ADDRESS = '192.0.2.101';
const SHA_BAR = '{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=';

interface AuthSeen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
}

let stand: NginxStand;
let app: EchoPod[] = [];
let authServer: Server;
let authPort = 0;
const authSeen: AuthSeen[] = [];
const appServed = () =>
  app.reduce(
    (n, pod) => n + pod.seen.filter((r) => !r.userAgent.startsWith('pier-health')).length,
    0,
  );

/** The auth service: 200 for `x-token: good` (with identity headers and a cookie), 403 for `forbidden`, else 401. */
async function startAuthService(): Promise<void> {
  authServer = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      authSeen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyBytes,
      });
      if ((req.url ?? '').startsWith('/fail')) {
        res.writeHead(500).end('boom');
        return;
      }
      const token = req.headers['x-token'];
      if ((req.url ?? '').startsWith('/plain')) {
        // Without cookies: answers a proxy cache may keep.
        res.writeHead(token === 'good' ? 200 : 401, { 'x-auth-request-user': 'bob' });
        res.end();
      } else if (token === 'good') {
        res.writeHead(202, {
          'x-auth-request-user': 'alice',
          'x-auth-request-email': 'alice@example.test',
          'set-cookie': '_oauth2_proxy=abc; Path=/',
        });
        res.end('ok');
      } else if (token === 'forbidden') {
        res.writeHead(403).end('no');
      } else {
        res.writeHead(401, {
          'www-authenticate': 'Bearer realm="test"',
          'set-cookie': '_oauth2_csrf=xyz; Path=/',
        });
        res.end('who?');
      }
    });
  });
  await new Promise<void>((resolve) => authServer.listen(0, AUTH_ADDRESS, resolve));
  authPort = (authServer.address() as AddressInfo).port;
}

async function apply(...objects: Array<Record<string, unknown>>): Promise<void> {
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

/** One request to Ingress `name`'s host, with what the client, the auth service and the pod saw. */
async function ask(
  name: string,
  options: { path?: string; method?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const servedBefore = appServed();
  const authBefore = authSeen.length;
  const res = await request(stand.url('http', options.path ?? '/private?a=1'), {
    method: (options.method ?? 'GET') as 'GET',
    headers: { host: stand.host(name), connection: 'close', ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
    dispatcher: stand.agent,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const text = await res.body.text();
  const header = (h: string) => {
    const v = res.headers[h];
    return v === undefined ? undefined : Array.isArray(v) ? v.join('\n') : v;
  };
  return {
    status: res.statusCode,
    error: header('x-pier-error'),
    location: header('location'),
    cookie: header('set-cookie'),
    challenge: header('www-authenticate'),
    reached: appServed() > servedBefore,
    pod:
      res.statusCode === 200
        ? (JSON.parse(text) as { headers: Record<string, string>; method: string }).headers
        : undefined,
    auth: authSeen.slice(authBefore),
  };
}

before(async () => {
  await startAuthService();
  stand = await NginxStand.open('nginx-extauth', '203.0.113.208/30');
  app = await stand.service('app', ['192.0.2.102']);
  const authUrl = `http://${AUTH_ADDRESS}:${authPort}/auth?orig=$escaped_request_uri`;
  const ext = (more: Record<string, string> = {}) => ({
    [`${N}auth-url`]: authUrl,
    [`${N}auth-response-headers`]:
      'X-Auth-Request-User, X-Auth-Request-Email, X-Auth-Request-Groups',
    ...more,
  });
  const svc = { service: 'app' };
  await apply(
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'basic-auth', namespace: stand.namespace },
      type: 'Opaque',
      stringData: { auth: `alice:${SHA_BAR}\n` },
    },
    stand.ingress('ext', ext(), svc),
    stand.ingress(
      'signin',
      ext({ [`${N}auth-signin`]: 'https://login.example.test/oauth2/start' }),
      svc,
    ),
    stand.ingress(
      'proxy',
      ext({ [`${N}auth-signin`]: 'https://$host/oauth2/start?rd=$escaped_request_uri' }),
      svc,
    ),
    stand.ingress(
      'cached',
      {
        [`${N}auth-url`]: `http://${AUTH_ADDRESS}:${authPort}/plain`,
        [`${N}auth-cache-key`]: '$http_x_token',
        [`${N}auth-response-headers`]: 'X-Auth-Request-User',
      },
      svc,
    ),
    stand.ingress(
      'cached200',
      {
        [`${N}auth-url`]: `http://${AUTH_ADDRESS}:${authPort}/plain`,
        [`${N}auth-cache-key`]: '$http_x_token',
        [`${N}auth-cache-duration`]: '200 5m',
      },
      svc,
    ),
    stand.ingress('method', ext({ [`${N}auth-method`]: 'POST' }), svc),
    stand.ingress(
      'param',
      ext({
        [`${N}auth-signin`]: 'https://login.example.test/start',
        [`${N}auth-signin-redirect-param`]: 'next',
      }),
      svc,
    ),
    stand.ingress('down', { [`${N}auth-url`]: `http://${DOWN_ADDRESS}:9/auth` }, svc),
    stand.ingress('fail', { [`${N}auth-url`]: `http://${AUTH_ADDRESS}:${authPort}/fail` }, svc),
    stand.ingress('bad', { [`${N}auth-url`]: 'oauth2-proxy.auth/oauth2/auth' }, svc),
    stand.ingress(
      'both',
      ext({
        [`${N}auth-type`]: 'basic',
        [`${N}auth-secret`]: 'basic-auth',
        [`${N}auth-realm`]: 'both',
      }),
      svc,
    ),
  );
  await stand.serve([
    'ext',
    'signin',
    'proxy',
    'cached',
    'cached200',
    'method',
    'param',
    'down',
    'fail',
    'bad',
    'both',
  ]);
});

after(async () => {
  await stand?.close();
  await new Promise((resolve) => authServer?.close(resolve));
});

test('annotations.md#external-authentication: without credentials the auth service answers 401, passed on with its challenge; the pod sees nothing', async () => {
  const res = await ask('ext');
  assert.equal(res.status, 401);
  assert.equal(res.error, 'PIER_AUTH_SERVICE_UNAUTHORIZED');
  assert.equal(res.challenge, 'Bearer realm="test"');
  assert.equal(res.cookie, undefined, 'no cookie on a 401 without auth-always-set-cookie');
  assert.equal(res.reached, false);
  assert.equal(res.auth.length, 1, 'the auth service was asked once');
});

test("annotations.md#external-authentication: allowed, the pod sees the auth-response-headers, never the client's own; the cookie reaches the client", async () => {
  const res = await ask('ext', {
    headers: {
      'x-token': 'good',
      'x-auth-request-user': 'mallory',
      'x-auth-request-groups': 'admin',
    },
  });
  assert.equal(res.status, 200);
  assert.equal(res.reached, true);
  assert.equal(res.pod?.['x-auth-request-user'], 'alice');
  assert.equal(res.pod?.['x-auth-request-email'], 'alice@example.test');
  assert.equal(
    res.pod?.['x-auth-request-groups'],
    undefined,
    'not sent by the auth service: dropped',
  );
  assert.equal(res.pod?.['x-token'], 'good', 'the request is otherwise unchanged');
  assert.equal(res.cookie, '_oauth2_proxy=abc; Path=/');
});

test("annotations.md#external-authentication: the auth service gets a GET without body, X-Original-URL/Method and the request's headers", async () => {
  const res = await ask('ext', {
    method: 'POST',
    body: 'secret-body',
    headers: { 'x-token': 'good', 'content-type': 'text/plain' },
  });
  assert.equal(res.status, 200);
  const [seen] = res.auth;
  assert.ok(seen);
  assert.equal(seen.method, 'GET');
  assert.equal(seen.url, '/auth?orig=%2Fprivate%3Fa%3D1', '$escaped_request_uri filled in');
  assert.equal(seen.bodyBytes, 0);
  assert.equal(seen.headers['content-length'], undefined);
  assert.equal(seen.headers.host, AUTH_ADDRESS);
  assert.equal(seen.headers['x-original-url'], `http://${stand.host('ext')}/private?a=1`);
  assert.equal(seen.headers['x-original-method'], 'POST');
  assert.equal(seen.headers['x-sent-from'], 'nginx-ingress-controller');
  assert.equal(seen.headers['x-auth-request-redirect'], '/private?a=1');
  assert.equal(seen.headers['x-token'], 'good');
  assert.equal(seen.headers['content-type'], 'text/plain');
  assert.ok(seen.headers['x-real-ip'], 'X-Real-IP is the client address');
  assert.equal(seen.headers['x-forwarded-for'], seen.headers['x-real-ip']);
  assert.equal(seen.headers['x-forwarded-proto'], undefined, 'cleared, as ingress-nginx');
});

test('annotations.md#external-authentication: 403 from the auth service is passed on', async () => {
  const res = await ask('ext', { headers: { 'x-token': 'forbidden' } });
  assert.equal(res.status, 403);
  assert.equal(res.error, 'PIER_AUTH_SERVICE_FORBIDDEN');
  assert.equal(res.reached, false);
});

test('annotations.md#external-authentication: an auth service that is down, or answers 500, gives 500', async () => {
  for (const name of ['down', 'fail']) {
    const res = await ask(name, { headers: { 'x-token': 'good' } });
    assert.equal(res.status, 500, name);
    assert.equal(res.error, 'PIER_AUTH_SERVICE_FAILED');
    assert.equal(res.reached, false, `${name}: never served unauthenticated`);
  }
});

test('annotations.md#external-authentication: auth-signin turns the 401 into a 302 with rd= the original URL', async () => {
  const res = await ask('signin');
  assert.equal(res.status, 302);
  assert.equal(
    res.location,
    `https://login.example.test/oauth2/start?rd=http://${stand.host('signin')}%2Fprivate%3Fa%3D1`,
  );
  assert.equal(res.cookie, '_oauth2_csrf=xyz; Path=/', "the auth service's cookie goes with it");
  assert.equal(res.reached, false);
  // oauth2-proxy's documented form: its own rd, variables filled in, nothing added.
  const proxy = await ask('proxy');
  assert.equal(proxy.status, 302);
  assert.equal(proxy.location, `https://${stand.host('proxy')}/oauth2/start?rd=%2Fprivate%3Fa%3D1`);
  // Allowed requests are not redirected.
  assert.equal((await ask('signin', { headers: { 'x-token': 'good' } })).status, 200);
});

test('annotations.md#external-authentication: with basic auth too, both must pass, the password first', async () => {
  const basic = `Basic ${Buffer.from('alice:bar').toString('base64')}`;
  const noPassword = await ask('both', { headers: { 'x-token': 'good' } });
  assert.equal(noPassword.status, 401);
  assert.equal(noPassword.error, 'PIER_UNAUTHORIZED');
  assert.equal(noPassword.auth.length, 0, 'the auth service is not asked');
  const noToken = await ask('both', { headers: { authorization: basic } });
  assert.equal(noToken.status, 401);
  assert.equal(noToken.error, 'PIER_AUTH_SERVICE_UNAUTHORIZED');
  assert.equal(
    noToken.auth[0]?.headers.authorization,
    basic,
    'the auth service sees Authorization',
  );
  const both = await ask('both', { headers: { authorization: basic, 'x-token': 'good' } });
  assert.equal(both.status, 200);
  assert.equal(both.pod?.authorization, undefined, 'the pod does not');
  assert.equal(both.pod?.['x-auth-request-user'], 'alice');
});

test('annotations.md#external-authentication: an auth-url without scheme fails closed (503) with an InvalidAnnotation Event', async () => {
  const res = await ask('bad', { headers: { 'x-token': 'good' } });
  assert.equal(res.status, 503);
  assert.equal(res.error, 'PIER_AUTH_SERVICE_INVALID');
  assert.equal(res.reached, false);
  const described = await waitUntil('the InvalidAnnotation Event', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'bad',
    ]);
    return /InvalidAnnotation/.test(stdout) ? stdout.replace(/\s+/g, ' ') : undefined;
  });
  assert.match(described, /auth-url: 'oauth2-proxy\.auth\/oauth2\/auth' must start with http:\/\//);
});

/** An upgrade request on a raw connection; the first bytes of the answer. */
function upgrade(name: string, token?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(stand.dataplane.httpPort, stand.address);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (text.includes('}\n')) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(text);
    });
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${stand.host(name)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${
        token === undefined ? '' : `X-Token: ${token}\r\n`
      }\r\n`,
    );
  });
}

test('annotations.md#external-authentication: upgrades (WebSocket) ask the auth service too', async () => {
  const before = appServed();
  const authBefore = authSeen.length;
  const refused = await upgrade('ext');
  assert.match(refused, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  assert.match(refused, /\r\nwww-authenticate: Bearer realm="test"\r\n/);
  assert.equal(appServed(), before, 'the pod saw nothing');
  assert.equal(authSeen[authBefore]?.headers.upgrade, undefined, 'no Upgrade to the auth service');
  const redirected = await upgrade('signin');
  assert.match(redirected, /^HTTP\/1\.1 302 Found\r\n/);
  const passed = await upgrade('ext', 'good');
  assert.equal(appServed(), before + 1, 'allowed, it reaches the pod');
  assert.match(passed, /"x-auth-request-user":"alice"/);
});

test('annotations.md#external-authentication: auth-cache-key keeps answers (default 200 202 401 5m) per key', async () => {
  const first = await ask('cached', { headers: { 'x-token': 'good' } });
  assert.equal(first.status, 200);
  assert.equal(first.auth.length, 1);
  const again = await ask('cached', { headers: { 'x-token': 'good' } });
  assert.equal(again.status, 200);
  assert.equal(again.auth.length, 0, 'decided by the kept answer');
  assert.equal(
    again.pod?.['x-auth-request-user'],
    'bob',
    'its response headers still reach the pod',
  );
  const other = await ask('cached', { headers: { 'x-token': 'other' } });
  assert.equal(other.status, 401);
  assert.equal(other.auth.length, 1, 'another key asks');
  const otherAgain = await ask('cached', { headers: { 'x-token': 'other' } });
  assert.equal(otherAgain.status, 401);
  assert.equal(otherAgain.auth.length, 0, 'a 401 is kept too');
  // Answers with Set-Cookie are never kept, as nginx's proxy cache: 'ext' has no key anyway.
  assert.equal((await ask('ext', { headers: { 'x-token': 'good' } })).auth.length, 1);
});

test('annotations.md#external-authentication: auth-method sets the auth request’s method, with X-Original-URI and X-Scheme', async () => {
  const res = await ask('method', { headers: { 'x-token': 'good' } });
  assert.equal(res.status, 200);
  const [seen] = res.auth;
  assert.ok(seen);
  assert.equal(seen.method, 'POST');
  assert.equal(seen.bodyBytes, 0, 'still without the body');
  assert.equal(seen.headers['x-original-uri'], '/private?a=1');
  assert.equal(seen.headers['x-scheme'], 'http');
  const [plain] = (await ask('ext', { headers: { 'x-token': 'good' } })).auth;
  assert.equal(plain?.headers['x-original-uri'], undefined, 'without auth-method: not sent');
});

test('annotations.md#external-authentication: auth-signin-redirect-param names the parameter instead of rd', async () => {
  const res = await ask('param');
  assert.equal(res.status, 302);
  assert.equal(
    res.location,
    `https://login.example.test/start?next=http://${stand.host('param')}%2Fprivate%3Fa%3D1`,
  );
});

test('annotations.md#external-authentication: auth-cache-duration says which answers are kept: with 200 5m, a 401 is asked again', async () => {
  assert.equal((await ask('cached200', { headers: { 'x-token': 'good' } })).auth.length, 1);
  assert.equal(
    (await ask('cached200', { headers: { 'x-token': 'good' } })).auth.length,
    0,
    'a 200 is kept',
  );
  const denied = await ask('cached200', { headers: { 'x-token': 'nope' } });
  assert.equal(denied.status, 401);
  assert.equal(denied.auth.length, 1);
  assert.equal(
    (await ask('cached200', { headers: { 'x-token': 'nope' } })).auth.length,
    1,
    'a 401 is not kept: 200 is the only status listed',
  );
});
