import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route, RouteMatch } from '@pier/shared';
import { ConnectionSlot, RateLimits } from './rate-limits.ts';
import { type RoutedRequest, routeAnswer } from './route-policy.ts';

function match(route: Partial<Route>): RouteMatch {
  return {
    virtualHost: { address: '*', host: 'a.example', routes: [] },
    route: {
      path: '/',
      pathType: 'Prefix',
      backend: 'n/s:80',
      source: { namespace: 'n', name: 'i' },
      ...route,
    },
    backend: {} as RouteMatch['backend'],
    viaDefault: false,
  };
}

const options = { scheme: 'http' as const, httpsPort: 443 };
const from = (remoteAddress: string, more: Partial<RoutedRequest> = {}): RoutedRequest => ({
  host: 'a.example',
  target: '/',
  remoteAddress,
  method: 'GET',
  origin: undefined,
  ...more,
});

const cors = {
  origins: ['*'],
  methods: 'GET',
  headers: 'X',
  credentials: false,
  maxAgeSeconds: 1,
};

test('route policy: redirect, preflight, rate limits, then the source ranges (nginx’s phases)', () => {
  const limits = new RateLimits({ clock: () => 0 });
  const once = { zone: 'n/i', perSecond: { rate: 1, burst: 0 } };
  const limited = match({
    rateLimit: once,
    sourceRanges: { deny: ['192.0.2.9/32'] },
    cors,
  });
  const answer = (m: RouteMatch, r: RoutedRequest) => {
    const got = routeAnswer(m, options, r, limits);
    return got === undefined ? 'proxy' : Object.keys(got)[0];
  };
  assert.equal(answer(limited, from('192.0.2.1', { method: 'OPTIONS' })), 'preflight');
  assert.equal(answer(limited, from('192.0.2.1')), 'proxy', 'the preflight was not counted');
  assert.equal(answer(limited, from('192.0.2.1')), 'limited');
  assert.equal(answer(limited, from('192.0.2.9')), 'forbidden', 'counted, then refused');
  assert.equal(answer(limited, from('192.0.2.9')), 'limited', 'a denied client is limited too');
  assert.equal(
    answer(limited, from('::ffff:192.0.2.1', { method: 'OPTIONS', upgrade: true })),
    'limited',
    'an upgrade is never a preflight; its address is unmapped',
  );
  const moved = match({
    rateLimit: once,
    redirect: { statusCode: 301, url: 'https://b.example/' },
  });
  assert.equal(answer(moved, from('192.0.2.1')), 'redirect', 'redirects are never limited');
  assert.equal(answer(match({ rateLimit: once }), from('192.0.2.1')), 'limited', 'one zone');
  assert.equal(
    routeAnswer(match({ rateLimit: once }), options, from('192.0.2.1'), undefined),
    undefined,
    'without counters, nothing is limited',
  );
});

test('route policy: a slot is held for the request, and let go when the address is refused', () => {
  const limits = new RateLimits({ clock: () => 0 });
  const rateLimit = { zone: 'n/i', connections: 1 };
  const held = routeAnswer(match({ rateLimit }), options, from('192.0.2.1'), limits);
  assert.ok(held !== undefined && 'held' in held && held.held instanceof ConnectionSlot);
  assert.deepEqual(routeAnswer(match({ rateLimit }), options, from('192.0.2.1'), limits), {
    limited: 'connections',
  });
  held.held.release();
  const denied = match({ rateLimit, sourceRanges: { allow: [] } });
  assert.deepEqual(routeAnswer(denied, options, from('192.0.2.1'), limits), { forbidden: true });
  const again = routeAnswer(match({ rateLimit }), options, from('192.0.2.1'), limits);
  assert.ok(again !== undefined && 'held' in again, 'the refused request gave its slot back');
  assert.equal(
    routeAnswer(match({}), options, from('192.0.2.1'), limits),
    undefined,
    'a route without limits is proxied with nothing to release',
  );
});
