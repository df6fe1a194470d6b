import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalIp, unmapIPv4 } from './ip-address.ts';

test('canonicalIp gives the form Node reports for socket addresses', () => {
  const rows: Array<[string, string | undefined]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['::FFFF:c000:0201', '::ffff:192.0.2.1'],
    ['::', '::'],
    ['192.0.2.001', undefined],
    ['example.com', undefined],
    ['', undefined],
  ];
  for (const [input, expected] of rows) assert.equal(canonicalIp(input), expected, input);
});

test('unmapIPv4 strips only the IPv4-mapped prefix', () => {
  const rows: Array<[string, string]> = [
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:c000:201', '::ffff:c000:201'],
  ];
  for (const [input, expected] of rows) assert.equal(unmapIPv4(input), expected, input);
});
