import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Backend, DEFAULT_HEALTH_CHECK, emptyRouteTable, type RouteTable } from '@pier/shared';
import { type BackendHealth, backendChanges } from './backend-health.ts';

function backend(name: string, port = 8080): Backend {
  return {
    id: `shop/${name}:80`,
    service: { namespace: 'shop', name },
    servicePort: 80,
    endpoints: [{ address: '192.0.2.10', port, ready: true, serving: true, terminating: false }],
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
    balancing: { algorithm: 'round-robin' },
  };
}

const tableOf = (backends: Backend[]): RouteTable => ({
  ...emptyRouteTable(),
  revision: 2,
  backends: Object.fromEntries(backends.map((b) => [b.id, b])),
});

/** Known states for `backends`, as the checker keeps them (only `backend` is compared). */
const knownOf = (backends: Backend[]): Map<string, BackendHealth> =>
  new Map(backends.map((b) => [b.id, { backend: b } as BackendHealth]));

test('backendChanges compares by identity: new and replaced backends, and the ids gone', () => {
  const [web, api, old] = [backend('web'), backend('api'), backend('old')];
  const grown = backend('web', 9090);
  const fresh = backend('fresh');
  const known = knownOf([web, api, old]);
  const table = tableOf([grown, api, fresh]);
  const all = backendChanges(known, table);
  assert.deepEqual(all.changed.map((b) => b.id).sort(), [fresh.id, grown.id].sort());
  assert.deepEqual(all.removed, [old.id]);

  // With the keys a delta changed, only those are looked at, with the same answer for them.
  const some = backendChanges(known, table, [grown.id, old.id, 'shop/never:80']);
  assert.deepEqual(
    some.changed.map((b) => b.id),
    [grown.id],
  );
  assert.deepEqual(some.removed, [old.id]);
  // A key listed whose backend is the same object is no change.
  assert.deepEqual(backendChanges(known, table, [api.id]), { changed: [], removed: [] });
});
