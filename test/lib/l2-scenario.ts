/**
 * The L2 failover scenario shared by the end-to-end test and the failover benchmark: the lab of
 * `l2-lab.ts` (switch, edge-1, edge-2, client), a redis-server with a Unix socket (reachable from
 * every namespace), a backend on each edge answering with the edge's name, a route table for
 * `l2.example`, the announcement of one VIP as the controller would write it, and a real
 * dataplane with `--l2` per edge.
 *
 * Addresses: links 198.51.100.0/24, the VIP 203.0.113.10, the backend 192.0.2.1 on each edge's
 * loopback. No namespace has a route out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeL2Announcements, l2AnnouncementsKey, parseL2Lease, vipLeaseKey } from '@pier/shared';
import { Redis } from 'ioredis';
import { ownerOf } from '../../packages/dataplane/src/health/probe-ownership.ts';
import { jsonLines, type ManagedProcess, waitUntil } from './child-process.ts';
import { type DataplaneProcess, startDataplane } from './dataplane-process.ts';
import { createL2Lab, type L2Lab, type LabNamespace } from './l2-lab.ts';
import { startRedis, type TestRedis } from './redis-server.ts';
import { backend, connectPublisher, endpoint, routeContent, virtualHost } from './route-tables.ts';
import { REPO_ROOT } from './test-cluster.ts';

export const VIP = '203.0.113.10';
const HOST = 'l2.example';
const BACKEND = { address: '192.0.2.1', port: 9090 };
export const NODES = ['edge-1', 'edge-2'] as const;
/** The node rendezvous hashing prefers for the VIP: it holds it whenever it is up for a while. */
export const PREFERRED = ownerOf(VIP, [...NODES]) ?? '';
/** The other one. */
export const OTHER = NODES.find((n) => n !== PREFERRED) ?? '';

/** One request of the lab client (`l2-client.ts`). */
export interface ClientRecord {
  at: number;
  ok: boolean;
  node?: string;
  attempts: number;
  error?: string;
}

/** A client loop running in the client namespace. */
export interface LabClient {
  records(): ClientRecord[];
  stop(): Promise<void>;
}

/** The running scenario. */
export interface L2Scenario {
  readonly lab: L2Lab;
  readonly dataplanes: ReadonlyMap<string, DataplaneProcess>;
  /** A connection to the scenario's Redis (TCP, from the caller's namespace). */
  readonly admin: Redis;
  redis(): TestRedis;
  /** Starts (or restarts) the dataplane of an edge. */
  startEdge(node: string): Promise<DataplaneProcess>;
  /** The node named by the VIP's lease in Redis. */
  holder(): Promise<string | undefined>;
  /** Whether the VIP is on the edge's eth0. */
  vipOn(node: string): Promise<boolean>;
  /** The edge dataplane's /metrics text. */
  metrics(node: string): Promise<string>;
  /** Waits until the preferred node holds the VIP and only it has it on its interface. */
  settled(timeoutMs?: number): Promise<void>;
  startClient(name: string, intervalMs: number, timeoutMs: number, attempts: number): LabClient;
  /** Stops Redis (the same address comes back with `restartRedis`). */
  stopRedis(): Promise<void>;
  restartRedis(): Promise<void>;
  stop(): Promise<void>;
}

function edgeOf(lab: L2Lab, node: string): LabNamespace {
  const ns = lab.edges.find((e) => e.name === node);
  if (!ns) throw new Error(`no edge ${node}`);
  return ns;
}

/** Builds and starts everything; `stop()` removes it all. */
export async function startL2Scenario(stateDir: string): Promise<L2Scenario> {
  mkdirSync(stateDir, { recursive: true });
  const lab = await createL2Lab({
    stateDir,
    edges: [
      { name: 'edge-1', address: '198.51.100.11' },
      { name: 'edge-2', address: '198.51.100.12' },
    ],
    client: '198.51.100.100',
    vipRange: '203.0.113.0/24',
  });
  const others: ManagedProcess[] = [];
  const dataplanes = new Map<string, DataplaneProcess>();
  let redis: TestRedis | undefined;
  let admin: Redis | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([...dataplanes.values()].map((d) => d.kill()));
    await Promise.allSettled(others.map((p) => p.stop(1_000)));
    admin?.disconnect();
    await redis?.stop();
    await lab.remove();
  };
  try {
    const server = await startRedis(stateDir, { unixSocket: join(stateDir, 'redis.sock') });
    redis = server;
    const connection = new Redis({
      host: server.host,
      port: server.port,
      password: server.password,
    });
    connection.on('error', () => undefined);
    admin = connection;
    for (const node of NODES) {
      const edge = edgeOf(lab, node);
      await edge.exec('ip', ['addr', 'add', `${BACKEND.address}/32`, 'dev', 'lo']);
      others.push(
        edge.spawn(
          process.execPath,
          [
            '-e',
            `require('node:http').createServer((q, s) => s.end(${JSON.stringify(node)})).listen(${BACKEND.port}, ${JSON.stringify(BACKEND.address)})`,
          ],
          join(stateDir, `backend-${node}.log`),
        ),
      );
    }
    const publisher = await connectPublisher(server);
    const web = backend('l2', 'web', [endpoint(BACKEND)]);
    await publisher.publish(
      routeContent({ virtualHosts: [virtualHost(HOST, [['Prefix', '/', web]])], backends: [web] }),
    );
    publisher.close();
    await connection.set(
      l2AnnouncementsKey(),
      encodeL2Announcements({
        addresses: [{ address: VIP, pool: 'lab', interfaces: ['eth0'], nodes: [...NODES] }],
      }),
    );
    const current = (): TestRedis => {
      if (!redis) throw new Error('no Redis');
      return redis;
    };
    const scenario: L2Scenario = {
      lab,
      dataplanes,
      admin: connection,
      redis: current,
      startEdge: async (node) => {
        const r = current();
        const dp = await startDataplane({
          node,
          netns: edgeOf(lab, node).pid,
          host: '0.0.0.0',
          httpPort: 8080,
          httpsPort: 8443,
          redisUrl: `unix://${r.unixSocket}`,
          stateFile: join(stateDir, `${node}-routes.json`),
          args: [
            '--redis-password',
            r.password,
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
      },
      holder: async () => parseL2Lease(await connection.get(vipLeaseKey(VIP)))?.node,
      vipOn: async (node) => {
        const { stdout } = await edgeOf(lab, node).exec('ip', [
          '-j',
          'addr',
          'show',
          'dev',
          'eth0',
        ]);
        return stdout.includes(`"${VIP}"`);
      },
      metrics: async (node) => {
        const dp = dataplanes.get(node);
        if (!dp) return '';
        const { stdout } = await edgeOf(lab, node).exec(
          'curl',
          ['-s', '--max-time', '2', `http://127.0.0.1:${dp.opsPort}/metrics`],
          { allowFailure: true },
        );
        return stdout;
      },
      settled: async (timeoutMs = 20_000) => {
        await waitUntil(
          `${PREFERRED} alone to hold ${VIP}`,
          async () =>
            (await scenario.holder()) === PREFERRED &&
            (await scenario.vipOn(PREFERRED)) &&
            !(await scenario.vipOn(OTHER))
              ? true
              : undefined,
          timeoutMs,
        );
      },
      startClient: (name, intervalMs, timeoutMs, attempts) => {
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
          records: () => jsonLines<ClientRecord>(logFile),
          stop: () => proc.stop(2_000),
        };
      },
      stopRedis: () => current().stop(),
      restartRedis: async () => {
        const { port, password, unixSocket } = current();
        redis = await startRedis(stateDir, {
          port,
          password,
          ...(unixSocket ? { unixSocket } : {}),
        });
      },
      stop,
    };
    for (const node of NODES) await scenario.startEdge(node);
    return scenario;
  } catch (err) {
    await stop();
    throw err;
  }
}
