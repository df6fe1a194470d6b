import assert from 'node:assert/strict';
import { SocketAddress } from 'node:net';
import { describe, test } from 'node:test';
import { canonicalIp, compareIp, formatIp, type IpAddress, parseIp } from './ip-address.ts';

describe('parseIp', () => {
  const valid: Array<[string, 4 | 6, bigint]> = [
    ['0.0.0.0', 4, 0n],
    ['192.0.2.1', 4, 0xc0000201n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['2001:db8::1', 6, 0x20010db8000000000000000000000001n],
    ['2001:DB8:0:0:0:0:0:1', 6, 0x20010db8000000000000000000000001n],
    ['2001:0db8:0000::0001', 6, 0x20010db8000000000000000000000001n],
    ['1::', 6, 1n << 112n],
    ['1:2:3:4:5:6:7::', 6, 0x00010002000300040005000600070000n],
    ['::2:3:4:5:6:7:8', 6, 0x00000002000300040005000600070008n],
    ['::ffff:192.0.2.1', 6, 0xffffc0000201n],
    ['::192.0.2.1', 6, 0xc0000201n],
    ['1:2:3:4:5:6:192.0.2.1', 6, 0x000100020003000400050006c0000201n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, (1n << 128n) - 1n],
  ];
  for (const [text, family, value] of valid) {
    test(`accepts ${text}`, () => assert.deepEqual(parseIp(text), { family, value }));
  }

  const invalid = [
    '',
    ' 192.0.2.1',
    '192.0.2.1 ',
    '192.0.2',
    '192.0.2.1.5',
    '192.0.2.256',
    '192.0.2.01',
    '192.0.2.-1',
    '192.0.2.1/32',
    '0x7f.0.0.1',
    'example.com',
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::',
    'g::1',
    ':1::',
    '1:',
    'fe80::1%eth0',
    'fe80::1%1',
    '::ffff:192.0.2',
    '::ffff:192.0.2.300',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '[::1]',
  ];
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => assert.equal(parseIp(text), undefined));
  }
});

describe('canonicalIp', () => {
  const cases: Array<[string, string]> = [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    // A single zero group is never compressed (RFC 5952 §4.2.2).
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // The longest run wins, the first one on a tie (§4.2.3).
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // IPv4-mapped addresses keep mixed notation (§5), as Node prints them.
    ['::ffff:c000:201', '::ffff:192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::ffff:0:0', '::ffff:0.0.0.0'],
    ['::c000:201', '::192.0.2.1'],
    ['::ffff', '::ffff'],
    ['::2', '::2'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['bad', ''],
  ];
  for (const [input, expected] of cases) {
    test(`${input} → ${expected || 'undefined'}`, () =>
      assert.equal(canonicalIp(input), expected || undefined));
  }

  test('agrees with Node on addresses rich in zero groups', () => {
    // Seeded so a failure reproduces; zero groups are likely, to exercise compression and the
    // mixed-notation corner cases.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 3000; i++) {
      let value = 0n;
      for (let g = 0; g < 8; g++) {
        const roll = random();
        const group = roll < 0.6 ? 0 : roll < 0.7 ? 0xffff : Math.floor(random() * 0x10000);
        value = (value << 16n) | BigInt(group);
      }
      const text = formatIp(6, value);
      const node = new SocketAddress({ address: text, family: 'ipv6' }).address;
      assert.equal(text, node);
      assert.deepEqual(parseIp(text), { family: 6, value });
    }
  });
});

describe('compareIp', () => {
  const v4 = (value: bigint): IpAddress => ({ family: 4, value });
  const v6 = (value: bigint): IpAddress => ({ family: 6, value });
  const cases: Array<[IpAddress, IpAddress, number]> = [
    [v4(1n), v4(2n), -1],
    [v4(2n), v4(1n), 1],
    [v4(2n), v4(2n), 0],
    [v4(0xffffffffn), v6(0n), -1],
    [v6(0n), v4(0n), 1],
    [v6(1n << 100n), v6(1n), 1],
  ];
  for (const [a, b, expected] of cases) {
    test(`IPv${a.family} ${a.value} vs IPv${b.family} ${b.value}`, () =>
      assert.equal(Math.sign(compareIp(a, b)), expected));
  }
});
