import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import { authCacheMs, checkAuthCache, parseAuthCacheDuration } from './route-auth-cache.ts';

test("parseAuthCacheDuration reads proxy_cache_valid entries as ingress-nginx's auth-cache-duration", () => {
  const cases: Array<[string, unknown]> = [
    ['200 202 401 5m', [{ statuses: [200, 202, 401], ms: 300_000 }]],
    [
      '200 202 10m, 401 30s',
      [
        { statuses: [200, 202], ms: 600_000 },
        { statuses: [401], ms: 30_000 },
      ],
    ],
    ['1h', [{ statuses: [], ms: 3_600_000 }]],
    ['any 2d', [{ statuses: 'any', ms: 172_800_000 }]],
    ['200', /does not end in one time/],
    ['200 5ms', /does not end in one time/],
    ['200 1h 30m', /'1h' in '200 1h 30m' is not a status code/],
    ['600 5m', /is not a status code/],
    ['', /names no duration/],
  ];
  for (const [text, want] of cases) {
    const got = parseAuthCacheDuration(text);
    if (want instanceof RegExp) assert.match(String(got), want, text);
    else assert.deepEqual(got, want, text);
  }
});

test("authCacheMs: how long nginx's proxy cache keeps an auth answer", () => {
  const valid = [
    { statuses: [200, 202], ms: 600_000 },
    { statuses: [401], ms: 30_000 },
  ];
  const now = Date.parse('2026-12-08T00:00:00Z');
  const cases: Array<[number, Record<string, string | string[]>, number]> = [
    [200, {}, 600_000],
    [202, {}, 600_000],
    [401, {}, 30_000],
    [403, {}, 0],
    [200, { 'set-cookie': 'a=1' }, 0],
    [200, { 'cache-control': 'no-cache' }, 0],
    [200, { 'cache-control': 'private, max-age=60' }, 0],
    [200, { 'cache-control': 'max-age=60' }, 60_000],
    [200, { 'x-accel-expires': '5', 'cache-control': 'max-age=60' }, 5_000],
    [200, { 'x-accel-expires': '0' }, 0],
    [200, { expires: 'Tue, 08 Dec 2026 00:00:10 GMT' }, 10_000],
    [200, { expires: 'garbage' }, 0],
    [200, { vary: '*' }, 0],
  ];
  for (const [status, headers, ms] of cases)
    assert.equal(
      authCacheMs(status, headers, valid, now),
      ms,
      `${status} ${JSON.stringify(headers)}`,
    );
  assert.equal(authCacheMs(301, {}, [{ statuses: [], ms: 1000 }], now), 1000, 'empty: 200 301 302');
  assert.equal(authCacheMs(401, {}, [{ statuses: [], ms: 1000 }], now), 0);
  assert.equal(authCacheMs(500, {}, [{ statuses: 'any', ms: 1000 }], now), 1000);
});

test('checkAuthCache keeps a good cache and reports a bad one', () => {
  const problems: string[] = [];
  const report = reporter((field) => problems.push(field));
  const good = {
    scope: 'ns/a Prefix /',
    key: '$http_authorization',
    valid: [{ statuses: 'any', ms: 1 }],
  };
  assert.deepEqual(checkAuthCache(good, 'cache.', report), good);
  assert.equal(checkAuthCache({ ...good, key: '$nope' }, 'cache.', report), undefined);
  assert.equal(
    checkAuthCache({ ...good, valid: [{ statuses: [99], ms: 1 }] }, 'cache.', report),
    undefined,
  );
  assert.deepEqual(problems, ['cache.key', 'cache.valid.0']);
});
