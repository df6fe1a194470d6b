import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HealthCheckSettings } from '@pier/shared';
import { DEFAULT_HEALTH_CHECK } from '@pier/shared';
import {
  compilePolicy,
  type HealthCheckPolicy,
  resolveHealthPolicies,
} from './health-policy-resolver.ts';
import { NS, policy } from './route-fixtures.test.ts';

const exists = (namespace: string, name: string) => namespace === NS && name !== 'gone';

test('health policies: fields override the default; the rest is the default', () => {
  const p = policy('web-hc', 'web', {
    port: 9000,
    http: { path: '/healthz', host: 'web.internal', expectedStatuses: '200-299, 404' },
    interval: '10s',
    timeout: '1500ms',
    healthyThreshold: 1,
    unhealthyThreshold: 5,
    passive: { consecutiveFailures: 3, ejectionTime: '1m', maxEjectionPercent: 20 },
  });
  const resolved = resolveHealthPolicies([p], exists, DEFAULT_HEALTH_CHECK);
  const expected: HealthCheckSettings = {
    policy: { namespace: NS, name: 'web-hc' },
    port: 9000,
    http: {
      path: '/healthz',
      host: 'web.internal',
      expectedStatuses: [
        [200, 299],
        [404, 404],
      ],
    },
    intervalMs: 10_000,
    timeoutMs: 1_500,
    healthyThreshold: 1,
    unhealthyThreshold: 5,
    passive: { consecutiveFailures: 3, ejectionMs: 60_000, maxEjectionPercent: 20 },
  };
  assert.deepEqual(resolved.settingsFor(NS, 'web'), expected);
  assert.deepEqual(resolved.statuses, [
    {
      namespace: NS,
      name: 'web-hc',
      accepted: { status: 'True', reason: 'Accepted', message: 'applies to Service shop/web' },
      resolvedRefs: { status: 'True', reason: 'ResolvedRefs', message: 'Service shop/web found' },
    },
  ]);
});

test('health policies: a partial policy keeps the other defaults; other Services get the default', () => {
  const resolved = resolveHealthPolicies(
    [policy('web-hc', 'web', { http: { path: '/ready' } })],
    exists,
    DEFAULT_HEALTH_CHECK,
  );
  assert.deepEqual(resolved.settingsFor(NS, 'web'), {
    ...structuredClone(DEFAULT_HEALTH_CHECK),
    policy: { namespace: NS, name: 'web-hc' },
    http: { path: '/ready', expectedStatuses: [[200, 399]] },
  });
  assert.deepEqual(resolved.settingsFor(NS, 'api'), DEFAULT_HEALTH_CHECK);
  assert.deepEqual(
    resolved.settingsFor('other', 'web'),
    DEFAULT_HEALTH_CHECK,
    'same namespace only',
  );
});

test('health policies: settings are fresh copies, never the frozen default or each other', () => {
  const resolved = resolveHealthPolicies([], exists, DEFAULT_HEALTH_CHECK);
  const a = resolved.settingsFor(NS, 'web');
  const b = resolved.settingsFor(NS, 'web');
  assert.notEqual(a, b);
  assert.notEqual(a.http.expectedStatuses, DEFAULT_HEALTH_CHECK.http.expectedStatuses);
  a.intervalMs = 1;
  assert.equal(b.intervalMs, DEFAULT_HEALTH_CHECK.intervalMs);
});

test('health policies: two on one Service: the oldest applies, the other is Conflicted', () => {
  const older = policy('b-old', 'web', { interval: '7s' }, { age: 1 });
  const newer = policy('a-new', 'web', { interval: '9s' }, { age: 2 });
  for (const order of [
    [older, newer],
    [newer, older],
  ]) {
    const resolved = resolveHealthPolicies(order, exists, DEFAULT_HEALTH_CHECK);
    assert.equal(resolved.settingsFor(NS, 'web').intervalMs, 7_000);
    assert.deepEqual(
      resolved.statuses.map((s) => [s.name, s.accepted.status, s.accepted.reason]),
      [
        ['a-new', 'False', 'Conflicted'],
        ['b-old', 'True', 'Accepted'],
      ],
    );
    assert.match(resolved.statuses[0]?.accepted.message ?? '', /shop\/b-old/);
  }
});

test('health policies: an invalid older policy does not block a valid newer one', () => {
  const resolved = resolveHealthPolicies(
    [
      policy('old-bad', 'web', { interval: 'often' }, { age: 1 }),
      policy('new-good', 'web', { interval: '9s' }, { age: 2 }),
    ],
    exists,
    DEFAULT_HEALTH_CHECK,
  );
  assert.equal(resolved.settingsFor(NS, 'web').intervalMs, 9_000);
  assert.deepEqual(
    resolved.statuses.map((s) => [s.name, s.accepted.reason]),
    [
      ['new-good', 'Accepted'],
      ['old-bad', 'Invalid'],
    ],
  );
});

const invalid: Array<[string, Partial<HealthCheckPolicy['spec']>, RegExp]> = [
  ['unparsable interval', { interval: 'often' }, /^spec\.interval: /],
  ['unparsable timeout', { timeout: '5 s' }, /^spec\.timeout: /],
  [
    'unparsable ejection time',
    { passive: { ejectionTime: '-1s' } },
    /^spec\.passive\.ejectionTime: /,
  ],
  ['bad status list', { http: { expectedStatuses: '200-99' } }, /^spec\.http\.expectedStatuses: /],
  ['status out of range', { http: { expectedStatuses: '700' } }, /^spec\.http\.expectedStatuses: /],
  ['timeout not below interval', { interval: '1s' }, /^spec\.timeout: must be less than/],
  ['zero interval', { interval: '0' }, /^spec\.interval: /],
  ['relative probe path', { http: { path: 'healthz' } }, /^spec\.http\.path: /],
  ['zero threshold', { healthyThreshold: 0 }, /^spec\.healthyThreshold: /],
  ['port out of range', { port: 70000 }, /^spec\.port: /],
  [
    'zero consecutive failures',
    { passive: { consecutiveFailures: 0 } },
    /^spec\.passive\.consecutiveFailures: /,
  ],
  ['target of another kind', { targetRef: { kind: 'Pod', name: 'web' } }, /^spec\.targetRef: /],
  ['target in another group', { targetRef: { group: 'apps', name: 'web' } }, /^spec\.targetRef: /],
  ['duration as a number', { interval: 5 as unknown as string }, /^spec\.interval: /],
];

for (const [name, spec, message] of invalid) {
  test(`health policies: ${name} → Invalid, default used`, () => {
    const p = policy('hc', 'web', spec);
    const compiled = compilePolicy(p, DEFAULT_HEALTH_CHECK);
    assert.equal(compiled.ok, false);
    const resolved = resolveHealthPolicies([p], exists, DEFAULT_HEALTH_CHECK);
    assert.deepEqual(resolved.settingsFor(NS, 'web'), DEFAULT_HEALTH_CHECK);
    const status = resolved.statuses[0];
    assert.equal(status?.accepted.status, 'False');
    assert.equal(status?.accepted.reason, 'Invalid');
    assert.match(status?.accepted.message ?? '', message);
  });
}

test('health policies: a missing Service: accepted, ResolvedRefs False, applies once it exists', () => {
  const p = policy('hc', 'gone', { interval: '9s' });
  const resolved = resolveHealthPolicies([p], exists, DEFAULT_HEALTH_CHECK);
  assert.deepEqual(resolved.statuses[0]?.accepted.status, 'True');
  assert.deepEqual(resolved.statuses[0]?.resolvedRefs, {
    status: 'False',
    reason: 'ServiceNotFound',
    message: 'Service shop/gone not found',
  });
  const later = resolveHealthPolicies([p], () => true, DEFAULT_HEALTH_CHECK);
  assert.equal(later.settingsFor(NS, 'gone').intervalMs, 9_000);
});

test('health policies: a probe port that is no Service port is allowed', () => {
  const resolved = resolveHealthPolicies(
    [policy('hc', 'web', { port: 9901 })],
    exists,
    DEFAULT_HEALTH_CHECK,
  );
  assert.equal(resolved.statuses[0]?.accepted.status, 'True');
  assert.equal(resolved.statuses[0]?.resolvedRefs.status, 'True');
  assert.equal(resolved.settingsFor(NS, 'web').port, 9901);
});

test('health policies: every policy gets exactly one status, sorted by namespace/name', () => {
  const policies = [
    policy('z', 'web', {}, { namespace: 'a' }),
    policy('b', 'gone', {}),
    policy('a', 'web', { interval: 'x' }),
    policy('c', 'web', {}, { age: 5 }),
  ];
  const resolved = resolveHealthPolicies(policies, exists, DEFAULT_HEALTH_CHECK);
  assert.deepEqual(
    resolved.statuses.map((s) => `${s.namespace}/${s.name}`),
    ['a/z', 'shop/a', 'shop/b', 'shop/c'],
  );
});
