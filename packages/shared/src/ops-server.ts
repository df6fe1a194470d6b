/**
 * The small HTTP server every Pier process runs for operators and kubelets:
 * `/metrics` (Prometheus), `/healthz` (alive) and `/readyz` (ready to serve).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where /metrics comes from: a prom-client Registry, or an aggregate of cluster workers. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: MetricsSource;
  /** Returns undefined when ready, or why not. */
  readiness: () => string | undefined;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const notReady = options.readiness();
      res
        .writeHead(notReady === undefined ? 200 : 503, { 'content-type': 'text/plain' })
        .end(notReady === undefined ? 'ok\n' : `not ready: ${notReady}\n`);
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
