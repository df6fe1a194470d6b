import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFUSED, RequestRateZone } from './request-rate-zone.ts';

/** One request: when (ms), from whom, and whether it is served. */
type Step = [at: number, address: string, served: boolean];

/** A request as the rate limits make it: looked at, and recorded only when served. */
function request(zone: RequestRateZone, at: number, address: string): boolean {
  const excess = zone.excessAfter(address, at);
  if (excess === REFUSED) return false;
  zone.commit(address, at, excess);
  return true;
}

const A = '192.0.2.1';
const B = '192.0.2.2';

// nginx's ngx_http_limit_req_lookup, step by step.
const rows: Array<{
  name: string;
  rate: number;
  burst: number;
  perMinute?: boolean;
  steps: Step[];
}> = [
  {
    name: 'a burst: the first request, then `burst` more, then refused',
    rate: 2,
    burst: 2,
    steps: [
      [0, A, true],
      [1, A, true],
      [2, A, true],
      [3, A, false],
      [4, A, false],
    ],
  },
  {
    name: 'burst 0: requests exactly at the rate pass, one early is refused',
    rate: 2,
    burst: 0,
    steps: [
      [0, A, true],
      [500, A, true],
      [600, A, false],
      [1000, A, true],
      [1499, A, false],
      [1500, A, true],
    ],
  },
  {
    name: 'the excess drains at the rate; refused requests cost nothing',
    rate: 1,
    burst: 1,
    steps: [
      [0, A, true],
      [0, A, true],
      [0, A, false],
      [0, A, false],
      [999, A, false],
      [1000, A, true],
      [1000, A, false],
      [3000, A, true],
      [3000, A, true],
      [3000, A, false],
    ],
  },
  {
    name: 'each address has its own bucket',
    rate: 1,
    burst: 0,
    steps: [
      [0, A, true],
      [0, A, false],
      [0, B, true],
      [10, B, false],
      [1000, A, true],
    ],
  },
  {
    name: 'per minute: 1 r/m drains 16 milli-requests a second (rounded down, as nginx)',
    rate: 1,
    burst: 0,
    perMinute: true,
    steps: [
      [0, A, true],
      [60_000, A, false],
      [62_500, A, true],
    ],
  },
  {
    name: 'per minute: 60 r/m is one a second',
    rate: 60,
    burst: 0,
    perMinute: true,
    steps: [
      [0, A, true],
      [999, A, false],
      [1000, A, true],
    ],
  },
  {
    name: 'the time moves on even when the rounding drained nothing (nginx’s quirk at low rates)',
    rate: 1,
    burst: 1,
    perMinute: true,
    steps: [
      [0, A, true],
      [50, A, true],
      [100, A, false],
      // 16 × 0.05 s drained nothing at 50 ms, yet the time was moved on: 1000 more drains at
      // 62.55 s, not at 62.5 s.
      [62_500, A, false],
      [62_550, A, true],
    ],
  },
];

for (const row of rows) {
  test(`limit_req: ${row.name}`, () => {
    const zone = new RequestRateZone(100);
    zone.configure(row.rate, row.burst, row.perMinute === true);
    const got = row.steps.map(([at, address]) => request(zone, at, address));
    assert.deepEqual(
      got,
      row.steps.map(([, , served]) => served),
    );
  });
}

test('limit_req: excessAfter says the excess in milli-requests, and changes nothing', () => {
  const zone = new RequestRateZone(10);
  zone.configure(2, 5, false);
  assert.equal(zone.excessAfter(A, 0), 0, 'new: 0');
  zone.commit(A, 0, 0);
  assert.equal(zone.excessAfter(A, 0), 1000);
  assert.equal(zone.excessAfter(A, 0), 1000, 'not recorded');
  zone.commit(A, 0, 1000);
  assert.equal(zone.excessAfter(A, 250), 1500, '2 r/s drains 500 in 250 ms');
});

test('limit_req: a new rate applies to the state kept (as nginx across reloads)', () => {
  const zone = new RequestRateZone(10);
  zone.configure(1, 1, false);
  assert.deepEqual(
    [request(zone, 0, A), request(zone, 0, A), request(zone, 0, A)],
    [true, true, false],
  );
  zone.configure(10, 1, false);
  assert.equal(request(zone, 100, A), true, '10 r/s drained 1000 in 100 ms');
});

test('limit_req: a full zone forgets its least recently seen address', () => {
  const zone = new RequestRateZone(2);
  zone.configure(1, 0, false);
  assert.equal(request(zone, 0, A), true);
  assert.equal(request(zone, 1, B), true);
  assert.equal(request(zone, 2, A), false, 'A is seen again: B is now the oldest');
  assert.equal(request(zone, 3, '192.0.2.3'), true);
  assert.equal(zone.size, 2);
  assert.equal(request(zone, 4, A), false, 'A was kept');
  assert.equal(request(zone, 5, B), true, 'B was forgotten, so it starts afresh');
});

test('limit_req: adding an address drops up to two idle, drained ones first (ngx_http_limit_req_expire)', () => {
  const zone = new RequestRateZone(100);
  zone.configure(1, 5, true);
  for (const address of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) request(zone, 0, address);
  request(zone, 0, '10.0.0.3');
  request(zone, 0, '10.0.0.3');
  assert.equal(zone.size, 3);
  assert.equal(request(zone, 59_999, A), true);
  assert.equal(zone.size, 4, 'idle less than a minute: kept');
  assert.equal(request(zone, 60_000, B), true);
  assert.equal(zone.size, 3, 'two idle for a minute, drained: gone');
  // 10.0.0.3 is the oldest now, idle but not drained (2000 at 16 a second): nothing goes.
  assert.equal(request(zone, 60_001, '10.0.0.9'), true);
  assert.equal(zone.size, 4);
});

test('limit_req: sweep forgets addresses idle a minute whose excess ran out, and only those', () => {
  const zone = new RequestRateZone(100);
  zone.configure(1, 100, true);
  request(zone, 0, A);
  for (let i = 0; i < 3; i++) request(zone, 0, B);
  request(zone, 30_000, '192.0.2.3');
  assert.equal(zone.sweep(59_999), 0);
  // A's excess is 0; B's 2000 drains at 16 a second: 125 s.
  assert.equal(zone.sweep(60_000), 1);
  assert.equal(zone.sweep(90_000), 1, 'the one seen at 30 s');
  assert.equal(zone.sweep(125_000), 1, 'B, drained');
  assert.equal(zone.size, 0);
});

test('limit_req: the capacity is checked', () => {
  assert.throws(() => new RequestRateZone(0), RangeError);
});
