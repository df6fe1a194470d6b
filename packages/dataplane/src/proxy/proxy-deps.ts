/**
 * What the request and upgrade handlers need from the rest of the dataplane: route lookup,
 * endpoint choice and bookkeeping, pools, rate limits, basic and external authentication, and where their
 * events go. Types only.
 */
import type { IncomingMessage } from 'node:http';
import type { Backend, PierLogger, RouteMatch } from '@pier/shared';
import type { BasicAuthGate } from '../auth/basic-auth-gate.ts';
import type { ExternalAuthClient } from '../auth/external-auth.ts';
import type { ErrorAnswer } from './error-intercept.ts';
import type { ProxyErrorCode } from './error-pages.ts';
import type { EndpointChoice, Outcome, ProxyEvent } from './proxy-events.ts';
import type { ProxyOptions } from './proxy-options.ts';
import type { RateLimits } from './rate-limits.ts';
import type { SplitDeps } from './route-backend.ts';
import type { UpstreamDispatchers } from './upstream-dispatchers.ts';

/** What the proxy needs from the rest of the dataplane. */
export interface ProxyDeps {
  /**
   * Route lookup in the current table (`RouteIndex.lookup`); called once per request, so a table
   * swap takes effect on the next request.
   */
  lookup(localAddress: string, host: string, path: string): RouteMatch | undefined;
  /**
   * Picks an endpoint of `backend` not in `tried`, or undefined when none can take traffic
   * (answered 503). `tried` is empty on the first attempt.
   */
  choose(
    backend: Backend,
    req: IncomingMessage,
    tried: ReadonlySet<string>,
  ): EndpointChoice | undefined;
  /** For routes with a split: see {@link SplitDeps}. */
  pinned?: SplitDeps['pinned'];
  random?: SplitDeps['random'];
  /** An attempt on an endpoint starts (in-flight count +1). */
  begin(backendId: string, endpointId: string): void;
  /**
   * The attempt ended; called exactly once per {@link begin}. `cause` names what went wrong when
   * Pier saw the failure itself (connect refused, reset, timeout...); absent for a response,
   * whatever its status.
   */
  end(
    backendId: string,
    endpointId: string,
    outcome: Outcome,
    durationMs: number,
    cause?: ProxyErrorCode,
  ): void;
  /** Upstream pools by endpoint. */
  dispatchers: Pick<UpstreamDispatchers, 'for'>;
  /** Called once per request when it is over (metrics, access log). */
  observe(event: ProxyEvent): void;
  /** The counters of the routes' rate limits; absent, no route is limited. */
  rateLimits?: Pick<RateLimits, 'admit'>;
  options: ProxyOptions;
  /**
   * Checks the credentials of requests to routes with basic authentication; without it such
   * routes answer 503 (they fail closed).
   */
  basicAuth?: Pick<BasicAuthGate, 'check'>;
  /**
   * Asks the auth services of routes with external authentication; without it such routes
   * answer 503 (they fail closed).
   */
  externalAuth?: Pick<ExternalAuthClient, 'check'>;
  /** Debug-level diagnostics of upstream failures only; nothing is logged per request otherwise. */
  logger?: PierLogger;
  /** A response of `status` was replaced (`Route.errors`), answered by the error backend or Pier's page. */
  intercepted?(status: number, answer: ErrorAnswer): void;
}
