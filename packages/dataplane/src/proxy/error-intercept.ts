/**
 * ingress-nginx's custom errors (`custom-http-errors` with `default-backend`): a response of an
 * intercepted status is replaced by the error backend's answer, as nginx's
 * `error_page <code> = @custom_…` does. One {@link ErrorExchange} per intercepted request, made
 * only for routes with `Route.errors`: other routes never reach this file.
 *
 * As nginx: the error backend gets the request's method and headers on `/`, without its body,
 * with `X-Code`, `X-Format`, `X-Original-URI`, `X-Namespace`, `X-Ingress-Name`,
 * `X-Service-Name`, `X-Service-Port` and `X-Request-ID` (route-errors.ts); its status, headers
 * and body are streamed to the client as they come. Its own errors are never intercepted again:
 * when it has no endpoint, cannot be reached or fails before its response head, the client gets
 * Pier's own page for the original status. A failure after the head cuts the response.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { type Backend, type ErrorContext, errorHeaders, type RouteMatch } from '@pier/shared';
import type { Dispatcher } from 'undici';
import { type ProxyErrorCode, pageHeaders } from './error-pages.ts';
import { forwardResponseHeaders } from './forwarded-headers.ts';
import type { EndpointChoice, Outcome } from './proxy-events.ts';
import type { UpstreamDispatchers } from './upstream-dispatchers.ts';
import { classifyUpstreamError, statusOutcome } from './upstream-failure.ts';

/** The cause sent as `x-pier-error` on Pier's page for an upstream status no error backend answered. */
export const UPSTREAM_STATUS_CODE = 'PIER_UPSTREAM_STATUS';

/** What the error exchange needs of the proxy (a part of its `ProxyDeps`). */
export interface ErrorExchangeDeps {
  choose(
    backend: Backend,
    req: IncomingMessage,
    tried: ReadonlySet<string>,
  ): EndpointChoice | undefined;
  begin(backendId: string, endpointId: string): void;
  end(
    backendId: string,
    endpointId: string,
    outcome: Outcome,
    durationMs: number,
    cause?: ProxyErrorCode,
  ): void;
  dispatchers: Pick<UpstreamDispatchers, 'for'>;
  options: { headersTimeoutMs: number; idleTimeoutMs: number };
}

/** A prepared answer of Pier's (an `ErrorPage`, or {@link statusPage}). */
export interface FallbackPage {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: readonly string[];
  readonly closingHeaders: readonly string[];
}

/** How an intercepted request ended: answered by the error backend, or by Pier's page. */
export type ErrorAnswer = 'backend' | 'page';

/** One intercepted request. */
export interface ErrorRequest {
  /** The route's error backend; absent: Pier's page answers. */
  backend: Backend | undefined;
  /** The request's forwarded headers (a flat list; `host` among them). */
  forwarded: readonly string[];
  context: ErrorContext;
  /** Pier's answer when the error backend does not give one; `extra` headers with it. */
  page: FallbackPage;
  extra: readonly string[];
  /** The client connection is closed afterwards (a request body was left unread). */
  close: boolean;
  /** Called once, when the client's response is over (or cut). */
  done(answer: ErrorAnswer, status: number): void;
}

const NOTHING_TRIED: ReadonlySet<string> = new Set();
/** Request headers not sent to the error backend: it gets no body. */
const DROPPED = new Set(['content-length', 'transfer-encoding', 'expect']);
const PAGES = new Map<number, FallbackPage>();

/** Pier's page for an upstream `status` that no error backend answered; one per status, shared. */
export function statusPage(status: number): FallbackPage {
  let page = PAGES.get(status);
  if (page === undefined) {
    const body = Buffer.from(`${status} ${STATUS_CODES[status] ?? 'Error'}\n`, 'latin1');
    const headers = pageHeaders(body, UPSTREAM_STATUS_CODE);
    page = Object.freeze({
      status,
      body,
      headers,
      closingHeaders: Object.freeze([...headers, 'connection', 'close']),
    });
    // Statuses are 400-599 (validated), so the cache holds at most 200 pages.
    PAGES.set(status, page);
  }
  return page;
}

/** The headers of the request to the error backend: the request's, without its body's, and the X-Code set. */
export function errorRequestHeaders(forwarded: readonly string[], context: ErrorContext): string[] {
  const extra = errorHeaders(context);
  const replaced = new Set(DROPPED);
  for (let i = 0; i < extra.length; i += 2) replaced.add(extra[i] as string);
  const out: string[] = [];
  for (let i = 0; i < forwarded.length; i += 2) {
    const name = forwarded[i] as string;
    if (!replaced.has(name.toLowerCase())) out.push(name, forwarded[i + 1] as string);
  }
  out.push(...extra);
  return out;
}

/** The request's `X-Request-ID`, or a new one, as ingress-nginx's `$req_id`. */
export function requestId(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && sent !== '' ? sent : randomBytes(16).toString('hex');
}

/** The error backend's exchange for one intercepted request; see the module comment. */
export class ErrorExchange implements Dispatcher.DispatchHandler {
  readonly #deps: ErrorExchangeDeps;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #ask: ErrorRequest;
  #choice: EndpointChoice | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #started = 0;
  #open = false;
  #over = false;

  constructor(
    deps: ErrorExchangeDeps,
    req: IncomingMessage,
    res: ServerResponse,
    ask: ErrorRequest,
  ) {
    this.#deps = deps;
    this.#req = req;
    this.#res = res;
    this.#ask = ask;
  }

  start(): void {
    const backend = this.#ask.backend;
    const choice =
      backend === undefined ? undefined : this.#deps.choose(backend, this.#req, NOTHING_TRIED);
    if (backend === undefined || choice === undefined) {
      this.#page();
      return;
    }
    this.#choice = choice;
    this.#open = true;
    this.#started = performance.now();
    this.#deps.begin(backend.id, choice.id);
    this.#res.once('close', () => {
      if (!this.#over) this.#controller?.abort(new Error('client went away'));
    });
    const { headersTimeoutMs, idleTimeoutMs } = this.#deps.options;
    try {
      this.#deps.dispatchers
        .for(
          choice.address,
          choice.port,
          choice.id,
          backend.id,
          undefined,
          backend.protocol === 'https',
        )
        .dispatch(
          {
            path: '/',
            method: this.#req.method as Dispatcher.HttpMethod,
            headers: errorRequestHeaders(this.#ask.forwarded, this.#ask.context),
            body: null,
            headersTimeout: headersTimeoutMs,
            bodyTimeout: idleTimeoutMs,
          },
          this,
        );
    } catch (err) {
      this.onResponseError(undefined, err as Error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#res.destroyed) controller.abort(new Error('client went away'));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return;
    this.#status = statusCode;
    const list = forwardResponseHeaders(headers, undefined);
    if (this.#ask.close) list.push('connection', 'close');
    try {
      if (statusMessage) this.#res.writeHead(statusCode, statusMessage, list);
      else this.#res.writeHead(statusCode, list);
    } catch (err) {
      controller.abort(err as Error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#res.write(chunk)) return;
    controller.pause();
    this.#res.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    if (this.#over) return;
    this.#res.end();
    this.#endAttempt(statusOutcome(this.#status));
    this.#finish('backend', this.#status);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.#over) return;
    const res = this.#res;
    if (res.destroyed || res.headersSent) {
      this.#endAttempt(res.destroyed ? 'aborted' : 'failure', 'PIER_UPSTREAM_RESET');
      res.destroy();
      this.#finish('backend', res.headersSent ? this.#status : 499);
      return;
    }
    const failure = classifyUpstreamError(err, this.#controller !== undefined);
    this.#endAttempt(failure.outcome, failure.code);
    this.#page();
  }

  /** Pier's own page for the original status: the error backend gave no answer. */
  #page(): void {
    const { page, extra, close } = this.#ask;
    const res = this.#res;
    if (!res.destroyed) {
      const headers = close ? page.closingHeaders : page.headers;
      res.writeHead(
        page.status,
        (extra.length === 0 ? headers : [...headers, ...extra]) as string[],
      );
      res.end(page.body);
    }
    this.#finish('page', page.status);
  }

  #endAttempt(outcome: Outcome, cause?: ProxyErrorCode): void {
    if (!this.#open) return;
    this.#open = false;
    const backend = this.#ask.backend as Backend;
    const choice = this.#choice as EndpointChoice;
    this.#deps.end(backend.id, choice.id, outcome, performance.now() - this.#started, cause);
  }

  #finish(answer: ErrorAnswer, status: number): void {
    this.#over = true;
    this.#ask.done(answer, status);
  }
}

/** What the error backend is told of a request to `match`'s route replaced with `code`. */
export function errorContext(match: RouteMatch, req: IncomingMessage, code: number): ErrorContext {
  const source = match.route?.source;
  const accept = req.headers.accept;
  return {
    code,
    accept,
    originalUri: req.url ?? '/',
    namespace: source?.namespace ?? '',
    ingress: source?.name ?? '',
    service: match.backend.service.name,
    servicePort: match.backend.servicePort,
    requestId: requestId(req),
  };
}
