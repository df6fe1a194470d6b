import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseIp } from './ip-address.ts';
import {
  countBuggyIPv4,
  findOverlap,
  formatRange,
  type IpRange,
  isBuggyIPv4,
  mergeRanges,
  parsePoolAddresses,
  rangeSize,
  rangesOverlap,
} from './pool-spec.ts';

/** `first-last` of each parsed range, for compact expectations. */
function texts(ranges: readonly IpRange[]): string[] {
  return ranges.map(formatRange);
}

function range(text: string): IpRange {
  const parsed = parsePoolAddresses([text]);
  const [first] = parsed.ranges;
  assert.ok(first, `${text}: ${parsed.errors.join('; ')}`);
  return first;
}

function ipv4(text: string): bigint {
  const ip = parseIp(text);
  assert.ok(ip?.family === 4, text);
  return ip.value;
}

describe('parsePoolAddresses accepts', () => {
  const cases: Array<[string, string, 4 | 6, bigint]> = [
    ['192.0.2.0/28', '192.0.2.0-192.0.2.15', 4, 16n],
    ['192.0.2.10/32', '192.0.2.10', 4, 1n],
    ['0.0.0.0/0', '0.0.0.0-255.255.255.255', 4, 1n << 32n],
    // Host bits set: normalized to the network, not refused.
    ['192.0.2.7/24', '192.0.2.0-192.0.2.255', 4, 256n],
    ['2001:db8::/120', '2001:db8::-2001:db8::ff', 6, 256n],
    ['2001:DB8::1/64', '2001:db8::-2001:db8::ffff:ffff:ffff:ffff', 6, 1n << 64n],
    ['::/0', '::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 6, 1n << 128n],
    ['192.0.2.10-192.0.2.20', '192.0.2.10-192.0.2.20', 4, 11n],
    ['192.0.2.10 - 192.0.2.20', '192.0.2.10-192.0.2.20', 4, 11n],
    ['  192.0.2.10-192.0.2.10  ', '192.0.2.10', 4, 1n],
    ['2001:db8::1-2001:db8::1:0', '2001:db8::1-2001:db8::1:0', 6, 0x10000n],
  ];
  for (const [entry, expected, family, size] of cases) {
    test(JSON.stringify(entry), () => {
      const { ranges, errors } = parsePoolAddresses([entry]);
      assert.deepEqual(errors, []);
      assert.deepEqual(texts(ranges), [expected]);
      assert.equal(ranges[0]?.family, family);
      assert.equal(ranges[0]?.source, entry);
      assert.equal(ranges[0] && rangeSize(ranges[0]), size);
    });
  }
});

describe('parsePoolAddresses rejects', () => {
  const cases: Array<[string, string]> = [
    ['', '"": empty entry'],
    ['192.0.2.1', '"192.0.2.1": not a CIDR or range (write 192.0.2.0/24 or 192.0.2.10-192.0.2.20)'],
    ['192.0.2.0/33', '"192.0.2.0/33": prefix length must be 0-32'],
    ['2001:db8::/129', '"2001:db8::/129": prefix length must be 0-128'],
    ['192.0.2.0/', '"192.0.2.0/": prefix length must be 0-32'],
    ['192.0.2.0/024', '"192.0.2.0/024": prefix length must be 0-32'],
    ['192.0.2.0/x', '"192.0.2.0/x": prefix length must be 0-32'],
    ['192.0.2.0/24/24', '"192.0.2.0/24/24": prefix length must be 0-32'],
    ['192.0.300.0/24', '"192.0.300.0/24": "192.0.300.0" is not an IP address'],
    ['fe80::%eth0/64', '"fe80::%eth0/64": "fe80::%eth0" is not an IP address'],
    ['/24', '"/24": "" is not an IP address'],
    [
      '192.0.2.9-192.0.2.1',
      '"192.0.2.9-192.0.2.1": range start 192.0.2.9 is after range end 192.0.2.1',
    ],
    ['192.0.2.1-2001:db8::1', '"192.0.2.1-2001:db8::1": range mixes IPv4 and IPv6'],
    ['x-192.0.2.1', '"x-192.0.2.1": range start "x" is not an IP address'],
    ['192.0.2.1-', '"192.0.2.1-": range end "" is not an IP address'],
    [
      '192.0.2.0/24-192.0.3.0',
      '"192.0.2.0/24-192.0.3.0": range start "192.0.2.0/24" is not an IP address',
    ],
    [
      '192.0.2.1-192.0.2.2-192.0.2.3',
      '"192.0.2.1-192.0.2.2-192.0.2.3": a range has exactly one "-"',
    ],
  ];
  for (const [entry, message] of cases) {
    test(JSON.stringify(entry), () => {
      assert.deepEqual(parsePoolAddresses([entry]), { ranges: [], errors: [message] });
    });
  }

  test('a bad entry costs only itself', () => {
    const { ranges, errors } = parsePoolAddresses(['192.0.2.0/30', 'nope', '2001:db8::/127']);
    assert.deepEqual(texts(ranges), ['192.0.2.0-192.0.2.3', '2001:db8::-2001:db8::1']);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^"nope": /);
  });
});

describe('rangesOverlap', () => {
  const cases: Array<[string, string, boolean]> = [
    ['192.0.2.0/28', '192.0.2.15-192.0.2.20', true],
    ['192.0.2.0/28', '192.0.2.16-192.0.2.20', false],
    ['192.0.2.0/24', '192.0.2.100/32', true],
    ['192.0.2.100/32', '192.0.2.0/24', true],
    ['0.0.0.0/0', '::/0', false],
    ['2001:db8::/64', '2001:db8::ffff:0:0:0-2001:db8:0:1::', true],
  ];
  for (const [a, b, expected] of cases) {
    test(`${a} / ${b}`, () => assert.equal(rangesOverlap(range(a), range(b)), expected));
  }
});

describe('findOverlap', () => {
  test('names both ranges and the shared part', () => {
    const mine = [range('198.51.100.0/24'), range('192.0.2.0/28')];
    const theirs = [range('192.0.2.8-192.0.2.40')];
    const overlap = findOverlap(mine, theirs);
    assert.equal(overlap?.mine.source, '192.0.2.0/28');
    assert.equal(overlap?.theirs.source, '192.0.2.8-192.0.2.40');
    assert.equal(overlap && formatRange(overlap.shared), '192.0.2.8-192.0.2.15');
  });

  test('none between disjoint lists', () => {
    assert.equal(findOverlap([range('192.0.2.0/28')], [range('192.0.2.16/28')]), undefined);
  });
});

describe('mergeRanges', () => {
  const cases: Array<[string[], string[]]> = [
    [['192.0.2.16/28', '192.0.2.0/28'], ['192.0.2.0-192.0.2.31']],
    [['192.0.2.0/24', '192.0.2.10-192.0.2.20'], ['192.0.2.0-192.0.2.255']],
    [
      ['2001:db8::/127', '192.0.2.40/31', '192.0.2.0/31'],
      ['192.0.2.0-192.0.2.1', '192.0.2.40-192.0.2.41', '2001:db8::-2001:db8::1'],
    ],
  ];
  for (const [input, expected] of cases) {
    test(input.join(', '), () => {
      assert.deepEqual(texts(mergeRanges(parsePoolAddresses(input).ranges)), expected);
    });
  }
});

describe('isBuggyIPv4', () => {
  const cases: Array<[string, boolean]> = [
    ['192.0.2.0', true],
    ['192.0.2.255', true],
    ['10.1.0.0', true],
    ['10.1.255.255', true],
    ['192.0.2.1', false],
    ['192.0.2.254', false],
    ['10.0.255.1', false],
  ];
  for (const [text, expected] of cases) {
    test(text, () => assert.equal(isBuggyIPv4(ipv4(text)), expected));
  }

  test('countBuggyIPv4 matches a brute-force count', () => {
    for (const [first, last] of [
      [0n, 0n],
      [0n, 255n],
      [1n, 254n],
      [255n, 256n],
      [200n, 1000n],
      [ipv4('192.0.2.254'), ipv4('192.0.3.2')],
    ] as const) {
      let expected = 0n;
      for (let value = first; value <= last; value++) if (isBuggyIPv4(value)) expected++;
      assert.equal(countBuggyIPv4(first, last), expected, `${first}-${last}`);
    }
  });
});
