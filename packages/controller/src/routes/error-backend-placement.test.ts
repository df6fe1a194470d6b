import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateRouteTable } from '@pier/shared';
import { compileRoutes } from './route-compiler.ts';
import {
  ADDRESS,
  compileInput,
  ingress,
  NS,
  path,
  rule,
  service,
  slice,
} from './route-fixtures.test.ts';

const N = 'nginx.ingress.kubernetes.io/';
const web = service('web');
const webSlice = slice('web-a', 'web', [{ name: 'http', port: 8080 }], [['192.0.2.1']]);
// The error Service's first port is 8080 (named), the second 80: ingress-nginx takes the first.
const pages = service('pages', [
  { name: 'pages', port: 8080, targetPort: 9000 },
  { name: 'http', port: 80, targetPort: 9001 },
]);
const pagesSlice = slice('pages-a', 'pages', [{ name: 'pages', port: 9000 }], [['192.0.2.2']]);

function compile(annotations: Record<string, string>, services = [web, pages]) {
  const out = compileRoutes(
    compileInput({
      ingresses: [
        ingress('shop', {
          rules: [rule('shop.example.test', path('/', 'web', 80), path('/api', 'web', 80))],
          annotations: Object.fromEntries(Object.entries(annotations).map(([k, v]) => [N + k, v])),
        }),
      ],
      services,
      endpointSlices: [webSlice, pagesSlice],
    }),
  );
  const checked = validateRouteTable({ revision: 1, ...out.table });
  assert.deepEqual(checked.problems, [], 'the table validates whole');
  return out;
}

// annotations.md#custom-http-errors and #default-backend.
test('error backend: every route of the Ingress gets it, on the first port, with the codes', () => {
  const out = compile({
    'custom-http-errors': '503,404',
    'default-backend': 'pages',
    'disable-proxy-intercept-errors': 'true',
  });
  const routes = out.table.virtualHosts[`${ADDRESS}|shop.example.test`]?.routes ?? [];
  assert.equal(routes.length, 2);
  for (const route of routes) {
    assert.deepEqual(route.errors, {
      backend: `${NS}/pages:8080`,
      codes: [404, 503],
      upstreamPasses: true,
    });
  }
  const errorBackend = out.table.backends[`${NS}/pages:8080`];
  assert.deepEqual(
    errorBackend?.endpoints.map((e) => `${e.address}:${e.port}`),
    ['192.0.2.2:9000'],
    'endpoints from its EndpointSlices, by the first port',
  );
  assert.deepEqual(out.problems, []);
});

test('error backend: a missing Service is reported naming the annotation; the codes stay', () => {
  const out = compile({ 'custom-http-errors': '404', 'default-backend': 'pages' }, [web]);
  const route = out.table.virtualHosts[`${ADDRESS}|shop.example.test`]?.routes[0];
  assert.deepEqual(route?.errors, { codes: [404] });
  assert.equal(out.table.backends[`${NS}/pages:8080`], undefined);
  assert.deepEqual(
    out.problems.map((p) => [p.reason, p.message]),
    [
      [
        'ServiceNotFound',
        `${N}default-backend: Service ${NS}/pages not found; the Ingress is served without its default backend until it exists`,
      ],
    ],
  );
});

test('error backend: nothing asked, nothing added; disable-proxy-intercept-errors alone is no errors', () => {
  const cases: Array<Record<string, string>> = [{}, { 'disable-proxy-intercept-errors': 'true' }];
  for (const annotations of cases) {
    const out = compile(annotations);
    const route = out.table.virtualHosts[`${ADDRESS}|shop.example.test`]?.routes[0];
    assert.equal(route?.errors, undefined);
    assert.deepEqual(Object.keys(out.table.backends), [`${NS}/web:80`]);
  }
});
