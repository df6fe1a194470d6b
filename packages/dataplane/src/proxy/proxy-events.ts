/**
 * What the proxy reports of each exchange: the endpoint an attempt went to, how the attempt
 * ended for passive health, and the one event per finished request for metrics and the access
 * log. Shared by the request and the upgrade handler.
 */
import type { Backend } from '@pier/shared';
import type { ProxyErrorCode } from './error-pages.ts';

/** The endpoint chosen for one attempt. */
export interface EndpointChoice {
  /** `endpointField(address, port)`: the key of pools, balancing and health state. */
  id: string;
  address: string;
  port: number;
  /** A `Set-Cookie` value to add to the response (session affinity), if any. */
  setCookie?: string;
}

/**
 * How an upstream attempt ended, for passive health and balancing.
 *
 * - `failure`: the endpoint misbehaved: connect refused / unreachable / timed out, connection
 *   reset, headers or body timeout, an invalid response, or a 502/503/504 status from it.
 * - `success`: any other upstream response, 4xx and 500 included (the application answered).
 * - `aborted`: says nothing about the endpoint: the client went away, or Pier cut the request
 *   (body too large, request undici refused). Release in-flight counts, record no result.
 */
export type Outcome = 'success' | 'failure' | 'aborted';

/** What an observed request came to. */
export type ProxyEventKind =
  | 'proxied'
  | 'no-route'
  | 'no-endpoint'
  | 'upstream-error'
  | 'timeout'
  | 'bad-request'
  | 'client-abort'
  | 'redirect'
  | 'preflight'
  | 'forbidden'
  | 'rate-limited'
  | 'unauthorized';

/** One finished request, for metrics and the access log. */
export interface ProxyEvent {
  /** The Host header as sent ('' when absent). Unbounded: not a metric label as such. */
  host: string;
  /** The matched virtual host's host rule ('' any host); absent without a route. Bounded. */
  virtualHost?: string;
  /** The status the client got; 499 when the client left before an answer (as nginx logs). */
  status: number;
  /** The backend id, once routed. */
  backend?: string;
  /** The last endpoint tried. */
  endpoint?: string;
  /** From request start to the end of the response (or of the failure), ms. */
  durationMs: number;
  /** From request start to the upstream's response headers, ms; only when they arrived. */
  headersMs?: number;
  kind: ProxyEventKind;
  /** Pier's cause code when Pier answered itself or cut the exchange. */
  code?: ProxyErrorCode;
  /** Upstream attempts made (0 when none). */
  attempts: number;
}

/** What an exchange (request or upgrade) knows when it ends, for {@link proxyEvent}. */
export interface ExchangeFacts {
  host: string;
  virtualHost: string | undefined;
  backend: Backend | undefined;
  choice: EndpointChoice | undefined;
  /** `performance.now()` at the start of the request, and when the upstream's headers came (0: never). */
  started: number;
  headersAt: number;
  attempts: number;
}

/** The {@link ProxyEvent} of a finished exchange. */
export function proxyEvent(
  facts: ExchangeFacts,
  kind: ProxyEventKind,
  status: number,
  code: ProxyErrorCode | undefined,
): ProxyEvent {
  const event: ProxyEvent = {
    host: facts.host,
    status,
    durationMs: performance.now() - facts.started,
    kind,
    attempts: facts.attempts,
  };
  if (facts.virtualHost !== undefined) event.virtualHost = facts.virtualHost;
  if (facts.backend !== undefined) event.backend = facts.backend.id;
  if (facts.choice !== undefined) event.endpoint = facts.choice.id;
  if (code !== undefined) event.code = code;
  if (facts.headersAt !== 0) event.headersMs = facts.headersAt - facts.started;
  return event;
}
