import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeL2Announcements,
  encodeL2Announcements,
  formatL2Lease,
  isInterfaceName,
  type L2Announcement,
  parseL2Lease,
} from './l2-announcements.ts';

const entry = (address: string, changes: Partial<L2Announcement> = {}): L2Announcement => ({
  address,
  pool: 'edge',
  interfaces: ['eth0'],
  nodes: ['edge-1', 'edge-2'],
  ...changes,
});

test('encoding is canonical: equal content gives equal text, and it decodes back', () => {
  const a = encodeL2Announcements({
    addresses: [entry('203.0.113.9', { nodes: ['edge-2', 'edge-1'] }), entry('203.0.113.10')],
  });
  const b = encodeL2Announcements({ addresses: [entry('203.0.113.10'), entry('203.0.113.9')] });
  assert.equal(a, b);
  const decoded = decodeL2Announcements(a);
  assert.deepEqual(decoded.problems, []);
  assert.deepEqual(
    decoded.announcements.addresses.map((x) => x.address),
    ['203.0.113.10', '203.0.113.9'],
  );
  assert.deepEqual(decoded.announcements.addresses[1]?.nodes, ['edge-1', 'edge-2']);
});

test('a bad entry is dropped by itself with a reason; the others stay', () => {
  const rows: Array<[string, unknown, RegExp]> = [
    ['not an address', { ...entry('x'), address: 'not-an-ip' }, /not a canonical IP/],
    ['non-canonical IPv6', { ...entry('x'), address: '2001:DB8::1' }, /not a canonical IP/],
    ['path in an interface', entry('203.0.113.2', { interfaces: ['..'] }), /interface name/],
    ['slash in an interface', entry('203.0.113.2', { interfaces: ['a/b'] }), /interface name/],
    ['too long interface', entry('203.0.113.2', { interfaces: ['a'.repeat(16)] }), /interface/],
    ['node with a space', entry('203.0.113.2', { nodes: ['a b'] }), /node names/],
    ['no pool', { ...entry('203.0.113.2'), pool: '' }, /pool missing/],
    ['not an object', 7, /not an object/],
  ];
  for (const [name, bad, reason] of rows) {
    const text = JSON.stringify({ addresses: [bad, entry('203.0.113.1')] });
    const { announcements, problems } = decodeL2Announcements(text);
    assert.equal(problems.length, 1, name);
    assert.match(problems[0] ?? '', reason, name);
    assert.deepEqual(
      announcements.addresses.map((a) => a.address),
      ['203.0.113.1'],
      name,
    );
  }
});

test('a duplicate address keeps the first entry; unreadable text gives no addresses', () => {
  const dup = decodeL2Announcements(
    JSON.stringify({ addresses: [entry('203.0.113.1'), entry('203.0.113.1', { pool: 'b' })] }),
  );
  assert.equal(dup.announcements.addresses.length, 1);
  assert.equal(dup.announcements.addresses[0]?.pool, 'edge');
  assert.match(dup.problems[0] ?? '', /listed twice/);
  for (const text of ['{', '[]', '{"addresses":3}', 'null']) {
    const r = decodeL2Announcements(text);
    assert.deepEqual(r.announcements.addresses, [], text);
    assert.equal(r.problems.length, 1, text);
  }
});

test('interface names: the CRD pattern, without . and ..', () => {
  const rows: Array<[string, boolean]> = [
    ['eth0', true],
    ['bond0.100', true],
    ['br-lan', true],
    ['', false],
    ['.', false],
    ['..', false],
    ['eth 0', false],
    ['a/b', false],
    ['abcdefghijklmnop', false],
  ];
  for (const [name, ok] of rows) assert.equal(isInterfaceName(name), ok, name);
});

test('lease values round-trip and anything else is not a lease', () => {
  const lease = { epoch: 42, node: 'edge-1', token: 'f00d' };
  assert.equal(formatL2Lease(lease), '42 edge-1 f00d');
  assert.deepEqual(parseL2Lease(formatL2Lease(lease)), lease);
  for (const bad of [null, undefined, '', '42 edge-1', '0 edge-1 t', 'x edge-1 t', '1 a b c']) {
    assert.equal(parseL2Lease(bad), undefined, String(bad));
  }
});
