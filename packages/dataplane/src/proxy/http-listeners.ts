/**
 * The client-facing HTTP and HTTPS servers of the dataplane, with hardened parsing: strict
 * llhttp (no lenient flags), bounded header size and header/request time, Host required for
 * HTTP/1.1, and parse errors answered with a short page and the connection closed. Several
 * worker processes may share a port with `reusePort` (SO_REUSEPORT, Linux).
 */
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { errorPage, type ProxyErrorCode } from './error-pages.ts';

/** Parsing and connection limits of a listener. */
export interface ListenerLimits {
  /** Largest request head (request line + headers), bytes; beyond it 431. Default 16 KiB. */
  maxHeaderSize: number;
  /** Time to receive the complete request head, ms; beyond it 408. Default 10 s. */
  headersTimeoutMs: number;
  /** Time to receive the complete request (head and body), ms; beyond it 408. Default 60 s. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive client connection is kept, ms. Default 5 s. */
  keepAliveTimeoutMs: number;
}

/** Defaults of {@link ListenerLimits}. */
export const DEFAULT_LISTENER_LIMITS: Readonly<ListenerLimits> = Object.freeze({
  maxHeaderSize: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
});

/** Options of {@link startHttpListener}. */
export interface HttpListenerOptions {
  /** Address to bind ('0.0.0.0', '::', or one VIP). */
  host: string;
  /** Port; 0 picks a free one (tests). */
  port: number;
  /** The request listener (the proxy handler). */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The upgrade listener (WebSocket...); without it upgrade requests are proxied as plain requests with Upgrade removed. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  limits?: Partial<ListenerLimits>;
  /** SO_REUSEPORT, so several processes can listen on the same address and port. */
  reusePort?: boolean;
  /** listen() backlog. Default 511 (Node's). */
  backlog?: number;
  /** Called for each connection refused at the parser (metrics). */
  onClientError?: (code: ProxyErrorCode, err: Error) => void;
}

/** Options of {@link startHttpsListener}. */
export interface HttpsListenerOptions extends HttpListenerOptions {
  /** Certificates or an SNICallback, ALPN, protocol versions... (see tls-store). */
  tlsOptions: TlsOptions;
}

/** A listening server. */
export interface RunningListener<S extends HttpServer | HttpsServer = HttpServer | HttpsServer> {
  readonly server: S;
  /** The bound port (useful with port 0). */
  readonly port: number;
  /**
   * Stops accepting, closes idle keep-alive connections at once and each busy one when its
   * response is done, and destroys whatever is still open (upgraded tunnels included) after
   * `graceMs`.
   */
  close(graceMs: number): Promise<void>;
}

/**
 * Checks listener limits and fills in defaults.
 *
 * @throws RangeError naming the first bad limit.
 */
export function resolveListenerLimits(limits: Partial<ListenerLimits> = {}): ListenerLimits {
  const resolved = { ...DEFAULT_LISTENER_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`listener limit ${name} must be a positive number, got ${value}`);
    }
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new RangeError('listener limit headersTimeoutMs must not exceed requestTimeoutMs');
  }
  return resolved;
}

/** The server options every listener uses; `upgrades`: an upgrade handler is installed. */
export function serverOptions(limits: ListenerLimits, upgrades: boolean): ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks header/request deadlines by sweeping its connections at this interval; keep
    // it a fraction of the headers timeout so a slow client is cut close to the deadline.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.headersTimeoutMs / 4)),
    insecureHTTPParser: false,
    requireHostHeader: true,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: 60_000,
    // Bodiless requests (no Content-Length, no Transfer-Encoding) get an already-ended body:
    // no stream events per GET.
    optimizeEmptyRequests: true,
    // Without an upgrade handler, upgrade requests are plain requests (Upgrade is stripped).
    shouldUpgradeCallback: upgrades ? acceptsUpgrade : () => false,
  };
}

/**
 * Which upgrade requests go to the upgrade handler: all but `h2c`. An HTTP/2 cleartext upgrade
 * answered by a pod would turn the connection into an HTTP/2 session with that pod, whose later
 * streams (any host, any path) would bypass routing; refused here, it is proxied as a plain
 * HTTP/1.1 request, which RFC 9113 allows.
 */
export function acceptsUpgrade(req: IncomingMessage): boolean {
  const protocol = req.headers.upgrade;
  return protocol !== undefined && protocol.trim().toLowerCase() !== 'h2c';
}

/**
 * The page for a parse error: 431 for an oversized head, 408 for a head or request not received
 * in time, 400 for everything else (bad syntax, conflicting Content-Length and
 * Transfer-Encoding, invalid characters...). Undefined when there is nobody to answer (the
 * client reset the connection).
 */
export function clientErrorCode(err: Error & { code?: string }): ProxyErrorCode | undefined {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return undefined;
    case 'HPE_HEADER_OVERFLOW':
      return 'PIER_HEADERS_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'HPE_HEADERS_TIMEOUT':
      return 'PIER_REQUEST_TIMEOUT';
    default:
      return 'PIER_BAD_REQUEST';
  }
}

/** How long a refused client may take to read the error page before the socket is destroyed. */
const REFUSE_GRACE_MS = 1_000;

function onClientError(
  listener: HttpListenerOptions,
  err: Error & { code?: string },
  socket: Duplex,
): void {
  const code = clientErrorCode(err);
  if (code !== undefined) listener.onClientError?.(code, err);
  // Answer only when no response of this connection has started (else the page would land in
  // the middle of it).
  const busy = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (code === undefined || busy === true || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(errorPage(code).raw);
  setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
}

function listen<S extends HttpServer | HttpsServer>(
  server: S,
  options: HttpListenerOptions,
): Promise<RunningListener<S>> {
  // Unlimited requests per connection (a property, not a constructor option).
  server.maxRequestsPerSocket = 0;
  server.on('request', options.handler);
  if (options.upgrade !== undefined) server.on('upgrade', options.upgrade);
  server.on('clientError', (err: Error, socket: Duplex) => onClientError(options, err, socket));
  // Tracked so close() can end upgraded tunnels too, which Node no longer counts as HTTP
  // connections. For TLS the raw TCP socket is tracked: destroying it ends the TLS one.
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  // The TLS socket is the one carrying the HTTP exchange (see closeServer).
  server.on('secureConnection', track);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(
      {
        host: options.host,
        port: options.port,
        backlog: options.backlog ?? 511,
        reusePort: options.reusePort ?? false,
      },
      () => {
        server.off('error', onError);
        const port = (server.address() as AddressInfo).port;
        resolve({ server, port, close: (graceMs) => closeServer(server, sockets, graceMs) });
      },
    );
  });
}

async function closeServer(
  server: HttpServer | HttpsServer,
  sockets: Set<Socket>,
  graceMs: number,
): Promise<void> {
  // Requests that still arrive on open connections are answered with `Connection: close`.
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.shouldKeepAlive = false;
  });
  // Responses not yet started on open connections say `Connection: close` too.
  for (const socket of sockets) {
    const response = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (response != null && !response.headersSent) response.shouldKeepAlive = false;
  }
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // server.close() drops the idle keep-alive connections; busy ones are dropped by the sweep
  // as soon as their response is done.
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
  });
  await Promise.race([closed, deadline]);
  clearInterval(sweep);
  clearTimeout(timer);
  server.closeAllConnections();
  for (const socket of sockets) socket.destroy();
  await closed;
}

/** Starts a plain HTTP listener. */
export function startHttpListener(
  options: HttpListenerOptions,
): Promise<RunningListener<HttpServer>> {
  const server = createHttpServer(
    serverOptions(resolveListenerLimits(options.limits), options.upgrade !== undefined),
  );
  return listen(server, options);
}

/** Starts an HTTPS listener (TLS terminated here; `tlsOptions` carries certificates or SNI). */
export function startHttpsListener(
  options: HttpsListenerOptions,
): Promise<RunningListener<HttpsServer>> {
  const server = createHttpsServer({
    ...options.tlsOptions,
    ...serverOptions(resolveListenerLimits(options.limits), options.upgrade !== undefined),
  });
  return listen(server, options);
}
