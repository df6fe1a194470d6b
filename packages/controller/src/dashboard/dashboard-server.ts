/**
 * The dashboard's HTTP server: read-only pages rendered from a {@link DashboardSource}, a live
 * stream that pushes a page's new content when it changes (server-sent events, checked once per
 * `intervalMs`, 1 s by default), and the same state as JSON for scripts. It changes nothing:
 * only GET and HEAD are answered, and no view holds key material or a password.
 *
 * The state is read at most once per interval however many viewers there are, and only while
 * someone looks: with no page open nothing is read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PierLogger } from '@pier/shared';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard-assets.ts';
import { renderContent, renderDocument, renderNotFound } from './dashboard-pages.ts';
import type { DashboardState } from './dashboard-state.ts';

/** Where the dashboard's state comes from. */
export interface DashboardSource {
  read(): Promise<DashboardState>;
}

export interface DashboardServerOptions {
  host: string;
  port: number;
  source: DashboardSource;
  logger: PierLogger;
  /** How often live pages are checked for changes, ms (default 1000: at most once a second). */
  intervalMs?: number;
  /** Live streams open at once; more are refused with 503 (default 64). */
  maxStreams?: number;
}

export interface DashboardServer {
  readonly port: number;
  /** `http://host:port/` as a user would open it. */
  readonly url: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const ASSETS: Record<string, { type: string; body: string }> = {
  '/assets/dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
  '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_JS },
};

interface Stream {
  res: ServerResponse;
  path: string;
  query: URLSearchParams;
  /** The content last sent. */
  sent: string | undefined;
}

export async function startDashboardServer(
  options: DashboardServerOptions,
): Promise<DashboardServer> {
  const intervalMs = options.intervalMs ?? 1_000;
  const maxStreams = options.maxStreams ?? 64;
  const log = options.logger;
  const streams = new Set<Stream>();
  let cached: { at: number; state: Promise<DashboardState> } | undefined;
  let timer: NodeJS.Timeout | undefined;

  /** The state, read again only when the last read is older than the interval. */
  const read = (): Promise<DashboardState> => {
    const now = performance.now();
    if (cached === undefined || now - cached.at >= intervalMs * 0.9) {
      const state = options.source.read();
      cached = { at: now, state };
      state.catch(() => {
        if (cached?.state === state) cached = undefined;
      });
    }
    return cached.state;
  };

  const push = async (): Promise<void> => {
    let state: DashboardState;
    try {
      state = await read();
    } catch (err) {
      log.warn({ err: String(err) }, 'dashboard: reading the state failed');
      return;
    }
    for (const stream of streams) {
      const content =
        renderContent(state, stream.path, stream.query) ?? renderNotFound('It is gone.');
      if (content !== stream.sent) {
        stream.sent = content;
        stream.res.write(`event: content\ndata: ${JSON.stringify({ html: content })}\n\n`);
      }
      stream.res.write(`event: tick\ndata: ${JSON.stringify({ at: state.at })}\n\n`);
    }
  };

  const openStream = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (streams.size >= maxStreams) {
      res.writeHead(503, { ...SECURITY_HEADERS, 'retry-after': '5' }).end('too many viewers\n');
      return;
    }
    const page = new URL(url.searchParams.get('page') ?? '/', 'http://dashboard');
    const stream: Stream = { res, path: page.pathname, query: page.searchParams, sent: undefined };
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    // A reconnecting browser waits this long (ms) before it tries again.
    res.write('retry: 2000\n\n');
    streams.add(stream);
    req.socket.setTimeout(0);
    const done = (): void => {
      streams.delete(stream);
      if (streams.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
    };
    res.on('close', done);
    timer ??= setInterval(() => void push(), intervalMs);
    void push();
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const asset = ASSETS[url.pathname];
    if (asset !== undefined) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type }).end(asset.body);
      return;
    }
    if (url.pathname === '/live') {
      openStream(req, res, url);
      return;
    }
    if (url.pathname === '/api/state') {
      const state = await read();
      res
        .writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' })
        .end(JSON.stringify(state));
      return;
    }
    const state = await read();
    const content = renderContent(state, url.pathname, url.searchParams);
    const status = content === undefined ? 404 : 200;
    const body = renderDocument(
      url.pathname,
      url.searchParams,
      content ?? renderNotFound(`Nothing at ${url.pathname}${url.search}.`),
    );
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server: Server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      log.warn({ err: String(err), url: req.url }, 'dashboard: answering failed');
      if (!res.headersSent) res.writeHead(503, SECURITY_HEADERS);
      res.end('the state could not be read; try again\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // the live stream stays open; headersTimeout still bounds a request
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const stream of streams) stream.res.end();
        streams.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
