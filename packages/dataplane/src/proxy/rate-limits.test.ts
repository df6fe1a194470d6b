import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteRateLimit } from '@pier/shared';
import { ConnectionSlot, type RateLimitKind, RateLimits } from './rate-limits.ts';

const A = '192.0.2.1';
const B = '198.51.100.7';

function limits(capacity?: number) {
  const clock = { now: 0 };
  const refused: string[] = [];
  const rateLimits = new RateLimits({
    clock: () => clock.now,
    ...(capacity === undefined ? {} : { capacity }),
    onRefused: (zone, kind) => refused.push(`${zone} ${kind}`),
  });
  return { clock, refused, rateLimits };
}

/** What a request gets: the refusing limit, 'held' with a slot, or 'pass'. */
function verdict(got: RateLimitKind | ConnectionSlot | undefined): string {
  return got === undefined ? 'pass' : got instanceof ConnectionSlot ? 'held' : got;
}

const rows: Array<{
  name: string;
  limit: RouteRateLimit;
  /** [ms, address, expected] */
  steps: Array<[number, string, string]>;
}> = [
  {
    name: 'limit-rps with its burst',
    limit: { zone: 'shop/web', perSecond: { rate: 2, burst: 2 } },
    steps: [
      [0, A, 'pass'],
      [0, A, 'pass'],
      [0, A, 'pass'],
      [0, A, 'rps'],
      [0, B, 'pass'],
      [500, A, 'pass'],
      [500, A, 'rps'],
    ],
  },
  {
    name: 'limit-rps and limit-rpm both apply; one refusing counts in neither',
    limit: { zone: 'shop/web', perSecond: { rate: 1, burst: 0 }, perMinute: { rate: 2, burst: 0 } },
    steps: [
      [0, A, 'pass'],
      [1000, A, 'rpm'],
      // Had the refused request counted per second, this one would be refused too.
      [1000, A, 'rpm'],
      // 2 r/m drains 33 milli-requests a second: 1000 after 30.3 s.
      [30_000, A, 'rpm'],
      [30_500, A, 'pass'],
      [30_500, A, 'rps'],
    ],
  },
  {
    name: 'the allowlist is never limited',
    limit: {
      zone: 'shop/web',
      perSecond: { rate: 1, burst: 0 },
      connections: 1,
      exempt: ['192.0.2.0/24'],
    },
    steps: [
      [0, A, 'pass'],
      [0, A, 'pass'],
      [0, B, 'held'],
      [0, B, 'rps'],
    ],
  },
  {
    name: 'limit-connections after the rates: a request refused by a rate holds no slot',
    limit: { zone: 'shop/web', perSecond: { rate: 1, burst: 1 }, connections: 1 },
    steps: [
      [0, A, 'held'],
      [0, A, 'connections'],
      [0, A, 'rps'],
    ],
  },
];

for (const row of rows) {
  test(`rate limits: ${row.name}`, () => {
    const { clock, rateLimits } = limits();
    const got = row.steps.map(([at, address]) => {
      clock.now = at;
      return verdict(rateLimits.admit(row.limit, address));
    });
    assert.deepEqual(
      got,
      row.steps.map(([, , expected]) => expected),
    );
  });
}

test('rate limits: a slot is released once; then the next request is counted', () => {
  const { rateLimits, refused } = limits();
  const limit: RouteRateLimit = { zone: 'shop/ws', connections: 1 };
  const slot = rateLimits.admit(limit, A);
  assert.ok(slot instanceof ConnectionSlot);
  assert.equal(rateLimits.admit(limit, A), 'connections');
  slot.release();
  slot.release();
  const next = rateLimits.admit(limit, A);
  assert.ok(next instanceof ConnectionSlot);
  assert.equal(rateLimits.admit(limit, A), 'connections', 'the double release freed only one');
  assert.deepEqual(refused, ['shop/ws connections', 'shop/ws connections']);
});

test('rate limits: routes of one zone share it; a new table’s objects find the same counters', () => {
  const { rateLimits } = limits();
  const path1: RouteRateLimit = { zone: 'shop/web', perSecond: { rate: 1, burst: 1 } };
  const path2: RouteRateLimit = structuredClone(path1);
  const other: RouteRateLimit = { ...structuredClone(path1), zone: 'shop/other' };
  assert.equal(rateLimits.admit(path1, A), undefined);
  assert.equal(rateLimits.admit(path2, A), undefined);
  assert.equal(rateLimits.admit(path1, A), 'rps');
  assert.equal(rateLimits.admit(structuredClone(path2), A), 'rps');
  assert.equal(rateLimits.admit(other, A), undefined, 'another Ingress, another zone');
});

test('rate limits: sweep forgets idle addresses and empty zones, never one with a request in progress', () => {
  const { clock, rateLimits } = limits();
  const rate: RouteRateLimit = { zone: 'a', perSecond: { rate: 10, burst: 50 } };
  const conn: RouteRateLimit = { zone: 'b', connections: 2 };
  rateLimits.admit(rate, A);
  const slot = rateLimits.admit(conn, A) as ConnectionSlot;
  assert.equal(rateLimits.zones, 2);
  clock.now = 59_999;
  assert.equal(rateLimits.sweep(), 0);
  clock.now = 60_000;
  assert.equal(rateLimits.sweep(), 1);
  assert.equal(rateLimits.zones, 1, 'zone b holds a request');
  slot.release();
  rateLimits.sweep();
  assert.equal(rateLimits.zones, 0);
});

test('rate limits: each limit of a zone keeps at most `capacity` addresses', () => {
  const { rateLimits } = limits(2);
  const limit: RouteRateLimit = { zone: 'z', perSecond: { rate: 1, burst: 0 }, connections: 9 };
  const slots = [A, B].map((address) => rateLimits.admit(limit, address));
  assert.ok(slots.every((s) => s instanceof ConnectionSlot));
  assert.equal(
    rateLimits.admit(limit, '203.0.113.9'),
    'connections',
    'a third address: the rate zone forgot one, the connection zone is full',
  );
  assert.throws(() => new RateLimits({ clock: () => 0, capacity: 0 }), RangeError);
});
