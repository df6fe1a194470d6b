/**
 * What an upstream failure means: the answer Pier gives, whether another endpoint may be tried,
 * and how it counts for the endpoint. Pure; shared by the request and the upgrade handler.
 */
import type { RetryCondition } from '@pier/shared';
import type { ProxyErrorCode } from './error-pages.ts';
import { SEND_TIMEOUT } from './exchange-marks.ts';
import type { Outcome, ProxyEventKind } from './proxy-events.ts';

/** A classified upstream failure. */
export interface UpstreamFailure {
  /** The answer to give. */
  code: ProxyErrorCode;
  /** Whether another attempt may be made (still subject to method, body and retry budget). */
  retriable: boolean;
  /** How the failure counts for the endpoint. */
  outcome: Outcome;
  /** The failure in the words of nginx's `proxy_next_upstream` (a route's retry policy); absent: never retried. */
  condition?: RetryCondition;
}

/** Errors of a connection that never carried the request (connect phase). */
const CONNECT_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);
/** Errors of a connection the other side closed or reset under the request. */
const RESET_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
]);

/**
 * Classifies an error undici reported before any response header arrived.
 *
 * @param sent whether undici had started writing the request (the connection existed). Before
 *   that, every failure is a connect failure and nothing reached the endpoint, so it is
 *   retriable whatever it was; after it, only a reset is (an idle keep-alive connection the pod
 *   closed just as the request went out), and only for idempotent bodiless requests.
 */
export function classifyUpstreamError(err: unknown, sent: boolean): UpstreamFailure {
  const code = (err as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? code : '';
  if (text === 'UND_ERR_INVALID_ARG' || text === 'UND_ERR_NOT_SUPPORTED') {
    return { code: 'PIER_BAD_REQUEST', retriable: false, outcome: 'aborted' };
  }
  if (CONNECT_TIMEOUT_CODES.has(text)) {
    return {
      code: 'PIER_UPSTREAM_CONNECT_TIMEOUT',
      retriable: true,
      outcome: 'failure',
      condition: 'timeout',
    };
  }
  if (text === SEND_TIMEOUT) {
    // The request is partly sent (a body is being streamed): never sent again.
    return { code: 'PIER_UPSTREAM_SEND_TIMEOUT', retriable: false, outcome: 'failure' };
  }
  if (text === 'UND_ERR_HEADERS_TIMEOUT' || text === 'UND_ERR_BODY_TIMEOUT') {
    return {
      code: 'PIER_UPSTREAM_TIMEOUT',
      retriable: false,
      outcome: 'failure',
      condition: 'timeout',
    };
  }
  if (!sent) {
    return {
      code: 'PIER_UPSTREAM_CONNECT_FAILED',
      retriable: true,
      outcome: 'failure',
      condition: 'error',
    };
  }
  if (RESET_CODES.has(text)) {
    return { code: 'PIER_UPSTREAM_RESET', retriable: true, outcome: 'failure', condition: 'error' };
  }
  return {
    code: 'PIER_UPSTREAM_INVALID_RESPONSE',
    retriable: false,
    outcome: 'failure',
    condition: 'invalid_header',
  };
}

/** The kind an error answer is observed as. */
export function eventKind(code: ProxyErrorCode): ProxyEventKind {
  switch (code) {
    case 'PIER_NO_ROUTE':
      return 'no-route';
    case 'PIER_NO_ENDPOINT':
      return 'no-endpoint';
    case 'PIER_FORBIDDEN':
      return 'forbidden';
    case 'PIER_RATE_LIMITED':
      return 'rate-limited';
    case 'PIER_UNAUTHORIZED':
    case 'PIER_AUTH_UNAVAILABLE':
    case 'PIER_AUTH_BUSY':
    case 'PIER_AUTH_SERVICE_UNAUTHORIZED':
    case 'PIER_AUTH_SERVICE_FORBIDDEN':
    case 'PIER_AUTH_SERVICE_FAILED':
    case 'PIER_AUTH_SERVICE_INVALID':
      return 'unauthorized';
    case 'PIER_UPSTREAM_CONNECT_TIMEOUT':
    case 'PIER_UPSTREAM_TIMEOUT':
    case 'PIER_UPSTREAM_SEND_TIMEOUT':
      return 'timeout';
    case 'PIER_BAD_REQUEST':
    case 'PIER_BODY_TOO_LARGE':
    case 'PIER_HEADERS_TOO_LARGE':
    case 'PIER_REQUEST_TIMEOUT':
      return 'bad-request';
    default:
      return 'upstream-error';
  }
}

/** Whether an upstream status counts against the endpoint (the gateway statuses, as nginx's `proxy_next_upstream`). */
export function statusOutcome(status: number): Outcome {
  return status === 502 || status === 503 || status === 504 ? 'failure' : 'success';
}
