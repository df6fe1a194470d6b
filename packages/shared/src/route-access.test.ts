import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalCidr, parseCidrList } from './route-access.ts';

test('CIDRs: canonical form, bare addresses as host routes, bad ones named', () => {
  assert.equal(canonicalCidr('10.0.0.0/8'), '10.0.0.0/8');
  assert.equal(canonicalCidr('192.0.2.7'), '192.0.2.7/32');
  assert.equal(canonicalCidr('2001:DB8:0::/32'), '2001:db8::/32');
  assert.equal(canonicalCidr('10.0.0.0/33'), undefined);
  assert.equal(canonicalCidr('10.0.0/8'), undefined);
  assert.equal(canonicalCidr('10.0.0.0/'), undefined);
  assert.deepEqual(parseCidrList(' 10.0.0.0/8, 192.0.2.7 ,,10.0.0.0/8'), {
    ok: true,
    cidrs: ['10.0.0.0/8', '192.0.2.7/32'],
  });
  assert.deepEqual(parseCidrList('10.0.0.0/8,office'), { ok: false, bad: 'office' });
});
