/**
 * A route's own upstream timeouts and retry rule (ingress-nginx's `proxy-*-timeout` and
 * `proxy-next-upstream*`): the statuses nginx may retry on, the one decision of whether a failed
 * attempt is sent to another endpoint, and validation of `route.upstream` in a route table. Pure.
 */
import { fail, isObject, type Report, readBoolean, readInteger } from './field-reader.ts';
import type { RetryPolicy, UpstreamPolicy } from './route-table.ts';

/** The response statuses `proxy_next_upstream` accepts (`http_NNN`). */
export const RETRY_STATUSES: readonly number[] = Object.freeze([500, 502, 503, 504, 403, 404, 429]);

/** Longest timeout a route may set, ms: one hour. */
export const MAX_ROUTE_TIMEOUT_MS = 3_600_000;

/** Methods nginx sends again only with `non_idempotent` (RFC 9110's non-idempotent ones it knows). */
const NON_IDEMPOTENT: ReadonlySet<string> = new Set(['POST', 'PATCH', 'LOCK']);

/** What went wrong with an attempt, in the words of `proxy_next_upstream`. */
export type RetryCondition = 'error' | 'timeout' | 'invalid_header';

/** The request and its attempts so far, as far as the retry rule cares. */
export interface RetryState {
  method: string;
  /** The request has a body (never sent twice). */
  hasBody: boolean;
  /** Attempts made, the failed one included. */
  attempts: number;
  /** Since the first attempt began, ms. */
  elapsedMs: number;
}

/**
 * Whether `policy` sends the request to another endpoint after an attempt failed with
 * `condition` or answered `status`, as nginx's `proxy_next_upstream`, `_tries` and `_timeout`.
 */
export function retryAllowed(
  policy: RetryPolicy,
  state: RetryState,
  failure: { condition: RetryCondition } | { status: number },
): boolean {
  if (state.hasBody) return false;
  if (policy.tries !== 0 && state.attempts >= policy.tries) return false;
  if (policy.timeoutMs !== 0 && state.elapsedMs >= policy.timeoutMs) return false;
  if (!policy.nonIdempotent && NON_IDEMPOTENT.has(state.method)) return false;
  if ('status' in failure) return policy.statuses.includes(failure.status);
  switch (failure.condition) {
    case 'error':
      return policy.onError;
    case 'timeout':
      return policy.onTimeout;
    default:
      return policy.onInvalidHeader;
  }
}

/**
 * Why `value` cannot be a route's `forwardedPrefix`, or undefined: ingress-nginx's own check of
 * `x-forwarded-prefix` (a path with `$1`-style groups), which also keeps it a valid header value.
 */
export function forwardedPrefixProblem(value: string): string | undefined {
  return /^\/?[-._~a-zA-Z0-9/:$]{0,256}$/.test(value)
    ? undefined
    : 'must be a path of letters, digits and -._~/:$ (at most 256)';
}

/** Checks `route.upstream`; undefined (with reports) when anything is wrong. */
export function checkUpstreamPolicy(
  raw: unknown,
  at: string,
  report: Report,
): UpstreamPolicy | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const policy: UpstreamPolicy = {};
  for (const name of ['connectTimeoutMs', 'readTimeoutMs', 'sendTimeoutMs'] as const) {
    if (raw[name] === undefined) continue;
    const value = readInteger(raw, name, at, report, 1, MAX_ROUTE_TIMEOUT_MS);
    if (value !== undefined) policy[name] = value;
  }
  if (raw.retry !== undefined) {
    const retry = checkRetryPolicy(raw.retry, `${at}retry.`, report);
    if (retry !== undefined) policy.retry = retry;
  }
  return report.count() === before ? policy : undefined;
}

function checkRetryPolicy(raw: unknown, at: string, report: Report): RetryPolicy | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const tries = readInteger(raw, 'tries', at, report, 0, 100);
  const timeoutMs = readInteger(raw, 'timeoutMs', at, report, 0, MAX_ROUTE_TIMEOUT_MS);
  const onError = readBoolean(raw, 'onError', at, report);
  const onTimeout = readBoolean(raw, 'onTimeout', at, report);
  const onInvalidHeader = readBoolean(raw, 'onInvalidHeader', at, report);
  const nonIdempotent = readBoolean(raw, 'nonIdempotent', at, report);
  const statuses = raw.statuses;
  if (
    !Array.isArray(statuses) ||
    statuses.some((s) => typeof s !== 'number' || !RETRY_STATUSES.includes(s))
  ) {
    report(`${at}statuses`, `must be a list of ${RETRY_STATUSES.join(', ')}`);
  }
  if (report.count() !== before) return undefined;
  return {
    tries: tries as number,
    timeoutMs: timeoutMs as number,
    onError: onError as boolean,
    onTimeout: onTimeout as boolean,
    onInvalidHeader: onInvalidHeader as boolean,
    statuses: [...(statuses as number[])],
    nonIdempotent: nonIdempotent as boolean,
  };
}
