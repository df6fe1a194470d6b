import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPAddressPool } from '../addresses/ip-address-pool.ts';
import {
  compileL2Announcements,
  holderMoves,
  holdersByPool,
  matchesNodeSelector,
  type NodeLabels,
  type PoolHolder,
  unheldByPool,
} from './l2-plan.ts';

test('node selectors: matchLabels and every matchExpressions operator', () => {
  const labels = { 'pier.dev/edge': 'true', zone: 'a' };
  const rows: Array<[string, Parameters<typeof matchesNodeSelector>[1], boolean]> = [
    ['no selector', undefined, true],
    ['empty selector', {}, true],
    ['matching label', { matchLabels: { zone: 'a' } }, true],
    ['other value', { matchLabels: { zone: 'b' } }, false],
    ['missing label', { matchLabels: { rack: '1' } }, false],
    ['In', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, true],
    [
      'In, not listed',
      { matchExpressions: [{ key: 'zone', operator: 'In', values: ['c'] }] },
      false,
    ],
    ['NotIn', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, false],
    [
      'NotIn, absent',
      { matchExpressions: [{ key: 'rack', operator: 'NotIn', values: ['1'] }] },
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'pier.dev/edge', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, false],
    ['unknown operator', { matchExpressions: [{ key: 'zone', operator: 'Gt' }] }, false],
    [
      'all must hold',
      { matchLabels: { zone: 'a' }, matchExpressions: [{ key: 'rack', operator: 'Exists' }] },
      false,
    ],
  ];
  for (const [name, selector, expected] of rows) {
    assert.equal(matchesNodeSelector(labels, selector), expected, name);
  }
});

const pool = (name: string, l2?: NonNullable<IPAddressPool['spec']>['l2']): IPAddressPool => ({
  metadata: { name },
  spec: { addresses: ['203.0.113.0/24'], ...(l2 ? { l2 } : {}) },
});

test('only addresses of L2 pools are announced, with the pool interfaces and matching nodes', () => {
  const pools = [
    pool('lan', { interfaces: ['eth0', '..'], nodeSelector: { matchLabels: { edge: 'yes' } } }),
    pool('bgp'),
    pool('any', {}),
  ];
  const nodes: NodeLabels[] = [
    { name: 'edge-2', labels: { edge: 'yes' } },
    { name: 'edge-1', labels: { edge: 'yes' } },
    { name: 'worker', labels: {} },
  ];
  const assigned = [
    { address: '203.0.113.1', pool: 'lan' },
    { address: '203.0.113.2', pool: 'bgp' },
    { address: '203.0.113.3', pool: 'any' },
    { address: '203.0.113.4', pool: '' },
  ];
  assert.deepEqual(compileL2Announcements(pools, nodes, assigned), {
    addresses: [
      { address: '203.0.113.1', pool: 'lan', interfaces: ['eth0'], nodes: ['edge-1', 'edge-2'] },
      {
        address: '203.0.113.3',
        pool: 'any',
        interfaces: [],
        nodes: ['edge-1', 'edge-2', 'worker'],
      },
    ],
  });
});

test('localNodes narrows each address to the nodes it names, within the pool selection', () => {
  const pools = [pool('lan', { nodeSelector: { matchLabels: { edge: 'yes' } } })];
  const nodes: NodeLabels[] = [
    { name: 'edge-1', labels: { edge: 'yes' } },
    { name: 'edge-2', labels: { edge: 'yes' } },
    { name: 'worker', labels: {} },
  ];
  const assigned = [
    { address: '203.0.113.1', pool: 'lan' },
    { address: '203.0.113.2', pool: 'lan' },
    { address: '203.0.113.3', pool: 'lan' },
  ];
  const local = new Map<string, ReadonlySet<string>>([
    // worker has a local endpoint but is not selected by the pool: it still must not announce.
    ['203.0.113.1', new Set(['edge-2', 'worker'])],
    ['203.0.113.3', new Set()],
  ]);
  const nodesOf = (localNodes?: (address: string) => ReadonlySet<string> | undefined) =>
    compileL2Announcements(pools, nodes, assigned, localNodes).addresses.map((a) => [
      a.address,
      a.nodes,
    ]);
  assert.deepEqual(
    nodesOf((address) => local.get(address)),
    [
      ['203.0.113.1', ['edge-2']],
      ['203.0.113.2', ['edge-1', 'edge-2']],
      ['203.0.113.3', []],
    ],
  );
  const unrestricted = [
    ['203.0.113.1', ['edge-1', 'edge-2']],
    ['203.0.113.2', ['edge-1', 'edge-2']],
    ['203.0.113.3', ['edge-1', 'edge-2']],
  ];
  assert.deepEqual(nodesOf(), unrestricted);
  assert.deepEqual(
    nodesOf(() => undefined),
    unrestricted,
  );
});

test('holders per pool come from the leases; an L2 pool nobody holds shows an empty list', () => {
  const announcements = {
    addresses: [
      { address: '203.0.113.1', pool: 'lan', interfaces: [], nodes: ['edge-1'] },
      { address: '203.0.113.2', pool: 'lan', interfaces: [], nodes: ['edge-1'] },
    ],
  };
  const leases = new Map([
    ['203.0.113.1', { epoch: 3, node: 'edge-1', token: 't' }],
    ['203.0.113.2', undefined],
  ]);
  assert.deepEqual(
    holdersByPool(announcements, leases, ['lan', 'quiet']),
    new Map([
      ['lan', [{ address: '203.0.113.1', node: 'edge-1' }]],
      ['quiet', []],
    ]),
  );
});

const announce = (...pairs: Array<[address: string, pool: string]>) => ({
  addresses: pairs.map(([address, pool]) => ({ address, pool, interfaces: [], nodes: [] })),
});

test('unheld addresses: counted per L2 pool, 0 for a pool whose addresses are all held', () => {
  const announcements = announce(
    ['203.0.113.1', 'lan'],
    ['203.0.113.2', 'lan'],
    ['203.0.113.3', 'dmz'],
    ['203.0.113.4', 'lab'],
  );
  const holders = new Map<string, PoolHolder[]>([
    ['lan', [{ address: '203.0.113.1', node: 'edge-1' }]],
    ['dmz', [{ address: '203.0.113.3', node: 'edge-2' }]],
    ['lab', []],
    ['quiet', []],
  ]);
  assert.deepEqual(
    unheldByPool(announcements, holders, ['lan', 'dmz', 'lab', 'quiet']),
    new Map([
      ['lan', 1],
      ['dmz', 0],
      ['lab', 1],
      ['quiet', 0],
    ]),
  );
});

test('holder moves: only a takeover by another node counts, not a first holder or a return', () => {
  const a = '203.0.113.1';
  const held = (node?: string) =>
    new Map<string, PoolHolder[]>([['lan', node ? [{ address: a, node }] : []]]);
  // Each row: the holder read next (undefined: none), and whether that read is a move.
  const rows: Array<[string, string | undefined, boolean]> = [
    ['first holder', 'edge-1', false],
    ['same holder again', 'edge-1', false],
    ['lease lost, no holder', undefined, false],
    ['back on the same node', 'edge-1', false],
    ['taken over directly', 'edge-2', true],
    ['lost again', undefined, false],
    ['taken over after a gap', 'edge-1', true],
  ];
  let last = new Map<string, string>();
  for (const [name, node, moved] of rows) {
    const result = holderMoves(last, announce([a, 'lan']), held(node));
    assert.deepEqual(result.moves, moved ? new Map([['lan', 1]]) : new Map(), name);
    last = result.lastHolders;
  }
  // An address no longer announced is forgotten: announced again, its first holder is no move.
  last = holderMoves(last, announce(), new Map()).lastHolders;
  assert.equal(last.size, 0);
  assert.deepEqual(holderMoves(last, announce([a, 'lan']), held('edge-2')).moves, new Map());
});
