import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Backend,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  type Endpoint,
  type HealthCheckSettings,
} from '@pier/shared';
import { HEALTH_HASH_MIN_TTL_MS, healthHashTtlMs } from './health-checker.ts';
import { encodeHealthMessage, type HealthMessage, parseHealthMessage } from './health-messages.ts';
import { jitteredInterval, ProbeScheduler, type ScheduledTarget } from './probe-scheduler.ts';

function endpoint(address: string, extra: Partial<Endpoint> = {}): Endpoint {
  return { address, port: 8080, ready: true, serving: true, terminating: false, ...extra };
}

function backend(
  id: string,
  endpoints: Endpoint[],
  healthCheck: Partial<HealthCheckSettings> = {},
): Backend {
  return {
    id,
    service: { namespace: 'shop', name: id },
    servicePort: 80,
    endpoints,
    healthCheck: { ...structuredClone(DEFAULT_HEALTH_CHECK), ...healthCheck },
    balancing: { algorithm: 'p2c' },
  };
}

/** A scheduler that never starts (no probe goes out), to read the targets it derives. */
function scheduler(): ProbeScheduler {
  return new ProbeScheduler({
    node: 'n1',
    logger: createLogger({ name: 'test', level: 'silent' }),
    random: () => 0.5,
    clock: Date.now,
    onResult: () => {},
  });
}

/** Runs one sliced update to its end. */
function apply(s: ProbeScheduler, changed: Backend[], removed: string[] = []): void {
  for (const _ of s.update(changed, removed, true));
}

function probeTargets(backends: Backend[]): Map<string, ScheduledTarget> {
  const s = scheduler();
  apply(s, backends);
  return new Map([...s.targets()].map((t) => [t.key, t]));
}

/** Who judges a target's answer, in the order they joined. */
function membersOf(target: ScheduledTarget | undefined): object[] | undefined {
  if (target === undefined) return undefined;
  return [...target.members.values()].map(({ backendId, endpointId }) => ({
    backendId,
    endpointId,
  }));
}

/** What goes on the wire and who judges it, without the scheduler's bookkeeping. */
function spec(target: ScheduledTarget | undefined): object | undefined {
  if (target === undefined) return undefined;
  const { key, address, port, path, host, intervalMs, timeoutMs } = target;
  return {
    key,
    address,
    port,
    path,
    ...(host === undefined ? {} : { host }),
    intervalMs,
    timeoutMs,
    members: membersOf(target),
  };
}

test('probe targets: ready or serving endpoints, one target per distinct probe', () => {
  const targets = probeTargets([
    backend('shop/web:80', [
      endpoint('192.0.2.1'),
      // Terminating but still serving: still probed (it may still get requests in flight).
      endpoint('192.0.2.2', { ready: false, serving: true, terminating: true }),
      // Neither ready nor serving: nothing to learn.
      endpoint('192.0.2.3', { ready: false, serving: false }),
      // Listed twice (two slices): one member, not two.
      endpoint('192.0.2.1'),
    ]),
  ]);
  assert.deepEqual(
    [...targets.values()].map((t) => [t.key, t.members.size]),
    [
      ['192.0.2.1:8080|8080||/', 1],
      ['192.0.2.2:8080|8080||/', 1],
    ],
  );
});

test('backends with identical probes share a target: shortest interval, longest timeout', () => {
  const targets = probeTargets([
    backend('shop/a:80', [endpoint('192.0.2.1')], { intervalMs: 5_000, timeoutMs: 500 }),
    backend('shop/b:80', [endpoint('192.0.2.1')], { intervalMs: 1_000, timeoutMs: 900 }),
    // A different path is another request on the wire: a target of its own.
    backend('shop/c:80', [endpoint('192.0.2.1')], {
      http: { path: '/ready', expectedStatuses: [[200, 299]] },
    }),
    // The policy's port and Host header go into the target.
    backend('shop/d:80', [endpoint('2001:db8::1')], {
      port: 9000,
      http: { path: '/', host: 'app.example.com', expectedStatuses: [[200, 399]] },
    }),
  ]);
  const shared = targets.get('192.0.2.1:8080|8080||/');
  assert.deepEqual(membersOf(shared), [
    { backendId: 'shop/a:80', endpointId: '192.0.2.1:8080' },
    { backendId: 'shop/b:80', endpointId: '192.0.2.1:8080' },
  ]);
  assert.equal(shared?.intervalMs, 1_000);
  assert.equal(shared?.timeoutMs, 900);
  assert.equal(targets.get('192.0.2.1:8080|8080||/ready')?.members.size, 1);
  assert.deepEqual(spec(targets.get('[2001:db8::1]:8080|9000|app.example.com|/')), {
    key: '[2001:db8::1]:8080|9000|app.example.com|/',
    address: '2001:db8::1',
    port: 9000,
    path: '/',
    host: 'app.example.com',
    intervalMs: 5_000,
    timeoutMs: 2_000,
    members: [{ backendId: 'shop/d:80', endpointId: '[2001:db8::1]:8080' }],
  });
});

test('targets follow backend changes: a shared target outlives one of its backends', () => {
  const s = scheduler();
  const a = backend('shop/a:80', [endpoint('192.0.2.1'), endpoint('192.0.2.2')], {
    intervalMs: 1_000,
  });
  const b = backend('shop/b:80', [endpoint('192.0.2.1')], { intervalMs: 5_000, timeoutMs: 900 });
  apply(s, [a, b]);
  const shared = (): ScheduledTarget | undefined =>
    [...s.targets()].find((t) => t.key === '192.0.2.1:8080|8080||/');
  assert.equal(shared()?.intervalMs, 1_000);
  assert.equal(shared()?.timeoutMs, 2_000);
  // a leaves: the shared target stays for b alone, with b's settings; a's other target goes.
  apply(s, [], ['shop/a:80']);
  assert.deepEqual(
    [...s.targets()].map((t) => t.key),
    ['192.0.2.1:8080|8080||/'],
  );
  assert.deepEqual(membersOf(shared()), [{ backendId: 'shop/b:80', endpointId: '192.0.2.1:8080' }]);
  assert.equal(shared()?.intervalMs, 5_000);
  assert.equal(shared()?.timeoutMs, 900);
  assert.equal(s.owned, 1, 'the count of owned targets follows');
  // b loses its endpoint: no target remains.
  apply(s, [{ ...b, endpoints: [] }]);
  assert.equal([...s.targets()].length, 0);
  assert.equal(s.owned, 0);
});

test('a large update is applied in many small steps', () => {
  const s = scheduler();
  const many = backend(
    'shop/many:80',
    Array.from({ length: 10_000 }, (_, i) => ({ ...endpoint('192.0.2.1'), port: 10_000 + i })),
  );
  let steps = 0;
  for (const _ of s.update([many], [], true)) steps += 1;
  assert.ok(steps >= 100, `${steps} steps for 10,000 endpoints`);
  assert.equal([...s.targets()].length, 10_000);
  // As many small backends: the steps count across backends, not per backend.
  const small = Array.from({ length: 10_000 }, (_, i) =>
    backend(`shop/s-${i}:80`, [{ ...endpoint('192.0.2.2'), port: 10_000 + i }]),
  );
  const other = scheduler();
  let most = 0;
  let before = 0;
  for (const _ of other.update(small, [], true)) {
    const now = [...other.targets()].length;
    most = Math.max(most, now - before);
    before = now;
  }
  assert.ok(most <= 64, `one step created ${most} targets`);
  assert.equal([...other.targets()].length, 10_000);
});

test('jitter keeps intervals within ±10 %', () => {
  const rows: Array<[number, number]> = [
    [0, 900],
    [0.5, 1000],
    [0.999_999, 1100],
  ];
  for (const [random, expected] of rows) {
    assert.equal(
      jitteredInterval(1000, () => random),
      expected,
    );
  }
});

test('health hashes outlive a few intervals, and at least ten minutes', () => {
  assert.equal(healthHashTtlMs(5_000), HEALTH_HASH_MIN_TTL_MS);
  assert.equal(healthHashTtlMs(3_600_000), 3 * 3_600_000);
});

test('messages round-trip through encode and parse', () => {
  const messages: HealthMessage[] = [
    {
      type: 'health',
      backend: 'shop/web:80',
      endpoint: '192.0.2.1:8080',
      state: { status: 'unhealthy', since: 1_700_000_000_000, failures: 3, successes: 0, by: 'a' },
    },
    { type: 'ejection', backend: 'shop/web:80', endpoint: '[2001:db8::1]:80', ms: 30_000, by: 'a' },
    { type: 'node', node: 'edge-1', event: 'leave' },
  ];
  for (const message of messages) {
    assert.deepEqual(parseHealthMessage(encodeHealthMessage(message)), message);
  }
});

test('malformed messages are ignored, not trusted', () => {
  const state = { status: 'healthy', since: 1, failures: 0, successes: 2 };
  const rows: unknown[] = [
    'not json',
    null,
    [],
    { type: 'other', backend: 'b', endpoint: 'e' },
    { type: 'health', backend: 'b', endpoint: 'e' },
    { type: 'health', backend: '', endpoint: 'e', state },
    { type: 'health', backend: 'b', endpoint: 'e', state: { ...state, status: 'dead' } },
    { type: 'health', backend: 'b', endpoint: 'e', state: { ...state, failures: -1 } },
    { type: 'ejection', backend: 'b', endpoint: 'e', ms: 0, by: 'a' },
    { type: 'ejection', backend: 'b', endpoint: 'e', ms: 1.5, by: 'a' },
    { type: 'ejection', backend: 'b', endpoint: 'e', ms: 9 * 3_600_000, by: 'a' },
    { type: 'ejection', backend: 'b', endpoint: 'e', ms: 1000 },
    { type: 'node', node: 'a', event: 'restart' },
    { type: 'node', event: 'join' },
  ];
  for (const row of rows) {
    const text = typeof row === 'string' ? row : JSON.stringify(row);
    assert.equal(parseHealthMessage(text), undefined, text);
  }
});
