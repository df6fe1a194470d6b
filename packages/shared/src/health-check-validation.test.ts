import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HEALTH_CHECK } from './health-check-defaults.ts';
import { checkHealthCheckSettings } from './health-check-validation.ts';
import type { HealthCheckSettings } from './route-table.ts';

type Mutation = (s: HealthCheckSettings) => void;

test('checkHealthCheckSettings accepts the default and policy-shaped settings', () => {
  const rows: Array<[string, Mutation]> = [
    ['default', () => {}],
    [
      'policy, port and host',
      (s) => Object.assign(s, { policy: { namespace: 'shop', name: 'hc' }, port: 8081 }),
    ],
    [
      'probe host',
      (s) => {
        s.http.host = 'health.internal';
      },
    ],
    [
      'several ranges',
      (s) => {
        s.http.expectedStatuses = [
          [200, 204],
          [301, 302],
        ];
      },
    ],
  ];
  for (const [name, mutate] of rows) {
    const settings = structuredClone(DEFAULT_HEALTH_CHECK) as HealthCheckSettings;
    mutate(settings);
    const { value, problems } = checkHealthCheckSettings(settings);
    assert.deepEqual(problems, [], name);
    assert.deepEqual(value, settings, name);
  }
});

test('checkHealthCheckSettings names every bad field', () => {
  const rows: Array<[string, Mutation, string[]]> = [
    [
      'timeout equals interval',
      (s) => {
        s.timeoutMs = s.intervalMs;
      },
      ['timeoutMs'],
    ],
    [
      'zero thresholds',
      (s) => Object.assign(s, { healthyThreshold: 0, unhealthyThreshold: 0 }),
      ['healthyThreshold', 'unhealthyThreshold'],
    ],
    [
      'no statuses',
      (s) => {
        s.http.expectedStatuses = [];
      },
      ['http.expectedStatuses'],
    ],
    [
      'status 99',
      (s) => {
        s.http.expectedStatuses = [[99, 200]];
      },
      ['http.expectedStatuses[0]'],
    ],
    [
      'reversed range',
      (s) => {
        s.http.expectedStatuses = [[300, 200]];
      },
      ['http.expectedStatuses[0]'],
    ],
    [
      'relative path',
      (s) => {
        s.http.path = 'healthz';
      },
      ['http.path'],
    ],
    [
      'fractional interval',
      (s) => {
        s.intervalMs = 1.5;
      },
      ['intervalMs'],
    ],
    [
      'passive zero',
      (s) => {
        s.passive.consecutiveFailures = 0;
      },
      ['passive.consecutiveFailures'],
    ],
    [
      'no passive',
      (s) => {
        Object.assign(s, { passive: undefined });
      },
      ['passive'],
    ],
    [
      'bad policy ref',
      (s) => {
        s.policy = { namespace: '', name: 'hc' };
      },
      ['policy.namespace'],
    ],
  ];
  for (const [name, mutate, fields] of rows) {
    const settings = structuredClone(DEFAULT_HEALTH_CHECK) as HealthCheckSettings;
    mutate(settings);
    const { value, problems } = checkHealthCheckSettings(settings);
    assert.equal(value, undefined, name);
    assert.deepEqual(
      problems.map((p) => p.field),
      fields,
      name,
    );
  }
  assert.deepEqual(checkHealthCheckSettings('5s').problems, [
    { field: '', message: 'must be an object' },
  ]);
});
