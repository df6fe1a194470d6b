import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HEALTH_CHECK } from './health-check-defaults.ts';
import { ownedBy, ownerOf, probeKey, rendezvousWeight } from './probe-ownership.ts';
import type { HealthCheckSettings } from './route-table.ts';

const keys = Array.from({ length: 3000 }, (_, i) =>
  probeKey({ address: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 8080 }, DEFAULT_HEALTH_CHECK),
);
const nodes = ['edge-a', 'edge-b', 'edge-c'];

test('every key has exactly one owner among the live nodes, the same on every call', () => {
  for (const key of keys.slice(0, 300)) {
    const owner = ownerOf(key, nodes);
    assert.ok(owner !== undefined && nodes.includes(owner), key);
    assert.equal(ownerOf(key, nodes), owner);
    // The order of the list does not matter: every node computes the same owner.
    assert.equal(ownerOf(key, [...nodes].reverse()), owner);
  }
  const owned = nodes.map((node) => ownedBy(node, keys, nodes));
  assert.equal(
    owned.reduce((sum, list) => sum + list.length, 0),
    keys.length,
  );
  assert.equal(new Set(owned.flat()).size, keys.length);
});

test('the owner has the highest weight', () => {
  const key = keys[0] as string;
  const owner = ownerOf(key, nodes);
  const best = nodes.reduce((a, b) =>
    rendezvousWeight(b, key) > rendezvousWeight(a, key) ? b : a,
  );
  assert.equal(owner, best);
});

test('load is roughly even: each of 3 nodes owns 25-42% of 3000 keys', () => {
  for (const node of nodes) {
    const share = ownedBy(node, keys, nodes).length / keys.length;
    assert.ok(share >= 0.25 && share <= 0.42, `${node}: ${share}`);
  }
});

test('when a node leaves only its keys move; when it comes back they return', () => {
  const before = new Map(keys.map((key) => [key, ownerOf(key, nodes)]));
  const remaining = ['edge-a', 'edge-c'];
  for (const key of keys) {
    const owner = ownerOf(key, remaining);
    if (before.get(key) !== 'edge-b') assert.equal(owner, before.get(key), key);
    else assert.ok(owner !== undefined && remaining.includes(owner));
  }
  for (const key of keys) assert.equal(ownerOf(key, nodes), before.get(key));
});

test('a node that joins takes keys only for itself', () => {
  const grown = [...nodes, 'edge-d'];
  let taken = 0;
  for (const key of keys) {
    const owner = ownerOf(key, grown);
    if (owner === 'edge-d') taken += 1;
    else assert.equal(owner, ownerOf(key, nodes), key);
  }
  assert.ok(taken > 500 && taken < 1000, `${taken}`);
});

test('no live node → no owner; a node that is not live owns nothing', () => {
  assert.equal(ownerOf('k', []), undefined);
  assert.deepEqual(ownedBy('edge-a', keys, []), []);
  assert.deepEqual(ownedBy('edge-z', keys, nodes), []);
  assert.equal(ownerOf('k', ['only']), 'only');
  // Duplicates in the list are harmless.
  assert.equal(ownerOf(keys[1] as string, [...nodes, ...nodes]), ownerOf(keys[1] as string, nodes));
});

test('probeKey identifies the probe on the wire', () => {
  const base: HealthCheckSettings = structuredClone(DEFAULT_HEALTH_CHECK);
  const v4 = { address: '192.0.2.10', port: 8080 };
  const v6 = { address: '2001:db8::10', port: 8080 };
  const rows: Array<[{ address: string; port: number }, HealthCheckSettings, string]> = [
    [v4, base, '192.0.2.10:8080|8080||/'],
    [v6, base, '[2001:db8::10]:8080|8080||/'],
    [v4, { ...base, port: 9090 }, '192.0.2.10:8080|9090||/'],
    [
      v4,
      { ...base, http: { ...base.http, host: 'api.example.com', path: '/ready' } },
      '192.0.2.10:8080|8080|api.example.com|/ready',
    ],
    // Over TLS (backend-protocol HTTPS) is another probe; plain keys stay as they were.
    [v4, { ...base, http: { ...base.http, tls: true } }, '192.0.2.10:8080|8080||/|tls'],
  ];
  for (const [endpoint, healthCheck, expected] of rows) {
    assert.equal(probeKey(endpoint, healthCheck), expected);
  }
  // Two backends over the same pods with the same probe share a key (one probe), whatever
  // their thresholds or expected statuses; a different path does not.
  const strict = { ...base, healthyThreshold: 5, http: { ...base.http, expectedStatuses: [] } };
  assert.equal(probeKey(v4, base), probeKey(v4, strict as HealthCheckSettings));
  assert.notEqual(
    probeKey(v4, base),
    probeKey(v4, { ...base, http: { ...base.http, path: '/healthz' } }),
  );
});
