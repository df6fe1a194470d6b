import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointField } from '@pier/shared';
import { type HealthStatus, HealthTracker, parseHealthState } from './health-state.ts';

const ID = endpointField('192.0.2.10', 8080);
const thresholds = { healthyThreshold: 2, unhealthyThreshold: 3 };

/** Feeds results ('+' success, '-' failure) one per ms and returns the status after each. */
function run(results: string, start?: HealthStatus): HealthStatus[] {
  const tracker = new HealthTracker();
  if (start !== undefined) tracker.apply(ID, { status: start, since: 0 });
  return [...results].map((r, i) => {
    tracker.record(ID, r === '+', i + 1, thresholds);
    return tracker.status(ID);
  });
}

test('status transitions follow the thresholds (healthy 2, unhealthy 3)', () => {
  const U = 'unknown';
  const H = 'healthy';
  const X = 'unhealthy';
  const rows: Array<[string, HealthStatus | undefined, HealthStatus[]]> = [
    // A new endpoint starts unknown and needs healthyThreshold successes to be reported healthy.
    ['+', undefined, [U]],
    ['++', undefined, [U, H]],
    ['---', undefined, [U, U, X]],
    // A success in between resets the failure count, and a failure the success count.
    ['--+--', undefined, [U, U, U, U, U]],
    ['+-+', undefined, [U, U, U]],
    ['--+---', undefined, [U, U, U, U, U, X]],
    ['++---', undefined, [U, H, H, H, X]],
    ['++--+---', undefined, [U, H, H, H, H, H, H, X]],
    ['+-+', 'unhealthy', [X, X, X]],
    ['++', 'unhealthy', [X, H]],
    ['+-++', 'unhealthy', [X, X, X, H]],
    ['--', 'healthy', [H, H]],
    ['-', 'unhealthy', [X]],
  ];
  for (const [results, start, expected] of rows) {
    assert.deepEqual(run(results, start), expected, `${start ?? 'new'} then ${results}`);
  }
});

test('record returns the transition only when the status changes', () => {
  const tracker = new HealthTracker();
  const one = { healthyThreshold: 1, unhealthyThreshold: 1 };
  assert.deepEqual(tracker.record(ID, true, 10, one), { id: ID, from: 'unknown', to: 'healthy' });
  assert.equal(tracker.record(ID, true, 20, one), undefined);
  assert.deepEqual(tracker.record(ID, false, 30, one), {
    id: ID,
    from: 'healthy',
    to: 'unhealthy',
  });
  const entry = tracker.get(ID);
  assert.equal(entry?.lastChange, 30);
  assert.equal(entry?.lastProbe, 30);
  assert.equal(entry?.failures, 1);
  assert.equal(entry?.successes, 0);
});

test('unknown and healthy endpoints are usable, unhealthy ones are not', () => {
  const tracker = new HealthTracker();
  assert.equal(tracker.isUsable('never-seen'), true);
  tracker.record(ID, false, 1, thresholds);
  assert.equal(tracker.status(ID), 'unknown');
  assert.equal(tracker.isUsable(ID), true);
  tracker.record(ID, false, 2, thresholds);
  tracker.record(ID, false, 3, thresholds);
  assert.equal(tracker.isUsable(ID), false);
});

test('apply adopts the state shared by another node, counters included', () => {
  const tracker = new HealthTracker({ node: 'edge-b' });
  assert.deepEqual(
    tracker.apply(ID, { status: 'unhealthy', since: 500, failures: 4, successes: 0, by: 'edge-a' }),
    { id: ID, from: 'unknown', to: 'unhealthy' },
  );
  assert.equal(tracker.isUsable(ID), false);
  assert.deepEqual(tracker.get(ID), {
    status: 'unhealthy',
    failures: 4,
    successes: 0,
    lastChange: 500,
    by: 'edge-a',
  });
  // Same status again: no transition.
  assert.equal(tracker.apply(ID, { status: 'unhealthy', since: 500, by: 'edge-a' }), undefined);
  // This node inherits the probe: one success short of healthy, the next success finishes it.
  tracker.apply(ID, { status: 'unhealthy', since: 500, failures: 0, successes: 1, by: 'edge-a' });
  assert.deepEqual(tracker.record(ID, true, 900, thresholds), {
    id: ID,
    from: 'unhealthy',
    to: 'healthy',
  });
  assert.equal(tracker.get(ID)?.by, 'edge-b');
});

test('forget drops endpoints that left the table', () => {
  const tracker = new HealthTracker();
  const other = endpointField('2001:db8::1', 80);
  tracker.record(ID, false, 1, { healthyThreshold: 1, unhealthyThreshold: 1 });
  tracker.record(other, true, 1, thresholds);
  assert.deepEqual(tracker.forget(new Set([other])), [ID]);
  assert.deepEqual(tracker.ids(), [other]);
  // A forgotten unhealthy endpoint that comes back starts over as unknown (usable).
  assert.equal(tracker.isUsable(ID), true);
  assert.equal(tracker.status(ID), 'unknown');
});

test('serialize and parseHealthState round-trip the Redis hash value', () => {
  const tracker = new HealthTracker({ node: 'edge-a' });
  assert.equal(tracker.serialize(ID), undefined);
  tracker.record(ID, false, 100, thresholds);
  tracker.record(ID, false, 200, thresholds);
  tracker.record(ID, false, 300, thresholds);
  const json = tracker.serialize(ID);
  assert.ok(json !== undefined);
  const state = parseHealthState(json);
  assert.deepEqual(state, {
    status: 'unhealthy',
    since: 300,
    failures: 3,
    successes: 0,
    by: 'edge-a',
  });
  // Another node applying it agrees.
  const other = new HealthTracker({ node: 'edge-b' });
  assert.ok(state !== undefined);
  other.apply(ID, state);
  assert.equal(other.isUsable(ID), false);
  assert.equal(other.serialize(ID), json);
});

test('parseHealthState rejects garbage', () => {
  const good = { status: 'healthy', since: 1, failures: 0, successes: 2 };
  const rows: string[] = [
    '',
    'not json',
    '{',
    'null',
    '42',
    '"healthy"',
    '[]',
    JSON.stringify({ ...good, status: 'sick' }),
    JSON.stringify({ ...good, status: undefined }),
    JSON.stringify({ ...good, since: -1 }),
    JSON.stringify({ ...good, since: '1' }),
    JSON.stringify({ ...good, since: undefined }),
    JSON.stringify({ ...good, failures: -1 }),
    JSON.stringify({ ...good, failures: 1.5 }),
    JSON.stringify({ ...good, successes: '2' }),
    JSON.stringify({ ...good, successes: undefined }),
    JSON.stringify({ ...good, by: 7 }),
    JSON.stringify({ ...good, by: '' }),
  ];
  for (const input of rows) assert.equal(parseHealthState(input), undefined, input);
  assert.deepEqual(parseHealthState(JSON.stringify(good)), good);
  // Unknown fields are ignored, so an older node reads a newer node's value.
  assert.deepEqual(parseHealthState(JSON.stringify({ ...good, latencyMs: 3 })), good);
});
