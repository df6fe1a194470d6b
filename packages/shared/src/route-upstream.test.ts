import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import type { RetryPolicy } from './route-table.ts';
import { checkUpstreamPolicy, retryAllowed } from './route-upstream.ts';

/** ingress-nginx's default: `error timeout`, 3 tries, no time limit. */
const NGINX_DEFAULT: RetryPolicy = {
  tries: 3,
  timeoutMs: 0,
  onError: true,
  onTimeout: true,
  onInvalidHeader: false,
  statuses: [],
  nonIdempotent: false,
};
const GET = { method: 'GET', hasBody: false, attempts: 1, elapsedMs: 10 };

test('retryAllowed follows proxy_next_upstream, _tries and _timeout', () => {
  const rows: Array<
    [
      string,
      RetryPolicy,
      Parameters<typeof retryAllowed>[1],
      Parameters<typeof retryAllowed>[2],
      boolean,
    ]
  > = [
    ['error is retried by default', NGINX_DEFAULT, GET, { condition: 'error' }, true],
    ['timeout is retried by default', NGINX_DEFAULT, GET, { condition: 'timeout' }, true],
    [
      'invalid_header is not, by default',
      NGINX_DEFAULT,
      GET,
      { condition: 'invalid_header' },
      false,
    ],
    ['a status is not, by default', NGINX_DEFAULT, GET, { status: 502 }, false],
    ['http_502 listed', { ...NGINX_DEFAULT, statuses: [502] }, GET, { status: 502 }, true],
    [
      'http_502 listed, 503 answered',
      { ...NGINX_DEFAULT, statuses: [502] },
      GET,
      { status: 503 },
      false,
    ],
    [
      'the third attempt is the last of 3',
      NGINX_DEFAULT,
      { ...GET, attempts: 3 },
      { condition: 'error' },
      false,
    ],
    [
      'tries 0: no limit',
      { ...NGINX_DEFAULT, tries: 0 },
      { ...GET, attempts: 50 },
      { condition: 'error' },
      true,
    ],
    ['tries 1: never', { ...NGINX_DEFAULT, tries: 1 }, GET, { condition: 'error' }, false],
    ['past the time limit', { ...NGINX_DEFAULT, timeoutMs: 5 }, GET, { condition: 'error' }, false],
    [
      'within the time limit',
      { ...NGINX_DEFAULT, timeoutMs: 50 },
      GET,
      { condition: 'error' },
      true,
    ],
    [
      'POST only with non_idempotent',
      NGINX_DEFAULT,
      { ...GET, method: 'POST' },
      { condition: 'error' },
      false,
    ],
    [
      'POST with non_idempotent',
      { ...NGINX_DEFAULT, nonIdempotent: true },
      { ...GET, method: 'POST' },
      { condition: 'error' },
      true,
    ],
    ['PUT is idempotent', NGINX_DEFAULT, { ...GET, method: 'PUT' }, { condition: 'error' }, true],
    [
      'a body is never sent twice',
      { ...NGINX_DEFAULT, nonIdempotent: true },
      { ...GET, hasBody: true },
      { condition: 'error' },
      false,
    ],
    [
      'off',
      { ...NGINX_DEFAULT, onError: false, onTimeout: false },
      GET,
      { condition: 'error' },
      false,
    ],
  ];
  for (const [name, policy, state, failure, expected] of rows) {
    assert.equal(retryAllowed(policy, state, failure), expected, name);
  }
});

test('checkUpstreamPolicy keeps a valid policy and names each bad field', () => {
  const problems: string[] = [];
  const report = reporter((field, message) => problems.push(`${field}: ${message}`));
  const policy = {
    connectTimeoutMs: 2_000,
    readTimeoutMs: 120_000,
    sendTimeoutMs: 1_000,
    retry: NGINX_DEFAULT,
  };
  assert.deepEqual(checkUpstreamPolicy(policy, 'r.upstream.', report), policy);
  assert.deepEqual(problems, []);
  assert.equal(
    checkUpstreamPolicy(
      {
        connectTimeoutMs: 0,
        sendTimeoutMs: 1.5,
        retry: { ...NGINX_DEFAULT, statuses: [501], tries: -1 },
      },
      'r.upstream.',
      report,
    ),
    undefined,
  );
  assert.deepEqual(problems, [
    'r.upstream.connectTimeoutMs: must be an integer, 1-3600000',
    'r.upstream.sendTimeoutMs: must be an integer, 1-3600000',
    'r.upstream.retry.tries: must be an integer, 0-100',
    'r.upstream.retry.statuses: must be a list of 500, 502, 503, 504, 403, 404, 429',
  ]);
});
