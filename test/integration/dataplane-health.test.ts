/**
 * Shared health checking against real Redis and real HTTP probes (design invariant 7): several
 * HealthCheckers, each with its own Redis connections, probe four stand-in pods on documentation
 * addresses inside the suite's private network namespace. The pods record every probe's
 * User-Agent (which names the probing node) and path, so the tests see who probed what.
 *
 * The steps build on each other (one fleet whose membership changes), in order.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type Backend,
  backendId,
  DEFAULT_HEALTH_CHECK,
  ejectionKey,
  ejectionPattern,
  emptyRouteTable,
  endpointField,
  healthKey,
  nodeHeartbeatKey,
  nodeHeartbeatPattern,
  parseEjectionKey,
  type RouteTable,
} from '@pier/shared';
import { Redis } from 'ioredis';
import {
  HealthChecker,
  type HealthCheckerOptions,
  healthCheckerRedisOptions,
} from '../../packages/dataplane/src/health/health-checker.ts';
import { parseHealthState } from '../../packages/dataplane/src/health/health-state.ts';
import {
  createProbeAgent,
  probe,
  probeSucceeded,
} from '../../packages/dataplane/src/health/http-prober.ts';
import { FIRST_PROBES_PER_SECOND } from '../../packages/dataplane/src/health/probe-scheduler.ts';
import { ownerOf, probeKey } from '../../packages/shared/src/probe-ownership.ts';
import { testEnv } from '../lib/env.ts';
import { watchLoopGaps } from '../lib/loop-gaps.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';

const env = testEnv();
const SUFFIX = Math.random().toString(36).slice(2, 8);
const NAMESPACE = `hc-${SUFFIX}`;
const BACKEND = backendId(NAMESPACE, 'web', 80);
const INTERVAL_MS = 200;
const TIMEOUT_MS = 100;
const THRESHOLD = 2;
const EJECTION_MS = 1_500;
/**
 * Heartbeats: a crashed node is noticed within ttl + interval (4.5 s). The rescan interval is
 * long enough that a graceful hand-over within a fraction of it shows the departure was
 * announced, not merely noticed by a periodic rescan.
 */
const HEARTBEAT = { ttlMs: 3_000, intervalMs: 1_500 };
const UA_PREFIX = 'pier-health-check/';

// ---- stand-in pods that record probes ----

interface Seen {
  node: string;
  path: string;
  host: string;
  at: number;
}

interface Pod {
  address: string;
  port: number;
  id: string;
  healthy: boolean;
  seen: Seen[];
  server: Server;
}

async function startPod(address: string): Promise<Pod> {
  const pod = { address, healthy: true, seen: [] as Seen[] } as Pod;
  pod.server = createServer((req, res) => {
    const ua = req.headers['user-agent'] ?? '';
    pod.seen.push({
      node: ua.startsWith(UA_PREFIX) ? ua.slice(UA_PREFIX.length) : ua,
      path: req.url ?? '',
      host: req.headers.host ?? '',
      at: Date.now(),
    });
    req.resume();
    res.writeHead(pod.healthy ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(pod.healthy ? 'ok\n' : 'unhealthy\n');
  });
  pod.server.listen(0, address);
  await once(pod.server, 'listening');
  pod.port = (pod.server.address() as AddressInfo).port;
  pod.id = endpointField(address, pod.port);
  return pod;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Nodes that probed `pod` since `since` (ms). */
function probersSince(pod: Pod, since: number): Set<string> {
  return new Set(pod.seen.filter((s) => s.at >= since).map((s) => s.node));
}

// ---- the route table ----

function tableWith(pods: readonly Pod[], path: string, revision = 1): RouteTable {
  const backend: Backend = {
    id: BACKEND,
    service: { namespace: NAMESPACE, name: 'web' },
    servicePort: 80,
    endpoints: pods.map((p) => ({
      address: p.address,
      port: p.port,
      ready: true,
      serving: true,
      terminating: false,
    })),
    healthCheck: {
      ...structuredClone(DEFAULT_HEALTH_CHECK),
      http: { path, expectedStatuses: [[200, 299]] },
      intervalMs: INTERVAL_MS,
      timeoutMs: TIMEOUT_MS,
      healthyThreshold: THRESHOLD,
      unhealthyThreshold: THRESHOLD,
      passive: { consecutiveFailures: 3, ejectionMs: EJECTION_MS, maxEjectionPercent: 50 },
    },
    balancing: { algorithm: 'p2c' },
  };
  return { ...emptyRouteTable(), revision, backends: { [BACKEND]: backend } };
}

// ---- checkers, each with its own connections ----

const clients: Redis[] = [];
const running = new Set<HealthChecker>();
const redisServers: TestRedis[] = [];

function connect(server: { host: string; port: number; password: string }): Redis {
  const client = new Redis({
    host: server.host,
    port: server.port,
    password: server.password,
    ...healthCheckerRedisOptions(),
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

interface Node {
  name: string;
  checker: HealthChecker;
  probes: number;
}

async function startNode(
  name: string,
  table: RouteTable,
  server: { host: string; port: number; password: string } = envRedis,
  extra: Partial<HealthCheckerOptions> = {},
): Promise<Node> {
  const node = { name, probes: 0 } as Node;
  node.checker = new HealthChecker({
    redis: connect(server),
    subscriber: connect(server),
    node: name,
    heartbeat: HEARTBEAT,
    onProbe: () => {
      node.probes += 1;
    },
    ...extra,
  });
  node.checker.update(table);
  running.add(node.checker);
  await node.checker.start();
  return node;
}

async function stopNode(node: Node, release = true): Promise<void> {
  running.delete(node.checker);
  await node.checker.stop({ release });
}

/** Polls `check` every 20 ms until true; returns the time it took, or fails after `timeoutMs`. */
async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) {
      assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}`);
    }
    await sleep(20);
  }
  return Date.now() - started;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- fixture ----

const envRedis = { host: env.redisHost, port: env.redisPort, password: env.redisPassword };
let admin: Redis;
let pods: Pod[] = [];
let table: RouteTable;
let nameA = '';
let nameB = '';
const nameC = `hc-c-${SUFFIX}`;
let a: Node;
let b: Node;
let c: Node;

before(async () => {
  admin = new Redis({ ...envRedis, maxRetriesPerRequest: 1 });
  clients.push(admin);
  // Heartbeats of dataplanes from earlier test files would own some targets; they expire fast.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [, keys] = await admin.scan('0', 'MATCH', nodeHeartbeatPattern(), 'COUNT', 10_000);
    if (keys.length === 0) break;
    assert.ok(Date.now() < deadline, `foreign dataplane heartbeats stay in Redis: ${keys}`);
    await sleep(200);
  }
  pods = await Promise.all([41, 42, 43, 44].map((n) => startPod(`198.51.100.${n}`)));
  table = tableWith(pods, '/healthz');
  // Two node names that split the four targets, so each node has work of its own.
  const keys = pods.map((p) =>
    probeKey(p, table.backends[BACKEND]?.healthCheck ?? DEFAULT_HEALTH_CHECK),
  );
  nameA = `hc-a-${SUFFIX}`;
  for (let i = 0; ; i++) {
    const candidate = `hc-b-${SUFFIX}-${i}`;
    const owners = new Set(keys.map((k) => ownerOf(k, [nameA, candidate])));
    if (owners.size === 2) {
      nameB = candidate;
      break;
    }
  }
});

after(async () => {
  await Promise.all([...running].map((checker) => checker.stop()));
  await Promise.all(pods.map((p) => closeServer(p.server)));
  const ejections: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', ejectionPattern(), 'COUNT', 1000);
    cursor = next;
    ejections.push(...keys.filter((k) => parseEjectionKey(k)?.backendId === BACKEND));
  } while (cursor !== '0');
  await admin.del(
    healthKey(BACKEND),
    ...ejections,
    ...[nameA, nameB, nameC].filter((n) => n !== '').map((n) => nodeHeartbeatKey(n)),
  );
  for (const client of clients) client.disconnect();
  for (const server of redisServers) await server.process.stop(2_000);
});

// ---- the steps ----

test('1. two nodes split the probes: every endpoint probed by exactly one node', async () => {
  a = await startNode(nameA, table);
  b = await startNode(nameB, table);
  await waitFor(
    'both nodes to see each other',
    () => a.checker.liveNodes.length === 2 && b.checker.liveNodes.length === 2,
    3_000,
  );
  // Probes already in flight when ownership moved may still land; then the split is steady.
  await sleep(INTERVAL_MS * 2);
  const since = Date.now();
  await sleep(INTERVAL_MS * 5);
  const probedBy = pods.map((pod) => [...probersSince(pod, since)]);
  for (const [i, nodes] of probedBy.entries()) {
    assert.equal(nodes.length, 1, `${pods[i]?.id} probed by exactly one node: ${nodes}`);
  }
  assert.deepEqual(new Set(probedBy.flat()), new Set([nameA, nameB]), 'each node probed some');
  assert.equal(a.checker.owned + b.checker.owned, pods.length);
  // The probe on the wire: GET of the policy path, Host = the endpoint.
  const last = pods[0]?.seen.at(-1);
  assert.equal(last?.path, '/healthz');
  assert.equal(last?.host, pods[0]?.id);
});

test('2. an unhealthy endpoint becomes unusable on every node, and usable again', async () => {
  const pod = pods[0] as Pod;
  const bound = 2 * INTERVAL_MS * THRESHOLD + 1_000;
  const everywhere = (usable: boolean) => () =>
    [a, b].every((n) => n.checker.usable(BACKEND, pod.id, Date.now()) === usable);
  pod.healthy = false;
  await waitFor('both nodes to mark it unusable', everywhere(false), bound);
  assert.equal(a.checker.status(BACKEND, pod.id), 'unhealthy');
  const shared = parseHealthState((await admin.hget(healthKey(BACKEND), pod.id)) ?? '');
  assert.equal(shared?.status, 'unhealthy', 'the state is in Redis');
  // The other endpoints are untouched.
  for (const other of pods.slice(1)) {
    assert.ok(a.checker.usable(BACKEND, other.id, Date.now()));
    assert.ok(b.checker.usable(BACKEND, other.id, Date.now()));
  }
  pod.healthy = true;
  await waitFor('both nodes to mark it usable again', everywhere(true), bound);
});

test('3. a crashed node is replaced within seconds; a stopping node hands over at once', async () => {
  // Crash: timers stop, the heartbeat is left to expire.
  await stopNode(a, false);
  const crashed = Date.now();
  await waitFor(
    'the survivor to probe every endpoint',
    () => pods.every((pod) => probersSince(pod, crashed).has(nameB)),
    HEARTBEAT.ttlMs + HEARTBEAT.intervalMs + INTERVAL_MS * 2 + 2_000,
  );
  assert.equal(b.checker.owned, pods.length);
  assert.deepEqual(b.checker.liveNodes, [nameB]);

  // The node comes back under the same name and takes its share again.
  a = await startNode(nameA, table);
  await waitFor('the split to come back', () => a.checker.owned > 0 && b.checker.owned < 4, 3_000);
  const aPods = pods.filter((pod) => ownsPod(nameA, pod));
  assert.ok(aPods.length > 0);
  await sleep(INTERVAL_MS * 2);

  // Graceful stop: the heartbeat is deleted and the departure announced.
  await stopNode(a);
  const stopped = Date.now();
  const noticed = await waitFor(
    'the survivor to see the node gone',
    () => b.checker.liveNodes.length === 1,
    HEARTBEAT.intervalMs,
  );
  assert.ok(noticed < 500, `departure noticed after ${noticed}ms, not at the next rescan`);
  const handOver = await waitFor(
    'the survivor to probe the stopped node’s endpoints',
    () => aPods.every((pod) => probersSince(pod, stopped).has(nameB)),
    1_000,
  );
  assert.ok(handOver < 1_000, `handed over in ${handOver}ms`);
  assert.equal(b.checker.owned, pods.length);
});

function ownsPod(node: string, pod: Pod): boolean {
  const hc = table.backends[BACKEND]?.healthCheck ?? DEFAULT_HEALTH_CHECK;
  return ownerOf(probeKey(pod, hc), [nameA, nameB]) === node;
}

test('4. a node started later knows the shared state before it probes anything', async () => {
  const pod = pods[1] as Pod;
  pod.healthy = false;
  await waitFor(
    'the running node to mark it unusable',
    () => !b.checker.usable(BACKEND, pod.id, Date.now()),
    2 * INTERVAL_MS * THRESHOLD + 1_000,
  );
  // A starts with its table, as a restarted dataplane with its table on disk; C as a fresh one,
  // whose table arrives after start(). Either way the state comes from Redis before any probe.
  a = await startNode(nameA, table);
  c = await startNode(nameC, emptyRouteTable(), envRedis, { random: () => 0.99 });
  c.checker.update(table);
  await c.checker.synced();
  assert.equal(c.probes, 0, 'C has not probed anything yet');
  assert.equal(a.checker.usable(BACKEND, pod.id, Date.now()), false);
  assert.equal(c.checker.usable(BACKEND, pod.id, Date.now()), false);
  assert.equal(c.checker.status(BACKEND, pod.id), 'unhealthy');
  assert.ok(c.checker.usable(BACKEND, (pods[2] as Pod).id, Date.now()));
  pod.healthy = true;
  await waitFor(
    'every node to mark it usable again',
    () => [a, b, c].every((n) => n.checker.usable(BACKEND, pod.id, Date.now())),
    2 * INTERVAL_MS * THRESHOLD + 1_000,
  );
});

test('5. a passive ejection on one node is shared with the others, and ends', async () => {
  const pod = pods[2] as Pod;
  const now = Date.now();
  for (let i = 0; i < 2; i++) c.checker.reportResult(BACKEND, pod.id, false, now);
  assert.ok(c.checker.usable(BACKEND, pod.id, now), 'two failures are not enough');
  c.checker.reportResult(BACKEND, pod.id, false, now);
  assert.equal(c.checker.usable(BACKEND, pod.id, now), false, 'the third one ejects');
  const shared = await waitFor(
    'the other nodes to see the ejection',
    () => [a, b].every((n) => !n.checker.usable(BACKEND, pod.id, Date.now())),
    1_000,
  );
  assert.ok(shared < 1_000);
  const ttl = await admin.pttl(ejectionKey(BACKEND, pod.id));
  assert.ok(ttl > 0 && ttl <= EJECTION_MS, `ejection key lives for the ejection time: ${ttl}`);
  // Active checks still pass: the endpoint is usable again once the ejection time is over.
  await waitFor(
    'the ejection to end everywhere',
    () => [a, b, c].every((n) => n.checker.usable(BACKEND, pod.id, Date.now())),
    EJECTION_MS + 1_000,
  );
  assert.ok(Date.now() - now >= EJECTION_MS - 50, 'not before the ejection time');
});

test('5b. a second process of a node (probes: false) follows and shares, but never probes', async () => {
  const owned = [a, b, c].map((n) => n.checker.owned);
  // Same node name as B: a further worker process on B's node.
  const d = await startNode(nameB, table, envRedis, { probes: false });
  await sleep(INTERVAL_MS * 3);
  assert.equal(d.probes, 0);
  assert.equal(d.checker.owned, 0);
  assert.deepEqual(
    [a, b, c].map((n) => n.checker.owned),
    owned,
    'the probe work did not move',
  );
  const pod = pods[0] as Pod;
  pod.healthy = false;
  await waitFor(
    'the follower to see the endpoint unhealthy',
    () => !d.checker.usable(BACKEND, pod.id, Date.now()),
    2 * INTERVAL_MS * THRESHOLD + 1_000,
  );
  pod.healthy = true;
  const ejected = pods[3] as Pod;
  const now = Date.now();
  for (let i = 0; i < 3; i++) d.checker.reportResult(BACKEND, ejected.id, false, now);
  await waitFor(
    'B, same node name, to see the follower’s ejection',
    () => !b.checker.usable(BACKEND, ejected.id, Date.now()),
    1_000,
  );
  await stopNode(d);
  assert.ok(await admin.exists(nodeHeartbeatKey(nameB)), 'B’s heartbeat is left alone');
  await waitFor(
    'the endpoints to be usable again',
    () =>
      [a, b, c].every(
        (n) =>
          n.checker.usable(BACKEND, pod.id, Date.now()) &&
          n.checker.usable(BACKEND, ejected.id, Date.now()),
      ),
    EJECTION_MS + 2 * INTERVAL_MS * THRESHOLD + 1_000,
  );
});

test('5c. a backend that arrives in a table update adopts the ejections Redis already holds', async () => {
  // Another node ejected one of the endpoints of a backend this node does not know yet.
  const late = `${NAMESPACE}/late:80`;
  const pod = pods[1] as Pod;
  await admin.set(ejectionKey(late, pod.id), 'other-node', 'PX', 60_000);
  const backend = { ...(table.backends[BACKEND] as Backend), id: late };
  const withLate = { ...table, backends: { ...table.backends, [late]: backend } };
  a.checker.update(withLate, [late]);
  await waitFor(
    'the new backend to adopt the ejection',
    () => !a.checker.usable(late, pod.id, Date.now()),
    2_000,
  );
  assert.ok(a.checker.usable(late, (pods[0] as Pod).id, Date.now()), 'only that endpoint');
  assert.ok(a.checker.usable(BACKEND, pod.id, Date.now()), 'the same pod in another backend');
  a.checker.update(table, [late]);
  await a.checker.applied();
  await admin.del(ejectionKey(late, pod.id), healthKey(late));
});

test('6. a changed probe path reaches the probes within a second', async () => {
  const changed = tableWith(pods, '/other', 2);
  for (const n of [a, b, c]) n.checker.update(changed);
  const updated = Date.now();
  const took = await waitFor(
    'every endpoint to be probed on the new path',
    () => pods.every((pod) => pod.seen.some((s) => s.at >= updated && s.path === '/other')),
    1_000,
  );
  assert.ok(took < 1_000);
  await sleep(INTERVAL_MS * 2);
  const late = Date.now() - INTERVAL_MS;
  for (const pod of pods) {
    assert.ok(
      !pod.seen.some((s) => s.at >= late && s.path === '/healthz'),
      `${pod.id} is no longer probed on the old path`,
    );
  }
  table = changed;
});

test('7. while Redis is down nodes keep state and probing; they resync when it returns', async () => {
  const dir = join(env.stateDir, `health-${SUFFIX}`);
  let server = await startRedis(dir);
  redisServers.push(server);
  const own = { host: server.host, port: server.port, password: server.password };
  const x = await startNode(nameA, table, own);
  const y = await startNode(nameB, table, own);
  await waitFor('both to see each other', () => x.checker.liveNodes.length === 2, 3_000);
  const pod = pods[3] as Pod;
  const owner = ownsPod(nameA, pod) ? x : y;
  const other = owner === x ? y : x;

  server.process.child.kill('SIGKILL');
  await server.process.exited;
  const probesBefore = owner.probes;
  pod.healthy = false;
  await waitFor(
    'the owner to mark it unusable from its own probes',
    () => !owner.checker.usable(BACKEND, pod.id, Date.now()),
    2 * INTERVAL_MS * THRESHOLD + 1_000,
  );
  assert.ok(owner.probes > probesBefore, 'the owner kept probing');
  assert.equal(owner.checker.liveNodes.length, 2, 'the live nodes were kept, not dropped');
  assert.ok(other.checker.usable(BACKEND, pod.id, Date.now()), 'the other could not know yet');

  // Redis comes back empty: the owner rewrites what it owns, the other reads it.
  server = await startRedis(dir, { port: server.port, password: server.password });
  redisServers.push(server);
  await waitFor(
    'the other node to learn the state after the restart',
    () => !other.checker.usable(BACKEND, pod.id, Date.now()),
    10_000,
  );
  const check = new Redis({ ...own, maxRetriesPerRequest: 1 });
  clients.push(check);
  const shared = parseHealthState((await check.hget(healthKey(BACKEND), pod.id)) ?? '');
  assert.equal(shared?.status, 'unhealthy');
  pod.healthy = true;
  await stopNode(x);
  await stopNode(y);
});

test('8. a table update bringing 40,000 refusing endpoints is applied and probed in slices', async () => {
  // Regression: such an update used to start every first probe within one second, and undici's
  // Agent walked all its origins on each refused connection, blocking the event loop for minutes;
  // later, applying it in one go and one timer per probe still held the loop for seconds.
  const server = await startRedis(join(env.stateDir, `health-bulk-${SUFFIX}`));
  redisServers.push(server);
  const own = { host: server.host, port: server.port, password: server.password };
  const bulkId = backendId(NAMESPACE, 'bulk', 80);
  const count = 40_000;
  // Long enough that the first probes spread over it at FIRST_PROBES_PER_SECOND.
  const intervalMs = 20_000;
  const base = tableWith([], '/healthz');
  const node = await startNode(`hc-bulk-${SUFFIX}`, base, own);
  const bulk: Backend = {
    ...(base.backends[BACKEND] as Backend),
    id: bulkId,
    endpoints: Array.from({ length: count }, (_, i) => ({
      // Nothing listens there: every probe is refused at once, the worst case for the agent.
      address: '198.51.100.50',
      port: 20_000 + i,
      ready: true,
      serving: true,
      terminating: false,
    })),
    healthCheck: {
      ...(base.backends[BACKEND] as Backend).healthCheck,
      intervalMs,
      timeoutMs: 1_000,
    },
  };
  const gaps = watchLoopGaps(20);
  try {
    const before = node.probes;
    node.checker.update({ ...base, revision: 2, backends: { ...base.backends, [bulkId]: bulk } });
    await sleep(1_000);
    const firstSecond = node.probes - before;
    assert.ok(
      firstSecond <= FIRST_PROBES_PER_SECOND * 1.5,
      `${firstSecond} first probes in the first second (spread: ${FIRST_PROBES_PER_SECOND}/s)`,
    );
    // The spread goes on at about that rate: a few seconds see thousands of first probes.
    await waitFor(
      'the first probes to go on being sent',
      () => node.probes - before >= 3 * FIRST_PROBES_PER_SECOND,
      6_000,
    );
    assert.equal(node.checker.owned, count, 'every endpoint is a target of this node');
    // No stall of 250 ms or more: the update and the probes are handled in slices of a few ms.
    assert.ok(gaps.worst < 250, `the event loop stalled for ${Math.round(gaps.worst)}ms`);
  } finally {
    gaps.stop();
    await stopNode(node);
  }
});

test('the probe on the wire: User-Agent, Host, statuses, timeout and refusal', async () => {
  const agent = createProbeAgent();
  let seen: { ua: string; host: string; path: string } | undefined;
  const server = createServer((req, res) => {
    seen = {
      ua: req.headers['user-agent'] ?? '',
      host: req.headers.host ?? '',
      path: req.url ?? '',
    };
    if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 500);
      return;
    }
    res.writeHead(req.url === '/missing' ? 404 : 200).end('x'.repeat(100_000));
  });
  server.listen(0, '198.51.100.45');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    const target = { address: '198.51.100.45', port, timeoutMs: 300 };
    const okResult = await probe(
      {
        ...target,
        path: '/ready?full=1',
        host: 'app.example.com',
        userAgent: 'pier-health-check/n1',
      },
      agent,
    );
    assert.equal(okResult.status, 200);
    assert.ok(okResult.ok);
    assert.deepEqual(seen, {
      ua: 'pier-health-check/n1',
      host: 'app.example.com',
      path: '/ready?full=1',
    });
    const missing = await probe({ ...target, path: '/missing' }, agent);
    assert.equal(missing.status, 404);
    assert.equal(missing.ok, false);
    assert.ok(
      probeSucceeded(missing, [
        [200, 299],
        [404, 404],
      ]),
      'a backend may expect 404',
    );
    assert.equal(seen?.host, `198.51.100.45:${port}`, 'Host defaults to the endpoint');
    const slow = await probe({ ...target, path: '/slow' }, agent);
    assert.deepEqual([slow.ok, slow.status, slow.error], [false, undefined, 'timeout']);
    assert.ok(slow.ms >= 290 && slow.ms < 500, `timed out after ${slow.ms}ms`);
    const refused = await probe(
      { address: '198.51.100.49', port: 9, path: '/', timeoutMs: 300 },
      agent,
    );
    assert.equal(refused.ok, false);
    assert.equal(refused.error, 'ECONNREFUSED');
  } finally {
    await agent.close();
    await closeServer(server);
  }
});
