import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownerOf } from '@pier/shared';
import {
  type HeldAddress,
  type L2Candidate,
  L2Election,
  type L2Step,
  type ObservedLease,
} from './l2-election.ts';

const NODES = ['edge-1', 'edge-2'];
const OPTIONS = { graceMs: 150, handOffAfterMs: 3_000, handOffHoldMs: 60_000 };

/** An address each node prefers when both are live. */
function preferredBy(node: string): string {
  for (let i = 1; i < 255; i++) {
    const address = `203.0.113.${i}`;
    if (ownerOf(address, NODES) === node) return address;
  }
  throw new Error('no address found');
}
const MINE = preferredBy('edge-1');
const THEIRS = preferredBy('edge-2');

function candidate(address: string, changes: Partial<L2Candidate> = {}): L2Candidate {
  return { address, interface: 'eth0', liveNodes: NODES, ...changes };
}

function plan(
  election: L2Election,
  now: number,
  parts: {
    candidates?: L2Candidate[];
    leases?: Array<[string, ObservedLease | undefined]> | 'unreadable';
    held?: Array<[string, HeldAddress]>;
    /** Since when each node's speaker is live; default: every node since 0. */
    liveSince?: Record<string, number>;
  },
): L2Step[] {
  return election.plan({
    now,
    candidates: new Map((parts.candidates ?? []).map((c) => [c.address, c])),
    leases: parts.leases === 'unreadable' ? undefined : new Map(parts.leases ?? []),
    held: new Map(parts.held ?? []),
    liveSince: new Map(Object.entries(parts.liveSince ?? { 'edge-1': 0, 'edge-2': 0 })),
  });
}

test('a free lease: the preferred node takes it at once, another only after the grace', () => {
  const rows: Array<[string, string, number[], boolean[]]> = [
    ['preferred', MINE, [0], [true]],
    ['not preferred', THEIRS, [0, 100, 149, 150], [false, false, false, true]],
  ];
  for (const [name, address, times, acquires] of rows) {
    const election = new L2Election({ node: 'edge-1', ...OPTIONS });
    times.forEach((now, i) => {
      const steps = plan(election, now, {
        candidates: [candidate(address)],
        leases: [[address, undefined]],
      });
      const acquired = steps.some((s) => s.kind === 'acquire' && s.address === address);
      assert.equal(acquired, acquires[i], `${name} at ${now} ms`);
    });
  }
});

test('a lease seen held restarts the grace; nothing is taken while Redis is unreadable', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  const c = [candidate(THEIRS)];
  plan(election, 0, { candidates: c, leases: [[THEIRS, undefined]] });
  plan(election, 100, { candidates: c, leases: [[THEIRS, { node: 'edge-2', epoch: 3 }]] });
  assert.deepEqual(plan(election, 200, { candidates: c, leases: [[THEIRS, undefined]] }), []);
  assert.deepEqual(plan(election, 300, { candidates: c, leases: 'unreadable' }), []);
  assert.deepEqual(
    plan(election, 400, { candidates: [candidate(MINE)], leases: 'unreadable' }),
    [],
  );
});

test('no interface up: the address is neither taken nor kept', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  const down = [candidate(MINE, { interface: undefined })];
  assert.deepEqual(plan(election, 0, { candidates: down, leases: [[MINE, undefined]] }), []);
  assert.deepEqual(
    plan(election, 0, {
      candidates: down,
      leases: [],
      held: [[MINE, { interface: 'eth0', acquiredAt: 0 }]],
    }),
    [{ kind: 'release', address: MINE, reason: 'interface-down' }],
  );
});

test('held addresses are renewed, or released with the reason', () => {
  const rows: Array<[string, L2Candidate[], L2Step]> = [
    ['still announced', [candidate(MINE)], { kind: 'renew', address: MINE }],
    [
      'gone from the announcements',
      [],
      { kind: 'release', address: MINE, reason: 'not-announced' },
    ],
    [
      'another interface now',
      [candidate(MINE, { interface: 'eth1' })],
      { kind: 'release', address: MINE, reason: 'interface-changed' },
    ],
  ];
  for (const [name, candidates, step] of rows) {
    const election = new L2Election({ node: 'edge-1', ...OPTIONS });
    const steps = plan(election, 0, {
      candidates,
      leases: [[MINE, { node: 'edge-1', epoch: 1 }]],
      held: [[MINE, { interface: 'eth0', acquiredAt: 0 }]],
    });
    assert.deepEqual(steps, [step], name);
  }
});

test('while Redis is unreadable held addresses are kept (renewed), never handed off', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  for (const now of [0, 10_000, 100_000]) {
    const steps = plan(election, now, {
      candidates: [candidate(THEIRS)],
      leases: 'unreadable',
      held: [[THEIRS, { interface: 'eth0', acquiredAt: 0 }]],
    });
    assert.deepEqual(steps, [{ kind: 'renew', address: THEIRS }], `at ${now} ms`);
  }
});

test('an address of a node that joined is handed to it once it has been live a while, not again soon', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  const held: Array<[string, HeldAddress]> = [[THEIRS, { interface: 'eth0', acquiredAt: 0 }]];
  const leases: Array<[string, ObservedLease]> = [[THEIRS, { node: 'edge-1', epoch: 1 }]];
  // Alone, edge-1 is preferred for everything.
  const alone = [candidate(THEIRS, { liveNodes: ['edge-1'] })];
  const first = { leases, held, liveSince: { 'edge-1': 0 } };
  assert.equal(plan(election, 0, { candidates: alone, ...first })[0]?.kind, 'renew');
  // edge-2's speaker started at 1 s.
  const both = {
    candidates: [candidate(THEIRS)],
    leases,
    held,
    liveSince: { 'edge-1': 0, 'edge-2': 1_000 },
  };
  assert.equal(plan(election, 1_000, both)[0]?.kind, 'renew');
  assert.equal(plan(election, 3_999, both)[0]?.kind, 'renew');
  assert.deepEqual(plan(election, 4_000, both), [
    { kind: 'release', address: THEIRS, reason: 'hand-off' },
  ]);
  // edge-2 did not take it; edge-1 took it back after the grace and keeps it for a while.
  assert.equal(plan(election, 5_000, both)[0]?.kind, 'renew');
  assert.equal(plan(election, 63_999, both)[0]?.kind, 'renew');
  assert.equal(plan(election, 64_000, both)[0]?.kind, 'release');
});

test('a hand-off that went through lifts the hold: the address can be handed back later', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  const held: Array<[string, HeldAddress]> = [[THEIRS, { interface: 'eth0', acquiredAt: 0 }]];
  const mine: Array<[string, ObservedLease]> = [[THEIRS, { node: 'edge-1', epoch: 1 }]];
  const both = [candidate(THEIRS)];
  assert.equal(plan(election, 5_000, { candidates: both, leases: mine, held })[0]?.kind, 'release');
  // edge-2 took it, then died; edge-1 took it over at 10 s; edge-2 restarted at 11 s.
  plan(election, 5_200, { candidates: both, leases: [[THEIRS, { node: 'edge-2', epoch: 2 }]] });
  const again: Array<[string, HeldAddress]> = [[THEIRS, { interface: 'eth0', acquiredAt: 10_000 }]];
  const alone = [candidate(THEIRS, { liveNodes: ['edge-1'] })];
  plan(election, 10_000, {
    candidates: alone,
    leases: mine,
    held: again,
    liveSince: { 'edge-1': 0 },
  });
  const restarted = { 'edge-1': 0, 'edge-2': 11_000 };
  const view = { candidates: both, leases: mine, held: again, liveSince: restarted };
  assert.equal(plan(election, 13_999, view)[0]?.kind, 'renew');
  assert.equal(plan(election, 14_000, view)[0]?.kind, 'release');
});

test('no hand-off to a node that only looks live: the address must have been held a while', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  const both = [candidate(THEIRS)];
  const mine: Array<[string, ObservedLease]> = [[THEIRS, { node: 'edge-1', epoch: 2 }]];
  plan(election, 0, { candidates: both, leases: [[THEIRS, { node: 'edge-2', epoch: 1 }]] });
  // edge-2 was killed; its speaker key outlives it by seconds; edge-1 took over at 10 s.
  const held: Array<[string, HeldAddress]> = [[THEIRS, { interface: 'eth0', acquiredAt: 10_000 }]];
  assert.equal(plan(election, 10_200, { candidates: both, leases: mine, held })[0]?.kind, 'renew');
  assert.equal(plan(election, 12_999, { candidates: both, leases: mine, held })[0]?.kind, 'renew');
  // Its key expired meanwhile (3 s TTL < handOffAfterMs): nothing to hand off to.
  const alone = [candidate(THEIRS, { liveNodes: ['edge-1'] })];
  const view = { candidates: alone, leases: mine, held, liveSince: { 'edge-1': 0 } };
  assert.equal(plan(election, 13_000, view)[0]?.kind, 'renew');
});

test('holders spread over the eligible nodes', () => {
  const nodes = ['edge-1', 'edge-2', 'edge-3'];
  const counts = new Map<string, number>();
  for (let i = 1; i <= 90; i++) {
    const election = new L2Election({ node: 'edge-1', ...OPTIONS });
    const owner = election.preferred(candidate(`203.0.113.${i}`, { liveNodes: nodes })) ?? '';
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  for (const node of nodes) {
    const n = counts.get(node) ?? 0;
    assert.ok(n >= 15 && n <= 45, `${node} is preferred for ${n} of 90 addresses`);
  }
});

test('the election says when a free lease waits out its grace', () => {
  const election = new L2Election({ node: 'edge-1', ...OPTIONS });
  plan(election, 0, { candidates: [candidate(THEIRS)], leases: [[THEIRS, undefined]] });
  assert.equal(election.waiting, true);
  plan(election, 150, { candidates: [candidate(THEIRS)], leases: [[THEIRS, undefined]] });
  assert.equal(election.waiting, false);
});
