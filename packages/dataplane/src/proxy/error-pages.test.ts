import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  errorPage,
  PIER_ERROR_HEADER,
  PROXY_ERROR_CODES,
  type ProxyErrorCode,
  rawResponse,
} from './error-pages.ts';

test('each cause has the status ingress-nginx users expect and a short text body', () => {
  const rows: Array<[ProxyErrorCode, number, string]> = [
    ['PIER_BAD_REQUEST', 400, '400 Bad Request: malformed request\n'],
    ['PIER_REQUEST_TIMEOUT', 408, '408 Request Timeout: request not received in time\n'],
    ['PIER_BODY_TOO_LARGE', 413, '413 Payload Too Large: request body exceeds the limit\n'],
    [
      'PIER_HEADERS_TOO_LARGE',
      431,
      '431 Request Header Fields Too Large: request headers exceed the limit\n',
    ],
    ['PIER_UNAUTHORIZED', 401, '401 Unauthorized: this route asks for a user name and password\n'],
    ['PIER_FORBIDDEN', 403, '403 Forbidden: this client address may not use this route\n'],
    [
      'PIER_RATE_LIMITED',
      503,
      '503 Service Unavailable: too many requests from this client address\n',
    ],
    ['PIER_NO_ROUTE', 404, '404 Not Found: no route for this host and path\n'],
    ['PIER_NO_ENDPOINT', 503, '503 Service Unavailable: no healthy endpoint\n'],
    ['PIER_AUTH_UNAVAILABLE', 503, "503 Service Unavailable: this route's users cannot be read\n"],
    ['PIER_AUTH_BUSY', 503, '503 Service Unavailable: too many password checks are waiting\n'],
    [
      'PIER_AUTH_SERVICE_UNAUTHORIZED',
      401,
      "401 Unauthorized: this route's authentication service asks for credentials\n",
    ],
    [
      'PIER_AUTH_SERVICE_FORBIDDEN',
      403,
      "403 Forbidden: this route's authentication service refused the request\n",
    ],
    [
      'PIER_AUTH_SERVICE_FAILED',
      500,
      "500 Internal Server Error: this route's authentication service failed or is unreachable\n",
    ],
    [
      'PIER_AUTH_SERVICE_INVALID',
      503,
      "503 Service Unavailable: this route's auth-url cannot be used\n",
    ],
    ['PIER_UPSTREAM_CONNECT_FAILED', 502, '502 Bad Gateway: could not connect to the upstream\n'],
    ['PIER_UPSTREAM_RESET', 502, '502 Bad Gateway: the upstream closed the connection\n'],
    [
      'PIER_UPSTREAM_INVALID_RESPONSE',
      502,
      '502 Bad Gateway: invalid response from the upstream\n',
    ],
    [
      'PIER_UPSTREAM_CONNECT_TIMEOUT',
      504,
      '504 Gateway Timeout: connecting to the upstream timed out\n',
    ],
    ['PIER_UPSTREAM_TIMEOUT', 504, '504 Gateway Timeout: the upstream did not respond in time\n'],
    [
      'PIER_UPSTREAM_SEND_TIMEOUT',
      504,
      '504 Gateway Timeout: the upstream stopped taking the request body\n',
    ],
  ];
  assert.deepEqual(
    rows.map(([code]) => code),
    [...PROXY_ERROR_CODES],
    'every code is covered, in catalogue order',
  );
  for (const [code, status, body] of rows) {
    const page = errorPage(code);
    assert.equal(page.status, status, code);
    assert.equal(page.code, code);
    assert.equal(page.body.toString('latin1'), body, code);
  }
});

test('page headers: text, exact length, no caching, the cause code', () => {
  for (const code of PROXY_ERROR_CODES) {
    const page = errorPage(code);
    const headers = new Map<string, string>();
    for (let i = 0; i < page.headers.length; i += 2) {
      headers.set(page.headers[i] as string, page.headers[i + 1] as string);
    }
    assert.equal(headers.get('content-type'), 'text/plain; charset=utf-8', code);
    assert.equal(headers.get('content-length'), String(page.body.length), code);
    assert.equal(headers.get('cache-control'), 'no-store', code);
    assert.equal(headers.get(PIER_ERROR_HEADER), code);
    assert.equal(headers.has('connection'), false, `${code}: plain pages keep the connection`);
    assert.deepEqual(page.closingHeaders, [...page.headers, 'connection', 'close']);
  }
});

test('the raw form is a complete HTTP/1.1 response that closes the connection', () => {
  for (const code of PROXY_ERROR_CODES) {
    const page = errorPage(code);
    const text = page.raw.toString('latin1');
    const [head, body] = text.split('\r\n\r\n') as [string, string];
    const [statusLine, ...lines] = head.split('\r\n');
    assert.match(statusLine ?? '', new RegExp(`^HTTP/1\\.1 ${page.status} [A-Z]`), code);
    assert.ok(lines.includes('connection: close'), code);
    assert.ok(lines.includes(`${PIER_ERROR_HEADER}: ${code}`), code);
    assert.ok(lines.includes(`content-length: ${page.body.length}`), code);
    assert.equal(body, page.body.toString('latin1'), code);
  }
});

test('rawResponse: the page with extra headers, closing the connection', () => {
  const page = errorPage('PIER_UNAUTHORIZED');
  const text = rawResponse(page, ['www-authenticate', 'Basic realm="x"']).toString('latin1');
  assert.ok(text.startsWith('HTTP/1.1 401 Unauthorized\r\n'));
  assert.ok(text.includes('\r\nwww-authenticate: Basic realm="x"\r\nconnection: close\r\n\r\n'));
  assert.ok(text.endsWith(page.body.toString('latin1')));
});

test('pages are prepared once and shared', () => {
  assert.equal(errorPage('PIER_NO_ROUTE'), errorPage('PIER_NO_ROUTE'));
  assert.ok(Object.isFrozen(errorPage('PIER_NO_ROUTE')));
  assert.ok(Object.isFrozen(errorPage('PIER_NO_ROUTE').headers));
});
