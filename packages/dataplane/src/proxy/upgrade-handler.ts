/**
 * Protocol upgrades (WebSocket and any other `Connection: Upgrade`): routed and balanced like
 * any request, then the client connection is joined to a fresh TCP connection to the endpoint
 * and bytes are piped both ways. From then on it is a pipe: it owes nothing to the route table
 * and keeps working whatever happens to it.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import {
  type Backend,
  type BasicAuth,
  type ExternalAuth,
  type RouteMatch,
  rewriteTarget,
  type UpstreamPolicy,
  unmapIPv4,
} from '@pier/shared';
import type { AuthVerdict } from '../auth/basic-auth-gate.ts';
import { applyAuthResponseHeaders } from '../auth/external-auth-request.ts';
import { errorPage, type ProxyErrorCode, rawResponse } from './error-pages.ts';
import { type ForwardedRequest, forwardRequestHeaders } from './forwarded-headers.ts';
import { applyUpstreamHost } from './nginx-string-value.ts';
import type { ProxyDeps } from './proxy-deps.ts';
import {
  type EndpointChoice,
  type Outcome,
  type ProxyEventKind,
  proxyEvent,
} from './proxy-events.ts';
import { assertProxyOptions } from './proxy-options.ts';
import type { ConnectionSlot } from './rate-limits.ts';
import { replaceHeader, replaceHost, requestTarget } from './request-target.ts';
import { challengeHeaders, dropAuthorization, refusalCode } from './route-auth.ts';
import { firstChoice, routeBackend } from './route-backend.ts';
import { routeAnswer } from './route-policy.ts';
import { type RedirectAnswer, redirectBody } from './route-redirect.ts';
import { classifyUpstreamError, eventKind, statusOutcome } from './upstream-failure.ts';

/** How long a closing side may take to flush what it still holds before it is destroyed, ms. */
const FLUSH_GRACE_MS = 10_000;

/** `HTTP/1.x NNN` at the start of the upstream's first bytes: the status, else 0. */
export function sniffStatus(chunk: Buffer): number {
  if (chunk.length < 12 || chunk.toString('latin1', 0, 7) !== 'HTTP/1.') return 0;
  const status = Number(chunk.toString('latin1', 9, 12));
  return Number.isInteger(status) && status >= 100 && status <= 999 ? status : 0;
}

/** The request head sent to the endpoint: request line, headers, blank line. */
export function upgradeRequestHead(
  method: string,
  path: string,
  headers: readonly string[],
): Buffer {
  let head = `${method} ${path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}

/** One upgrade request and, once established, its tunnel. */
class UpgradeTunnel {
  readonly #deps: ProxyDeps;
  readonly #req: IncomingMessage;
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #started = performance.now();
  #host = '';
  #virtualHost: string | undefined;
  #backend: Backend | undefined;
  /** The route's own connect and read timeouts. */
  #policy: UpstreamPolicy | undefined;
  #choice: EndpointChoice | undefined;
  #requestHead: Buffer = Buffer.alloc(0);
  #repeatable = false;
  #attempts = 0;
  #tried: Set<string> | undefined;
  #upstream: Socket | undefined;
  #connected = false;
  #responded = false;
  #status = 0;
  #headersAt = 0;
  #attemptOpen = false;
  #attemptStarted = 0;
  #done = false;
  /** The route's auth service allowed the upgrade. */
  #authorized = false;
  /** The `limit-connections` slot the upgrade holds while the tunnel is open. */
  #slot: ConnectionSlot | undefined;

  constructor(deps: ProxyDeps, req: IncomingMessage, client: Socket, head: Buffer) {
    this.#deps = deps;
    this.#req = req;
    this.#client = client;
    this.#head = head;
  }

  start(): void {
    const req = this.#req;
    const client = this.#client;
    const options = this.#deps.options;
    client.on('error', () => this.#clientClosed());
    client.on('close', () => this.#clientClosed());
    const remote = client.remoteAddress ?? '';
    const head = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: remote,
      trusted: remote !== '' && options.trustedProxies(unmapIPv4(remote)),
      scheme: options.scheme,
      localPort: client.localPort ?? 0,
      upgrade: true,
    });
    this.#host = head.host ?? '';
    const target = requestTarget(req.url);
    if (target === undefined || head.hostCount > 1 || head.host === undefined) {
      this.#refuse('PIER_BAD_REQUEST');
      return;
    }
    if (target.authority !== undefined) {
      this.#host = target.authority;
      replaceHost(head.headers, target.authority);
    }
    const match = this.#deps.lookup(unmapIPv4(client.localAddress ?? ''), this.#host, target.path);
    if (match === undefined) {
      this.#refuse('PIER_NO_ROUTE');
      return;
    }
    this.#virtualHost = match.virtualHost.host;
    const instead = routeAnswer(
      match,
      options,
      {
        host: this.#host,
        target: target.path,
        remoteAddress: remote,
        method: req.method ?? 'GET',
        origin: req.headers.origin,
        upgrade: true,
      },
      this.#deps.rateLimits,
    );
    if (instead !== undefined && !('held' in instead)) {
      if ('redirect' in instead) this.#redirect(instead.redirect);
      else if ('limited' in instead) this.#refuse('PIER_RATE_LIMITED');
      else this.#refuse('PIER_FORBIDDEN');
      return;
    }
    // Released when the tunnel closes, or when the upgrade is refused.
    this.#slot = instead?.held;
    const auth = match.route?.basicAuth;
    if (auth !== undefined) {
      const verdict = this.#deps.basicAuth?.check(auth, req.headers.authorization) ?? 'unavailable';
      if (typeof verdict !== 'string') {
        verdict.then(
          (settled) => this.#afterAuth(settled, auth, match, target.path, head),
          () => this.#afterAuth('unavailable', auth, match, target.path, head),
        );
        return;
      }
      if (verdict !== 'allow') {
        this.#refuse(refusalCode(verdict), challengeHeaders(verdict, auth.realm));
        return;
      }
    }
    this.#forward(match, target.path, head);
  }

  /** Goes on once the credentials were checked (the client may have left meanwhile). */
  #afterAuth(
    verdict: AuthVerdict,
    auth: BasicAuth,
    match: RouteMatch,
    path: string,
    head: ForwardedRequest,
  ): void {
    if (this.#done) return;
    if (this.#client.destroyed) {
      this.#done = true;
      this.#slot?.release();
      this.#observe('client-abort', 499, undefined);
    } else if (verdict !== 'allow') {
      this.#refuse(refusalCode(verdict), challengeHeaders(verdict, auth.realm));
    } else {
      this.#forward(match, path, head);
    }
  }

  /** Connects to an endpoint for the upgrade the route admitted. */
  #forward(match: RouteMatch, targetPath: string, head: ForwardedRequest): void {
    const external = match.route?.externalAuth;
    if (external !== undefined && !this.#authorized) {
      this.#askAuthService(external, match, targetPath, head);
      return;
    }
    const req = this.#req;
    const options = this.#deps.options;
    if (match.route?.basicAuth !== undefined) dropAuthorization(head.headers);
    const backend =
      match.split === undefined ? match.backend : routeBackend(match, req, this.#deps);
    this.#policy = match.route?.upstream;
    const method = req.method ?? 'GET';
    const path = match.route === undefined ? targetPath : rewriteTarget(match.route, targetPath);
    const prefix = match.route?.forwardedPrefix;
    if (prefix !== undefined) replaceHeader(head.headers, 'x-forwarded-prefix', prefix);
    const upstreamHost = match.route?.upstreamHost;
    if (upstreamHost !== undefined) applyUpstreamHost(head.headers, upstreamHost, req);
    this.#requestHead = upgradeRequestHead(method, path, head.headers);
    this.#repeatable =
      options.maxRetries > 0 &&
      (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') &&
      head.contentLength === undefined &&
      !head.chunked;
    // Custom errors are not applied to upgrades (their response is a tunnel, not a page).
    const first = firstChoice(match, backend, req, this.#deps);
    this.#backend = first.backend;
    const choice = first.choice;
    if (choice === undefined) {
      this.#refuse('PIER_NO_ENDPOINT');
      return;
    }
    this.#attempt(choice);
  }

  /** Goes on to {@link #forward} once the route's auth service allowed the upgrade. */
  #askAuthService(
    auth: ExternalAuth,
    match: RouteMatch,
    path: string,
    head: ForwardedRequest,
  ): void {
    const client = this.#deps.externalAuth;
    if (client === undefined) {
      this.#refuse('PIER_AUTH_SERVICE_INVALID');
      return;
    }
    void client.check(auth, this.#req).then((answer) => {
      if (this.#done) return;
      if (this.#client.destroyed) {
        this.#done = true;
        this.#slot?.release();
        this.#observe('client-abort', 499, undefined);
      } else if (answer.kind === 'allow') {
        applyAuthResponseHeaders(head.headers, auth.responseHeaders ?? [], answer.response);
        this.#authorized = true;
        this.#forward(match, path, head);
      } else if (answer.kind === 'signin') {
        this.#redirect({ status: 302, location: answer.location }, answer.headers);
      } else this.#refuse(answer.code, answer.headers);
    });
  }

  #attempt(choice: EndpointChoice): void {
    const backend = this.#backend as Backend;
    const options = this.#deps.options;
    this.#choice = choice;
    this.#attempts++;
    this.#attemptOpen = true;
    this.#attemptStarted = performance.now();
    this.#deps.begin(backend.id, choice.id);
    const where = {
      host: choice.address,
      port: choice.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
    };
    // An HTTPS backend: TLS without SNI, the pod's certificate not verified, as its requests.
    const upstream =
      backend.protocol === 'https'
        ? tlsConnect({ ...where, rejectUnauthorized: false })
        : connect(where);
    this.#upstream = upstream;
    upstream.setTimeout(this.#policy?.connectTimeoutMs ?? options.connectTimeoutMs);
    const onConnectTimeout = (): void => {
      upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    };
    upstream.once('timeout', onConnectTimeout);
    upstream.once('connect', () => {
      upstream.off('timeout', onConnectTimeout);
      this.#connected = true;
      if (this.#done) return;
      // Until the endpoint answers, the headers timeout applies; the tunnel itself has none.
      upstream.setTimeout(this.#policy?.readTimeoutMs ?? options.headersTimeoutMs);
      upstream.once('timeout', () => {
        if (!this.#responded) {
          upstream.destroy(
            Object.assign(new Error('no response in time'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
          );
        }
      });
      upstream.write(this.#requestHead);
      if (this.#head.length > 0) upstream.write(this.#head);
      upstream.once('data', (chunk: Buffer) => this.#onFirstBytes(upstream, chunk));
      this.#client.pipe(upstream);
    });
    upstream.on('error', (err) => this.#upstreamFailed(upstream, err));
    upstream.on('close', () => this.#upstreamClosed(upstream));
  }

  #onFirstBytes(upstream: Socket, chunk: Buffer): void {
    this.#responded = true;
    this.#headersAt = performance.now();
    upstream.setTimeout(0);
    this.#status = sniffStatus(chunk);
    this.#observe('proxied', this.#status, undefined);
    const client = this.#client;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    client.write(chunk);
    upstream.pipe(client);
  }

  #upstreamFailed(upstream: Socket, err: Error): void {
    if (upstream !== this.#upstream || this.#done) return;
    if (this.#responded) {
      // A broken tunnel: nothing to answer, just close both sides.
      this.#finish('failure', 'PIER_UPSTREAM_RESET');
      this.#client.destroy();
      return;
    }
    const failure = classifyUpstreamError(err, this.#connected);
    this.#endAttempt(failure.outcome, failure.code);
    if (
      !this.#connected &&
      failure.retriable &&
      this.#repeatable &&
      this.#attempts <= this.#deps.options.maxRetries &&
      !this.#client.destroyed
    ) {
      this.#tried ??= new Set();
      const tried = this.#tried;
      tried.add((this.#choice as EndpointChoice).id);
      const next = this.#deps.choose(this.#backend as Backend, this.#req, tried);
      if (next !== undefined) {
        this.#attempt(next);
        return;
      }
    }
    this.#refuse(failure.code);
  }

  #upstreamClosed(upstream: Socket): void {
    if (upstream !== this.#upstream || this.#done) return;
    if (!this.#responded) {
      // Closed without a word (and without an error event): as a reset before the response.
      this.#upstreamFailed(
        upstream,
        Object.assign(new Error('upstream closed'), { code: 'UND_ERR_SOCKET' }),
      );
      return;
    }
    this.#finish(statusOutcome(this.#status));
    const client = this.#client;
    if (!client.destroyed) {
      client.end();
      setTimeout(() => client.destroy(), FLUSH_GRACE_MS).unref();
    }
  }

  #clientClosed(): void {
    if (this.#done) return;
    const upstream = this.#upstream;
    if (upstream === undefined) {
      this.#done = true;
      this.#slot?.release();
      return;
    }
    this.#finish(this.#responded ? statusOutcome(this.#status) : 'aborted');
    if (!this.#responded) this.#observe('client-abort', 499, undefined);
    upstream.destroy();
  }

  #finish(outcome: Outcome, cause?: ProxyErrorCode): void {
    this.#done = true;
    this.#slot?.release();
    this.#endAttempt(outcome, cause);
  }

  #endAttempt(outcome: Outcome, cause?: ProxyErrorCode): void {
    if (!this.#attemptOpen) return;
    this.#attemptOpen = false;
    this.#deps.end(
      (this.#backend as Backend).id,
      (this.#choice as EndpointChoice).id,
      outcome,
      performance.now() - this.#attemptStarted,
      cause,
    );
  }

  /** Answers with Pier's page straight on the socket and closes it. */
  #refuse(code: ProxyErrorCode, extra: readonly string[] = []): void {
    const page = errorPage(code);
    this.#observe(eventKind(code), page.status, code);
    this.#endWith(extra.length === 0 ? page.raw : rawResponse(page, extra));
  }

  /** Answers the route's redirect straight on the socket and closes it. */
  #redirect(answer: RedirectAnswer, extra: readonly string[] = []): void {
    this.#observe('redirect', answer.status, undefined);
    const body = redirectBody(answer);
    const reason = STATUS_CODES[answer.status] ?? 'Redirect';
    let more = '';
    for (let i = 0; i < extra.length; i += 2) more += `${extra[i]}: ${extra[i + 1]}\r\n`;
    this.#endWith(
      `HTTP/1.1 ${answer.status} ${reason}\r\nlocation: ${answer.location}\r\n${more}content-type: text/html\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  #endWith(raw: string | Buffer): void {
    this.#done = true;
    this.#slot?.release();
    const client = this.#client;
    if (client.destroyed) return;
    if (client.writable) {
      client.end(raw);
      setTimeout(() => client.destroy(), FLUSH_GRACE_MS).unref();
    } else {
      client.destroy();
    }
  }

  #observe(kind: ProxyEventKind, status: number, code: ProxyErrorCode | undefined): void {
    const facts = {
      host: this.#host,
      virtualHost: this.#virtualHost,
      backend: this.#backend,
      choice: this.#choice,
      started: this.#started,
      headersAt: this.#headersAt,
      attempts: this.#attempts,
    };
    this.#deps.observe(proxyEvent(facts, kind, status, code));
  }
}

/**
 * The `upgrade` listener of the proxy.
 *
 * Routing, endpoint choice, X-Forwarded-* headers and the error answers (404/503/502/504,
 * written raw to the socket with `Connection: close`) are those of the proxy handler. The
 * endpoint gets a new TCP connection (connect timeout `connectTimeoutMs`, retried on another
 * endpoint like an idempotent request when the connection fails), the request head with
 * `Upgrade` and `Connection: Upgrade` kept, and the bytes the client sent after it. Then both
 * directions are piped until either side closes; an error on either side closes both.
 *
 * Until the endpoint's first byte the headers timeout applies; the tunnel itself has no idle
 * timeout (WebSockets may be quiet for long; TCP keep-alive finds dead peers). `begin` is called
 * at connect and `end` when the tunnel closes, so balancing counts open tunnels as load; the
 * outcome follows the endpoint's status (101 is a success). `observe` is called once the
 * endpoint answered, with its status, or with Pier's error.
 *
 * A non-101 answer is passed through as well and the connection stays a pipe to that endpoint
 * until one side closes it.
 */
export function createUpgradeHandler(
  deps: ProxyDeps,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const checked: ProxyDeps = { ...deps, options: assertProxyOptions(deps.options) };
  return (req, socket, head) => {
    new UpgradeTunnel(checked, req, socket as Socket, head).start();
  };
}
