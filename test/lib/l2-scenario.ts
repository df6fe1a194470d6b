/**
 * The L2 failover scenario shared by the end-to-end test and the failover benchmark: the lab of
 * `l2-lab.ts` (switch, edge-1, edge-2, client), a redis-server with a Unix socket (reachable from
 * every namespace), a backend on each edge answering with the edge's name, a route table for
 * `l2.example`, the announcement of one VIP as the controller would write it, and a real
 * dataplane with `--l2` per edge.
 *
 * With the `service` option it also plays a Service of type LoadBalancer: its address is
 * announced beside the VIP, and each edge runs, in kube-proxy's place (Pier does not forward
 * Service traffic, kube-proxy does), a TCP forwarder on 0.0.0.0:<port> to a stand-in endpoint on
 * the edge's loopback, port <port + 1>, that writes the node's name and closes
 * (`l2-tcp-stand-in.ts`).
 *
 * Addresses: links 198.51.100.0/24, the VIP 203.0.113.10, the backend 192.0.2.1 and the Service
 * endpoint 192.0.2.2 on each edge's loopback. No namespace has a route out.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeL2Announcements,
  type L2Announcement,
  l2AnnouncementsKey,
  parseL2Lease,
  vipLeaseKey,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { ownerOf } from '../../packages/shared/src/probe-ownership.ts';
import { jsonLines, type ManagedProcess, unlessExited, waitUntil } from './child-process.ts';
import { type DataplaneProcess, startDataplane } from './dataplane-process.ts';
import { createL2Lab, type L2Lab, type LabNamespace } from './l2-lab.ts';
import { startRedis, type TestRedis } from './redis-server.ts';
import { backend, connectPublisher, endpoint, routeContent, virtualHost } from './route-tables.ts';
import { REPO_ROOT } from './test-cluster.ts';

export const VIP = '203.0.113.10';
const HOST = 'l2.example';
const BACKEND = { address: '192.0.2.1', port: 9090 };
/** Where each edge's stand-in endpoint of the Service listens (its port is the Service's). */
const SERVICE_ENDPOINT = '192.0.2.2';
export const NODES = ['edge-1', 'edge-2'] as const;

/**
 * The node rendezvous hashing prefers for `address` among both nodes: it holds the address
 * whenever it is up for a while and eligible.
 */
export function preferredNode(address: string): string {
  return ownerOf(address, [...NODES]) ?? '';
}

/** The node rendezvous hashing prefers for the VIP: it holds it whenever it is up for a while. */
export const PREFERRED = preferredNode(VIP);
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

/** One connection of the lab TCP client (`l2-tcp-client.ts`). */
export interface TcpClientRecord {
  at: number;
  ok: boolean;
  /** What the server wrote: the name of the node whose stand-in endpoint answered. */
  node?: string;
  error?: string;
}

/** A client loop running in the client namespace. */
export interface LabClient<R = ClientRecord> {
  records(): R[];
  stop(): Promise<void>;
}

/** A Service of type LoadBalancer the scenario plays beside the VIP. */
export interface L2ScenarioService {
  /** Its load-balancer address, in 203.0.113.0/24 (routed on-link from the client). */
  readonly address: string;
  /** Its TCP port, where the stand-in kube-proxy listens on each edge. */
  readonly port: number;
}

/** Options of {@link startL2Scenario}. */
export interface L2ScenarioOptions {
  /** Also announce this Service's address, with a stand-in kube-proxy and endpoint per edge. */
  readonly service?: L2ScenarioService;
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
  /** The node named by the lease of `address` (the VIP by default) in Redis. */
  holder(address?: string): Promise<string | undefined>;
  /** Whether `address` (the VIP by default) is on the edge's eth0. */
  vipOn(node: string, address?: string): Promise<boolean>;
  /** The edge dataplane's /metrics text. */
  metrics(node: string): Promise<string>;
  /** Waits until the preferred node holds the VIP and only it has it on its interface. */
  settled(timeoutMs?: number): Promise<void>;
  /** Waits until `node` holds the lease of `address` and only it has the address on eth0. */
  settledOn(address: string, node: string, timeoutMs?: number): Promise<void>;
  /**
   * Rewrites the announcements as the controller would when the eligible nodes of `address`
   * change (for a Service with `externalTrafficPolicy: Local`, the nodes with a ready local
   * endpoint); the other addresses keep theirs.
   */
  announce(address: string, nodes: readonly string[]): Promise<void>;
  startClient(name: string, intervalMs: number, timeoutMs: number, attempts: number): LabClient;
  /**
   * Starts a client opening a new TCP connection to the Service every `intervalMs`, each limited
   * to `timeoutMs`; only with the `service` option.
   */
  startTcpClient(name: string, intervalMs: number, timeoutMs: number): LabClient<TcpClientRecord>;
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

/** Starts a stand-in of `l2-tcp-stand-in.ts` and waits until it listens. */
async function startStandIn(
  edge: LabNamespace,
  args: readonly string[],
  logFile: string,
): Promise<ManagedProcess> {
  const proc = edge.spawn(
    process.execPath,
    [join(REPO_ROOT, 'test', 'lib', 'l2-tcp-stand-in.ts'), ...args],
    logFile,
  );
  await unlessExited(
    proc,
    `stand-in ${args.join(' ')} on ${edge.name}`,
    waitUntil(`stand-in ${args[0]} on ${edge.name} to listen`, () =>
      jsonLines<{ listening?: string }>(logFile).some((l) => l.listening) ? true : undefined,
    ),
  );
  return proc;
}

/** Builds and starts everything; `stop()` removes it all. */
export async function startL2Scenario(
  stateDir: string,
  options: L2ScenarioOptions = {},
): Promise<L2Scenario> {
  const { service } = options;
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
      if (service) {
        // The endpoint's port differs from the Service's (a targetPort): the forwarder's
        // wildcard listener would otherwise take the endpoint's address too.
        const targetPort = String(service.port + 1);
        await edge.exec('ip', ['addr', 'add', `${SERVICE_ENDPOINT}/32`, 'dev', 'lo']);
        // Pushed one at a time, so that a failed start still stops the one already running.
        others.push(
          await startStandIn(
            edge,
            ['endpoint', SERVICE_ENDPOINT, targetPort, node],
            join(stateDir, `service-endpoint-${node}.log`),
          ),
        );
        others.push(
          await startStandIn(
            edge,
            ['forward', String(service.port), SERVICE_ENDPOINT, targetPort],
            join(stateDir, `service-forwarder-${node}.log`),
          ),
        );
      }
    }
    const publisher = await connectPublisher(server);
    const web = backend('l2', 'web', [endpoint(BACKEND)]);
    await publisher.publish(
      routeContent({ virtualHosts: [virtualHost(HOST, [['Prefix', '/', web]])], backends: [web] }),
    );
    publisher.close();
    const announced = new Map<string, L2Announcement>();
    for (const address of [VIP, ...(service ? [service.address] : [])]) {
      announced.set(address, { address, pool: 'lab', interfaces: ['eth0'], nodes: [...NODES] });
    }
    const publishAnnouncements = async (): Promise<void> => {
      await connection.set(
        l2AnnouncementsKey(),
        encodeL2Announcements({ addresses: [...announced.values()] }),
      );
    };
    await publishAnnouncements();
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
            // One argument: a random password may begin with '-', which a separate argument
            // would make read as an option.
            `--redis-password=${r.password}`,
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
      holder: async (address = VIP) =>
        parseL2Lease(await connection.get(vipLeaseKey(address)))?.node,
      vipOn: async (node, address = VIP) => {
        const { stdout } = await edgeOf(lab, node).exec('ip', [
          '-j',
          'addr',
          'show',
          'dev',
          'eth0',
        ]);
        return stdout.includes(`"${address}"`);
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
      settled: (timeoutMs) => scenario.settledOn(VIP, PREFERRED, timeoutMs),
      settledOn: async (address, node, timeoutMs = 20_000) => {
        const rest = NODES.filter((n) => n !== node);
        await waitUntil(
          `${node} alone to hold ${address}`,
          async () => {
            if ((await scenario.holder(address)) !== node) return undefined;
            if (!(await scenario.vipOn(node, address))) return undefined;
            for (const other of rest) {
              if (await scenario.vipOn(other, address)) return undefined;
            }
            return true;
          },
          timeoutMs,
        );
      },
      announce: async (address, nodes) => {
        const entry = announced.get(address);
        if (!entry) throw new Error(`${address} is not announced by the scenario`);
        announced.set(address, { ...entry, nodes: [...nodes] });
        await publishAnnouncements();
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
      startTcpClient: (name, intervalMs, timeoutMs) => {
        if (!service) throw new Error('the scenario was started without a service');
        const logFile = join(stateDir, `tcp-client-${name}-${Date.now()}.log`);
        const proc = lab.client.spawn(
          process.execPath,
          [
            join(REPO_ROOT, 'test', 'lib', 'l2-tcp-client.ts'),
            service.address,
            String(service.port),
            String(intervalMs),
            String(timeoutMs),
          ],
          logFile,
        );
        others.push(proc);
        return {
          records: () => jsonLines<TcpClientRecord>(logFile),
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
