/**
 * Hand-built route tables for test/bench/proxy-throughput.ts: the one bench route, and a large
 * table of hosts whose endpoints are loopback ports where nothing listens.
 */
import { readFileSync } from 'node:fs';
import {
  type Backend,
  backendId,
  DEFAULT_HEALTH_CHECK,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import type { RouteContent } from '../../packages/controller/src/routes/route-publisher.ts';

/** The host every proxy is asked for. */
export const BENCH_HOST = 'bench.example.test';

/** The backend server as a route-table backend: one endpoint, default health and balancing. */
function benchBackend(port: number): Backend {
  const healthCheck = structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'];
  healthCheck.http.path = '/';
  return {
    id: backendId('bench', 'backend', 80),
    service: { namespace: 'bench', name: 'backend' },
    servicePort: 80,
    endpoints: [{ address: '127.0.0.1', port, ready: true, serving: true, terminating: false }],
    healthCheck,
    balancing: { algorithm: 'p2c' },
  };
}

function prefixHost(host: string, backend: string, ingress: string): VirtualHost {
  return {
    address: '*',
    host,
    routes: [
      { path: '/', pathType: 'Prefix', backend, source: { namespace: 'bench', name: ingress } },
    ],
  };
}

/** `*` / bench.example.test / `/` Prefix → the backend at 127.0.0.1:`backendPort`. */
export function benchTable(backendPort: number): RouteContent {
  const backend = benchBackend(backendPort);
  return {
    virtualHosts: {
      [virtualHostKey('*', BENCH_HOST)]: prefixHost(BENCH_HOST, backend.id, 'bench'),
    },
    backends: { [backend.id]: backend },
    certificates: {},
  };
}

/** TCP ports something listens on (any address), from /proc/net/tcp{,6}. */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A') ports.add(Number.parseInt(fields[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/**
 * The bench route plus `count` virtual hosts h-i.example.test, each to its own backend of
 * `endpoints` endpoints on 127.0.0.1, on ports 10000-59999 where nothing listens (all distinct
 * up to 50,000 endpoints). No request goes there; their health checks run every `intervalMs`
 * (hourly unless told), and a probe that does go out meets a closed port.
 */
export function largeTable(
  backendPort: number,
  count: number,
  endpoints: number,
  options: { intervalMs?: number } = {},
): RouteContent {
  const table = benchTable(backendPort);
  const busy = listeningPorts();
  const healthCheck = {
    ...(structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck']),
    intervalMs: options.intervalMs ?? 3_600_000,
    timeoutMs: 2_000,
  };
  let next = 0;
  const dummyPort = (): number => {
    for (;;) {
      const port = 10_000 + (next++ % 50_000);
      if (!busy.has(port)) return port;
    }
  };
  for (let i = 0; i < count; i++) {
    const id = backendId('bench', `svc-${i}`, 80);
    table.backends[id] = {
      id,
      service: { namespace: 'bench', name: `svc-${i}` },
      servicePort: 80,
      endpoints: Array.from({ length: endpoints }, () => ({
        address: '127.0.0.1',
        port: dummyPort(),
        ready: true,
        serving: true,
        terminating: false,
      })),
      healthCheck: structuredClone(healthCheck),
      balancing: { algorithm: 'p2c' },
    };
    const host = `h-${i}.example.test`;
    table.virtualHosts[virtualHostKey('*', host)] = prefixHost(host, id, `ing-${i}`);
  }
  return table;
}
