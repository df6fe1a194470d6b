import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import type { Backend, RouteMatch } from '@pier/shared';
import { errorContext, errorRequestHeaders, requestId, statusPage } from './error-intercept.ts';

const backend = { id: 'shop/app:80', service: { namespace: 'shop', name: 'app' }, servicePort: 80 };
const match = {
  virtualHost: { address: '*', host: 'shop.test', routes: [] },
  route: {
    path: '/',
    pathType: 'Prefix',
    backend: backend.id,
    source: { namespace: 'shop', name: 'web' },
    errors: { codes: [404] },
  },
  backend: backend as unknown as Backend,
  viaDefault: false,
} as RouteMatch;
const req = (headers: Record<string, string>, url = '/a?b=1') =>
  ({ headers, url }) as unknown as IncomingMessage;

// custom-errors.md: the headers the error backend gets.
test('error intercept: the context names the request, the Ingress and the route’s Service', () => {
  assert.deepEqual(errorContext(match, req({ accept: 'text/html', 'x-request-id': 'r1' }), 503), {
    code: 503,
    accept: 'text/html',
    originalUri: '/a?b=1',
    namespace: 'shop',
    ingress: 'web',
    service: 'app',
    servicePort: 80,
    requestId: 'r1',
  });
  assert.match(requestId(req({})), /^[0-9a-f]{32}$/, 'a new id, as nginx’s $request_id');
});

test('error intercept: the request’s headers without its body’s, and X-Code & co. replacing any sent', () => {
  const context = errorContext(match, req({}), 404);
  const headers = errorRequestHeaders(
    [
      'host',
      'shop.test',
      'Content-Length',
      '7',
      'transfer-encoding',
      'chunked',
      'X-Code',
      '200',
      'x-forwarded-for',
      '203.0.113.9',
    ],
    context,
  );
  const names = headers.filter((_, i) => i % 2 === 0);
  assert.deepEqual(names.slice(0, 2), ['host', 'x-forwarded-for']);
  assert.equal(names.filter((n) => n.toLowerCase() === 'x-code').length, 1);
  assert.equal(headers[headers.indexOf('x-code') + 1], '404');
  assert.ok(!names.some((n) => /content-length|transfer-encoding/i.test(n)));
});

test("error intercept: Pier's page for an upstream status: the status, its cause code, one per status", () => {
  const page = statusPage(404);
  assert.equal(page.status, 404);
  assert.equal(page.body.toString(), '404 Not Found\n');
  assert.deepEqual(page.headers.slice(-2), ['x-pier-error', 'PIER_UPSTREAM_STATUS']);
  assert.deepEqual(page.closingHeaders.slice(-2), ['connection', 'close']);
  assert.equal(statusPage(404), page);
});
