/**
 * The `pier-dataplane` binary as a process: real listeners, real Redis (a redis-server of each
 * test's own, so stopping it disturbs nothing else), route tables published by the controller's
 * RoutePublisher, stand-in pods on documentation addresses, and what a user of the load balancer
 * would notice: where requests land, which certificate is served, how fast a route change is
 * served, and that backend deaths, dataplane crashes, Redis outages and route or certificate
 * changes cost no request and no open tunnel.
 *
 * Each test is self-contained: its own Redis, dataplanes, pods and clean-up.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import {
  dataplaneReportKey,
  endpointField,
  nodeHeartbeatKey,
  parseDataplaneReport,
  routesRevisionKey,
} from '@pier/shared';
import { Agent, type Dispatcher, request } from 'undici';
import { BACKGROUND_NICE } from '../../packages/dataplane/src/background/thread-priority.ts';
import { ownerOf, probeKey } from '../../packages/shared/src/probe-ownership.ts';
import { run } from '../lib/child-process.ts';
import {
  type DataplaneOptions,
  type DataplaneProcess,
  startDataplane,
} from '../lib/dataplane-process.ts';
import { type EchoPod, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import {
  type Address,
  backend,
  connectPublisher,
  endpoint,
  healthCheck,
  opensslCertificate,
  type PemPair,
  type RouteContent,
  routeContent,
  sealedCertificate,
  type TestPublisher,
  virtualHost,
} from '../lib/route-tables.ts';

const env = testEnv();
const SUFFIX = Math.random().toString(36).slice(2, 8);
const DIR = join(env.stateDir, `dataplane-process-${SUFFIX}`);
mkdirSync(DIR, { recursive: true });
const NS = 'shop';
const UA_PREFIX = 'pier-health-check/';

// ---- clean-up ----

/** Everything a test started, stopped in reverse order whatever happened. */
class Scope {
  readonly #steps: Array<() => unknown> = [];
  add(step: () => unknown): void {
    this.#steps.push(step);
  }
  async close(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        console.error('clean-up step failed:', err);
      }
    }
  }
}

const openScopes = new Set<Scope>();

/** Runs `body` with a fresh scope that is closed afterwards. */
async function scoped(body: (scope: Scope) => Promise<void>): Promise<void> {
  const scope = new Scope();
  openScopes.add(scope);
  try {
    await body(scope);
  } finally {
    openScopes.delete(scope);
    await scope.close();
  }
}

after(async () => {
  for (const scope of openScopes) await scope.close();
});

// ---- small utilities ----

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it returns a value; fails after `timeoutMs`. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 20,
): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return { value, ms: performance.now() - started };
    } catch (err) {
      lastError = err;
    }
    if (performance.now() - started > timeoutMs) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects after `ms`: a test waits on an event, never forever. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms}ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function keepAliveAgent(scope: Scope): Agent {
  const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });
  scope.add(() => agent.destroy());
  return agent;
}

// ---- processes ----

async function ownRedis(scope: Scope, name: string): Promise<TestRedis> {
  const redis = await startRedis(join(DIR, `redis-${name}`));
  scope.add(() => redis.stop());
  return redis;
}

async function publisherOn(scope: Scope, redis: TestRedis): Promise<TestPublisher> {
  const publisher = await connectPublisher(redis);
  scope.add(() => publisher.close());
  return publisher;
}

async function dataplane(
  scope: Scope,
  options: DataplaneOptions & { redis: TestRedis },
): Promise<DataplaneProcess> {
  const { redis, ...rest } = options;
  const dp = await startDataplane({
    stateFile: join(DIR, `${options.node}-routes.json`),
    ...rest,
    redisUrl: redis.url,
  });
  scope.add(() => dp.stop());
  return dp;
}

async function echoPod(scope: Scope, name: string, address: string, port = 0): Promise<EchoPod> {
  const pod = await startEchoPod(name, address, port);
  scope.add(() => pod.close());
  return pod;
}

// ---- the dataplane seen from outside ----

interface Reply {
  status: number;
  /** The pod that answered (the echo's `x-echo-pod`), if one did. */
  pod: string | undefined;
  error: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** GET `path` from the dataplane's HTTP listener with `Host: host`. */
async function get(
  dp: DataplaneProcess,
  host: string,
  path: string,
  dispatcher: Dispatcher,
): Promise<Reply> {
  const res = await request(`http://${dp.host}:${dp.httpPort}${path}`, {
    headers: { host },
    dispatcher,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  const pod = res.headers['x-echo-pod'];
  const error = res.headers['x-pier-error'];
  return {
    status: res.statusCode,
    pod: typeof pod === 'string' ? pod : undefined,
    error: typeof error === 'string' ? error : undefined,
    headers: res.headers,
    text,
  };
}

async function metricsText(dp: DataplaneProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${dp.opsPort}/metrics`, {
    signal: AbortSignal.timeout(3_000),
  });
  return res.text();
}

/** The value of `name{labels…}` in a Prometheus text exposition; undefined when absent. */
function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const close = rest[0] === '{' ? rest.indexOf('}') : 0;
    const labelText = rest[0] === '{' ? rest.slice(1, close) : '';
    const found = new Map<string, string>();
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(m[1] as string, m[2] as string);
    }
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) {
      return Number(rest.slice(close + 1).trim());
    }
  }
  return undefined;
}

async function metric(
  dp: DataplaneProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  return metricValue(await metricsText(dp), name, labels);
}

/** Waits until the dataplane serves `revision` (or later). */
async function waitForRevision(
  dp: DataplaneProcess,
  revision: number,
  timeoutMs = 5_000,
): Promise<number> {
  const { ms } = await waitFor(
    `${dp.node} to serve revision ${revision}`,
    async () => {
      const served = await metric(dp, 'pier_dataplane_route_revision');
      return served !== undefined && served >= revision ? true : undefined;
    },
    timeoutMs,
  );
  return ms;
}

/** Waits until `pier_dataplane_endpoint_healthy{backend,endpoint}` is `value` on `dp`. */
async function waitForEndpointHealth(
  dp: DataplaneProcess,
  backendId: string,
  at: Address,
  value: 0 | 1,
  timeoutMs: number,
): Promise<number> {
  const labels = { backend: backendId, endpoint: endpointField(at.address, at.port) };
  const { ms } = await waitFor(
    `${dp.node}: ${labels.endpoint} of ${backendId} ${value === 0 ? 'unhealthy' : 'healthy'}`,
    async () =>
      (await metric(dp, 'pier_dataplane_endpoint_healthy', labels)) === value ? true : undefined,
    timeoutMs,
  );
  return ms;
}

/** The certificate subject `openssl s_client` reports (bounded by `timeout`). */
async function servedSubject(
  host: string,
  port: number,
  servername: string | undefined,
): Promise<string | undefined> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername];
  const { stdout } = await run(
    'timeout',
    ['10', 'openssl', 's_client', '-connect', `${host}:${port}`, ...sni],
    { allowFailure: true },
  );
  return /^subject=(.*)$/m.exec(stdout)?.[1]?.trim();
}

/** SHA-256 fingerprint of the certificate a new TLS handshake with `servername` gets. */
async function handshakeFingerprint(dp: DataplaneProcess, servername: string): Promise<string> {
  const socket = tls.connect({
    host: dp.host,
    port: dp.httpsPort,
    servername,
    rejectUnauthorized: false,
  });
  try {
    await within(5_000, 'TLS handshake', once(socket, 'secureConnect'));
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

/** Steady GET load: `parallel` loops over `targets`, each pausing `pauseMs` between requests. */
interface Load {
  readonly ok: number;
  readonly failures: string[];
  /** Answers per pod. */
  readonly pods: Map<string, number>;
  stop(): Promise<void>;
}

function startLoad(
  targets: ReadonlyArray<{ dp: DataplaneProcess; host: string; path: string }>,
  dispatcher: Dispatcher,
  options: { parallel: number; pauseMs: number },
): Load {
  let stopping = false;
  let ok = 0;
  const failures: string[] = [];
  const pods = new Map<string, number>();
  const started = performance.now();
  const loop = async (n: number): Promise<void> => {
    for (let i = n; !stopping; i += options.parallel) {
      const target = targets[i % targets.length] as (typeof targets)[number];
      const at = Math.round(performance.now() - started);
      try {
        const reply = await get(target.dp, target.host, target.path, dispatcher);
        if (reply.status === 200) {
          ok++;
          if (reply.pod) pods.set(reply.pod, (pods.get(reply.pod) ?? 0) + 1);
        } else {
          failures.push(`${at}ms ${target.dp.node}: ${reply.status} ${reply.error ?? ''}`);
        }
      } catch (err) {
        failures.push(`${at}ms ${target.dp.node}: ${(err as Error).message}`);
      }
      if (options.pauseMs > 0) await sleep(options.pauseMs);
    }
  };
  const loops = Array.from({ length: options.parallel }, (_, n) => loop(n));
  return {
    get ok() {
      return ok;
    },
    failures,
    pods,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

// ---- stand-in pods that record who probed them ----

interface ProbedPod extends Address {
  readonly name: string;
  healthy: boolean;
  /** Probes seen: the probing node (from the User-Agent) and when. */
  readonly probes: Array<{ node: string; at: number }>;
  /** Requests other than probes. */
  served: number;
}

async function probedPod(scope: Scope, name: string, address: string): Promise<ProbedPod> {
  const pod = { name, address, port: 0, healthy: true, probes: [], served: 0 } as ProbedPod;
  const server = createServer((req, res) => {
    req.resume();
    if (req.url === '/healthz') {
      const ua = req.headers['user-agent'] ?? '';
      pod.probes.push({
        node: ua.startsWith(UA_PREFIX) ? ua.slice(UA_PREFIX.length) : ua,
        at: Date.now(),
      });
      res.writeHead(pod.healthy ? 200 : 503).end(pod.healthy ? 'ok\n' : 'unhealthy\n');
      return;
    }
    pod.served++;
    res.writeHead(200, { 'content-type': 'application/json', 'x-echo-pod': name });
    res.end(`${JSON.stringify({ pod: name })}\n`);
  });
  server.listen(0, address);
  await once(server, 'listening');
  pod.port = (server.address() as AddressInfo).port;
  scope.add(() => closeServer(server));
  return pod;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function probersSince(pod: ProbedPod, since: number): Set<string> {
  return new Set(pod.probes.filter((p) => p.at >= since).map((p) => p.node));
}

// ---- 1. hosts, paths, SNI ----

test('1. hosts, Exact/Prefix paths and SNI through the binary', { timeout: 60_000 }, (t) =>
  scoped(async (scope) => {
    const vip = '203.0.113.111';
    const otherVip = '203.0.113.112';
    const redis = await ownRedis(scope, 'hosts');
    const [a0, a1, b0, b1] = await Promise.all([
      echoPod(scope, 'alpha-0', '198.51.100.111'),
      echoPod(scope, 'alpha-1', '198.51.100.112'),
      echoPod(scope, 'beta-0', '198.51.100.113'),
      echoPod(scope, 'beta-1', '198.51.100.114'),
    ]);
    const pair = await opensslCertificate(DIR, 'a-example', 'a.example.test');
    const certificate = sealedCertificate(NS, 'a-tls', pair);
    const alpha = backend(NS, 'alpha', [endpoint(a0), endpoint(a1)]);
    const beta = backend(NS, 'beta', [endpoint(b0), endpoint(b1)]);
    // Its one endpoint is not ready (a pod starting): nothing to send to.
    const empty = backend(NS, 'empty', [endpoint({ address: '198.51.100.115', port: 80 }, false)]);
    const content = routeContent({
      virtualHosts: [
        virtualHost(
          'a.example.test',
          [
            ['Exact', '/api', alpha],
            ['Prefix', '/', beta],
          ],
          { certificate: certificate.id },
        ),
        virtualHost('b.example.test', [
          ['Prefix', '/static', beta],
          ['Exact', '/empty', empty],
        ]),
        virtualHost('vip.example.test', [['Prefix', '/', alpha]], { address: vip }),
        virtualHost('elsewhere.example.test', [['Prefix', '/', alpha]], { address: otherVip }),
      ],
      backends: [alpha, beta, empty],
      certificates: [certificate],
    });
    const publisher = await publisherOn(scope, redis);
    const revision = await publisher.publish(content);
    const dp = await dataplane(scope, { node: `hosts-${SUFFIX}`, host: vip, redis });
    await waitForRevision(dp, revision);
    const agent = keepAliveAgent(scope);

    // Host and path pick the backend; round robin spreads over both of its pods.
    const podsOf = async (host: string, path: string, n = 8): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const reply = await get(dp, host, path, agent);
        assert.equal(reply.status, 200, `${host}${path}: ${reply.status} ${reply.text}`);
        seen.add(reply.pod ?? '?');
      }
      return seen;
    };
    assert.deepEqual(await podsOf('a.example.test', '/api'), new Set(['alpha-0', 'alpha-1']));
    assert.deepEqual(await podsOf('a.example.test', '/api/v2'), new Set(['beta-0', 'beta-1']));
    assert.deepEqual(await podsOf('a.example.test', '/'), new Set(['beta-0', 'beta-1']));
    assert.deepEqual(
      await podsOf(`A.Example.TEST:${dp.httpPort}`, '/api', 2),
      new Set(['alpha-0', 'alpha-1']),
      'Host is matched without case and port',
    );
    assert.deepEqual(
      await podsOf('b.example.test', '/static/app.js'),
      new Set(['beta-0', 'beta-1']),
    );
    assert.deepEqual(await podsOf('vip.example.test', '/x'), new Set(['alpha-0', 'alpha-1']));

    // No route: 404 with Pier's code, whatever the reason.
    for (const [host, path] of [
      ['unknown.example.test', '/'],
      ['b.example.test', '/staticfile'],
      ['b.example.test', '/other'],
      ['elsewhere.example.test', '/'], // served on another address only
    ] as const) {
      const reply = await get(dp, host, path, agent);
      assert.equal(reply.status, 404, `${host}${path}`);
      assert.equal(reply.error, 'PIER_NO_ROUTE', `${host}${path}`);
    }
    // A backend without a ready endpoint: 503.
    const noEndpoint = await get(dp, 'b.example.test', '/empty', agent);
    assert.equal(noEndpoint.status, 503);
    assert.equal(noEndpoint.error, 'PIER_NO_ENDPOINT');

    // TLS: the certificate by SNI, the default for unknown names and for no SNI.
    assert.equal(await servedSubject(vip, dp.httpsPort, 'a.example.test'), 'CN = a.example.test');
    assert.equal(
      await servedSubject(vip, dp.httpsPort, 'unknown.example.test'),
      'CN = pier-default',
    );
    assert.equal(await servedSubject(vip, dp.httpsPort, undefined), 'CN = pier-default');
    assert.equal(await metric(dp, 'pier_dataplane_certificates'), 1);
    assert.equal(await metric(dp, 'pier_dataplane_certificate_problems'), 0);

    // An HTTPS request, verified against the certificate itself, reaches the backend.
    const viaHttps = await new Promise<{ status: number; pod: string; cn: string; proto: string }>(
      (resolve, reject) => {
        const req = https.get(
          {
            host: vip,
            port: dp.httpsPort,
            servername: 'a.example.test',
            path: '/api',
            headers: { host: 'a.example.test' },
            ca: pair.certPem,
            agent: false,
            timeout: 5_000,
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => {
              body += d;
            });
            res.on('end', () => {
              const socket = res.socket as tls.TLSSocket;
              const reply = JSON.parse(body) as { pod: string; headers: Record<string, string> };
              resolve({
                status: res.statusCode ?? 0,
                pod: reply.pod,
                cn: String(socket.getPeerCertificate().subject?.CN),
                proto: reply.headers['x-forwarded-proto'] ?? '',
              });
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('HTTPS request timed out')));
        req.on('error', reject);
      },
    );
    assert.equal(viaHttps.status, 200);
    assert.match(viaHttps.pod, /^alpha-[01]$/);
    assert.equal(viaHttps.cn, 'a.example.test');
    assert.equal(viaHttps.proto, 'https');
    t.diagnostic(`dataplane ${dp.node} on ${vip}: routes, 404/503 and SNI as published`);
  }),
);

// ---- 2. route changes are served within 100 ms ----

test('2. a route change published to Redis is served within 100 ms', { timeout: 60_000 }, (t) =>
  scoped(async (scope) => {
    const redis = await ownRedis(scope, 'latency');
    const pods = await Promise.all([
      echoPod(scope, 'fast-0', '198.51.100.121'),
      echoPod(scope, 'fast-1', '198.51.100.122'),
    ]);
    const base = backend(NS, 'base', [endpoint(pods[0] as EchoPod)]);
    const publisher = await publisherOn(scope, redis);
    const routes: Array<['Exact', string, ReturnType<typeof backend>]> = [['Exact', '/base', base]];
    const contentNow = (): RouteContent =>
      routeContent({
        virtualHosts: [virtualHost('fast.example.test', routes)],
        backends: routes.map(([, , b]) => b),
      });
    const revision = await publisher.publish(contentNow());
    const dp = await dataplane(scope, { node: `latency-${SUFFIX}`, redis });
    await waitForRevision(dp, revision);
    const agent = keepAliveAgent(scope);
    assert.equal((await get(dp, 'fast.example.test', '/base', agent)).pod, 'fast-0');

    const took: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const pod = pods[i % 2] as EchoPod;
      const path = `/change-${i}`;
      routes.push(['Exact', path, backend(NS, `change-${i}`, [endpoint(pod)])]);
      assert.equal((await get(dp, 'fast.example.test', path, agent)).status, 404, 'not yet');
      const started = performance.now();
      await publisher.publish(contentNow());
      const { ms } = await waitFor(
        `${path} to be served by ${pod.name}`,
        async () => {
          const reply = await get(dp, 'fast.example.test', path, agent);
          return reply.status === 200 && reply.pod === pod.name ? true : undefined;
        },
        2_000,
        5,
      );
      took.push(performance.now() - started);
      assert.ok(ms < 2_000);
    }
    const p50 = percentile(took, 50);
    const max = Math.max(...took);
    t.diagnostic(
      `publish → served over 10 changes: p50 ${p50.toFixed(1)} ms, max ${max.toFixed(1)} ms ` +
        `(${took.map((ms) => ms.toFixed(0)).join(', ')})`,
    );
    assert.ok(max < 100, `every change served within 100 ms (max ${max.toFixed(1)} ms)`);
    // The unchanged route kept working throughout.
    assert.equal((await get(dp, 'fast.example.test', '/base', agent)).pod, 'fast-0');
    // What the node reports of itself for operators (the dashboard's edge-node list) names the
    // revision it serves, within a heartbeat.
    const last = (await publisher.connection.get(routesRevisionKey())) ?? '';
    const key = dataplaneReportKey(`latency-${SUFFIX}`);
    const { value: report } = await waitFor(
      `${key} to report revision ${last}`,
      async () => {
        const r = parseDataplaneReport(await publisher.connection.get(key));
        return r !== undefined && String(r.revision) === last ? r : undefined;
      },
      3_000,
      50,
    );
    assert.ok(report.startedAt <= report.revisionSince, 'the revision came after the start');
    assert.ok((await publisher.connection.pttl(key)) > 0, 'the report expires like a heartbeat');
  }),
);

// ---- 3. a backend killed under load ----

test('3. a backend killed under steady GET load costs no request', { timeout: 60_000 }, (t) =>
  scoped(async (scope) => {
    const redis = await ownRedis(scope, 'kill');
    const [e1, e2] = await Promise.all([
      startEchoPod('steady-1', '198.51.100.131'),
      startEchoPod('steady-2', '198.51.100.132'),
    ]);
    const alive = new Set<EchoPod>([e1, e2]);
    scope.add(() => Promise.all([...alive].map((p) => p.close())));
    const web = backend(NS, 'steady', [endpoint(e1), endpoint(e2)], {
      healthCheck: healthCheck({
        http: { path: '/healthz', expectedStatuses: [[200, 299]] },
        intervalMs: 200,
        timeoutMs: 100,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        passive: { consecutiveFailures: 3, ejectionMs: 2_000, maxEjectionPercent: 50 },
      }),
      balancing: { algorithm: 'p2c' },
    });
    const publisher = await publisherOn(scope, redis);
    const revision = await publisher.publish(
      routeContent({
        virtualHosts: [virtualHost('steady.example.test', [['Prefix', '/', web]])],
        backends: [web],
      }),
    );
    const dp = await dataplane(scope, { node: `kill-${SUFFIX}`, redis });
    await waitForRevision(dp, revision);
    const agent = keepAliveAgent(scope);
    const load = startLoad([{ dp, host: 'steady.example.test', path: '/load' }], agent, {
      parallel: 4,
      pauseMs: 2,
    });
    scope.add(() => load.stop());
    const loadStarted = performance.now();
    await sleep(1_200);
    assert.ok((load.pods.get('steady-2') ?? 0) > 0, 'steady-2 took traffic before it died');

    // The pod dies: its connections are reset, its port refuses.
    await e2.close();
    alive.delete(e2);
    const killedAt = performance.now();
    const unhealthyMs = await waitForEndpointHealth(dp, web.id, e2, 0, 3_000);
    // The log line travels through the dataplane's stdout, the metric through /metrics: the
    // scrape can win the race, so the line gets a moment to arrive.
    await waitFor(
      'the transition to be logged',
      () =>
        dp
          .logs()
          .find(
            (l) =>
              l.msg === 'endpoint health changed' &&
              l.endpoint === endpointField(e2.address, e2.port) &&
              l.to === 'unhealthy',
          ),
      1_000,
    );
    const beforeRestart = new Map(load.pods);
    // Keep the load going for at least 4 s in all.
    await sleep(Math.max(0, 4_000 - (performance.now() - loadStarted)));

    // The pod comes back on the same address and port.
    const e2again = await startEchoPod('steady-2-again', e2.address, e2.port);
    alive.add(e2again);
    const healthyMs = await waitForEndpointHealth(dp, web.id, e2, 1, 3_000);
    await waitFor(
      'traffic to reach the restarted pod',
      () => ((load.pods.get('steady-2-again') ?? 0) > 0 ? true : undefined),
      3_000,
    );
    await load.stop();
    const total = load.ok + load.failures.length;
    t.diagnostic(
      `${total} GETs over ${((performance.now() - loadStarted) / 1000).toFixed(1)} s, ` +
        `${load.failures.length} failed; unhealthy ${unhealthyMs.toFixed(0)} ms after the kill ` +
        `(+${(killedAt - loadStarted).toFixed(0)} ms into the load), healthy again ` +
        `${healthyMs.toFixed(0)} ms after the restart; per pod ${JSON.stringify([...load.pods])}`,
    );
    assert.deepEqual(load.failures, [], 'every response was 200');
    assert.ok(
      (load.pods.get('steady-1') ?? 0) > (beforeRestart.get('steady-1') ?? 0),
      'the survivor took the load',
    );
    const ejections = dp
      .logs()
      .filter((l) => l.msg === 'endpoint ejected after consecutive failed requests').length;
    t.diagnostic(`passive ejections logged: ${ejections}`);
    const errors = await metricsText(dp);
    t.diagnostic(
      `upstream errors (retried or ejected): ${
        errors
          .split('\n')
          .filter((l) => l.startsWith('pier_dataplane_upstream_errors_total{'))
          .join('; ') || 'none'
      }`,
    );
  }),
);

// ---- 4. two dataplanes share the probes and the health state ----

test(
  '4. two dataplanes: probes split, shared health, a crashed one replaced',
  {
    timeout: 90_000,
  },
  (t) =>
    scoped(async (scope) => {
      const redis = await ownRedis(scope, 'fleet');
      const pods = await Promise.all([
        probedPod(scope, 'fleet-0', '198.51.100.141'),
        probedPod(scope, 'fleet-1', '198.51.100.142'),
        probedPod(scope, 'fleet-2', '198.51.100.143'),
        probedPod(scope, 'fleet-3', '198.51.100.144'),
      ]);
      const hc = healthCheck({
        http: { path: '/healthz', expectedStatuses: [[200, 299]] },
        intervalMs: 200,
        timeoutMs: 100,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
      });
      const one = backend(NS, 'fleet-one', [endpoint(pods[0]), endpoint(pods[1])], {
        healthCheck: hc,
      });
      const two = backend(NS, 'fleet-two', [endpoint(pods[2]), endpoint(pods[3])], {
        healthCheck: hc,
      });
      // Node names that split the four probe targets between them.
      const keys = pods.map((p) => probeKey(p, hc));
      const nameA = `fleet-a-${SUFFIX}`;
      let nameB = '';
      for (let i = 0; nameB === ''; i++) {
        const candidate = `fleet-b-${SUFFIX}-${i}`;
        if (new Set(keys.map((k) => ownerOf(k, [nameA, candidate]))).size === 2) nameB = candidate;
      }
      const expectedOwner = keys.map((k) => ownerOf(k, [nameA, nameB]));

      const publisher = await publisherOn(scope, redis);
      const revision = await publisher.publish(
        routeContent({
          virtualHosts: [
            virtualHost('fleet.example.test', [
              ['Prefix', '/one', one],
              ['Prefix', '/two', two],
            ]),
          ],
          backends: [one, two],
        }),
      );
      const a = await dataplane(scope, { node: nameA, redis });
      const b = await dataplane(scope, { node: nameB, redis });
      await Promise.all([waitForRevision(a, revision), waitForRevision(b, revision)]);
      const seesBoth = (dp: DataplaneProcess) => () => {
        const last = dp.logs().findLast((l) => l.msg === 'live dataplanes changed');
        const live = (last?.live ?? []) as string[];
        return live.includes(nameA) && live.includes(nameB) ? true : undefined;
      };
      await waitFor('A to see B', seesBoth(a), 5_000);
      await waitFor('B to see A', seesBoth(b), 5_000);

      // Every endpoint is probed by exactly one of them, as rendezvous hashing says.
      await sleep(600); // probes already scheduled when ownership moved may still land
      const since = Date.now();
      await sleep(1_500);
      const probers = pods.map((p) => [...probersSince(p, since)]);
      t.diagnostic(
        `probers per endpoint: ${probers.map((p, i) => `${pods[i]?.name}: ${p.join(',')}`).join('; ')}`,
      );
      for (const [i, nodes] of probers.entries()) {
        assert.deepEqual(nodes, [expectedOwner[i]], `${pods[i]?.name} probed by its owner alone`);
      }
      const owned = [
        await metric(a, 'pier_dataplane_owned_probe_targets'),
        await metric(b, 'pier_dataplane_owned_probe_targets'),
      ];
      assert.equal((owned[0] ?? 0) + (owned[1] ?? 0), 4, `owned targets: ${owned}`);

      // One endpoint turns unhealthy: both dataplanes stop using it, whoever probes it.
      const [sick, healthyOne] = pods;
      sick.healthy = false;
      const [msA, msB] = await Promise.all([
        waitForEndpointHealth(a, one.id, sick, 0, 3_000),
        waitForEndpointHealth(b, one.id, sick, 0, 3_000),
      ]);
      t.diagnostic(
        `${sick.name} (probed by ${expectedOwner[0]}) unhealthy on A after ${msA.toFixed(0)} ms, ` +
          `on B after ${msB.toFixed(0)} ms`,
      );
      const servedBefore = sick.served;
      const agent = keepAliveAgent(scope);
      for (const dp of [a, b]) {
        for (let i = 0; i < 20; i++) {
          const reply = await get(dp, 'fleet.example.test', '/one', agent);
          assert.equal(reply.status, 200);
          assert.equal(reply.pod, healthyOne.name, `${dp.node} request ${i}`);
        }
      }
      assert.equal(sick.served, servedBefore, 'the unhealthy pod received no request');
      sick.healthy = true;
      await Promise.all([
        waitForEndpointHealth(a, one.id, sick, 1, 3_000),
        waitForEndpointHealth(b, one.id, sick, 1, 3_000),
      ]);

      // A crashes (no clean-up, its heartbeat expires): B takes all its probes.
      await a.kill();
      const killed = Date.now();
      const { ms: takeover } = await waitFor(
        'B to probe every endpoint',
        () => (pods.every((p) => probersSince(p, killed).has(nameB)) ? true : undefined),
        8_000,
      );
      t.diagnostic(`after SIGKILL of A, B probed every endpoint within ${takeover.toFixed(0)} ms`);
      assert.ok(takeover < 6_000, `taken over within a few seconds (${takeover.toFixed(0)} ms)`);
      const steady = Date.now();
      await sleep(600);
      for (const pod of pods) {
        assert.deepEqual([...probersSince(pod, steady)], [nameB], `${pod.name} probed by B only`);
      }
      // And B still serves both backends.
      assert.equal((await get(b, 'fleet.example.test', '/two', agent)).status, 200);
    }),
);

// ---- 5. Redis down for 30 s ----

test(
  '5. Redis stopped for 30 s under load: serving goes on, a restarted dataplane serves from disk, both catch up',
  {
    timeout: 120_000,
  },
  (t) =>
    scoped(async (scope) => {
      let redis = await ownRedis(scope, 'outage');
      const pods = await Promise.all([
        echoPod(scope, 'outage-0', '198.51.100.151'),
        echoPod(scope, 'outage-1', '198.51.100.152'),
        echoPod(scope, 'outage-new', '198.51.100.153'),
      ]);
      const steady = backend(NS, 'outage', [endpoint(pods[0]), endpoint(pods[1])], {
        healthCheck: healthCheck({
          http: { path: '/healthz', expectedStatuses: [[200, 299]] },
          intervalMs: 500,
          timeoutMs: 200,
        }),
      });
      const before = routeContent({
        virtualHosts: [virtualHost('outage.example.test', [['Prefix', '/steady', steady]])],
        backends: [steady],
      });
      const fresh = backend(NS, 'outage-new', [endpoint(pods[2])]);
      const newest = routeContent({
        virtualHosts: [
          virtualHost('outage.example.test', [
            ['Prefix', '/steady', steady],
            ['Exact', '/after', fresh],
          ]),
        ],
        backends: [steady, fresh],
      });
      const publisher = await publisherOn(scope, redis);
      const revision = await publisher.publish(before);
      const one = await dataplane(scope, { node: `outage-1-${SUFFIX}`, redis });
      // The second node runs once, so that its state file holds the table, and stops.
      const stateFile2 = join(DIR, `outage-2-${SUFFIX}-routes.json`);
      const first2 = await dataplane(scope, {
        node: `outage-2-${SUFFIX}`,
        redis,
        stateFile: stateFile2,
      });
      await Promise.all([waitForRevision(one, revision), waitForRevision(first2, revision)]);
      await waitFor(
        'the second node to save the table',
        () =>
          existsSync(stateFile2) &&
          (JSON.parse(readFileSync(stateFile2, 'utf8')) as { revision: number }).revision ===
            revision
            ? true
            : undefined,
        3_000,
      );
      await first2.stop();

      const agent = keepAliveAgent(scope);
      const load = startLoad([{ dp: one, host: 'outage.example.test', path: '/steady' }], agent, {
        parallel: 2,
        pauseMs: 20,
      });
      scope.add(() => load.stop());
      await sleep(500);

      // Redis goes away (persistence off: it will come back empty).
      publisher.close();
      const { port, password } = redis;
      await redis.stop();
      const down = performance.now();
      t.diagnostic('redis stopped');
      assert.equal(
        (
          await waitFor(
            'the dataplane to notice',
            async () =>
              (await metric(one, 'pier_dataplane_redis_connected')) === 0 ? true : undefined,
            5_000,
          )
        ).value,
        true,
      );

      // A dataplane started now serves what it saved.
      const starting = performance.now();
      const two = await dataplane(scope, {
        node: `outage-2-${SUFFIX}`,
        redis,
        stateFile: stateFile2,
      });
      t.diagnostic(
        `second dataplane started ${((starting - down) / 1000).toFixed(1)} s into the outage, ` +
          `serving ${((performance.now() - starting) / 1000).toFixed(1)} s later`,
      );
      assert.equal(await metric(two, 'pier_dataplane_route_revision'), revision);
      for (let i = 0; i < 5; i++) {
        const reply = await get(two, 'outage.example.test', '/steady', agent);
        assert.equal(reply.status, 200, 'served from the saved table');
        assert.match(reply.pod ?? '', /^outage-[01]$/);
      }
      const load2 = startLoad([{ dp: two, host: 'outage.example.test', path: '/steady' }], agent, {
        parallel: 1,
        pauseMs: 20,
      });
      scope.add(() => load2.stop());
      await sleep(Math.max(0, 30_000 - (performance.now() - down)));

      // Redis is back, empty; the controller republishes its newest table.
      redis = await startRedis(join(DIR, 'redis-outage'), { port, password });
      scope.add(() => redis.stop());
      const outageMs = performance.now() - down;
      const republisher = await publisherOn(scope, redis);
      const started = performance.now();
      const newRevision = await republisher.publish(newest);
      // When each dataplane's table connection is back, for the report.
      const reconnected = [one, two].map((dp) =>
        waitFor(
          `${dp.node} to reconnect`,
          async () =>
            (await metric(dp, 'pier_dataplane_redis_connected')) === 1 ? true : undefined,
          10_000,
        ).then(() => performance.now() - started),
      );
      const caughtUp = await Promise.all(
        [one, two].map(async (dp) => {
          await waitFor(
            `${dp.node} to serve the newest table`,
            async () => {
              const reply = await get(dp, 'outage.example.test', '/after', agent);
              return reply.status === 200 && reply.pod === 'outage-new' ? true : undefined;
            },
            10_000,
            10,
          );
          return performance.now() - started;
        }),
      );
      await load.stop();
      await load2.stop();
      const reconnectedMs = await Promise.all(reconnected);
      const list = (values: number[]): string =>
        values.map((ms) => `${ms.toFixed(0)} ms`).join(' / ');
      t.diagnostic(
        `outage ${(outageMs / 1000).toFixed(1)} s; ${load.ok + load.failures.length} GETs on the ` +
          `first node and ${load2.ok + load2.failures.length} on the second, ` +
          `${load.failures.length + load2.failures.length} failed; revision ${newRevision} served ` +
          `${list(caughtUp)} after the republish (table connection back ${list(reconnectedMs)} after it)`,
      );
      assert.deepEqual([...load.failures, ...load2.failures], [], '100% of GETs succeeded');
      assert.ok(load.ok > 500, `a steady load ran (${load.ok})`);
      for (const [i, ms] of caughtUp.entries()) {
        assert.ok(
          ms < 1_000,
          `dataplane ${i + 1} served the newest table ${ms.toFixed(0)} ms after the republish ` +
            `(its Redis connection came back ${reconnectedMs[i]?.toFixed(0)} ms after it)`,
        );
      }
      assert.equal(await metric(one, 'pier_dataplane_redis_connected'), 1);
    }),
);

// ---- 6. an upgraded connection outlives route and certificate changes ----

interface Tunnel {
  socket: Socket;
  closed: () => boolean;
  /** Everything received up to and including `text` (consumed). */
  until: (text: string) => Promise<string>;
}

async function openTunnel(
  socket: Socket,
  connected: Promise<unknown>,
  head: string,
): Promise<Tunnel> {
  await within(5_000, 'connecting', connected);
  let buffered = '';
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    buffered += c.toString('latin1');
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  socket.on('error', () => undefined);
  socket.write(head);
  const until = async (text: string): Promise<string> => {
    while (!buffered.includes(text)) {
      if (closed) throw new Error(`tunnel closed before ${JSON.stringify(text)} came back`);
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
  return { socket, closed: () => closed, until };
}

/** An upstream that answers an Upgrade with 101 and then echoes every byte. */
async function upgradeEchoServer(scope: Scope, address: string): Promise<Address> {
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    res.writeHead(426, { connection: 'close' }).end('upgrade required\n');
  });
  server.on('upgrade', (_req, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n',
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  server.listen(0, address);
  await once(server, 'listening');
  scope.add(() => {
    for (const s of sockets) s.destroy();
    return closeServer(server);
  });
  return { address, port: (server.address() as AddressInfo).port };
}

test(
  '6. an upgraded connection stays open across 10 route changes and a certificate change',
  {
    timeout: 60_000,
  },
  (t) =>
    scoped(async (scope) => {
      const redis = await ownRedis(scope, 'tunnel');
      const upstream = await upgradeEchoServer(scope, '198.51.100.161');
      const other = await echoPod(scope, 'churn', '198.51.100.162');
      const first = await opensslCertificate(DIR, 'tunnel-a-1', 'a.example.test');
      const renewed = await opensslCertificate(DIR, 'tunnel-a-2', 'a.example.test');
      const ws = backend(NS, 'ws', [endpoint(upstream)]);
      const churn = backend(NS, 'churn', [endpoint(other)]);
      const contentWith = (changes: number, pair: PemPair): RouteContent => {
        const certificate = sealedCertificate(NS, 'a-tls', pair);
        return routeContent({
          virtualHosts: [
            virtualHost('ws.example.test', [['Prefix', '/', ws]]),
            virtualHost('a.example.test', [['Prefix', '/ws', ws]], { certificate: certificate.id }),
            // The unrelated part that changes.
            ...Array.from({ length: changes }, (_, i) =>
              virtualHost(`churn-${i}.example.test`, [['Prefix', `/v${changes}`, churn]]),
            ),
          ],
          backends: [ws, churn],
          certificates: [certificate],
        });
      };
      const publisher = await publisherOn(scope, redis);
      const revision = await publisher.publish(contentWith(0, first));
      const dp = await dataplane(scope, { node: `tunnel-${SUFFIX}`, redis });
      await waitForRevision(dp, revision);

      const head = (host: string, path: string): string =>
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`;
      const plainSocket = connect(dp.httpPort, dp.host);
      const plain = await openTunnel(
        plainSocket,
        once(plainSocket, 'connect'),
        head('ws.example.test', '/ws'),
      );
      scope.add(() => plainSocket.destroy());
      const tlsSocket = tls.connect({
        host: dp.host,
        port: dp.httpsPort,
        servername: 'a.example.test',
        ca: first.certPem,
      });
      const secure = await openTunnel(
        tlsSocket,
        once(tlsSocket, 'secureConnect'),
        head('a.example.test', '/ws'),
      );
      scope.add(() => tlsSocket.destroy());
      for (const tunnel of [plain, secure]) {
        assert.match(await tunnel.until('\r\n\r\n'), /^HTTP\/1\.1 101 /);
        tunnel.socket.write('hello');
        assert.equal(await tunnel.until('hello'), 'hello');
      }
      const agent = keepAliveAgent(scope);

      for (let i = 1; i <= 10; i++) {
        const rev = await publisher.publish(contentWith(i, first));
        await waitForRevision(dp, rev);
        const reply = await get(dp, `churn-${i - 1}.example.test`, `/v${i}`, agent);
        assert.equal(reply.status, 200, `change ${i} is served`);
        for (const [name, tunnel] of [
          ['plain', plain],
          ['tls', secure],
        ] as const) {
          const message = `${name}-after-change-${i};`;
          tunnel.socket.write(message);
          assert.equal(await tunnel.until(message), message, `${name} tunnel after change ${i}`);
        }
      }

      // The certificate is replaced: new handshakes get the new one, the open tunnel goes on.
      const renewedFingerprint = new X509Certificate(renewed.certPem).fingerprint256;
      assert.notEqual(await handshakeFingerprint(dp, 'a.example.test'), renewedFingerprint);
      const rev = await publisher.publish(contentWith(10, renewed));
      await waitForRevision(dp, rev);
      await waitFor(
        'new handshakes to get the renewed certificate',
        async () =>
          (await handshakeFingerprint(dp, 'a.example.test')) === renewedFingerprint
            ? true
            : undefined,
        2_000,
      );
      for (const [name, tunnel] of [
        ['plain', plain],
        ['tls', secure],
      ] as const) {
        const message = `${name}-after-certificate;`;
        tunnel.socket.write(message);
        assert.equal(
          await tunnel.until(message),
          message,
          `${name} tunnel after the new certificate`,
        );
      }
      assert.equal(
        (tlsSocket as tls.TLSSocket).getPeerCertificate().fingerprint256,
        new X509Certificate(first.certPem).fingerprint256,
        'the open TLS connection keeps the certificate it was made with',
      );
      assert.equal(plain.closed(), false, 'the plain tunnel never closed');
      assert.equal(secure.closed(), false, 'the TLS tunnel never closed');
      t.diagnostic('both tunnels echoed after each of 10 route changes and the certificate change');
      plainSocket.end();
      tlsSocket.end();
      await within(
        3_000,
        'the tunnels closing',
        Promise.all([once(plainSocket, 'close'), once(tlsSocket, 'close')]),
      );
    }),
);

test(
  '7. SIGTERM drains: in-flight requests finish, new connections are refused',
  { timeout: 60_000 },
  () =>
    scoped(async (scope) => {
      const redis = await ownRedis(scope, 'drain');
      // An upstream that answers after 1.5 s: the request is in flight when the dataplane is told to stop.
      const slow = createServer((req, res) => {
        setTimeout(() => res.end(`slow ${req.url}`), 1_500);
      });
      await new Promise<void>((r) => slow.listen(0, '198.51.100.131', r));
      scope.add(() => closeServer(slow));
      const at = { address: '198.51.100.131', port: (slow.address() as AddressInfo).port };
      const b = backend(NS, 'slow', [endpoint(at)]);
      const publisher = await publisherOn(scope, redis);
      const revision = await publisher.publish(
        routeContent({
          virtualHosts: [virtualHost('drain.example.test', [['Prefix', '/', b]])],
          backends: [b],
        }),
      );
      const dp = await dataplane(scope, { node: `drain-${SUFFIX}`, redis });
      await waitForRevision(dp, revision);
      const inFlight = request(`http://127.0.0.1:${dp.httpPort}/in-flight`, {
        headers: { host: 'drain.example.test' },
      });
      await sleep(300);
      const stopped = dp.stop();
      await sleep(200);
      // The listener is closed: a new connection is refused.
      await assert.rejects(
        request(`http://127.0.0.1:${dp.httpPort}/late`, {
          headers: { host: 'drain.example.test' },
        }),
        /ECONNREFUSED/,
      );
      const res = await inFlight;
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'slow /in-flight');
      await stopped;
      assert.equal(await dp.process.exited, 0, 'a drained dataplane exits cleanly');
      // Gone from the edge-node list at once, rather than when its keys expire.
      for (const key of [
        nodeHeartbeatKey(`drain-${SUFFIX}`),
        dataplaneReportKey(`drain-${SUFFIX}`),
      ])
        assert.equal(await publisher.connection.exists(key), 0, `${key} deleted on drain`);
    }),
);

test('8. several workers share the ports and /metrics sums them', { timeout: 60_000 }, () =>
  scoped(async (scope) => {
    const redis = await ownRedis(scope, 'workers');
    const pod = await echoPod(scope, 'multi-0', '198.51.100.132');
    const b = backend(NS, 'multi', [endpoint(pod)]);
    const publisher = await publisherOn(scope, redis);
    const revision = await publisher.publish(
      routeContent({
        virtualHosts: [virtualHost('multi.example.test', [['Prefix', '/', b]])],
        backends: [b],
      }),
    );
    const dp = await dataplane(scope, { node: `multi-${SUFFIX}`, redis, workers: 2 });
    await waitForRevision(dp, revision);
    await waitFor(
      'both workers serving',
      async () => {
        const workers = new Set(
          dp
            .logs()
            .filter((l) => l.msg === 'dataplane serving')
            .map((l) => l.worker),
        );
        return workers.size === 2 ? true : undefined;
      },
      10_000,
    );
    // New connections each time, so the kernel spreads them over the workers.
    for (let i = 0; i < 40; i++) {
      const res = await request(`http://127.0.0.1:${dp.httpPort}/w${i}`, {
        headers: { host: 'multi.example.test', connection: 'close' },
      });
      assert.equal(res.statusCode, 200);
      await res.body.text();
    }
    const total = await metric(dp, 'pier_dataplane_requests_total', {
      host: 'multi.example.test',
      status: '200',
    });
    assert.equal(total, 40, 'the primary sums the workers’ counters');
    assert.equal(
      await metric(dp, 'pier_dataplane_request_duration_seconds_count', { backend: b.id }),
      40,
      'and their duration histograms',
    );
    assert.equal(
      await metric(dp, 'pier_dataplane_request_duration_seconds_bucket', {
        backend: b.id,
        le: '+Inf',
      }),
      40,
    );
    assert.equal(
      await metric(dp, 'pier_dataplane_route_revision'),
      revision,
      'gauges are not summed',
    );
  }),
);

/** The threads of process `pid`, by name, with their nice values (`/proc/<pid>/task`). */
function threadsOf(pid: number): Array<{ tid: number; name: string; nice: number }> {
  const tasks = `/proc/${pid}/task`;
  return readdirSync(tasks).map((tid) => {
    // Fields after "(comm) ": state, ppid, …; nice is the 19th field of the line, the 17th here.
    const stat = readFileSync(`${tasks}/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return {
      tid: Number(tid),
      name: readFileSync(`${tasks}/${tid}/comm`, 'utf8').trim(),
      nice: Number(fields[16]),
    };
  });
}

test(
  '9. only the serving thread runs at full priority: the background thread and V8’s helpers yield the core',
  { timeout: 60_000 },
  () =>
    scoped(async (scope) => {
      const redis = await ownRedis(scope, 'priority');
      const dp = await dataplane(scope, { node: `priority-${SUFFIX}`, redis });
      const pid = dp.process.child.pid;
      assert.ok(pid !== undefined);
      // The background thread lowers itself once it runs; the helpers are lowered before serving.
      const { value: threads } = await waitFor(
        'the background thread at nice 10',
        () => {
          const all = threadsOf(pid);
          return all.some((t) => t.name === 'WorkerThread' && t.nice === BACKGROUND_NICE)
            ? all
            : undefined;
        },
        10_000,
      );
      const serving = threads.find((t) => t.tid === pid);
      assert.equal(serving?.nice, 0, 'the serving thread keeps the default priority');
      const helpers = threads.filter((t) => t.name === 'V8Worker');
      assert.ok(helpers.length > 0, `V8's platform workers are listed: ${JSON.stringify(threads)}`);
      assert.deepEqual(
        helpers.map((t) => t.nice),
        helpers.map(() => BACKGROUND_NICE),
        'every V8 helper thread runs at the background nice value',
      );
      const line = dp.logs().find((l) => l.msg === 'dataplane serving');
      assert.equal(line?.helperThreads, helpers.length, 'the serving log line says how many');
    }),
);
