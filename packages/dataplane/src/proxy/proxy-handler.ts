/**
 * The HTTP reverse proxy: one request in, route lookup, endpoint choice, one upstream exchange
 * (retried on another endpoint when that is safe), the response streamed back. Everything with
 * state or policy (the route table, balancing, health, metrics) is injected through
 * {@link ProxyDeps}; this file only moves bytes and decides what went wrong.
 *
 * Upstream requests go through undici's low-level `Dispatcher.dispatch` with the exchange object
 * itself as the handler: no promise, no intermediate body stream, no per-chunk closure. Request
 * bodies are handed to undici as the `IncomingMessage` itself (chunked ones through a counting
 * Transform); response chunks are written to the `ServerResponse` as they arrive, with
 * backpressure through the dispatch controller's pause/resume.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Backend,
  type BasicAuth,
  type ExternalAuth,
  interceptsOwn,
  interceptsUpstream,
  type RetryCondition,
  type RouteMatch,
  retryAllowed,
  rewriteTarget,
  type UpstreamPolicy,
  unmapIPv4,
} from '@pier/shared';
import type { Dispatcher } from 'undici';
import type { AuthVerdict } from '../auth/basic-auth-gate.ts';
import { cookiesFor } from '../auth/external-auth.ts';
import { applyAuthResponseHeaders } from '../auth/external-auth-request.ts';
import { BodyLimit } from './body-limit.ts';
import {
  type ErrorAnswer,
  ErrorExchange,
  errorContext,
  type FallbackPage,
  statusPage,
} from './error-intercept.ts';
import { errorPage, type ProxyErrorCode } from './error-pages.ts';
import {
  BODY_TOO_LARGE,
  CLIENT_GONE,
  INTERCEPTED,
  markedError,
  RETRY_STATUS,
} from './exchange-marks.ts';
import { forwardRequestHeaders, forwardResponseHeaders } from './forwarded-headers.ts';
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
import { corsFor, routeAnswer, withHeaders } from './route-policy.ts';
import { type RedirectAnswer, redirectBody } from './route-redirect.ts';
import { SendWatch } from './send-watch.ts';
import { classifyUpstreamError, eventKind, statusOutcome } from './upstream-failure.ts';

export type { ProxyDeps };

/** Methods that may be sent twice (RFC 9110 §9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

/** The most of an intercepted response dropped to keep its connection; past it, cut. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * One client request: routing, attempts, streaming. Also the undici dispatch handler of its
 * attempts (one object, its methods on the prototype).
 */
class ProxyExchange implements Dispatcher.DispatchHandler {
  readonly #deps: ProxyDeps;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #started = performance.now();
  #host = '';
  #virtualHost: string | undefined;
  #backend: Backend | undefined;
  /** The match, while its route has custom errors (`Route.errors`) that may still apply. */
  #errorsOf: RouteMatch | undefined;
  /** Bytes of the intercepted response still dropped before its connection is cut instead. */
  #drainLeft: number | undefined;
  /** The CORS headers the response gets (the route's policy admits the Origin). */
  #cors: string[] | undefined;
  /** The `limit-connections` slot this request holds until it is over. */
  #slot: ConnectionSlot | undefined;
  #choice: EndpointChoice | undefined;
  #path = '/';
  #headers: string[] = [];
  #body: IncomingMessage | BodyLimit | null = null;
  /** The body, when the route has a send timeout (`upstream.sendTimeoutMs`). */
  #watch: SendWatch | undefined;
  /** Idempotent, bodiless: may be sent again after a failure (the dataplane's own rule). */
  #repeatable = false;
  #hasBody = false;
  /** The route's own timeouts and retry policy. */
  #upstream: UpstreamPolicy | undefined;
  /** The endpoint the next attempt goes to, chosen before a status retry aborts the current one. */
  #retryTo: EndpointChoice | undefined;
  #attempts = 0;
  #tried: Set<string> | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** undici began writing the current attempt's request (onRequestStart). */
  #sent = false;
  #status = 0;
  #headersAt = 0;
  #attemptOpen = false;
  #attemptStarted = 0;
  #done = false;
  #clientGone = false;
  #onDrain: (() => void) | undefined;
  /** The route's auth service allowed the request; its cookies go on the response. */
  #authorized: { auth: ExternalAuth; cookies: string[] } | undefined;

  constructor(deps: ProxyDeps, req: IncomingMessage, res: ServerResponse) {
    this.#deps = deps;
    this.#req = req;
    this.#res = res;
  }

  start(): void {
    const req = this.#req;
    const socket = req.socket;
    const options = this.#deps.options;
    const remote = socket.remoteAddress ?? '';
    const head = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: remote,
      trusted: remote !== '' && options.trustedProxies(unmapIPv4(remote)),
      scheme: options.scheme,
      localPort: socket.localPort ?? 0,
      upgrade: false,
    });
    this.#host = head.host ?? '';
    const target = requestTarget(req.url);
    if (
      target === undefined ||
      head.hostCount > 1 ||
      (head.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)
    ) {
      this.#answer('PIER_BAD_REQUEST', true);
      return;
    }
    if (target.authority !== undefined) {
      this.#host = target.authority;
      replaceHost(head.headers, target.authority);
    }
    this.#path = target.path;
    this.#headers = head.headers;

    const match = this.#deps.lookup(unmapIPv4(socket.localAddress ?? ''), this.#host, target.path);
    if (match === undefined) {
      this.#answer('PIER_NO_ROUTE', false);
      return;
    }
    this.#virtualHost = match.virtualHost.host;
    if (match.route?.errors !== undefined) this.#errorsOf = match;
    const length = head.contentLength === undefined ? 0 : Number(head.contentLength);
    // As nginx: the known body size first, then the redirects, then who may ask.
    const routeLimit = match.route?.maxBodyBytes;
    const bodyLimit =
      routeLimit === undefined
        ? options.maxRequestBodyBytes
        : routeLimit === 0
          ? Infinity
          : routeLimit;
    if (length > bodyLimit) {
      this.#answer('PIER_BODY_TOO_LARGE', true);
      return;
    }
    // `req.headers` is built on first use: only routes with a CORS policy pay for it.
    const origin = match.route?.cors === undefined ? undefined : req.headers.origin;
    const instead = routeAnswer(
      match,
      options,
      {
        host: this.#host,
        target: target.path,
        remoteAddress: remote,
        method: req.method ?? 'GET',
        origin,
      },
      this.#deps.rateLimits,
    );
    const close = length > 0 || head.chunked;
    if (instead !== undefined && !('held' in instead)) {
      if ('redirect' in instead) this.#redirect(instead.redirect, close);
      else if ('preflight' in instead) this.#preflight(instead.preflight, close);
      else if ('limited' in instead) this.#answer('PIER_RATE_LIMITED', close);
      else this.#answer('PIER_FORBIDDEN', close);
      return;
    }
    // Released when the request is over (#observe), whatever ends it.
    this.#slot = instead?.held;
    const auth = match.route?.basicAuth;
    if (auth !== undefined) {
      // After the access rules, as nginx's access phase: a refused address gets 403 first.
      const verdict = this.#deps.basicAuth?.check(auth, req.headers.authorization) ?? 'unavailable';
      if (typeof verdict === 'string') {
        if (verdict !== 'allow') {
          this.#refuseAuth(verdict, auth, close);
          return;
        }
      } else {
        verdict.then(
          (settled) => {
            if (this.#res.destroyed) {
              this.#done = true;
              this.#observe('client-abort', 499, undefined);
            } else if (settled !== 'allow') this.#refuseAuth(settled, auth, close);
            else this.#forward(match, target.path, length, head.chunked, bodyLimit, origin);
          },
          () => this.#refuseAuth('unavailable', auth, close),
        );
        return;
      }
    }
    this.#forward(match, target.path, length, head.chunked, bodyLimit, origin);
  }

  /** Proxies the request the route admitted. */
  #forward(
    match: RouteMatch,
    path: string,
    length: number,
    chunked: boolean,
    bodyLimit: number,
    origin: string | undefined,
  ): void {
    const external = match.route?.externalAuth;
    if (external !== undefined && this.#authorized === undefined) {
      // After basic authentication, as nginx's access phase (both must pass).
      this.#askAuthService(external, match, path, length, chunked, bodyLimit, origin);
      return;
    }
    const req = this.#req;
    const options = this.#deps.options;
    if (match.route?.basicAuth !== undefined) dropAuthorization(this.#headers);
    this.#cors = corsFor(match, origin);
    // Chosen once, before the endpoint: retries stay on it, metrics name it.
    const backend =
      match.split === undefined ? match.backend : routeBackend(match, req, this.#deps);
    if (match.route?.rewriteTarget !== undefined) this.#path = rewriteTarget(match.route, path);
    const prefix = match.route?.forwardedPrefix;
    if (prefix !== undefined) replaceHeader(this.#headers, 'x-forwarded-prefix', prefix);
    const upstreamHost = match.route?.upstreamHost;
    if (upstreamHost !== undefined) applyUpstreamHost(this.#headers, upstreamHost, req);

    const hasBody = length > 0 || chunked;
    this.#hasBody = hasBody;
    this.#upstream = match.route?.upstream;
    this.#repeatable = !hasBody && options.maxRetries > 0 && IDEMPOTENT.has(req.method ?? '');

    const first = firstChoice(match, backend, req, this.#deps);
    this.#backend = first.backend;
    const choice = first.choice;
    if (choice === undefined) {
      this.#answer('PIER_NO_ENDPOINT', hasBody);
      return;
    }
    const sendTimeout = this.#upstream?.sendTimeoutMs;
    if (hasBody && sendTimeout !== undefined) {
      this.#watch = new SendWatch(chunked ? bodyLimit : Infinity, sendTimeout);
      this.#body = req.pipe(this.#watch);
    } else if (length > 0) {
      this.#body = req;
    } else if (chunked) {
      const limit = new BodyLimit(bodyLimit);
      req.pipe(limit);
      this.#body = limit;
    }
    this.#res.on('close', () => this.#onClientClose());
    this.#attempt(choice);
  }

  /** Goes on to {@link #forward} once the route's auth service allowed the request. */
  #askAuthService(
    auth: ExternalAuth,
    match: RouteMatch,
    path: string,
    length: number,
    chunked: boolean,
    bodyLimit: number,
    origin: string | undefined,
  ): void {
    const close = length > 0 || chunked;
    const client = this.#deps.externalAuth;
    if (client === undefined) {
      this.#answer('PIER_AUTH_SERVICE_INVALID', close);
      return;
    }
    void client.check(auth, this.#req).then((answer) => {
      if (this.#res.destroyed) {
        this.#done = true;
        this.#observe('client-abort', 499, undefined);
      } else if (answer.kind === 'allow') {
        applyAuthResponseHeaders(this.#headers, auth.responseHeaders ?? [], answer.response);
        this.#authorized = { auth, cookies: answer.cookies };
        this.#forward(match, path, length, chunked, bodyLimit, origin);
      } else if (answer.kind === 'signin') {
        this.#redirect({ status: 302, location: answer.location }, close, answer.headers);
      } else this.#answer(answer.code, close, answer.headers);
    });
  }

  /** A request the route's basic authentication refuses: 401 with the challenge, or 503. */
  #refuseAuth(verdict: Exclude<AuthVerdict, 'allow'>, auth: BasicAuth, close: boolean): void {
    this.#answer(refusalCode(verdict), close, challengeHeaders(verdict, auth.realm));
  }

  #attempt(choice: EndpointChoice): void {
    const deps = this.#deps;
    const backend = this.#backend as Backend;
    this.#choice = choice;
    this.#sent = false;
    this.#controller = undefined;
    this.#attempts++;
    this.#attemptOpen = true;
    this.#attemptStarted = performance.now();
    deps.begin(backend.id, choice.id);
    const upstream = this.#upstream;
    const read = upstream?.readTimeoutMs;
    try {
      const pool = deps.dispatchers.for(
        choice.address,
        choice.port,
        choice.id,
        backend.id,
        upstream?.connectTimeoutMs,
        backend.protocol === 'https',
      );
      pool.dispatch(
        {
          path: this.#path,
          method: this.#req.method as Dispatcher.HttpMethod,
          headers: this.#headers,
          body: this.#body,
          headersTimeout: read ?? deps.options.headersTimeoutMs,
          bodyTimeout: read ?? deps.options.idleTimeoutMs,
        },
        this,
      );
    } catch (err) {
      // Only a closed set of pools throws here (shutdown); dispatch reports everything else
      // through onResponseError.
      this.onResponseError(undefined, err as Error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#sent = true;
    if (this.#clientGone) controller.abort(markedError('client went away', CLIENT_GONE));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) {
      // Interim responses: 103 Early Hints is passed on (its Link headers), others dropped; the
      // final response follows on the same exchange.
      const link = headers.link;
      if (statusCode === 103 && link !== undefined && !this.#res.headersSent) {
        this.#res.writeEarlyHints({ link });
      }
      return;
    }
    this.#status = statusCode;
    const retry = this.#upstream?.retry;
    if (
      retry !== undefined &&
      retry.statuses.length > 0 &&
      retryAllowed(retry, this.#retryState(), { status: statusCode })
    ) {
      // As nginx: another endpoint gets the request, and this response is dropped unread; with
      // no endpoint left, this response is the answer.
      this.#retryTo = this.#nextEndpoint(false);
      if (this.#retryTo !== undefined) {
        controller.abort(markedError(`retrying after status ${statusCode}`, RETRY_STATUS));
        return;
      }
    }
    const errors = this.#errorsOf?.route?.errors;
    if (errors !== undefined && interceptsUpstream(errors, statusCode)) {
      // Dropped, as nginx's proxy_intercept_errors; answered once it is over (onResponseEnd).
      this.#drainLeft = DRAIN_LIMIT;
      return;
    }
    this.#headersAt = performance.now();
    this.#watch?.stop(); // As nginx: once the response is the client's, sending is not timed.
    const forwarded = forwardResponseHeaders(headers, this.#choice?.setCookie);
    const list = this.#cors === undefined ? forwarded : withHeaders(forwarded, this.#cors);
    if (this.#authorized !== undefined && this.#authorized.cookies.length > 0) {
      const { auth, cookies } = this.#authorized;
      for (const cookie of cookiesFor(auth, cookies, statusCode)) list.push('set-cookie', cookie);
    }
    try {
      if (statusMessage) this.#res.writeHead(statusCode, statusMessage, list);
      else this.#res.writeHead(statusCode, list);
    } catch (err) {
      // Node refuses what it cannot write (bad characters in the status line or a header).
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#drainLeft !== undefined) {
      this.#drainLeft -= chunk.length;
      if (this.#drainLeft < 0) controller.abort(markedError('long error body', INTERCEPTED));
      return;
    }
    if (this.#res.write(chunk)) return;
    controller.pause();
    if (this.#onDrain === undefined) {
      this.#onDrain = () => this.#controller?.resume();
      this.#res.on('drain', this.#onDrain);
    }
  }

  onResponseEnd(): void {
    if (this.#done) return;
    if (this.#drainLeft !== undefined) {
      this.#endAttempt(statusOutcome(this.#status));
      this.#intercept(statusPage(this.#status), this.#body !== null, [], undefined);
      return;
    }
    this.#done = true;
    this.#res.end();
    this.#endAttempt(statusOutcome(this.#status));
    this.#observe('proxied', this.#status, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.#done) return;
    const res = this.#res;
    const code = (err as { code?: unknown }).code;
    if (this.#clientGone || code === CLIENT_GONE || res.destroyed) {
      this.#done = true;
      this.#endAttempt('aborted');
      this.#observe('client-abort', res.headersSent ? this.#status : 499, undefined);
      return;
    }
    if (code === RETRY_STATUS && this.#retryTo !== undefined) {
      const next = this.#retryTo;
      this.#retryTo = undefined;
      this.#endAttempt(statusOutcome(this.#status));
      this.#status = 0;
      this.#attempt(next);
      return;
    }
    // Cut while dropped (too long, or the upstream failed): the status is what counts.
    if (code === INTERCEPTED || this.#drainLeft !== undefined) {
      this.#endAttempt(statusOutcome(this.#status));
      this.#intercept(statusPage(this.#status), this.#body !== null, [], undefined);
      return;
    }
    if (code === BODY_TOO_LARGE) {
      this.#endAttempt('aborted');
      this.#answer('PIER_BODY_TOO_LARGE', true);
      return;
    }
    if (res.headersSent) {
      // The response is under way: all that can be said is to cut it.
      this.#done = true;
      this.#endAttempt('failure', 'PIER_UPSTREAM_RESET');
      this.#debug(err, 'upstream failed during the response');
      this.#observe('upstream-error', this.#status, 'PIER_UPSTREAM_RESET');
      res.destroy();
      return;
    }
    const failure = classifyUpstreamError(err, this.#sent);
    this.#endAttempt(failure.outcome, failure.code);
    this.#debug(err, 'upstream attempt failed');
    if (this.#mayRetry(failure.retriable, failure.condition)) {
      // A reset on a reused connection says little about the pod: with no other endpoint left,
      // the same one gets the next attempt (on a fresh connection).
      const next = this.#nextEndpoint(failure.code === 'PIER_UPSTREAM_RESET');
      if (next !== undefined) {
        this.#attempt(next);
        return;
      }
    }
    this.#answer(failure.code, this.#body !== null || failure.code === 'PIER_BAD_REQUEST');
  }

  /**
   * Whether a failed attempt is sent again: by the route's retry policy when it has one
   * (`condition` in nginx's words), else by the dataplane's rule (`retriable`, idempotent,
   * bodiless, within `maxRetries`).
   */
  #mayRetry(retriable: boolean, condition: RetryCondition | undefined): boolean {
    const retry = this.#upstream?.retry;
    if (retry === undefined) {
      return retriable && this.#repeatable && this.#attempts <= this.#deps.options.maxRetries;
    }
    return condition !== undefined && retryAllowed(retry, this.#retryState(), { condition });
  }

  #retryState() {
    return {
      method: this.#req.method ?? 'GET',
      hasBody: this.#hasBody,
      attempts: this.#attempts,
      elapsedMs: performance.now() - this.#started,
    };
  }

  /** An endpoint not tried yet; else, when `sameAgain`, the one that just failed. */
  #nextEndpoint(sameAgain: boolean): EndpointChoice | undefined {
    const failed = this.#choice as EndpointChoice;
    this.#tried ??= new Set();
    this.#tried.add(failed.id);
    return (
      this.#deps.choose(this.#backend as Backend, this.#req, this.#tried) ??
      (sameAgain ? failed : undefined)
    );
  }

  #onClientClose(): void {
    if (this.#done || this.#res.writableFinished) return;
    this.#clientGone = true;
    const controller = this.#controller;
    if (controller !== undefined && !controller.aborted) {
      controller.abort(markedError('client went away', CLIENT_GONE));
    }
  }

  #endAttempt(outcome: Outcome, cause?: ProxyErrorCode): void {
    if (!this.#attemptOpen) return;
    this.#attemptOpen = false;
    this.#watch?.stop();
    const backend = this.#backend as Backend;
    const choice = this.#choice as EndpointChoice;
    const duration = performance.now() - this.#attemptStarted;
    this.#deps.end(backend.id, choice.id, outcome, duration, cause);
  }

  /**
   * Pier's own answer. `close` asks the client to open a new connection afterwards: for bad
   * requests, and when a request body may be left unread.
   */
  #answer(code: ProxyErrorCode, close: boolean, extra: readonly string[] = []): void {
    this.#done = true;
    const page = errorPage(code);
    const res = this.#res;
    const errors = this.#errorsOf?.route?.errors;
    if (errors !== undefined && !res.headersSent && interceptsOwn(errors, page.status)) {
      this.#intercept(page, close, extra, code);
      return;
    }
    this.#observe(eventKind(code), page.status, code);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const headers = close ? page.closingHeaders : page.headers;
    res.writeHead(page.status, (extra.length === 0 ? headers : [...headers, ...extra]) as string[]);
    res.end(page.body);
  }

  /**
   * Hands the response to the route's error backend (error-intercept.ts), once: its own errors
   * are never intercepted again. `code`: Pier's own answer being replaced, if it is one.
   */
  #intercept(
    page: FallbackPage,
    close: boolean,
    extra: readonly string[],
    code: ProxyErrorCode | undefined,
  ): void {
    const match = this.#errorsOf as RouteMatch;
    this.#errorsOf = undefined;
    this.#done = true;
    const done = (answer: ErrorAnswer, status: number): void => {
      this.#deps.intercepted?.(page.status, answer);
      if (answer === 'page' && code !== undefined) this.#observe(eventKind(code), status, code);
      else this.#observe(status === 499 ? 'client-abort' : 'proxied', status, undefined);
    };
    const context = errorContext(match, this.#req, page.status);
    const ask = { backend: match.errorBackend, forwarded: this.#headers, context, page, extra };
    new ErrorExchange(this.#deps, this.#req, this.#res, { ...ask, close, done }).start();
  }

  /** A CORS preflight the route admits: 204 with its headers, as ingress-nginx answers it. */
  #preflight(cors: readonly string[], close: boolean): void {
    this.#done = true;
    this.#observe('preflight', 204, undefined);
    const headers = [...cors, 'content-type', 'text/plain; charset=utf-8', 'content-length', '0'];
    if (close) headers.push('connection', 'close');
    this.#res.writeHead(204, headers);
    this.#res.end();
  }

  /** A redirect the route asks for, answered without a backend; `close` as for {@link #answer}. */
  #redirect(answer: RedirectAnswer, close: boolean, extra: readonly string[] = []): void {
    this.#done = true;
    this.#observe('redirect', answer.status, undefined);
    const body = redirectBody(answer);
    const headers = [
      'location',
      answer.location,
      'content-type',
      'text/html',
      'content-length',
      String(Buffer.byteLength(body)),
      ...extra,
    ];
    if (close) headers.push('connection', 'close');
    this.#res.writeHead(answer.status, headers);
    this.#res.end(body);
  }

  #observe(kind: ProxyEventKind, status: number, code: ProxyErrorCode | undefined): void {
    // Every request ends here once: the slot of `limit-connections` is free again.
    this.#slot?.release();
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

  #debug(err: Error, msg: string): void {
    const logger = this.#deps.logger;
    if (logger === undefined || !logger.isLevelEnabled('debug')) return;
    logger.debug(
      {
        backend: this.#backend?.id,
        endpoint: this.#choice?.id,
        attempt: this.#attempts,
        code: (err as { code?: unknown }).code,
        err: err.message,
      },
      msg,
    );
  }
}

/**
 * The `request` listener of the proxy.
 *
 * - **Routing:** by the connection's local address, the Host header (required for HTTP/1.1;
 *   an absolute-form target's authority wins) and the raw path. No route: 404. No endpoint: 503.
 *   A route with a split (ingress-nginx's canary) picks its backend once, before the endpoint;
 *   retries, metrics and the access log then name that backend.
 * - **Upstream failures:** connect refused/unreachable, reset, invalid response: 502; connect,
 *   header or (before headers) body timeout, or a request body the endpoint stopped taking
 *   for the route's send timeout: 504. After the response has started, a failure
 *   cuts the client response (destroys it), the only honest signal left.
 * - **Retries:** a route with its own retry policy (`upstream.retry`, nginx's
 *   `proxy_next_upstream`) follows it: on the failures and statuses it names, within its tries
 *   and time, never for a request with a body, and for a status only while another endpoint is
 *   left (else that response is the answer). Other routes: at most `maxRetries` more attempts,
 *   on endpoints not yet tried, only for
 *   idempotent methods without a request body, and only when nothing can have reached the
 *   application: the connection failed (refused, unreachable, connect timeout) or was reset
 *   before any response byte (a keep-alive connection the pod closed as the request went out).
 *   Header timeouts are never retried (the application may be working on it).
 * - **Bodies** stream both ways. Content-Length above the limit: 413 at once; chunked bodies
 *   are counted while streaming and cut with 413 (or a reset when the response has begun).
 * - **Headers:** see {@link forwardRequestHeaders} and {@link forwardResponseHeaders}; the
 *   affinity cookie of the choice is appended to the upstream's Set-Cookie.
 * - Every attempt is bracketed by `begin`/`end`; every request ends in one `observe`.
 * - The client leaving aborts the upstream attempt (`end` with outcome `aborted`).
 */
export function createProxyHandler(
  deps: ProxyDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const checked: ProxyDeps = { ...deps, options: assertProxyOptions(deps.options) };
  return (req, res) => {
    new ProxyExchange(checked, req, res).start();
  };
}
