/**
 * L2 mode end to end, in network namespaces this file creates and removes: a switch (bridge),
 * two edge nodes each running a real dataplane with `--l2` and a backend that answers with the
 * node's name, and a client that requests the VIP over the bridge. Redis is a redis-server of
 * this file's own with a Unix socket (the suite's one listens on a loopback the edge namespaces
 * cannot reach). The controller's part (what to announce) is written to Redis as it would write
 * it; it has its own test against the API server (controller-l2.test.ts).
 *
 * Addresses: links 198.51.100.0/24, the VIP 203.0.113.10, the backend 192.0.2.1 on each edge's
 * loopback. No namespace has a route out.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodeL2Announcements, l2AnnouncementsKey, parseL2Lease, vipLeaseKey } from '@pier/shared';
import { Redis } from 'ioredis';
import { ownerOf } from '../../packages/dataplane/src/probe-ownership.ts';
import { type ManagedProcess, waitUntil } from '../lib/child-process.ts';
import { type DataplaneProcess, startDataplane } from '../lib/dataplane-process.ts';
import { testEnv } from '../lib/env.ts';
import { createL2Lab, type L2Lab, type LabNamespace } from '../lib/l2-lab.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import {
  backend,
  connectPublisher,
  endpoint,
  routeContent,
  virtualHost,
} from '../lib/route-tables.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';

const VIP = '203.0.113.10';
const HOST = 'l2.example';
const BACKEND = { address: '192.0.2.1', port: 9090 };
const NODES = ['edge-1', 'edge-2'] as const;
/** The node rendezvous hashing prefers for the VIP: it holds it whenever it is up for a while. */
const PREFERRED = ownerOf(VIP, [...NODES]) ?? '';
const OTHER = NODES.find((n) => n !== PREFERRED) ?? '';

const stateDir = join(testEnv().stateDir, 'l2-failover');
let lab: L2Lab;
let redis: TestRedis;
let admin: Redis;
const dataplanes = new Map<string, DataplaneProcess>();
const others: ManagedProcess[] = [];

function edge(node: string): LabNamespace {
  const ns = lab.edges.find((e) => e.name === node);
  if (!ns) throw new Error(`no edge ${node}`);
  return ns;
}

async function startEdge(node: string): Promise<DataplaneProcess> {
  const dp = await startDataplane({
    node,
    netns: edge(node).pid,
    host: '0.0.0.0',
    httpPort: 8080,
    httpsPort: 8443,
    redisUrl: `unix://${redis.unixSocket}`,
    stateFile: join(stateDir, `${node}-routes.json`),
    args: [
      '--redis-password',
      redis.password,
      '--l2',
      'true',
      '--l2-lease-ttl',
      '600ms',
      '--l2-renew-interval',
      '150ms',
    ],
  });
  dataplanes.set(node, dp);
  return dp;
}

async function holder(): Promise<string | undefined> {
  return parseL2Lease(await admin.get(vipLeaseKey(VIP)))?.node;
}

async function vipOn(node: string): Promise<boolean> {
  const { stdout } = await edge(node).exec('ip', ['-j', 'addr', 'show', 'dev', 'eth0']);
  return stdout.includes(`"${VIP}"`);
}

async function metrics(node: string): Promise<string> {
  const dp = dataplanes.get(node);
  if (!dp) return '';
  const { stdout } = await edge(node).exec(
    'curl',
    ['-s', '--max-time', '2', `http://127.0.0.1:${dp.opsPort}/metrics`],
    { allowFailure: true },
  );
  return stdout;
}

interface ClientRecord {
  at: number;
  ok: boolean;
  node?: string;
  attempts: number;
  error?: string;
}

/** Starts the client loop in the client namespace; `records()` reads what it saw so far. */
function startClient(
  name: string,
  intervalMs: number,
  timeoutMs: number,
  attempts: number,
): { records(): ClientRecord[]; stop(): Promise<void> } {
  const logFile = join(stateDir, `client-${name}-${Date.now()}.log`);
  const proc = lab.client.spawn(
    process.execPath,
    [
      join(REPO_ROOT, 'test', 'lib', 'l2-client.ts'),
      `http://${VIP}:8080/`,
      HOST,
      String(intervalMs),
      String(timeoutMs),
      String(attempts),
    ],
    logFile,
  );
  others.push(proc);
  return {
    records: () =>
      (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ClientRecord),
    stop: () => proc.stop(2_000),
  };
}

/** Waits until the preferred node holds the VIP (after a restart it takes it back). */
async function settled(): Promise<void> {
  await waitUntil(
    `${PREFERRED} to hold ${VIP}`,
    async () => ((await holder()) === PREFERRED && (await vipOn(PREFERRED)) ? true : undefined),
    20_000,
  );
  assert.equal(await vipOn(OTHER), false, `${OTHER} must not have ${VIP} too`);
}

before(async () => {
  lab = await createL2Lab({
    stateDir: testEnv().stateDir,
    edges: [
      { name: 'edge-1', address: '198.51.100.11' },
      { name: 'edge-2', address: '198.51.100.12' },
    ],
    client: '198.51.100.100',
    vipRange: '203.0.113.0/24',
  });
  redis = await startRedis(stateDir, { unixSocket: join(stateDir, 'redis.sock') });
  admin = new Redis({ host: redis.host, port: redis.port, password: redis.password });
  admin.on('error', () => undefined);
  // A backend on each edge, at the same address, answering with the edge's name.
  for (const node of NODES) {
    await edge(node).exec('ip', ['addr', 'add', `${BACKEND.address}/32`, 'dev', 'lo']);
    others.push(
      edge(node).spawn(
        process.execPath,
        [
          '-e',
          `require('node:http').createServer((q, s) => s.end(${JSON.stringify(node)})).listen(${BACKEND.port}, ${JSON.stringify(BACKEND.address)})`,
        ],
        join(stateDir, `backend-${node}.log`),
      ),
    );
  }
  const publisher = await connectPublisher(redis);
  const web = backend('l2', 'web', [endpoint(BACKEND)]);
  await publisher.publish(
    routeContent({ virtualHosts: [virtualHost(HOST, [['Prefix', '/', web]])], backends: [web] }),
  );
  publisher.close();
  await admin.set(
    l2AnnouncementsKey(),
    encodeL2Announcements({
      addresses: [{ address: VIP, pool: 'lab', interfaces: ['eth0'], nodes: [...NODES] }],
    }),
  );
  for (const node of NODES) await startEdge(node);
});

after(async () => {
  await Promise.allSettled([...dataplanes.values()].map((d) => d.kill()));
  await Promise.allSettled(others.map((p) => p.stop(1_000)));
  admin?.disconnect();
  await redis?.stop();
  await lab?.remove();
});

test('the client reaches the VIP, served by the one node that holds it, as the metric says', async () => {
  await settled();
  const client = startClient('reach', 50, 1_000, 1);
  const served = await waitUntil('the client to be served', () => {
    const ok = client.records().filter((r) => r.ok);
    return ok.length >= 5 ? ok : undefined;
  });
  await client.stop();
  assert.ok(served.every((r) => r.node === PREFERRED));
  assert.match(
    await metrics(PREFERRED),
    new RegExp(`pier_l2_address_held\\{address="${VIP}",interface="eth0"\\} 1`),
  );
  assert.doesNotMatch(await metrics(OTHER), /pier_l2_address_held\{/);
});

test('SIGKILL of the holder: the other node serves the client within a second', async () => {
  await settled();
  const client = startClient('kill', 20, 200, 1);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const killedAt = Date.now();
  await dataplanes.get(PREFERRED)?.kill();
  const first = await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= killedAt),
    10_000,
  );
  await client.stop();
  const failoverMs = first.at - killedAt;
  console.log(`# SIGKILL failover: ${failoverMs} ms`);
  assert.ok(failoverMs < 1_000, `served by ${OTHER} ${failoverMs} ms after the kill`);
  assert.equal(await holder(), OTHER);

  // The killed node comes back (as its DaemonSet would restart it): it first removes the
  // address it was killed with, and later takes the VIP back, the preferred node again.
  await startEdge(PREFERRED);
  await settled();
});

test('SIGTERM of the holder: handed over with no request failing for a client that retries once', async () => {
  await settled();
  const client = startClient('term', 50, 1_500, 2);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const stoppedAt = Date.now();
  const stopping = dataplanes.get(PREFERRED)?.stop();
  await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= stoppedAt),
    10_000,
  );
  // Keep going a little after the hand-over.
  await new Promise((r) => setTimeout(r, 1_000));
  await client.stop();
  await stopping;
  const failed = client.records().filter((r) => !r.ok);
  assert.deepEqual(failed, [], 'no request failed after one retry');
  assert.equal(await vipOn(PREFERRED), false, 'the drained node removed the address');

  await startEdge(PREFERRED);
  await settled();
});

test('Redis stopped: the holder keeps the VIP and keeps serving, and carries on when Redis returns', async () => {
  await settled();
  const client = startClient('redis', 50, 1_500, 2);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const { port, password, unixSocket } = redis;
  await redis.stop();
  const stoppedAt = Date.now();
  // Several lease lifetimes without Redis.
  await new Promise((r) => setTimeout(r, 3_000));
  const during = client.records().filter((r) => r.at >= stoppedAt);
  assert.ok(during.length >= 20, `the client kept asking (${during.length} requests)`);
  assert.ok(
    during.every((r) => r.ok && r.node === PREFERRED),
    `served by ${PREFERRED} throughout: ${JSON.stringify(during.filter((r) => !r.ok || r.node !== PREFERRED).slice(0, 3))}`,
  );
  assert.equal(await vipOn(OTHER), false, `${OTHER} took nothing while Redis was away`);

  redis = await startRedis(stateDir, { port, password, ...(unixSocket ? { unixSocket } : {}) });
  const back = Date.now();
  // The holder re-takes its lease in the empty Redis (same epoch), without a hand-over.
  await waitUntil('the lease to be back in Redis', async () =>
    (await holder()) === PREFERRED ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 1_000));
  await client.stop();
  const afterwards = client.records().filter((r) => r.at >= back);
  assert.ok(afterwards.every((r) => r.ok && r.node === PREFERRED));
  assert.equal(await vipOn(OTHER), false);
});
