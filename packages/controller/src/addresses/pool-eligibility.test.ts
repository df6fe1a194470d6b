import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IPAddressPool } from './ip-address-pool.ts';
import { eligiblePools } from './pool-eligibility.ts';

type PoolSpecFields = NonNullable<IPAddressPool['spec']>;

function pool(
  name: string,
  fields: Pick<PoolSpecFields, 'allocateTo' | 'serviceAllocation'> = {},
): IPAddressPool {
  return { metadata: { name }, spec: { addresses: ['192.0.2.0/24'], ...fields } };
}

describe('allocateTo', () => {
  const pools = [
    pool('services', { allocateTo: ['Service'] }),
    pool('web', { allocateTo: ['Ingress', 'Gateway'] }),
    pool('any'),
    pool('gateways', { allocateTo: ['Gateway'] }),
    pool('nobody', { allocateTo: [] }),
  ];
  const rows: Array<[Parameters<typeof eligiblePools>[1], string[]]> = [
    ['Ingress', ['any', 'web']],
    ['Gateway', ['any', 'gateways', 'web']],
    ['Service', ['any', 'services']],
  ];
  for (const [kind, expected] of rows) {
    test(`${kind}: only pools that allow the kind, or set no allocateTo`, () => {
      assert.deepEqual(eligiblePools(pools, kind, 'shop', {}), expected);
    });
  }
});

test('Ingress: by name, whatever the serviceAllocation', () => {
  const pools = [
    pool('c', { serviceAllocation: { priority: 1, namespaces: ['elsewhere'] } }),
    pool('a'),
    pool('b', { serviceAllocation: { priority: 0 } }),
  ];
  assert.deepEqual(eligiblePools(pools, 'Ingress', 'shop', {}), ['a', 'b', 'c']);
  assert.deepEqual(eligiblePools(pools, 'Gateway', 'shop', {}), ['a', 'b', 'c']);
});

describe('Service', () => {
  test('serviceAllocation pools by priority (unset last), ties by name, then the rest', () => {
    const pools = [
      pool('plain-b'),
      pool('unranked-b', { serviceAllocation: {} }),
      pool('ten', { serviceAllocation: { priority: 10 } }),
      pool('plain-a'),
      pool('one-b', { serviceAllocation: { priority: 1 } }),
      pool('unranked-a', { serviceAllocation: { namespaces: ['shop'] } }),
      pool('one-a', { serviceAllocation: { priority: 1 } }),
      pool('zero', { serviceAllocation: { priority: 0 } }),
    ];
    assert.deepEqual(eligiblePools(pools, 'Service', 'shop', {}), [
      'zero',
      'one-a',
      'one-b',
      'ten',
      'unranked-a',
      'unranked-b',
      'plain-a',
      'plain-b',
    ]);
  });

  const namespaces: Array<{
    name: string;
    allocation: NonNullable<PoolSpecFields['serviceAllocation']>;
    serves: boolean;
  }> = [
    { name: 'no namespace limits', allocation: { priority: 1 }, serves: true },
    { name: 'namespace listed', allocation: { namespaces: ['other', 'shop'] }, serves: true },
    { name: 'namespace not listed', allocation: { namespaces: ['other'] }, serves: false },
    {
      name: 'matchLabels matches',
      allocation: { namespaceSelectors: [{ matchLabels: { team: 'retail' } }] },
      serves: true,
    },
    {
      name: 'matchLabels does not match',
      allocation: { namespaceSelectors: [{ matchLabels: { team: 'finance' } }] },
      serves: false,
    },
    {
      name: 'matchExpressions matches',
      allocation: {
        namespaceSelectors: [
          { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] },
        ],
      },
      serves: true,
    },
    {
      name: 'matchExpressions does not match',
      allocation: {
        namespaceSelectors: [{ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }],
      },
      serves: false,
    },
    {
      name: 'any one selector is enough',
      allocation: {
        namespaceSelectors: [
          { matchLabels: { team: 'finance' } },
          { matchLabels: { env: 'prod' } },
        ],
      },
      serves: true,
    },
    {
      name: 'a name or a selector is enough',
      allocation: { namespaces: ['shop'], namespaceSelectors: [{ matchLabels: { team: 'x' } }] },
      serves: true,
    },
  ];
  for (const row of namespaces) {
    test(`namespaces: ${row.name}`, () => {
      const pools = [pool('ranked', { serviceAllocation: row.allocation }), pool('plain')];
      const labels = { team: 'retail', env: 'prod' };
      assert.deepEqual(
        eligiblePools(pools, 'Service', 'shop', labels),
        row.serves ? ['ranked', 'plain'] : ['plain'],
      );
    });
  }

  test('allocateTo applies before serviceAllocation', () => {
    const pools = [
      pool('web-only', { allocateTo: ['Ingress'], serviceAllocation: { priority: 0 } }),
      pool('plain'),
    ];
    assert.deepEqual(eligiblePools(pools, 'Service', 'shop', {}), ['plain']);
  });
});
