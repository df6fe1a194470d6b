/**
 * The answers Pier itself gives instead of an upstream's: short plain-text pages, one per cause,
 * each with a stable cause code in the `x-pier-error` header so users and scripts can tell a
 * Pier 502 from an application's 502. Statuses follow ingress-nginx: 404 no route, 503 no
 * endpoint or past a rate limit, 502 upstream failed, 504 upstream timed out.
 *
 * Every page is built once at load time; serving one allocates nothing.
 */
import { STATUS_CODES } from 'node:http';

/**
 * Why Pier answered itself. The values are public API (the `x-pier-error` header, logs, metrics):
 * documented in docs/errors.md, never renamed.
 */
export const PROXY_ERROR_CODES = Object.freeze([
  'PIER_BAD_REQUEST',
  'PIER_REQUEST_TIMEOUT',
  'PIER_BODY_TOO_LARGE',
  'PIER_HEADERS_TOO_LARGE',
  'PIER_UNAUTHORIZED',
  'PIER_FORBIDDEN',
  'PIER_RATE_LIMITED',
  'PIER_NO_ROUTE',
  'PIER_NO_ENDPOINT',
  'PIER_AUTH_UNAVAILABLE',
  'PIER_AUTH_BUSY',
  'PIER_AUTH_SERVICE_UNAUTHORIZED',
  'PIER_AUTH_SERVICE_FORBIDDEN',
  'PIER_AUTH_SERVICE_FAILED',
  'PIER_AUTH_SERVICE_INVALID',
  'PIER_UPSTREAM_CONNECT_FAILED',
  'PIER_UPSTREAM_RESET',
  'PIER_UPSTREAM_INVALID_RESPONSE',
  'PIER_UPSTREAM_CONNECT_TIMEOUT',
  'PIER_UPSTREAM_TIMEOUT',
  'PIER_UPSTREAM_SEND_TIMEOUT',
] as const);

/** One of {@link PROXY_ERROR_CODES}. */
export type ProxyErrorCode = (typeof PROXY_ERROR_CODES)[number];

/** The name of the response header that carries the cause code. */
export const PIER_ERROR_HEADER = 'x-pier-error';

/** A prepared error answer. Frozen and shared: never modify. */
export interface ErrorPage {
  /** HTTP status. */
  readonly status: number;
  /** The cause, also sent as `x-pier-error`. */
  readonly code: ProxyErrorCode;
  /** The body: `<status> <reason>: <cause>\n`. */
  readonly body: Buffer;
  /** Flat name/value list for `res.writeHead` (content type and length, no-store, cause). */
  readonly headers: readonly string[];
  /**
   * The same headers plus `connection: close`, for answers after which the connection must not
   * be reused (e.g. a request body that was not read).
   */
  readonly closingHeaders: readonly string[];
  /**
   * The whole HTTP/1.1 response with `connection: close`, for writing straight to a socket (parse
   * errors, refused upgrades), where no ServerResponse exists.
   */
  readonly raw: Buffer;
}

/** Status and human-readable cause of every code. */
const CAUSES: Readonly<Record<ProxyErrorCode, readonly [number, string]>> = {
  PIER_BAD_REQUEST: [400, 'malformed request'],
  PIER_REQUEST_TIMEOUT: [408, 'request not received in time'],
  PIER_BODY_TOO_LARGE: [413, 'request body exceeds the limit'],
  PIER_HEADERS_TOO_LARGE: [431, 'request headers exceed the limit'],
  PIER_UNAUTHORIZED: [401, 'this route asks for a user name and password'],
  PIER_FORBIDDEN: [403, 'this client address may not use this route'],
  PIER_RATE_LIMITED: [503, 'too many requests from this client address'],
  PIER_NO_ROUTE: [404, 'no route for this host and path'],
  PIER_NO_ENDPOINT: [503, 'no healthy endpoint'],
  PIER_AUTH_UNAVAILABLE: [503, "this route's users cannot be read"],
  PIER_AUTH_BUSY: [503, 'too many password checks are waiting'],
  PIER_AUTH_SERVICE_UNAUTHORIZED: [401, "this route's authentication service asks for credentials"],
  PIER_AUTH_SERVICE_FORBIDDEN: [403, "this route's authentication service refused the request"],
  PIER_AUTH_SERVICE_FAILED: [500, "this route's authentication service failed or is unreachable"],
  PIER_AUTH_SERVICE_INVALID: [503, "this route's auth-url cannot be used"],
  PIER_UPSTREAM_CONNECT_FAILED: [502, 'could not connect to the upstream'],
  PIER_UPSTREAM_RESET: [502, 'the upstream closed the connection'],
  PIER_UPSTREAM_INVALID_RESPONSE: [502, 'invalid response from the upstream'],
  PIER_UPSTREAM_CONNECT_TIMEOUT: [504, 'connecting to the upstream timed out'],
  PIER_UPSTREAM_TIMEOUT: [504, 'the upstream did not respond in time'],
  PIER_UPSTREAM_SEND_TIMEOUT: [504, 'the upstream stopped taking the request body'],
};

/**
 * The whole HTTP/1.1 response of `page` with `extra` headers (a flat name/value list) before
 * `connection: close`, for writing straight to a socket.
 */
export function rawResponse(page: ErrorPage, extra: readonly string[]): Buffer {
  const reason = STATUS_CODES[page.status] ?? 'Error';
  let head = `HTTP/1.1 ${page.status} ${reason}\r\n`;
  const headers = [...page.headers, ...extra, 'connection', 'close'];
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), page.body]);
}

/** The headers of one of Pier's own plain-text pages of `body`, marked with its error `code`. */
export function pageHeaders(body: Buffer, code: string): readonly string[] {
  return Object.freeze([
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(body.length),
    'cache-control',
    'no-store',
    PIER_ERROR_HEADER,
    code,
  ]);
}

function buildPage(code: ProxyErrorCode): ErrorPage {
  const [status, cause] = CAUSES[code];
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = Buffer.from(`${status} ${reason}: ${cause}\n`, 'latin1');
  const headers = pageHeaders(body, code);
  const closingHeaders = Object.freeze([...headers, 'connection', 'close']);
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < closingHeaders.length; i += 2) {
    head += `${closingHeaders[i]}: ${closingHeaders[i + 1]}\r\n`;
  }
  const raw = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body]);
  return Object.freeze({ status, code, body, headers, closingHeaders, raw });
}

const PAGES = new Map<ProxyErrorCode, ErrorPage>(
  PROXY_ERROR_CODES.map((code) => [code, buildPage(code)]),
);

/** The prepared answer for a cause. */
export function errorPage(code: ProxyErrorCode): ErrorPage {
  return PAGES.get(code) as ErrorPage;
}
