import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry } from './metrics.ts';

function names(prefix?: string): string[] {
  return createRegistry(prefix)
    .getMetricsAsArray()
    .map((m) => m.name);
}

test('default metrics are registered under pier_', () => {
  const registered = names();
  assert.ok(registered.includes('pier_process_cpu_user_seconds_total'));
  assert.ok(registered.includes('pier_nodejs_heap_size_used_bytes'));
  assert.ok(registered.every((name) => name.startsWith('pier_')));
});

test('registries are independent and the prefix is configurable', () => {
  // Two registries in one process (standalone mode) must not clash.
  assert.deepEqual(names(), names());
  assert.ok(names('test_').every((name) => name.startsWith('test_')));
});
