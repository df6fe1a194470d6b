/**
 * ingress-nginx's `custom-http-errors`, `default-backend` and `disable-proxy-intercept-errors`
 * on a route ({@link RouteErrors}): which statuses are answered by the error backend instead,
 * and the headers that backend is told the error with. Pure; validation of `route.errors` in a
 * route table too.
 */
import { fail, isObject, type Report, readBoolean, readString } from './field-reader.ts';
import type { RouteErrors } from './route-table.ts';

/** The most statuses one route intercepts: every code from 400 to 599. */
export const MAX_ERROR_CODES = 200;

/** Whether `code` may be intercepted: an error status, 400-599, as ingress-nginx accepts. */
export function isErrorCode(code: number): boolean {
  return Number.isInteger(code) && code >= 400 && code <= 599;
}

/**
 * Whether a response of `status` from the route's upstream is replaced (nginx's
 * `proxy_intercept_errors` with `error_page`): the status is listed, and
 * `disable-proxy-intercept-errors` is not set.
 */
export function interceptsUpstream(errors: RouteErrors, status: number): boolean {
  return errors.upstreamPasses !== true && errors.codes?.includes(status) === true;
}

/**
 * Whether Pier's own answer of `status` on the route (no endpoint 503, upstream down 502,
 * timeout 504, refused 403...) is replaced: the status is listed. nginx's `error_page` applies to
 * its own errors whether or not it intercepts the upstream's.
 */
export function interceptsOwn(errors: RouteErrors, status: number): boolean {
  return errors.codes?.includes(status) === true;
}

/** What the error backend is told of the request that failed (ingress-nginx's custom-errors.md). */
export interface ErrorContext {
  /** The status being replaced. */
  code: number;
  /** The client's `Accept`, if sent. */
  accept: string | undefined;
  /** The request target as the client sent it (nginx's `$request_uri`). */
  originalUri: string;
  /** The Ingress's namespace and name. */
  namespace: string;
  ingress: string;
  /** The Service and port of the route's backend. */
  service: string;
  servicePort: number | string;
  /** The request's `X-Request-ID`, when it has one. */
  requestId: string | undefined;
}

/**
 * The headers the error backend gets on top of the request's own (a flat name/value list), as
 * ingress-nginx's `@custom_` locations set them. `X-Format` and `X-Request-ID` are sent empty
 * when unknown, as nginx sends an empty variable.
 */
export function errorHeaders(context: ErrorContext): string[] {
  return [
    'x-code',
    String(context.code),
    'x-format',
    context.accept ?? '',
    'x-original-uri',
    context.originalUri,
    'x-namespace',
    context.namespace,
    'x-ingress-name',
    context.ingress,
    'x-service-name',
    context.service,
    'x-service-port',
    String(context.servicePort),
    'x-request-id',
    context.requestId ?? '',
  ];
}

/** Checks `route.errors`; undefined with a problem reported when it is wrong. */
export function checkRouteErrors(
  raw: unknown,
  at: string,
  report: Report,
): RouteErrors | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const errors: RouteErrors = {};
  if (raw.backend !== undefined) {
    const backend = readString(raw, 'backend', at, report);
    if (backend !== undefined) errors.backend = backend;
  }
  if (raw.codes !== undefined) {
    const codes = raw.codes;
    if (
      !Array.isArray(codes) ||
      codes.length === 0 ||
      codes.length > MAX_ERROR_CODES ||
      codes.some((c, i) => typeof c !== 'number' || !isErrorCode(c) || (i > 0 && c <= codes[i - 1]))
    ) {
      report(`${at}codes`, `must be 1-${MAX_ERROR_CODES} statuses 400-599, ascending`);
    } else {
      errors.codes = [...(codes as number[])];
    }
  }
  if (raw.upstreamPasses !== undefined) {
    if (readBoolean(raw, 'upstreamPasses', at, report) === true) errors.upstreamPasses = true;
  }
  if (report.count() !== before) return undefined;
  if (errors.backend === undefined && errors.codes === undefined) {
    return fail(report, at.slice(0, -1), 'must name a backend or codes');
  }
  return errors;
}
