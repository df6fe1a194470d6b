/**
 * Demo backends: small HTTP servers standing in for the pods the example EndpointSlices name, on
 * the loopback addresses and ports the slices give. Each answers every request with its name and
 * what it was asked (`web-1: GET http://web.example.test/`), so curl shows which endpoint
 * answered, and has a health endpoint its HealthCheckPolicy probes, which a curl can make fail:
 *
 * - `GET /healthz`: 200 `ok`, or 503 `failing` after `POST /fail`;
 * - `POST /fail`: the health endpoint answers 503 from now on (traffic is still answered, as a
 *   pod whose readiness check fails);
 * - `POST /recover`: healthy again.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { SourcedObject } from './manifest-file.ts';

/** One demo backend to run. */
export interface DemoBackendSpec {
  /** Shown in every answer: the endpoint's `targetRef.name`, else `<service>-<n>`. */
  name: string;
  address: string;
  port: number;
}

interface SliceDoc {
  metadata?: { labels?: Record<string, string> };
  addressType?: string;
  endpoints?: Array<{ addresses?: string[]; targetRef?: { name?: string }; hostname?: string }>;
  ports?: Array<{ port?: number }>;
}

function isLoopback(address: string): boolean {
  return isIP(address) === 4 ? address.startsWith('127.') : address === '::1';
}

/**
 * The demo backends the EndpointSlices of a snapshot call for: one per loopback address and port,
 * sorted by port then address. Addresses off loopback are left alone (they are someone else's).
 */
export function demoBackendSpecs(objects: readonly SourcedObject[]): DemoBackendSpec[] {
  const specs = new Map<string, DemoBackendSpec>();
  for (const o of objects) {
    if (o.kind !== 'EndpointSlice') continue;
    const slice = o.object as SliceDoc;
    const service = slice.metadata?.labels?.['kubernetes.io/service-name'] ?? o.name;
    for (const [i, endpoint] of (slice.endpoints ?? []).entries()) {
      const name = endpoint.targetRef?.name ?? endpoint.hostname ?? `${service}-${i + 1}`;
      for (const address of endpoint.addresses ?? []) {
        if (!isLoopback(address)) continue;
        for (const { port } of slice.ports ?? []) {
          if (port === undefined) continue;
          const key = `${address}|${port}`;
          if (!specs.has(key)) specs.set(key, { name, address, port });
        }
      }
    }
  }
  return [...specs.values()].sort((a, b) => a.port - b.port || a.address.localeCompare(b.address));
}

/** A running demo backend. */
export interface DemoBackend extends DemoBackendSpec {
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}

function handler(spec: DemoBackendSpec): (req: IncomingMessage, res: ServerResponse) => void {
  let failing = false;
  return (req, res) => {
    const path = req.url ?? '/';
    if (path === '/healthz') {
      answer(res, failing ? 503 : 200, failing ? 'failing\n' : 'ok\n');
    } else if (path === '/fail' && req.method === 'POST') {
      failing = true;
      answer(res, 200, `${spec.name} now fails its health checks\n`);
    } else if (path === '/recover' && req.method === 'POST') {
      failing = false;
      answer(res, 200, `${spec.name} passes its health checks again\n`);
    } else {
      const proto = String(req.headers['x-forwarded-proto'] ?? 'http')
        .split(',')[0]
        ?.trim();
      const host = req.headers.host ?? `${spec.address}:${spec.port}`;
      answer(res, 200, `${spec.name}: ${req.method} ${proto}://${host}${path}\n`);
    }
    req.resume();
  };
}

/**
 * Starts one demo backend.
 *
 * @throws Error naming the address when it cannot listen (e.g. the port is taken).
 */
export async function startDemoBackend(spec: DemoBackendSpec): Promise<DemoBackend> {
  const server: Server = createServer(handler(spec));
  server.keepAliveTimeout = 5_000;
  server.listen(spec.port, spec.address);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(
      `demo backend ${spec.name} cannot listen on ${spec.address}:${spec.port} (${code})`,
    );
  }
  return {
    ...spec,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
