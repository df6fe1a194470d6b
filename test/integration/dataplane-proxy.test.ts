/**
 * The dataplane's request path against real sockets: the hardened listener, the reverse proxy and
 * the upgrade tunnel, in front of echo pods and purpose-built upstream servers on documentation
 * addresses (IPv4 and IPv6) inside the suite's private network namespace.
 *
 * The route table is built by hand and indexed with the shared RouteIndex; `choose` is a plain
 * round robin over ready endpoints not yet tried (a stand-in for the real balancer), and
 * begin/end/observe are recorded so the tests can check what the proxy reports.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  type Backend,
  backendId,
  DEFAULT_HEALTH_CHECK,
  type Endpoint,
  emptyRouteTable,
  endpointField,
  type Route,
  RouteIndex,
  type RouteTable,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import { Agent, Client, request } from 'undici';
import {
  type RunningListener,
  startHttpListener,
} from '../../packages/dataplane/src/proxy/http-listeners.ts';
import type {
  EndpointChoice,
  Outcome,
  ProxyEvent,
} from '../../packages/dataplane/src/proxy/proxy-events.ts';
import {
  createProxyHandler,
  type ProxyDeps,
} from '../../packages/dataplane/src/proxy/proxy-handler.ts';
import { createUpgradeHandler } from '../../packages/dataplane/src/proxy/upgrade-handler.ts';
import { UpstreamDispatchers } from '../../packages/dataplane/src/proxy/upstream-dispatchers.ts';
import { type EchoPod, type EchoReply, startEchoPod } from '../lib/echo-pod.ts';

const MiB = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 1_000;
/** Nothing listens here: connecting is refused at once (the range is local to `lo`). */
const DEAD = { address: '198.51.100.49', port: 9 };
/** The second listener's address, whose any-host virtual host has a default backend. */
const DEFAULT_VIP = '203.0.113.41';

// ---- upstream servers written for these tests ----

interface TestServer {
  server: Server;
  address: string;
  port: number;
}

async function startServer(
  address: string,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(onRequest);
  server.listen(0, address);
  await once(server, 'listening');
  return { server, address, port: (server.address() as AddressInfo).port };
}

function closeServer(s: TestServer | undefined): Promise<void> {
  if (s === undefined) return Promise.resolve();
  s.server.closeAllConnections();
  return new Promise((resolve) => s.server.close(() => resolve()));
}

/** Resolvable from the outside, for gating a stream on what the other side has seen. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire = (): void => undefined;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

/** Rejects after `ms` with a message: a test waits on an event, but never forever. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms}ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Body server: uploads are counted and hashed; downloads stream; one response breaks off. */
let uploadSawData = signal();
let downloadClientSawData = signal();
let bodyRequests = 0;
function bodyServer(req: IncomingMessage, res: ServerResponse): void {
  bodyRequests++;
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/body/upload') {
    const hash = createHash('sha256');
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      hash.update(chunk);
      uploadSawData.fire();
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received, sha256: hash.digest('hex'), headers: req.headers }));
    });
    return;
  }
  if (url.pathname === '/body/download') {
    const total = Number(url.searchParams.get('bytes'));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream': 'body' });
    // The first chunk, then nothing until the client has seen it: a proxy that buffered the
    // whole response would never deliver it.
    res.write(chunk);
    void downloadClientSawData.promise.then(() => {
      let sent = chunk.length;
      const pump = (): void => {
        while (sent < total) {
          const n = Math.min(chunk.length, total - sent);
          sent += n;
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    return;
  }
  if (url.pathname === '/body/slow') {
    setTimeout(() => res.end('slow-done'), 300);
    return;
  }
  if (url.pathname === '/body/broken') {
    res.writeHead(200, { 'content-length': '100000' });
    res.write(Buffer.alloc(1000));
    setTimeout(() => res.socket?.destroy(), 50);
    return;
  }
  res.writeHead(404).end();
}

/** Never answers; remembers each request's fate. */
const hangingRequests: IncomingMessage[] = [];
function hangServer(req: IncomingMessage): void {
  hangingRequests.push(req);
}

// ---- route table ----

function endpointOf(address: string, port: number): Endpoint {
  return { address, port, ready: true, serving: true, terminating: false };
}

function backend(name: string, endpoints: Endpoint[]): Backend {
  return {
    id: backendId('proxy-test', name, 80),
    service: { namespace: 'proxy-test', name },
    servicePort: 80,
    endpoints,
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
    balancing: { algorithm: 'round-robin' },
  };
}

function route(path: string, pathType: Route['pathType'], b: Backend): Route {
  return { path, pathType, backend: b.id, source: { namespace: 'proxy-test', name: 'ing' } };
}

function vhost(
  address: string,
  host: string,
  routes: Route[],
  defaultBackend?: Backend,
): VirtualHost {
  const v: VirtualHost = { address, host, routes };
  if (defaultBackend !== undefined) v.defaultBackend = defaultBackend.id;
  return v;
}

// ---- the proxy under test, with recording stand-ins ----

const pods: EchoPod[] = [];
let podA: EchoPod;
let podB: EchoPod;
let podV6: EchoPod;
let podWild: EchoPod;
let podDefault: EchoPod;
let body: TestServer | undefined;
let hang: TestServer | undefined;
let upgrader: TestServer | undefined;
let index = new RouteIndex(emptyRouteTable());
let dispatchers: UpstreamDispatchers;
let proxy: RunningListener;
let defaultListener: RunningListener;
let agent: Agent;
const STICKY_COOKIE = 'pier-affinity=0123456789abcdef; Path=/; HttpOnly';

const events: ProxyEvent[] = [];
const attempts: Array<{
  backend: string;
  endpoint: string;
  outcome?: Outcome;
  cause?: string;
}> = [];
const inFlight = new Map<string, number>();
const roundRobin = new Map<string, number>();

function choose(b: Backend, _req: IncomingMessage, tried: ReadonlySet<string>) {
  const ready = b.endpoints.filter(
    (e) => e.ready && !e.terminating && !tried.has(endpointField(e.address, e.port)),
  );
  if (ready.length === 0) return undefined;
  const n = roundRobin.get(b.id) ?? 0;
  roundRobin.set(b.id, n + 1);
  const e = ready[n % ready.length] as Endpoint;
  const choice: EndpointChoice = {
    id: endpointField(e.address, e.port),
    address: e.address,
    port: e.port,
  };
  if (b.service.name === 'sticky') choice.setCookie = STICKY_COOKIE;
  return choice;
}

const deps: ProxyDeps = {
  lookup: (address, host, path) => index.lookup(address, host, path),
  choose,
  begin(backendId, endpointId) {
    attempts.push({ backend: backendId, endpoint: endpointId });
    inFlight.set(endpointId, (inFlight.get(endpointId) ?? 0) + 1);
  },
  end(backendId, endpointId, outcome, _durationMs, cause) {
    const open = attempts.find(
      (a) => a.backend === backendId && a.endpoint === endpointId && a.outcome === undefined,
    );
    assert.ok(open, `end() without begin() for ${endpointId}`);
    open.outcome = outcome;
    open.cause = cause;
    inFlight.set(endpointId, (inFlight.get(endpointId) ?? 0) - 1);
  },
  get dispatchers() {
    return dispatchers;
  },
  observe: (event) => events.push(event),
  options: {
    scheme: 'http',
    connectTimeoutMs: 1_000,
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    idleTimeoutMs: 5_000,
    maxRequestBodyBytes: 8 * MiB,
    maxRetries: 1,
    httpsPort: 443,
    trustedProxies: (address) => address === '127.0.0.2',
  },
};

let upgradeSawHeaders: IncomingMessage['headers'] | undefined;

before(async () => {
  podA = await startEchoPod('pod-a', '198.51.100.41');
  podB = await startEchoPod('pod-b', '198.51.100.42');
  podV6 = await startEchoPod('pod-v6', '2001:db8::41');
  podWild = await startEchoPod('pod-wild', '198.51.100.43');
  podDefault = await startEchoPod('pod-default', '198.51.100.44');
  pods.push(podA, podB, podV6, podWild, podDefault);
  body = await startServer('198.51.100.45', bodyServer);
  hang = await startServer('198.51.100.46', hangServer);
  upgrader = await startServer('198.51.100.47', (_req, res) => res.writeHead(426).end());
  upgrader.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgradeSawHeaders = req.headers;
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n',
    );
    if (head.length > 0) socket.write(head);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    // Node's HTTP sockets allow half-open connections: close when the client is done.
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });

  const on = (pod: { address: string; port: number }): Endpoint =>
    endpointOf(pod.address, pod.port);
  const docsExact = backend('docs-exact', [on(podA)]);
  const docsPrefix = backend('docs-prefix', [on(podB)]);
  const v6 = backend('v6', [on(podV6)]);
  const wild = backend('wild', [on(podWild)]);
  const fallback = backend('fallback', [on(podDefault)]);
  const empty = backend('empty', []);
  const retry = backend('retry', [endpointOf(DEAD.address, DEAD.port), on(podA)]);
  const deadOnly = backend('dead', [endpointOf(DEAD.address, DEAD.port)]);
  const bodies = backend('body', [on(body)]);
  const hanging = backend('hang', [on(hang)]);
  const ws = backend('ws', [on(upgrader)]);
  const sticky = backend('sticky', [on(podA)]);
  const table: RouteTable = {
    revision: 1,
    virtualHosts: {},
    backends: Object.fromEntries(
      [
        docsExact,
        docsPrefix,
        v6,
        wild,
        fallback,
        empty,
        retry,
        deadOnly,
        bodies,
        hanging,
        ws,
        sticky,
      ].map((b) => [b.id, b]),
    ),
    certificates: {},
  };
  for (const v of [
    vhost('*', 'shop.example', [
      route('/docs', 'Exact', docsExact),
      route('/docs', 'Prefix', docsPrefix),
      route('/v6', 'Prefix', v6),
      route('/empty', 'Prefix', empty),
      route('/retry', 'Prefix', retry),
      route('/dead', 'Prefix', deadOnly),
      route('/body', 'Prefix', bodies),
      route('/hang', 'Prefix', hanging),
      route('/ws', 'Prefix', ws),
      route('/sticky', 'Prefix', sticky),
    ]),
    vhost('*', '*.wild.example', [route('/', 'Prefix', wild)]),
    vhost(DEFAULT_VIP, '', [], fallback),
  ]) {
    table.virtualHosts[virtualHostKey(v.address, v.host)] = v;
  }
  index = new RouteIndex(table);

  dispatchers = new UpstreamDispatchers({ connectTimeoutMs: deps.options.connectTimeoutMs });
  const handler = createProxyHandler(deps);
  const upgrade = createUpgradeHandler(deps);
  const limits = { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 2_000 };
  proxy = await startHttpListener({ host: '127.0.0.1', port: 0, handler, upgrade, limits });
  defaultListener = await startHttpListener({
    host: DEFAULT_VIP,
    port: 0,
    handler,
    upgrade,
    limits,
  });
  agent = new Agent({ keepAliveTimeout: 1_000 });
});

after(async () => {
  await agent?.close();
  await Promise.all([proxy?.close(1_000), defaultListener?.close(1_000)]);
  await dispatchers?.close(1_000);
  await Promise.all([
    ...pods.map((p) => p.close()),
    closeServer(body),
    closeServer(hang),
    closeServer(upgrader),
  ]);
});

// ---- client helpers ----

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function get(
  path: string,
  host: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    port?: number;
    origin?: string;
  } = {},
): Promise<Reply> {
  const origin = options.origin ?? `http://127.0.0.1:${options.port ?? proxy.port}`;
  const res = await request(`${origin}${path}`, {
    method: (options.method ?? 'GET') as 'GET',
    headers: { host, ...options.headers },
    dispatcher: agent,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function echo(reply: Reply): EchoReply {
  assert.equal(reply.status, 200, `expected an echo, got ${reply.status}: ${reply.text}`);
  return JSON.parse(reply.text) as EchoReply;
}

/**
 * Writes raw bytes on a new connection and collects what comes back until the server closes it
 * or `waitMs` passes. `closed` tells which.
 */
async function raw(
  bytes: string | Buffer,
  waitMs = 4_000,
  port = proxy.port,
): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.write(bytes);
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs)),
  ]);
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), closed };
}

/** Parses a one-response raw exchange into status, lower-case headers and (de-chunked) body. */
function parseRaw(text: string): { status: number; headers: Map<string, string>; body: string } {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  let rest = text.slice(split + 4);
  if (headers.get('transfer-encoding') === 'chunked') {
    let out = '';
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const size = Number.parseInt(rest.slice(0, eol), 16);
      if (!(size > 0)) break;
      out += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 2 + size + 2);
    }
    rest = out;
  }
  return { status: Number(statusLine?.split(' ')[1]), headers, body: rest };
}

async function assertStillServing(what: string): Promise<void> {
  const reply = await get('/docs', 'shop.example');
  assert.equal(reply.status, 200, `after ${what}, a new connection is served`);
}

// ---- routing ----

test('Host and path route to the right pod: Exact beats Prefix, IPv6 pods, wildcards', {
  timeout: 20_000,
}, async () => {
  const rows: Array<[string, string, EchoPod]> = [
    ['shop.example', '/docs', podA],
    ['shop.example', '/docs?page=2', podA],
    ['shop.example', '/docs/', podB],
    ['shop.example', '/docs/install', podB],
    ['SHOP.example:80', '/docs', podA],
    ['shop.example', '/v6/anything', podV6],
    ['a.wild.example', '/', podWild],
    ['b.wild.example', '/deep/path', podWild],
  ];
  for (const [host, path, pod] of rows) {
    const reply = echo(await get(path, host));
    assert.equal(reply.pod, pod.name, `${host}${path}`);
    assert.equal(reply.url, path, `${host}${path}: the path is sent unchanged`);
  }
  assert.equal(echo(await get('/v6/x', 'shop.example')).address, '2001:db8::41');
  const event = events.findLast((e) => e.backend === 'proxy-test/v6:80');
  assert.equal(event?.kind, 'proxied');
  assert.equal(event?.virtualHost, 'shop.example');
  assert.equal(event?.endpoint, endpointField('2001:db8::41', podV6.port));
  assert.ok(
    event?.headersMs !== undefined && event.headersMs <= event.durationMs,
    'time to response headers is reported',
  );
});

test('no route: 404 with a short body and the cause; the default backend serves its address', {
  timeout: 20_000,
}, async () => {
  for (const [host, path] of [
    ['unknown.example', '/'],
    ['shop.example', '/docsx'],
    ['x.y.wild.example', '/'],
  ] as const) {
    const reply = await get(path, host);
    assert.equal(reply.status, 404, `${host}${path}`);
    assert.equal(reply.text, '404 Not Found: no route for this host and path\n');
    assert.equal(reply.headers['x-pier-error'], 'PIER_NO_ROUTE');
    assert.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
  }
  const viaDefault = echo(
    await get('/whatever', 'unknown.example', {
      origin: `http://${DEFAULT_VIP}:${defaultListener.port}`,
    }),
  );
  assert.equal(viaDefault.pod, 'pod-default');
  assert.ok(
    events.some((e) => e.kind === 'no-route' && e.status === 404 && e.host === 'unknown.example'),
  );
});

test('a backend with no endpoint answers 503', { timeout: 10_000 }, async () => {
  const reply = await get('/empty', 'shop.example');
  assert.equal(reply.status, 503);
  assert.equal(reply.text, '503 Service Unavailable: no healthy endpoint\n');
  assert.equal(reply.headers['x-pier-error'], 'PIER_NO_ENDPOINT');
  assert.ok(events.some((e) => e.kind === 'no-endpoint' && e.backend === 'proxy-test/empty:80'));
});

// ---- headers ----

test('X-Forwarded-* are set, a client cannot forge them, and Host is kept as sent', {
  timeout: 10_000,
}, async () => {
  const reply = echo(
    await get('/docs', 'Shop.Example', {
      headers: {
        'x-forwarded-for': '192.0.2.66',
        'x-forwarded-proto': 'https',
        'x-real-ip': '192.0.2.66',
      },
    }),
  );
  assert.equal(reply.headers.host, 'Shop.Example');
  assert.equal(reply.headers['x-forwarded-for'], '127.0.0.1', 'untrusted XFF replaced');
  assert.equal(reply.headers['x-forwarded-proto'], 'http');
  assert.equal(reply.headers['x-forwarded-host'], 'Shop.Example');
  assert.equal(reply.headers['x-forwarded-port'], String(proxy.port));
  assert.equal(reply.headers['x-real-ip'], '127.0.0.1');
});

test('a trusted proxy has its X-Forwarded-For extended and its proto kept', {
  timeout: 10_000,
}, async () => {
  const client = new Client(`http://127.0.0.1:${proxy.port}`, { localAddress: '127.0.0.2' });
  try {
    const res = await client.request({
      path: '/docs',
      method: 'GET',
      headers: {
        host: 'shop.example',
        'x-forwarded-for': '192.0.2.66',
        'x-forwarded-proto': 'https',
      },
    });
    const reply = (await res.body.json()) as EchoReply;
    assert.equal(reply.headers['x-forwarded-for'], '192.0.2.66, 127.0.0.2');
    assert.equal(reply.headers['x-forwarded-proto'], 'https');
  } finally {
    await client.close();
  }
});

test('hop-by-hop headers are removed in both directions', { timeout: 10_000 }, async () => {
  const { text } = await raw(
    [
      'GET /docs HTTP/1.1',
      'Host: shop.example',
      'Connection: close, X-Hop',
      'X-Hop: secret',
      'Keep-Alive: timeout=100',
      'Proxy-Authorization: Basic eDp5',
      'Proxy-Connection: keep-alive',
      'TE: trailers',
      'X-End-To-End: kept',
      '',
      '',
    ].join('\r\n'),
  );
  const res = parseRaw(text);
  assert.equal(res.status, 200, text);
  const seen = (JSON.parse(res.body) as EchoReply).headers;
  for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(seen[name], undefined, `${name} is not forwarded`);
  }
  assert.notEqual(seen.connection, 'close, X-Hop', 'the client Connection header is not forwarded');
  assert.equal(seen.te, 'trailers');
  assert.equal(seen['x-end-to-end'], 'kept');
  // The echo pod's own hop-by-hop headers (Connection, Keep-Alive) are not passed on: what the
  // client sees is Node's framing of this connection.
  assert.equal(res.headers.get('keep-alive'), undefined);
  assert.equal(res.headers.get('x-echo-pod'), 'pod-a');
});

test('the affinity cookie of the choice is added to the response', {
  timeout: 10_000,
}, async () => {
  const reply = await get('/sticky', 'shop.example');
  assert.equal(reply.status, 200);
  assert.deepEqual([reply.headers['set-cookie']].flat(), [STICKY_COOKIE]);
});

// ---- bodies ----

test('request bodies stream to the upstream (chunked and with Content-Length)', {
  timeout: 30_000,
}, async () => {
  const size = 5 * MiB;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) payload.write(`block ${i}`, i);
  const digest = createHash('sha256').update(payload).digest('hex');

  // Chunked: the rest of the body is only sent once the upstream has seen the first part, so a
  // proxy that buffered the body before sending would stall here.
  uploadSawData = signal();
  const gated = Readable.from(
    (async function* () {
      yield payload.subarray(0, 64 * 1024);
      await within(5_000, 'the upstream seeing the first part of the body', uploadSawData.promise);
      for (let i = 64 * 1024; i < size; i += 256 * 1024) yield payload.subarray(i, i + 256 * 1024);
    })(),
  );
  const res = await request(`http://127.0.0.1:${proxy.port}/body/upload`, {
    method: 'POST',
    headers: { host: 'shop.example' },
    body: gated,
    dispatcher: agent,
  });
  assert.equal(res.statusCode, 200);
  const chunked = (await res.body.json()) as {
    received: number;
    sha256: string;
    headers: Record<string, string>;
  };
  assert.equal(chunked.received, size);
  assert.equal(chunked.sha256, digest);
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');

  const sized = (await (
    await request(`http://127.0.0.1:${proxy.port}/body/upload`, {
      method: 'POST',
      headers: { host: 'shop.example' },
      body: payload,
      dispatcher: agent,
    })
  ).body.json()) as { received: number; sha256: string; headers: Record<string, string> };
  assert.equal(sized.received, size);
  assert.equal(sized.sha256, digest);
  assert.equal(sized.headers['content-length'], String(size));
});

test('response bodies stream to the client', { timeout: 30_000 }, async () => {
  downloadClientSawData = signal();
  const size = 5 * MiB;
  const res = await request(`http://127.0.0.1:${proxy.port}/body/download?bytes=${size}`, {
    headers: { host: 'shop.example' },
    dispatcher: agent,
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-upstream'], 'body');
  let received = 0;
  for await (const chunk of res.body) {
    received += (chunk as Buffer).length;
    // The upstream sends the rest only after this: a buffering proxy would deadlock.
    downloadClientSawData.fire();
  }
  assert.equal(received, size);
});

test('an upstream that breaks off mid-body cuts the client response', {
  timeout: 10_000,
}, async () => {
  const res = await request(`http://127.0.0.1:${proxy.port}/body/broken`, {
    headers: { host: 'shop.example' },
    dispatcher: agent,
  });
  assert.equal(res.statusCode, 200);
  await assert.rejects(
    res.body.arrayBuffer(),
    'the client sees the response fail, not a short success',
  );
  await assertStillServing('a broken upstream response');
});

test('413 for a Content-Length over the limit, before anything reaches the upstream', {
  timeout: 10_000,
}, async () => {
  const before = bodyRequests;
  const { text } = await raw(
    `POST /body/upload HTTP/1.1\r\nHost: shop.example\r\nContent-Length: ${9 * MiB}\r\n\r\n`,
    3_000,
  );
  const res = parseRaw(text);
  assert.equal(res.status, 413, text);
  assert.equal(res.headers.get('x-pier-error'), 'PIER_BODY_TOO_LARGE');
  assert.equal(res.headers.get('connection'), 'close');
  assert.equal(bodyRequests, before, 'the upstream saw nothing');
});

test('a chunked body over the limit is cut (413 or a reset)', { timeout: 20_000 }, async () => {
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  const tooMuch = Readable.from(
    (function* () {
      for (let i = 0; i < 40; i++) yield chunk; // 10 MiB > 8 MiB
    })(),
  );
  const outcome = await request(`http://127.0.0.1:${proxy.port}/body/upload`, {
    method: 'POST',
    headers: { host: 'shop.example' },
    body: tooMuch,
    dispatcher: agent,
  }).then(
    async (res) => {
      await res.body.text();
      return res.statusCode;
    },
    (err: Error) => err,
  );
  if (typeof outcome === 'number') assert.equal(outcome, 413);
  else assert.ok(outcome instanceof Error);
  assert.ok(events.some((e) => e.code === 'PIER_BODY_TOO_LARGE' && e.status === 413));
  await assertStillServing('an oversized chunked body');
});

// ---- upstream failures and retries ----

test('a GET to a dead endpoint is retried on another one', { timeout: 20_000 }, async () => {
  const deadId = endpointField(DEAD.address, DEAD.port);
  for (let i = 0; i < 4; i++) {
    const reply = echo(await get(`/retry/${i}`, 'shop.example'));
    assert.equal(reply.pod, 'pod-a');
  }
  const failed = attempts.filter(
    (a) => a.endpoint === deadId && a.backend === 'proxy-test/retry:80',
  );
  assert.ok(failed.length >= 1, 'the dead endpoint was tried');
  assert.ok(
    failed.every((a) => a.outcome === 'failure' && a.cause === 'PIER_UPSTREAM_CONNECT_FAILED'),
    'and each try counted as a connect failure',
  );
  assert.ok(
    events.some((e) => e.backend === 'proxy-test/retry:80' && e.attempts === 2 && e.status === 200),
  );
});

test('a POST to a dead endpoint is not retried: 502', { timeout: 10_000 }, async () => {
  const reply = await get('/dead', 'shop.example', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(reply.status, 502);
  assert.equal(reply.headers['x-pier-error'], 'PIER_UPSTREAM_CONNECT_FAILED');
  assert.equal(reply.text, '502 Bad Gateway: could not connect to the upstream\n');
  const event = events.findLast((e) => e.backend === 'proxy-test/dead:80');
  assert.equal(event?.attempts, 1);
  assert.equal(event?.kind, 'upstream-error');
  // A GET there is retried but has nowhere else to go: 502 as well.
  assert.equal((await get('/dead', 'shop.example')).status, 502);
});

test('an upstream that never answers: 504 within the headers timeout', {
  timeout: 10_000,
}, async () => {
  const started = performance.now();
  const reply = await get('/hang', 'shop.example');
  const elapsed = performance.now() - started;
  assert.equal(reply.status, 504);
  assert.equal(reply.headers['x-pier-error'], 'PIER_UPSTREAM_TIMEOUT');
  assert.ok(elapsed >= HEADERS_TIMEOUT_MS * 0.9, `not before the timeout (${elapsed}ms)`);
  assert.ok(elapsed < HEADERS_TIMEOUT_MS + 2_000, `soon after the timeout (${elapsed}ms)`);
  const hangId = endpointField(hang?.address ?? '', hang?.port ?? 0);
  const attempt = attempts.findLast((a) => a.endpoint === hangId);
  assert.equal(attempt?.outcome, 'failure');
  assert.equal(attempt?.cause, 'PIER_UPSTREAM_TIMEOUT');
});

test('a client that leaves aborts the upstream request', { timeout: 10_000 }, async () => {
  const seen = hangingRequests.length;
  const socket = connect(proxy.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /hang/leave HTTP/1.1\r\nHost: shop.example\r\n\r\n');
  const upstreamReq = await within(
    3_000,
    'the request reaching the upstream',
    (async () => {
      while (hangingRequests.length === seen) await new Promise((r) => setTimeout(r, 20));
      return hangingRequests[seen] as IncomingMessage;
    })(),
  );
  socket.destroy();
  await within(
    HEADERS_TIMEOUT_MS - 200,
    'the upstream connection closing',
    once(upstreamReq.socket, 'close'),
  );
  const hangId = endpointField(hang?.address ?? '', hang?.port ?? 0);
  await within(
    1_000,
    'end() with aborted',
    (async () => {
      while (attempts.findLast((a) => a.endpoint === hangId)?.outcome !== 'aborted') {
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
  );
  assert.ok(events.some((e) => e.kind === 'client-abort' && e.status === 499));
});

// ---- upgrades ----

/** A raw client connection with a reader that waits for a given text to have arrived. */
async function openTunnel(
  head: string,
): Promise<{ socket: Socket; until: (text: string) => Promise<string> }> {
  const socket = connect(proxy.port, '127.0.0.1');
  await once(socket, 'connect');
  let buffered = '';
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    buffered += c.toString('latin1');
    wake?.();
  });
  socket.on('error', () => undefined);
  socket.write(head);
  /** Resolves with everything received up to and including `text`, and consumes it. */
  const until = async (text: string): Promise<string> => {
    while (!buffered.includes(text)) {
      await within(
        3_000,
        `${JSON.stringify(text)} through the tunnel`,
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
      );
    }
    const end = buffered.indexOf(text) + text.length;
    const out = buffered.slice(0, end);
    buffered = buffered.slice(end);
    return out;
  };
  return { socket, until };
}

test('an Upgrade request becomes a two-way pipe that outlives the route table', {
  timeout: 20_000,
}, async () => {
  const { socket, until } = await openTunnel(
    'GET /ws/chat HTTP/1.1\r\nHost: shop.example\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly-bytes',
  );
  const head = await until('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.equal(
    await until('early-bytes'),
    'early-bytes',
    'bytes sent right after the request head reach the upstream',
  );
  assert.equal(upgradeSawHeaders?.upgrade, 'echo');
  assert.equal(upgradeSawHeaders?.connection, 'upgrade');
  assert.equal(upgradeSawHeaders?.['x-forwarded-for'], '127.0.0.1');
  assert.equal(upgradeSawHeaders?.host, 'shop.example');

  socket.write('ping');
  assert.equal(await until('ping'), 'ping');

  // The table changes under the tunnel: it is a pipe now and does not care.
  const saved = index;
  index = new RouteIndex(emptyRouteTable());
  try {
    socket.write('after-swap');
    assert.equal(await until('after-swap'), 'after-swap');
  } finally {
    index = saved;
  }
  // Quiet for longer than the listener's header and request timeouts: still open.
  await new Promise((r) => setTimeout(r, 2_500));
  socket.write('still-there');
  assert.equal(await until('still-there'), 'still-there');
  socket.end();
  await within(3_000, 'the tunnel closing', once(socket, 'close'));
  const wsId = endpointField(upgrader?.address ?? '', upgrader?.port ?? 0);
  await within(
    1_000,
    'end() for the tunnel',
    (async () => {
      while (attempts.findLast((a) => a.endpoint === wsId)?.outcome === undefined) {
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
  );
  assert.equal(attempts.findLast((a) => a.endpoint === wsId)?.outcome, 'success');
});

test('Upgrade requests without a route or endpoint get raw 404 / 503; a dead endpoint 502', {
  timeout: 10_000,
}, async () => {
  const cases: Array<[string, string, number, string]> = [
    ['nowhere.example', '/ws', 404, 'PIER_NO_ROUTE'],
    ['shop.example', '/empty', 503, 'PIER_NO_ENDPOINT'],
    ['shop.example', '/dead', 502, 'PIER_UPSTREAM_CONNECT_FAILED'],
  ];
  for (const [host, path, status, code] of cases) {
    const { text, closed } = await raw(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
    );
    const res = parseRaw(text);
    assert.equal(res.status, status, `${host}${path}: ${text}`);
    assert.equal(res.headers.get('x-pier-error'), code);
    assert.ok(closed, `${host}${path}: connection closed`);
  }
});

// ---- hostile input at the listener ----

test('bad input is refused at the listener, and other clients are unaffected', {
  timeout: 30_000,
}, async () => {
  // `pierPage: false`: Node itself refuses a missing Host (requireHostHeader) with a bare 400.
  const rows: Array<{
    name: string;
    bytes: string;
    statuses: number[];
    slow?: boolean;
    pierPage?: boolean;
  }> = [
    {
      name: 'Content-Length and Transfer-Encoding together',
      bytes:
        'POST /docs HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      statuses: [400],
    },
    {
      name: 'a 20 KiB header',
      bytes: `GET /docs HTTP/1.1\r\nHost: shop.example\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
      statuses: [431],
    },
    {
      name: 'headers sent too slowly',
      bytes: 'GET /docs HTTP/1.1\r\nHost: shop.example\r\n',
      statuses: [408],
      slow: true,
    },
    {
      name: 'a TLS ClientHello on the plain port',
      bytes: '\x16\x03\x01garbage\r\n\r\n',
      statuses: [400],
    },
    {
      name: 'no Host in HTTP/1.1',
      bytes: 'GET /docs HTTP/1.1\r\nAccept: */*\r\n\r\n',
      statuses: [400],
      pierPage: false,
    },
    {
      name: 'two Host headers',
      bytes: 'GET /docs HTTP/1.1\r\nHost: shop.example\r\nHost: other.example\r\n\r\n',
      statuses: [400],
    },
  ];
  for (const row of rows) {
    const started = performance.now();
    const { text, closed } = await raw(row.bytes, row.slow ? HEADERS_TIMEOUT_MS + 3_000 : 3_000);
    const elapsed = performance.now() - started;
    if (text !== '') {
      const res = parseRaw(text);
      assert.ok(row.statuses.includes(res.status), `${row.name}: got ${text.slice(0, 80)}`);
      if (row.pierPage !== false) {
        assert.ok(res.headers.has('x-pier-error'), `${row.name}: Pier's page`);
      }
    }
    assert.ok(closed, `${row.name}: the connection is closed`);
    if (row.slow) {
      assert.ok(elapsed < HEADERS_TIMEOUT_MS + 2_000, `${row.name}: cut in time (${elapsed}ms)`);
    }
    await assertStillServing(row.name);
  }
});

test('Upgrade: h2c is not tunnelled: it is proxied as a plain request', {
  timeout: 10_000,
}, async () => {
  const { text } = await raw(
    'GET /docs HTTP/1.1\r\nHost: shop.example\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
    1_000,
  );
  const res = parseRaw(text);
  assert.equal(res.status, 200, text);
  const seen = (JSON.parse(res.body) as EchoReply).headers;
  assert.equal(seen.upgrade, undefined);
  assert.equal(seen['http2-settings'], undefined);
});

test('close(grace): idle connections at once, in-flight ones finish with Connection: close, tunnels end at the deadline', {
  timeout: 15_000,
}, async () => {
  const handler = createProxyHandler(deps);
  const upgrade = createUpgradeHandler(deps);
  const listener = await startHttpListener({ host: '127.0.0.1', port: 0, handler, upgrade });
  const idle = connect(listener.port, '127.0.0.1');
  await once(idle, 'connect');
  idle.on('error', () => undefined);
  idle.write('GET /docs HTTP/1.1\r\nHost: shop.example\r\n\r\n');
  await once(idle, 'data');
  const tunnel = connect(listener.port, '127.0.0.1');
  await once(tunnel, 'connect');
  tunnel.on('error', () => undefined);
  tunnel.write(
    'GET /ws HTTP/1.1\r\nHost: shop.example\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
  );
  await once(tunnel, 'data');
  const inFlight = request(`http://127.0.0.1:${listener.port}/body/slow`, {
    headers: { host: 'shop.example' },
  }).then(async (res) => ({
    status: res.statusCode,
    connection: res.headers.connection,
    text: await res.body.text(),
  }));
  await new Promise((r) => setTimeout(r, 100));

  const started = performance.now();
  const idleClosed = once(idle, 'close').then(() => performance.now() - started);
  const tunnelClosed = once(tunnel, 'close').then(() => performance.now() - started);
  const closing = listener.close(1_000);
  assert.ok((await idleClosed) < 300, 'the idle keep-alive connection is closed at once');
  assert.deepEqual(await inFlight, { status: 200, connection: 'close', text: 'slow-done' });
  const tunnelMs = await tunnelClosed;
  assert.ok(tunnelMs >= 900 && tunnelMs < 2_000, `the tunnel ends at the deadline (${tunnelMs}ms)`);
  await closing;
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = connect(listener.port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', reject);
    }),
    'no new connections after close',
  );
});

test('every begin() had its end()', { timeout: 5_000 }, async () => {
  // Tunnels and aborted requests report asynchronously; give them a moment.
  await within(
    2_000,
    'all attempts ended',
    (async () => {
      while (attempts.some((a) => a.outcome === undefined)) {
        await new Promise((r) => setTimeout(r, 20));
      }
    })(),
  );
  for (const [endpoint, count] of inFlight) assert.equal(count, 0, endpoint);
});
