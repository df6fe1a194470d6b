import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AllocationErrorCode,
  type AllocationRequest,
  type AllocationResult,
  IpAllocator,
  type RestoreEntry,
  type SharingTerms,
} from './ip-allocator.ts';
import { type PoolSpec, parsePoolAddresses } from './pool-spec.ts';

function pool(
  name: string,
  addresses: string[],
  options: { autoAssign?: boolean; avoidBuggyIPs?: boolean } = {},
): PoolSpec {
  const { ranges, errors } = parsePoolAddresses(addresses);
  assert.deepEqual(errors, []);
  return {
    name,
    ranges,
    autoAssign: options.autoAssign ?? true,
    avoidBuggyIPs: options.avoidBuggyIPs ?? false,
  };
}

function allocator(...pools: PoolSpec[]): IpAllocator {
  const ipam = new IpAllocator();
  assert.deepEqual(ipam.setPools(pools), []);
  return ipam;
}

function granted(result: AllocationResult): {
  addresses: string[];
  pool: string;
  changed: boolean;
} {
  assert.ok(result.ok, result.ok ? '' : `${result.code}: ${result.message}`);
  return result;
}

/** Assigns and returns the addresses, failing the test if allocation failed. */
function addressesFor(ipam: IpAllocator, request: AllocationRequest): string[] {
  return granted(ipam.assign(request)).addresses;
}

/** The error code and message of a refusal, failing the test if it was granted. */
function refused(result: AllocationResult): { code: AllocationErrorCode; message: string } {
  assert.ok(!result.ok, `expected a refusal, got ${result.ok ? result.addresses.join() : ''}`);
  return result;
}

const docs = () => pool('docs', ['192.0.2.0/24']);

describe('sharing keys', () => {
  test('by default every Ingress in a pool shares one address', () => {
    const ipam = allocator(docs());
    const owners = ['a/one', 'b/two', 'c/three'];
    const results = owners.map((owner) => granted(ipam.assign({ owner, key: '' })));
    assert.deepEqual(
      results.map((r) => r.addresses),
      [['192.0.2.0'], ['192.0.2.0'], ['192.0.2.0']],
    );
    assert.ok(results.every((r) => r.changed && r.pool === 'docs'));
    assert.deepEqual(ipam.holderOf('192.0.2.0'), { key: '', pool: 'docs', owners: owners.sort() });
  });

  test('distinct keys get distinct addresses; same key joins', () => {
    const ipam = allocator(docs());
    const cases: Array<[string, string, string]> = [
      ['a/x', '', '192.0.2.0'],
      ['a/y', 'team-a', '192.0.2.1'],
      ['b/z', 'team-b', '192.0.2.2'],
      ['c/w', 'team-a', '192.0.2.1'],
      ['d/v', '', '192.0.2.0'],
    ];
    for (const [owner, key, expected] of cases) {
      assert.deepEqual(addressesFor(ipam, { owner, key }), [expected], `${owner} (${key})`);
    }
  });

  test('200 distinct keys in a /24 get 200 distinct addresses', () => {
    const ipam = allocator(docs());
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      for (const address of addressesFor(ipam, { owner: `ns/i${i}`, key: `k${i}` })) {
        seen.add(address);
      }
    }
    assert.equal(seen.size, 200);
  });

  test('assign is idempotent and never moves an address', () => {
    const ipam = allocator(docs());
    const first = granted(ipam.assign({ owner: 'a/x', key: 'k' }));
    addressesFor(ipam, { owner: 'a/y', key: 'other' });
    ipam.release('a/y');
    const again = granted(ipam.assign({ owner: 'a/x', key: 'k' }));
    assert.deepEqual(again, { ...first, changed: false });
  });

  test('changing key moves the owner; the old address stays with remaining owners', () => {
    const ipam = allocator(docs());
    addressesFor(ipam, { owner: 'a/x', key: '' });
    addressesFor(ipam, { owner: 'a/y', key: '' });
    const moved = granted(ipam.assign({ owner: 'a/x', key: 'solo' }));
    assert.deepEqual(moved, { ok: true, addresses: ['192.0.2.1'], pool: 'docs', changed: true });
    assert.deepEqual(ipam.holderOf('192.0.2.0')?.owners, ['a/y']);
  });

  test('a sole owner changing key keeps its address when it is the lowest free one', () => {
    const ipam = allocator(docs());
    addressesFor(ipam, { owner: 'a/x', key: '' });
    const moved = granted(ipam.assign({ owner: 'a/x', key: 'solo' }));
    assert.deepEqual(moved.addresses, ['192.0.2.0']);
    assert.equal(moved.changed, false);
    assert.equal(ipam.holderOf('192.0.2.0')?.key, 'solo');
  });

  test('changing pool moves the owner and frees the old address', () => {
    const ipam = allocator(docs(), pool('other', ['198.51.100.0/24']));
    addressesFor(ipam, { owner: 'a/x', key: '' });
    const moved = granted(ipam.assign({ owner: 'a/x', key: '', pool: 'other' }));
    assert.deepEqual(moved, {
      ok: true,
      addresses: ['198.51.100.0'],
      pool: 'other',
      changed: true,
    });
    assert.equal(ipam.holderOf('192.0.2.0'), undefined);
  });
});

describe('requested addresses', () => {
  interface Case {
    name: string;
    before?: AllocationRequest[];
    request: AllocationRequest;
    expect: string[] | [AllocationErrorCode, RegExp];
  }
  const v4 = pool('v4', ['192.0.2.0/24'], { avoidBuggyIPs: true });
  const dual = pool('dual', ['198.51.100.0/24', '2001:db8::/64']);
  const manual = pool('manual', ['203.0.113.0/24'], { autoAssign: false });
  const cases: Case[] = [
    {
      name: 'free address',
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10'] },
      expect: ['192.0.2.10'],
    },
    {
      name: 'held by the same key',
      before: [{ owner: 'a/y', key: 'k', requested: ['192.0.2.10'] }],
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10'] },
      expect: ['192.0.2.10'],
    },
    {
      name: 'held by another key',
      before: [{ owner: 'b/y', key: 'theirs', requested: ['192.0.2.10'] }],
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10'] },
      expect: ['PIER_ADDRESS_HELD', /192\.0\.2\.10 is already used by sharing key "theirs"/],
    },
    {
      name: 'held by the default key',
      before: [{ owner: 'b/y', key: '', pool: 'v4' }],
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.1'] },
      expect: ['PIER_ADDRESS_HELD', /192\.0\.2\.1 is already used by the default sharing key/],
    },
    {
      name: 'the key already uses another address',
      before: [{ owner: 'a/y', key: 'k', pool: 'v4' }],
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10'] },
      expect: [
        'PIER_ADDRESS_HELD',
        /sharing key "k" already uses 192\.0\.2\.1 in address pool "v4"/,
      ],
    },
    {
      name: 'outside every pool',
      request: { owner: 'a/x', key: 'k', requested: ['10.0.0.1'] },
      expect: ['PIER_ADDRESS_OUTSIDE_POOLS', /10\.0\.0\.1 is in no address pool/],
    },
    {
      name: 'in a different pool than the one named',
      request: { owner: 'a/x', key: 'k', pool: 'dual', requested: ['192.0.2.10'] },
      expect: ['PIER_ADDRESS_OUTSIDE_POOLS', /192\.0\.2\.10 is not in address pool "dual"/],
    },
    {
      name: 'spread over two pools',
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10', '2001:db8::10'] },
      expect: ['PIER_ADDRESS_OUTSIDE_POOLS', /are not all in one address pool/],
    },
    {
      name: 'not an address',
      request: { owner: 'a/x', key: 'k', requested: ['192.0.2.10', 'nope'] },
      expect: ['PIER_INVALID_ADDRESS', /"nope" is not an IP address/],
    },
    {
      name: 'unknown pool',
      request: { owner: 'a/x', key: 'k', pool: 'ghost', requested: ['192.0.2.10'] },
      expect: ['PIER_UNKNOWN_POOL', /"ghost" does not exist/],
    },
    {
      name: 'IPv4 and IPv6 together, canonical and sorted',
      request: { owner: 'a/x', key: 'k', requested: ['2001:DB8::0:10', '198.51.100.7'] },
      expect: ['198.51.100.7', '2001:db8::10'],
    },
    {
      name: 'duplicates collapse',
      request: { owner: 'a/x', key: 'k', requested: ['2001:db8::10', '2001:db8:0::10'] },
      expect: ['2001:db8::10'],
    },
    {
      name: 'bypasses autoAssign: false',
      request: { owner: 'a/x', key: 'k', requested: ['203.0.113.9'] },
      expect: ['203.0.113.9'],
    },
    {
      name: 'bypasses avoidBuggyIPs',
      request: { owner: 'a/x', key: 'k', pool: 'v4', requested: ['192.0.2.255'] },
      expect: ['192.0.2.255'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const ipam = allocator(v4, dual, manual);
      for (const request of c.before ?? []) granted(ipam.assign(request));
      const result = ipam.assign(c.request);
      const [code, pattern] = c.expect;
      if (pattern instanceof RegExp) {
        assert.equal(result.ok ? 'ok' : result.code, code);
        assert.match(result.ok ? '' : result.message, pattern);
        assert.deepEqual(ipam.addressesOf(c.request.owner), []);
      } else {
        assert.deepEqual(granted(result).addresses, c.expect);
        assert.deepEqual(ipam.addressesOf(c.request.owner), c.expect);
      }
    });
  }

  test('all or none: one held address blocks the whole request', () => {
    const ipam = allocator(dual);
    addressesFor(ipam, { owner: 'b/y', key: 'theirs', requested: ['2001:db8::1'] });
    const result = ipam.assign({
      owner: 'a/x',
      key: 'k',
      requested: ['198.51.100.1', '2001:db8::1'],
    });
    assert.equal(result.ok ? 'ok' : result.code, 'PIER_ADDRESS_HELD');
    assert.equal(ipam.holderOf('198.51.100.1'), undefined);
  });

  test('a failed change leaves the owner with what it held', () => {
    const ipam = allocator(docs());
    addressesFor(ipam, { owner: 'b/y', key: 'theirs', requested: ['192.0.2.50'] });
    addressesFor(ipam, { owner: 'a/x', key: 'k' });
    const result = ipam.assign({ owner: 'a/x', key: 'k', requested: ['192.0.2.50'] });
    assert.equal(result.ok ? 'ok' : result.code, 'PIER_ADDRESS_HELD');
    assert.deepEqual(ipam.addressesOf('a/x'), ['192.0.2.0']);
    assert.deepEqual(ipam.holderOf('192.0.2.0'), { key: 'k', pool: 'docs', owners: ['a/x'] });
  });

  test('a sole owner may change its requested address; the old one is freed', () => {
    const ipam = allocator(docs());
    addressesFor(ipam, { owner: 'a/x', key: 'k', requested: ['192.0.2.5'] });
    const moved = granted(ipam.assign({ owner: 'a/x', key: 'k', requested: ['192.0.2.6'] }));
    assert.deepEqual(moved, { ok: true, addresses: ['192.0.2.6'], pool: 'docs', changed: true });
    assert.equal(ipam.holderOf('192.0.2.5'), undefined);
  });

  test('owners joining a key without a request get all its requested addresses', () => {
    const ipam = allocator(dual);
    addressesFor(ipam, { owner: 'a/x', key: 'k', requested: ['198.51.100.9', '2001:db8::9'] });
    assert.deepEqual(addressesFor(ipam, { owner: 'a/y', key: 'k' }), [
      '198.51.100.9',
      '2001:db8::9',
    ]);
  });
});

describe('pool choice', () => {
  test('autoAssign: false pools serve only Ingresses that name them', () => {
    const ipam = allocator(pool('a-manual', ['203.0.113.0/24'], { autoAssign: false }));
    const none = ipam.assign({ owner: 'a/x', key: '' });
    assert.equal(none.ok ? 'ok' : none.code, 'PIER_NO_POOL');
    assert.deepEqual(granted(ipam.assign({ owner: 'a/x', key: '', pool: 'a-manual' })), {
      ok: true,
      addresses: ['203.0.113.0'],
      pool: 'a-manual',
      changed: true,
    });
    ipam.setPools([pool('a-manual', ['203.0.113.0/24'], { autoAssign: false }), docs()]);
    assert.deepEqual(addressesFor(ipam, { owner: 'b/y', key: '' }), ['192.0.2.0']);
  });

  test('no pools at all', () => {
    const result = new IpAllocator().assign({ owner: 'a/x', key: '' });
    assert.equal(result.ok ? 'ok' : result.code, 'PIER_NO_POOL');
  });

  test('unknown pool', () => {
    const result = allocator(docs()).assign({ owner: 'a/x', key: '', pool: 'ghost' });
    assert.equal(result.ok ? 'ok' : result.code, 'PIER_UNKNOWN_POOL');
  });

  test('pools are tried in name order; the next one when the first is full', () => {
    const ipam = allocator(pool('b', ['198.51.100.0/31']), pool('a', ['192.0.2.0/31']));
    const got = ['k1', 'k2', 'k3', 'k4'].map((key) => granted(ipam.assign({ owner: key, key })));
    assert.deepEqual(
      got.map((r) => `${r.pool} ${r.addresses.join()}`),
      ['a 192.0.2.0', 'a 192.0.2.1', 'b 198.51.100.0', 'b 198.51.100.1'],
    );
  });

  test('a key reuses its address in any autoAssign pool before taking a new one', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/31']), pool('b', ['198.51.100.0/24']));
    addressesFor(ipam, { owner: 'x/1', key: 'k', pool: 'b' });
    assert.deepEqual(addressesFor(ipam, { owner: 'x/2', key: 'k' }), ['198.51.100.0']);
  });

  test('IPv4 before IPv6 in a dual-stack pool; IPv6 once IPv4 is used up', () => {
    const ipam = allocator(pool('dual', ['2001:db8::/64', '192.0.2.0/31']));
    const got = ['k1', 'k2', 'k3'].map((key) => addressesFor(ipam, { owner: key, key }));
    assert.deepEqual(got, [['192.0.2.0'], ['192.0.2.1'], ['2001:db8::']]);
  });

  test('avoidBuggyIPs skips .0 and .255 of every /24', () => {
    const range = ['192.0.2.254-192.0.3.2'];
    const cases: Array<[boolean, string[]]> = [
      [true, ['192.0.2.254', '192.0.3.1', '192.0.3.2']],
      [false, ['192.0.2.254', '192.0.2.255', '192.0.3.0', '192.0.3.1', '192.0.3.2']],
    ];
    for (const [avoidBuggyIPs, expected] of cases) {
      const ipam = allocator(pool('p', range, { avoidBuggyIPs }));
      const got: string[] = [];
      for (let i = 0; i < 10; i++) {
        const result = ipam.assign({ owner: `o/${i}`, key: `k${i}` });
        if (!result.ok) {
          assert.equal(result.code, 'PIER_POOL_EXHAUSTED');
          break;
        }
        got.push(...result.addresses);
      }
      assert.deepEqual(got, expected, `avoidBuggyIPs ${avoidBuggyIPs}`);
    }
  });

  test('exhaustion names the pools tried and their sizes', () => {
    const ipam = allocator(
      pool('a', ['192.0.2.0/31']),
      pool('b', ['198.51.100.0/24'], { avoidBuggyIPs: true }),
      pool('c', ['203.0.113.0/24'], { autoAssign: false }),
    );
    for (let i = 0; i < 256; i++) addressesFor(ipam, { owner: `o/${i}`, key: `k${i}` });
    const result = ipam.assign({ owner: 'o/last', key: 'last' });
    assert.deepEqual(result, {
      ok: false,
      code: 'PIER_POOL_EXHAUSTED',
      message: 'no free address left in address pools "a" (2 addresses), "b" (254 addresses)',
    });
  });
});

describe('overlapping pools', () => {
  const a = pool('a', ['192.0.2.0/28']);
  const b = pool('b', ['198.51.100.0/24', '192.0.2.8 - 192.0.2.40']);

  test('both pools get a problem naming the other and the shared range', () => {
    const ipam = new IpAllocator();
    assert.deepEqual(ipam.setPools([b, a]), [
      {
        pool: 'a',
        code: 'PIER_POOL_OVERLAP',
        message:
          'overlaps address pool "b": "192.0.2.0/28" and "192.0.2.8 - 192.0.2.40" share ' +
          '192.0.2.8-192.0.2.15; each address is still given out only once',
      },
      {
        pool: 'b',
        code: 'PIER_POOL_OVERLAP',
        message:
          'overlaps address pool "a": "192.0.2.8 - 192.0.2.40" and "192.0.2.0/28" share ' +
          '192.0.2.8-192.0.2.15; each address is still given out only once',
      },
    ]);
  });

  test('no address is given out twice', () => {
    const ipam = new IpAllocator();
    ipam.setPools([a, pool('b', ['192.0.2.8-192.0.2.40'])]);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const pinned = ipam.assign({ owner: `b/${i}`, key: `b${i}`, pool: 'b' });
      const free = ipam.assign({ owner: `a/${i}`, key: `a${i}` });
      for (const result of [pinned, free]) {
        for (const address of result.ok ? result.addresses : []) {
          assert.ok(!seen.has(address), `${address} given twice`);
          seen.add(address);
        }
      }
      if (!pinned.ok && !free.ok) break;
    }
    assert.equal(seen.size, 41);
  });
});

describe('restore', () => {
  const entries: RestoreEntry[] = [
    { owner: 'a/old', key: '', addresses: ['192.0.2.7'] },
    { owner: 'b/old', key: 'team', pool: 'docs', addresses: ['192.0.2.3'] },
  ];

  test('a restart changes no address', () => {
    const ipam = allocator(docs());
    assert.deepEqual(ipam.restore(entries), []);
    for (const entry of entries) {
      const result = granted(ipam.assign({ owner: entry.owner, key: entry.key, pool: entry.pool }));
      assert.deepEqual(result, {
        ok: true,
        addresses: entry.addresses,
        pool: 'docs',
        changed: false,
      });
    }
    assert.deepEqual(addressesFor(ipam, { owner: 'c/new', key: '' }), ['192.0.2.7']);
    assert.deepEqual(addressesFor(ipam, { owner: 'c/new2', key: 'team' }), ['192.0.2.3']);
    assert.deepEqual(addressesFor(ipam, { owner: 'c/new3', key: 'fresh' }), ['192.0.2.0']);
  });

  test('conflicts are won by the earlier entry', () => {
    const cases: Array<[RestoreEntry[], string, string]> = [
      [
        [
          { owner: 'a/first', key: 'k1', addresses: ['192.0.2.9'] },
          { owner: 'b/second', key: 'k2', addresses: ['192.0.2.9'] },
        ],
        'a/first',
        'b/second',
      ],
      [
        [
          { owner: 'b/second', key: 'k2', addresses: ['192.0.2.9'] },
          { owner: 'a/first', key: 'k1', addresses: ['192.0.2.9'] },
        ],
        'b/second',
        'a/first',
      ],
    ];
    for (const [input, winner, loser] of cases) {
      const ipam = allocator(docs());
      const heldBy = input[0]?.key ?? '';
      assert.deepEqual(ipam.restore(input), [{ owner: loser, address: '192.0.2.9', heldBy }]);
      assert.deepEqual(ipam.holderOf('192.0.2.9')?.owners, [winner]);
      assert.deepEqual(ipam.addressesOf(loser), []);
    }
  });

  test('the loser keeps its uncontested addresses; same-key claims share', () => {
    const ipam = allocator(pool('dual', ['192.0.2.0/24', '2001:db8::/120']));
    const conflicts = ipam.restore([
      { owner: 'a/x', key: 'k1', addresses: ['192.0.2.9'] },
      { owner: 'a/y', key: 'k1', addresses: ['192.0.2.9'] },
      { owner: 'b/z', key: 'k2', addresses: ['2001:db8::5', '192.0.2.9', 'not-an-ip'] },
    ]);
    assert.deepEqual(conflicts, [{ owner: 'b/z', address: '192.0.2.9', heldBy: 'k1' }]);
    assert.deepEqual(ipam.holderOf('192.0.2.9')?.owners, ['a/x', 'a/y']);
    assert.deepEqual(ipam.addressesOf('b/z'), ['2001:db8::5']);
  });
});

describe('release', () => {
  test('frees an address only when its last owner goes', () => {
    const ipam = allocator(docs());
    for (const owner of ['a/1', 'a/2', 'a/3']) addressesFor(ipam, { owner, key: '' });
    assert.deepEqual(ipam.release('a/1'), { freed: [] });
    assert.deepEqual(ipam.release('a/2'), { freed: [] });
    assert.deepEqual(ipam.release('a/3'), { freed: ['192.0.2.0'] });
    assert.deepEqual(ipam.release('a/3'), { freed: [] });
    assert.equal(ipam.holderOf('192.0.2.0'), undefined);
    assert.deepEqual(addressesFor(ipam, { owner: 'b/1', key: 'other' }), ['192.0.2.0']);
  });
});

describe('pool changes', () => {
  const cases: Array<[string, PoolSpec[]]> = [
    ['pool removed', []],
    ['pool shrunk', [pool('docs', ['192.0.2.128/25'])]],
  ];
  for (const [name, after] of cases) {
    test(`${name}: the address stays and is reported as an orphan`, () => {
      const ipam = allocator(docs());
      addressesFor(ipam, { owner: 'a/x', key: '', pool: 'docs' });
      addressesFor(ipam, { owner: 'a/y', key: '' });
      ipam.setPools(after);
      assert.deepEqual(ipam.orphans(), [{ address: '192.0.2.0', key: '', owners: ['a/x', 'a/y'] }]);
      for (const request of [
        { owner: 'a/x', key: '', pool: 'docs' },
        { owner: 'a/y', key: '' },
      ]) {
        assert.deepEqual(granted(ipam.assign(request)), {
          ok: true,
          addresses: ['192.0.2.0'],
          pool: 'docs',
          changed: false,
        });
      }
    });
  }
});

describe('stats', () => {
  test('counts sizes, assigned and available per pool', () => {
    const ipam = new IpAllocator();
    ipam.setPools([
      pool('v6', ['2001:db8::/64']),
      pool('buggy', ['192.0.2.0/24'], { avoidBuggyIPs: true }),
      pool('overlap', ['192.0.2.250-192.0.3.5']),
    ]);
    addressesFor(ipam, { owner: 'a/x', key: '', pool: 'buggy' });
    addressesFor(ipam, { owner: 'a/y', key: 'k', requested: ['192.0.2.255'] });
    addressesFor(ipam, { owner: 'a/z', key: 'z', pool: 'v6' });
    assert.deepEqual(ipam.stats(), [
      { pool: 'buggy', size: 254, assigned: 2, available: 253 },
      { pool: 'overlap', size: 12, assigned: 1, available: 11 },
      { pool: 'v6', size: 2 ** 64, assigned: 1, available: 2 ** 64 },
    ]);
  });
});

describe('scale', () => {
  test('10,000 keys in a /16 and 10,000 owners sharing one key stay fast', () => {
    const ipam = allocator(pool('big', ['10.0.0.0/16'], { avoidBuggyIPs: true }));
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) addressesFor(ipam, { owner: `k/${i}`, key: `k${i}` });
    for (let i = 0; i < 10_000; i++) addressesFor(ipam, { owner: `d/${i}`, key: '' });
    assert.deepEqual(ipam.addressesOf('k/9999'), ['10.0.39.94']);
    assert.equal(ipam.stats()[0]?.assigned, 10_001);
    assert.ok(performance.now() - started < 3000, 'took longer than 3 s');
  });

  test('an IPv6 /64 is not scanned', () => {
    const ipam = allocator(pool('v6', ['2001:db8::/64']));
    for (let i = 0; i < 1000; i++) addressesFor(ipam, { owner: `o/${i}`, key: `k${i}` });
    ipam.release('o/500');
    assert.deepEqual(addressesFor(ipam, { owner: 'new/1', key: 'new' }), ['2001:db8::1f4']);
    assert.deepEqual(addressesFor(ipam, { owner: 'new/2', key: 'new2' }), ['2001:db8::3e8']);
  });
});

describe('property: an address is never held by two keys', () => {
  test('random assign / release / restore sequences', () => {
    let seed = 20240601;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const pick = <T>(items: readonly T[]): T => items[random(items.length)] as T;
    const pools = [
      pool('a', ['192.0.2.0/29'], { avoidBuggyIPs: true }),
      pool('b', ['192.0.2.4-192.0.2.12', '2001:db8::/126']),
      pool('m', ['192.0.2.250-192.0.3.1'], { autoAssign: false }),
    ];
    const owners = Array.from({ length: 12 }, (_, i) => `ns/o${i}`);
    const keys = ['', '', 'k1', 'k2', 'k3'];
    const addresses = ['192.0.2.1', '192.0.2.5', '192.0.2.255', '2001:db8::2', '10.0.0.1'];
    const ipam = new IpAllocator();
    ipam.setPools(pools);
    const keyOf = new Map<string, string>();
    for (let step = 0; step < 4000; step++) {
      const roll = random(10);
      const owner = pick(owners);
      if (roll < 6) {
        const request: AllocationRequest = {
          owner,
          key: pick(keys),
          ...(random(4) === 0 ? { pool: pick(['a', 'b', 'm', 'ghost']) } : {}),
          ...(random(4) === 0 ? { requested: [pick(addresses)] } : {}),
        };
        const result = ipam.assign(request);
        if (result.ok) {
          keyOf.set(owner, request.key);
          const again = ipam.assign(request);
          assert.deepEqual(again, { ...result, changed: false }, `step ${step}: not idempotent`);
        }
      } else if (roll < 8) {
        ipam.release(owner);
        keyOf.delete(owner);
      } else if (roll < 9) {
        const entry = { owner, key: pick(keys), addresses: [pick(addresses), pick(addresses)] };
        ipam.restore([entry]);
        if (ipam.addressesOf(owner).length > 0) keyOf.set(owner, entry.key);
        else keyOf.delete(owner);
      } else {
        ipam.setPools(random(2) === 0 ? pools : pools.slice(1));
      }
      const keyByAddress = new Map<string, string>();
      for (const o of owners) {
        for (const address of ipam.addressesOf(o)) {
          const key = keyOf.get(o);
          const previous = keyByAddress.get(address);
          assert.ok(previous === undefined || previous === key, `step ${step}: ${address} twice`);
          keyByAddress.set(address, key ?? '?');
          assert.equal(ipam.holderOf(address)?.key, key, `step ${step}: holder of ${address}`);
          assert.ok(ipam.holderOf(address)?.owners.includes(o));
        }
      }
    }
  });
});

test('assigned lists every in-use address with its pool, in address order', () => {
  const ipam = allocator(pool('a', ['192.0.2.10/31']), pool('b', ['198.51.100.0/30']));
  addressesFor(ipam, { owner: 'x/1', key: 'one', pool: 'b' });
  addressesFor(ipam, { owner: 'x/2', key: 'two', pool: 'a' });
  assert.deepEqual(ipam.assigned(), [
    { address: '192.0.2.10', pool: 'a' },
    { address: '198.51.100.0', pool: 'b' },
  ]);
  ipam.release('x/2');
  assert.deepEqual(ipam.assigned(), [{ address: '198.51.100.0', pool: 'b' }]);
});

describe('allowed pools', () => {
  test('auto assignment follows the order of preference and skips pools not listed', () => {
    const ipam = allocator(
      pool('a', ['192.0.2.0/31']),
      pool('b', ['198.51.100.0/31']),
      pool('c', ['203.0.113.0/32']),
    );
    const allowedPools = ['ghost', 'c', 'a'];
    const got = ['k1', 'k2', 'k3'].map((key) =>
      granted(ipam.assign({ owner: key, key, allowedPools })),
    );
    assert.deepEqual(
      got.map((r) => `${r.pool} ${r.addresses.join()}`),
      ['c 203.0.113.0', 'a 192.0.2.0', 'a 192.0.2.1'],
    );
    assert.deepEqual(ipam.assign({ owner: 'k4', key: 'k4', allowedPools }), {
      ok: false,
      code: 'PIER_POOL_EXHAUSTED',
      message: 'no free address left in address pools "c" (1 addresses), "a" (2 addresses)',
    });
  });

  test('a named pool outside the allowed pools is refused', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/24']), pool('b', ['198.51.100.0/24']));
    const { code, message } = refused(
      ipam.assign({ owner: 'a/x', key: 'k', pool: 'b', allowedPools: ['a'] }),
    );
    assert.equal(code, 'PIER_POOL_NOT_ALLOWED');
    assert.match(message, /address pool "b" does not serve this object/);
    assert.deepEqual(ipam.addressesOf('a/x'), []);
    assert.equal(
      granted(ipam.assign({ owner: 'a/x', key: 'k', pool: 'a', allowedPools: ['a'] })).pool,
      'a',
    );
  });

  test('a named pool that does not exist is unknown, not disallowed', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/24']));
    const result = ipam.assign({ owner: 'a/x', key: 'k', pool: 'ghost', allowedPools: ['a'] });
    assert.equal(refused(result).code, 'PIER_UNKNOWN_POOL');
  });

  test('a requested address only in pools not allowed is refused', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/24']), pool('b', ['198.51.100.0/24']));
    const { code, message } = refused(
      ipam.assign({ owner: 'a/x', key: 'k', requested: ['198.51.100.7'], allowedPools: ['a'] }),
    );
    assert.equal(code, 'PIER_POOL_NOT_ALLOWED');
    assert.match(message, /198\.51\.100\.7 is in no address pool that serves this object/);
    assert.equal(ipam.holderOf('198.51.100.7'), undefined);
  });

  test('a requested address in overlapping pools comes from the allowed one', () => {
    const ipam = new IpAllocator();
    ipam.setPools([pool('a', ['192.0.2.0/24']), pool('b', ['192.0.2.0/25'])]);
    const result = granted(
      ipam.assign({ owner: 'a/x', key: 'k', requested: ['192.0.2.7'], allowedPools: ['b'] }),
    );
    assert.equal(result.pool, 'b');
  });

  test('no allowed pool with autoAssign: PIER_NO_POOL saying none serves this object', () => {
    const ipam = allocator(
      pool('auto', ['192.0.2.0/24']),
      pool('manual', ['203.0.113.0/24'], { autoAssign: false }),
    );
    for (const allowedPools of [[], ['manual']]) {
      assert.deepEqual(ipam.assign({ owner: 'a/x', key: 'k', allowedPools }), {
        ok: false,
        code: 'PIER_NO_POOL',
        message:
          'no address pool with autoAssign enabled serves this object; name a pool explicitly',
      });
    }
    const named = ipam.assign({ owner: 'a/x', key: 'k', pool: 'manual', allowedPools: ['manual'] });
    assert.deepEqual(granted(named).addresses, ['203.0.113.0']);
  });
});

describe('families', () => {
  const v4 = () => pool('a-v4', ['192.0.2.0/24']);
  const dual = () => pool('b-dual', ['198.51.100.0/24', '2001:db8::/64']);

  test('dual-stack: one IPv4 and one IPv6 address, from one pool', () => {
    const ipam = allocator(v4(), dual());
    assert.deepEqual(granted(ipam.assign({ owner: 'a/x', key: 'k', families: [4, 6] })), {
      ok: true,
      addresses: ['198.51.100.0', '2001:db8::'],
      pool: 'b-dual',
      changed: true,
    });
  });

  test('IPv6 only: no IPv4 address, even where IPv4 is free', () => {
    const ipam = allocator(v4(), dual());
    assert.deepEqual(granted(ipam.assign({ owner: 'a/x', key: 'k', families: [6] })), {
      ok: true,
      addresses: ['2001:db8::'],
      pool: 'b-dual',
      changed: true,
    });
  });

  test('a family no pool has left: PIER_POOL_EXHAUSTED naming the family', () => {
    const ipam = allocator(v4());
    assert.deepEqual(ipam.assign({ owner: 'a/x', key: 'k', families: [6] }), {
      ok: false,
      code: 'PIER_POOL_EXHAUSTED',
      message: 'no free address of IPv6 left in address pools "a-v4" (256 addresses)',
    });
  });

  test('dual-stack with IPv4 used up fails whole; the free IPv6 address stays free', () => {
    const ipam = allocator(pool('dual', ['192.0.2.1/32', '2001:db8::/126']));
    addressesFor(ipam, { owner: 'a/first', key: 'first', families: [4, 6] });
    const { code, message } = refused(
      ipam.assign({ owner: 'a/second', key: 'second', families: [4, 6] }),
    );
    assert.equal(code, 'PIER_POOL_EXHAUSTED');
    assert.match(message, /of IPv4 and IPv6/);
    assert.equal(ipam.holderOf('2001:db8::1'), undefined);
    assert.deepEqual(addressesFor(ipam, { owner: 'a/third', key: 'third', families: [6] }), [
      '2001:db8::1',
    ]);
  });

  test('a requested address of another family is refused', () => {
    const ipam = allocator(dual());
    const { code, message } = refused(
      ipam.assign({ owner: 'a/x', key: 'k', families: [6], requested: ['198.51.100.5'] }),
    );
    assert.equal(code, 'PIER_INVALID_ADDRESS');
    assert.match(message, /198\.51\.100\.5 is IPv4, not of the families asked for \(IPv6\)/);
    assert.equal(ipam.holderOf('198.51.100.5'), undefined);
  });

  test('optional families are given when the pool has them, skipped when not', () => {
    const rows: Array<[string, PoolSpec, AllocationRequest[], string[]]> = [
      [
        'dual-stack pool',
        pool('p', ['192.0.2.0/24', '2001:db8::/64']),
        [],
        ['192.0.2.0', '2001:db8::'],
      ],
      ['IPv4-only pool', pool('p', ['192.0.2.0/24']), [], ['192.0.2.0']],
      [
        'IPv6 used up',
        pool('p', ['192.0.2.0/24', '2001:db8::/128']),
        [{ owner: 'a/v6', key: 'v6', families: [6] }],
        ['192.0.2.0'],
      ],
    ];
    for (const [name, spec, before, expected] of rows) {
      const ipam = allocator(spec);
      for (const request of before) addressesFor(ipam, request);
      const request: AllocationRequest = {
        owner: 'a/x',
        key: 'k',
        families: [4],
        optionalFamilies: [6],
      };
      assert.deepEqual(addressesFor(ipam, request), expected, name);
    }
  });

  test('an owner sharing a key must ask for families the key has', () => {
    const ipam = allocator(pool('p', ['192.0.2.0/24', '2001:db8::/64']));
    addressesFor(ipam, { owner: 'a/v4', key: 'k', families: [4] });
    const { code, message } = refused(ipam.assign({ owner: 'a/dual', key: 'k', families: [4, 6] }));
    assert.equal(code, 'PIER_SHARING_CONFLICT');
    assert.match(message, /have no IPv6 address/);
    assert.deepEqual(addressesFor(ipam, { owner: 'a/also-v4', key: 'k', families: [4] }), [
      '192.0.2.0',
    ]);
  });

  test('a single-stack owner joining a dual-stack key gets no address of another family', () => {
    const ipam = allocator(pool('p', ['192.0.2.0/24', '2001:db8::/64']));
    addressesFor(ipam, { owner: 'a/dual', key: 'k', families: [4, 6] });
    const result = granted(ipam.assign({ owner: 'a/v4', key: 'k', families: [4] }));
    assert.deepEqual(result.addresses, ['192.0.2.0']);
    // And it stays put: a second reconcile changes nothing.
    assert.equal(granted(ipam.assign({ owner: 'a/v4', key: 'k', families: [4] })).changed, false);
  });

  test('a dual-stack owner that requests one address only is told to request both families', () => {
    const ipam = allocator(pool('p', ['192.0.2.0/24', '2001:db8::/64']));
    const result = ipam.assign({
      owner: 'c/one',
      key: 'k2',
      families: [4, 6],
      requested: ['192.0.2.9'],
    });
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.code, 'PIER_INVALID_ADDRESS');
      assert.match(result.message, /no IPv6 address/);
    }
    const both = ipam.assign({
      owner: 'c/one',
      key: 'k2',
      families: [4, 6],
      requested: ['192.0.2.9', '2001:db8::9'],
    });
    assert.deepEqual(granted(both).addresses, ['192.0.2.9', '2001:db8::9']);
  });

  test('asking for another family moves the owner', () => {
    const ipam = allocator(pool('p', ['192.0.2.0/24', '2001:db8::/64']));
    addressesFor(ipam, { owner: 'a/x', key: 'k', families: [4] });
    const moved = granted(ipam.assign({ owner: 'a/x', key: 'k', families: [6] }));
    assert.deepEqual(moved, { ok: true, addresses: ['2001:db8::'], pool: 'p', changed: true });
    assert.equal(ipam.holderOf('192.0.2.0'), undefined);
  });
});

describe('sharing terms', () => {
  const terms = (ports: string[], trafficPolicy = 'Cluster', selector = '[["app","dns"]]') => ({
    ports,
    trafficPolicy,
    selector,
  });
  const key = 'service-key:edge';

  interface Case {
    name: string;
    first: SharingTerms;
    second: SharingTerms | undefined;
    /** undefined: they share; otherwise what the conflict's message says. */
    conflict: RegExp | undefined;
  }
  const cases: Case[] = [
    {
      name: 'disjoint ports share',
      first: terms(['UDP/53']),
      second: terms(['TCP/53']),
      conflict: undefined,
    },
    {
      name: 'a port used twice',
      first: terms(['TCP/443', 'TCP/80']),
      second: terms(['TCP/8080', 'TCP/80']),
      conflict: /port TCP\/80 .*already used by Service a\/first/,
    },
    {
      name: 'another traffic policy',
      first: terms(['TCP/80'], 'Cluster'),
      second: terms(['TCP/443'], 'Local'),
      conflict: /Service a\/first .*externalTrafficPolicy Cluster/,
    },
    {
      name: 'both Local, other pods',
      first: terms(['TCP/80'], 'Local', '[["app","web"]]'),
      second: terms(['TCP/443'], 'Local', '[["app","api"]]'),
      conflict: /Service a\/first .*Local .*same pods/,
    },
    {
      name: 'both Local, the same pods',
      first: terms(['TCP/80'], 'Local', '[["app","web"]]'),
      second: terms(['TCP/443'], 'Local', '[["app","web"]]'),
      conflict: undefined,
    },
    {
      name: 'both Cluster, other pods',
      first: terms(['TCP/80'], 'Cluster', '[["app","web"]]'),
      second: terms(['TCP/443'], 'Cluster', '[["app","api"]]'),
      conflict: undefined,
    },
    {
      name: 'the joiner states no terms',
      first: terms(['TCP/80']),
      second: undefined,
      conflict: undefined,
    },
  ];
  const paths: Array<[string, Partial<AllocationRequest>]> = [
    ['auto', {}],
    ['requested', { requested: ['192.0.2.9'] }],
  ];
  for (const c of cases) {
    for (const [path, extra] of paths) {
      test(`${c.name} (${path})`, () => {
        const ipam = allocator(docs());
        const first = addressesFor(ipam, {
          owner: 'Service a/first',
          key,
          sharing: c.first,
          ...extra,
        });
        const result = ipam.assign({ owner: 'Service b/second', key, sharing: c.second, ...extra });
        if (c.conflict === undefined) {
          assert.deepEqual(granted(result).addresses, first);
          assert.deepEqual(ipam.holderOf(first[0] ?? '')?.owners, [
            'Service a/first',
            'Service b/second',
          ]);
        } else {
          const { code, message } = refused(result);
          assert.equal(code, 'PIER_SHARING_CONFLICT');
          assert.match(message, c.conflict);
          assert.deepEqual(ipam.addressesOf('Service b/second'), []);
          assert.deepEqual(ipam.holderOf(first[0] ?? '')?.owners, ['Service a/first']);
        }
      });
    }
  }

  test('owners without sharing terms share freely', () => {
    const ipam = allocator(docs());
    const owners = ['a/x', 'b/y', 'c/z'];
    for (const owner of owners) assert.deepEqual(addressesFor(ipam, { owner, key }), ['192.0.2.0']);
    assert.deepEqual(
      addressesFor(ipam, { owner: 'Service d/w', key, sharing: terms(['TCP/80']) }),
      ['192.0.2.0'],
    );
  });

  test('a failed change of terms keeps the owner where it was', () => {
    const ipam = allocator(docs());
    addressesFor(ipam, { owner: 'Service a/dns-udp', key, sharing: terms(['UDP/53']) });
    addressesFor(ipam, { owner: 'Service b/dns-tcp', key, sharing: terms(['TCP/53']) });
    const result = ipam.assign({ owner: 'Service b/dns-tcp', key, sharing: terms(['UDP/53']) });
    assert.match(refused(result).message, /port UDP\/53 .*Service a\/dns-udp/);
    assert.deepEqual(ipam.addressesOf('Service b/dns-tcp'), ['192.0.2.0']);
    const unchanged = ipam.assign({ owner: 'Service b/dns-tcp', key, sharing: terms(['TCP/53']) });
    assert.equal(granted(unchanged).changed, false);
  });

  test('restored owners keep their addresses and their terms', () => {
    const ipam = allocator(docs());
    const entries: RestoreEntry[] = [
      { owner: 'Service a/dns-udp', key, addresses: ['192.0.2.7'], sharing: terms(['UDP/53']) },
      { owner: 'Service b/dns-tcp', key, addresses: ['192.0.2.7'], sharing: terms(['TCP/53']) },
    ];
    assert.deepEqual(ipam.restore(entries), []);
    for (const entry of entries) {
      const again = ipam.assign({ owner: entry.owner, key, sharing: entry.sharing });
      assert.deepEqual(granted(again), {
        ok: true,
        addresses: ['192.0.2.7'],
        pool: 'docs',
        changed: false,
      });
    }
    const clash = ipam.assign({ owner: 'Service c/dns', key, sharing: terms(['TCP/53']) });
    assert.match(refused(clash).message, /port TCP\/53 .*Service b\/dns-tcp/);
  });
});

test('an address held by another key names the key and its owners', () => {
  const ipam = allocator(docs());
  for (const owner of ['b/y', 'a/z']) {
    addressesFor(ipam, { owner, key: 'theirs', requested: ['192.0.2.10'] });
  }
  assert.deepEqual(ipam.assign({ owner: 'c/x', key: 'k', requested: ['192.0.2.10'] }), {
    ok: false,
    code: 'PIER_ADDRESS_HELD',
    message: 'address 192.0.2.10 is already used by sharing key "theirs" (a/z, b/y)',
  });
});

describe('an address does not move while the request still fits', () => {
  test('re-assigning the same request returns what the owner holds', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/24', '2001:db8::/64']));
    addressesFor(ipam, { owner: 'a/before', key: 'before', families: [4] });
    const request: AllocationRequest = {
      owner: 'Service a/x',
      key: 'service:a/x',
      allowedPools: ['a'],
      families: [4],
      optionalFamilies: [6],
      sharing: { ports: ['TCP/80'], trafficPolicy: 'Local', selector: '[]' },
    };
    const first = granted(ipam.assign(request));
    assert.deepEqual(first.addresses, ['192.0.2.1', '2001:db8::']);
    ipam.release('a/before');
    assert.deepEqual(ipam.assign(request), { ...first, changed: false });
  });

  test('changing the allowed pools alone does not move a held address', () => {
    const ipam = allocator(pool('a', ['192.0.2.0/24']), pool('b', ['198.51.100.0/24']));
    const first = granted(ipam.assign({ owner: 'a/x', key: 'k', allowedPools: ['a', 'b'] }));
    assert.equal(first.pool, 'a');
    for (const allowedPools of [['b', 'a'], ['b'], undefined]) {
      const again = ipam.assign({ owner: 'a/x', key: 'k', allowedPools });
      assert.deepEqual(again, { ...first, changed: false }, JSON.stringify(allowedPools));
    }
  });
});
