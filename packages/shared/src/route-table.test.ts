import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleTable, table } from './fixtures.test.ts';
import { backendId, emptyRouteTable, virtualHostKey } from './route-table.ts';
import { validateRouteTable } from './route-table-validation.ts';

test('key helpers', () => {
  assert.equal(virtualHostKey('203.0.113.1', 'shop.example.com'), '203.0.113.1|shop.example.com');
  assert.equal(virtualHostKey('2001:db8::1', ''), '2001:db8::1|');
  assert.equal(virtualHostKey('*', '*.example.com'), '*|*.example.com');
  assert.equal(backendId('shop', 'web', 80), 'shop/web:80');
  assert.equal(backendId('shop', 'web', 'http'), 'shop/web:http');
});

test('the empty table is revision 0 and fresh each time', () => {
  const a = emptyRouteTable();
  assert.deepEqual(a, { revision: 0, virtualHosts: {}, backends: {}, certificates: {} });
  assert.notEqual(a.backends, emptyRouteTable().backends);
});

test('test fixtures are valid tables, so other tests start from clean input', () => {
  for (const t of [sampleTable(), table(0, {}), emptyRouteTable()]) {
    const { table: validated, problems } = validateRouteTable(t);
    assert.deepEqual(problems, []);
    assert.deepEqual(validated, t);
  }
});
