import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HEALTH_CHECK } from './health-check-defaults.ts';
import {
  appRootProblem,
  hostWithoutPort,
  httpsRedirectLocation,
  isRootRequest,
  redirectUrlProblem,
} from './route-redirects.ts';
import { validateRouteTable } from './route-table-validation.ts';

const redirect = {
  onlyWithCertificate: true,
  statusCode: 308,
  preserveTrailingSlash: false,
  usePort: false,
};

test('https redirect Location: Host without port, the target as sent, one trailing / dropped', () => {
  const rows: Array<[string, Partial<typeof redirect>, string, string, string]> = [
    ['plain', {}, 'shop.example', '/cart?id=1', 'https://shop.example/cart?id=1'],
    ['port of the Host dropped', {}, 'shop.example:8080', '/a', 'https://shop.example/a'],
    ['trailing slash dropped', {}, 'shop.example', '/dir/', 'https://shop.example/dir'],
    [
      'the root becomes the bare host, as ingress-nginx',
      {},
      'shop.example',
      '/',
      'https://shop.example',
    ],
    [
      'a slash before the query stays',
      {},
      'shop.example',
      '/dir/?q',
      'https://shop.example/dir/?q',
    ],
    [
      'preserve-trailing-slash',
      { preserveTrailingSlash: true },
      'shop.example',
      '/dir/',
      'https://shop.example/dir/',
    ],
    [
      'use-port-in-redirects',
      { usePort: true },
      'shop.example:80',
      '/a',
      'https://shop.example:8443/a',
    ],
    ['IPv6 literal', {}, '[2001:db8::1]:80', '/a', 'https://[2001:db8::1]/a'],
  ];
  for (const [name, more, host, target, want] of rows) {
    assert.equal(httpsRedirectLocation({ ...redirect, ...more }, host, target, 8443), want, name);
  }
  assert.equal(hostWithoutPort('a.example'), 'a.example');
});

test('the app root answers / only, query aside', () => {
  assert.equal(isRootRequest('/'), true);
  assert.equal(isRootRequest('/?a=1'), true);
  assert.equal(isRootRequest('/app'), false);
  assert.equal(isRootRequest('//'), false);
});

test('fixed redirect URLs and app roots are checked', () => {
  assert.equal(redirectUrlProblem('https://a.example/x?y'), undefined);
  assert.equal(redirectUrlProblem('HTTP://a.example'), undefined);
  assert.equal(redirectUrlProblem('/relative'), 'must be an absolute http or https URL');
  assert.equal(redirectUrlProblem('javascript:alert(1)'), 'must be an absolute http or https URL');
  assert.equal(
    redirectUrlProblem('https://a.example/\r\nSet-Cookie: x'),
    'must be visible ASCII without spaces',
  );
  assert.equal(appRootProblem('/app'), undefined);
  assert.equal(appRootProblem('//evil.example'), "must be a path starting with one '/'");
  assert.equal(appRootProblem('/a b'), 'must be visible ASCII without spaces');
});

test('route table: a route with a bad redirect is dropped alone, a bad app root alone', () => {
  const source = { namespace: 'n', name: 'i' };
  const route = (extra: object) => ({
    path: '/',
    pathType: 'Prefix',
    backend: 'n/s:80',
    source,
    ...extra,
  });
  const backend = {
    id: 'n/s:80',
    service: { namespace: 'n', name: 's' },
    servicePort: 80,
    endpoints: [],
    healthCheck: DEFAULT_HEALTH_CHECK,
    balancing: { algorithm: 'p2c' },
  };
  const { table, problems } = validateRouteTable({
    revision: 1,
    backends: { 'n/s:80': backend },
    certificates: {},
    virtualHosts: {
      '*|a.example': {
        address: '*',
        host: 'a.example',
        appRoot: 'no-slash',
        routes: [
          route({ redirect: { statusCode: 301, url: 'https://b.example/' } }),
          route({ path: '/x', redirect: { statusCode: 404, url: 'https://b.example/' } }),
          route({ path: '/y', httpsRedirect: { ...redirect, statusCode: 303 } }),
          route({ path: '/z', httpsRedirect: redirect }),
        ],
      },
    },
  });
  const vhost = table.virtualHosts['*|a.example'];
  assert.deepEqual(
    vhost?.routes.map((r) => [r.path, r.redirect?.url, r.httpsRedirect?.statusCode]),
    [
      ['/', 'https://b.example/', undefined],
      ['/z', undefined, 308],
    ],
  );
  assert.equal(vhost?.appRoot, undefined);
  assert.deepEqual(
    problems.map((p) => `${p.field}: ${p.message}`),
    [
      'routes[1].redirect.statusCode: must be 300-308',
      'routes[2].httpsRedirect.statusCode: must be one of 301, 302, 307, 308',
      "appRoot: must be a path starting with one '/'",
    ],
  );
});
