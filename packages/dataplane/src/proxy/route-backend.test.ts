import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { type RouteMatch, RouteSplit } from '@pier/shared';
import { backend, route, vhost } from '../../../shared/src/fixtures.test.ts';
import { firstChoice, routeBackend } from './route-backend.ts';

const main = backend('main');
const canary = backend('canary');
const plain = route('/', 'Prefix', main.id);
const withSplit = {
  ...plain,
  split: {
    rules: [
      {
        source: 'header' as const,
        name: 'x-canary',
        type: 'Exact' as const,
        value: 'always',
        backend: canary.id,
      },
    ],
    weights: [
      { backend: main.id, weight: 1 },
      { backend: canary.id, weight: 1 },
    ],
  },
};
const match = (r: typeof plain): RouteMatch => ({
  virtualHost: vhost('203.0.113.1', 'shop.example.com', [r]),
  route: r,
  backend: main,
  split: RouteSplit.of(r, main, { [main.id]: main, [canary.id]: canary }),
  viaDefault: false,
});

/** A request whose headers count their reads (Node builds `req.headers` on first use). */
function request(headers: Record<string, string>) {
  let reads = 0;
  const req = {
    get headers() {
      reads++;
      return headers;
    },
  } as unknown as IncomingMessage;
  return { req, reads: () => reads };
}

test('routeBackend: a route without a split never reads the headers', () => {
  const { req, reads } = request({ 'x-canary': 'always' });
  assert.equal(routeBackend(match(plain), req, {}), main);
  assert.equal(reads(), 0);
});

test('routeBackend: a split reads the request, then the weights with the injected random', () => {
  const canaryReq = request({ 'x-canary': 'always' });
  assert.equal(routeBackend(match(withSplit), canaryReq.req, { random: () => 0 }).id, canary.id);
  assert.equal(canaryReq.reads(), 1);
  assert.equal(routeBackend(match(withSplit), request({}).req, { random: () => 0 }).id, main.id);
  assert.equal(
    routeBackend(match(withSplit), request({}).req, { random: () => 0.5 }).id,
    canary.id,
  );
});

test('firstChoice: the default backend stands in only while the backend has no endpoint at all', () => {
  const errors = backend('errors', 80, ['192.0.2.40']);
  const empty = backend('empty', 80, []);
  const req = {} as IncomingMessage;
  const none = { choose: () => undefined };
  const any = {
    choose: (b: typeof main) => {
      const e = b.endpoints[0];
      return e && { id: `${e.address}:${e.port}`, address: e.address, port: e.port };
    },
  };
  const fallbackMatch = { ...match(plain), errorBackend: errors };
  const picked = firstChoice(fallbackMatch, empty, req, any);
  assert.equal(picked.backend, errors, 'no endpoint at all: the error backend serves');
  assert.equal(picked.choice?.address, '192.0.2.40');
  assert.equal(
    firstChoice(fallbackMatch, main, req, none).backend,
    main,
    'endpoints exist but none can take traffic: 503, not the fallback',
  );
  assert.equal(firstChoice(fallbackMatch, main, req, none).choice, undefined);
  assert.equal(firstChoice(match(plain), empty, req, none).backend, empty, 'no default backend');
});
