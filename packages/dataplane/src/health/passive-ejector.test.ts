import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointField } from '@pier/shared';
import {
  EJECTION_RESET_FACTOR,
  MAX_EJECTION_MULTIPLIER,
  PassiveEjector,
  type PassiveSettings,
} from './passive-ejector.ts';

const B = 'shop/web:80';
const settings: PassiveSettings = {
  consecutiveFailures: 3,
  ejectionMs: 1_000,
  maxEjectionPercent: 50,
};
const ids = Array.from({ length: 10 }, (_, i) => endpointField(`192.0.2.${i + 1}`, 8080));
const A = ids[0] as string;

/** Sends `n` failures for `id` at `now` and returns the last result. */
function fail(
  ejector: PassiveEjector,
  id: string,
  n: number,
  now: number,
  count = 10,
  s: PassiveSettings = settings,
) {
  let last: ReturnType<PassiveEjector['recordResult']>;
  for (let i = 0; i < n; i += 1) last = ejector.recordResult(B, id, false, now, s, count);
  return last;
}

test('consecutive failures eject; a success in between resets the count', () => {
  const rows: Array<[string, boolean]> = [
    ['---', true],
    ['--', false],
    ['--+--', false],
    ['--+---', true],
    ['-+-+-+-', false],
  ];
  for (const [results, ejected] of rows) {
    const ejector = new PassiveEjector();
    let result: ReturnType<PassiveEjector['recordResult']>;
    for (const r of results) result = ejector.recordResult(B, A, r === '+', 100, settings, 10);
    assert.equal(ejector.isEjected(B, A, 100), ejected, results);
    assert.deepEqual(result, ejected ? { ejectedUntil: 1_100, multiplier: 1 } : undefined);
  }
});

test('an ejection ends at ejectedUntil, after which the endpoint needs fresh failures', () => {
  const ejector = new PassiveEjector();
  assert.deepEqual(fail(ejector, A, 3, 0), { ejectedUntil: 1_000, multiplier: 1 });
  assert.equal(ejector.isEjected(B, A, 999), true);
  assert.equal(ejector.ejectedUntil(B, A, 999), 1_000);
  assert.equal(ejector.isEjected(B, A, 1_000), false);
  assert.equal(ejector.ejectedUntil(B, A, 1_000), undefined);
  // Failures of requests still in flight while ejected are ignored, and do not extend it.
  assert.equal(fail(ejector, A, 5, 500), undefined);
  assert.equal(ejector.ejectedUntil(B, A, 999), 1_000);
  // Back in: two failures are not enough, the ejection reset the count.
  assert.equal(fail(ejector, A, 2, 1_000), undefined);
  assert.equal(ejector.isEjected(B, A, 1_000), false);
});

test('repeated ejections back off by doubling, capped at 8x, and reset after a long time in', () => {
  const ejector = new PassiveEjector();
  const durations: number[] = [];
  let now = 0;
  let until = 0;
  for (let i = 0; i < 6; i += 1) {
    const result = fail(ejector, A, 3, now);
    assert.ok(result !== undefined);
    durations.push(result.ejectedUntil - now);
    until = result.ejectedUntil;
    now = until + 1; // fails again right after it comes back
  }
  assert.deepEqual(durations, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  assert.equal(MAX_EJECTION_MULTIPLIER, 8);

  // Just short of 10 × ejectionMs in: still backed off.
  const almost = until + EJECTION_RESET_FACTOR * settings.ejectionMs - 1;
  assert.equal(fail(ejector, A, 3, almost)?.multiplier, 8);
  // 10 × ejectionMs in after that one: back to 1×.
  const next = almost + 8_000 + EJECTION_RESET_FACTOR * settings.ejectionMs;
  assert.deepEqual(fail(ejector, A, 3, next), { ejectedUntil: next + 1_000, multiplier: 1 });
});

test('maxEjectionPercent caps how many endpoints of a backend are ejected at once', () => {
  const rows: Array<[percent: number, endpoints: number, maxEjected: number]> = [
    [50, 10, 5],
    [50, 1, 0],
    [50, 3, 1],
    [100, 2, 2],
    [30, 10, 3],
    [0, 10, 0],
  ];
  for (const [percent, endpoints, maxEjected] of rows) {
    const ejector = new PassiveEjector();
    const s = { ...settings, maxEjectionPercent: percent };
    for (const id of ids.slice(0, endpoints)) fail(ejector, id, 3, 0, endpoints, s);
    const ejected = ids.slice(0, endpoints).filter((id) => ejector.isEjected(B, id, 0));
    assert.equal(ejected.length, maxEjected, `${percent}% of ${endpoints}`);
    assert.equal(ejector.ejectedCount(B, 0), maxEjected);
  }
});

test('an endpoint refused for the cap is ejected on its next failure once a slot frees', () => {
  const ejector = new PassiveEjector();
  const [one, two, three] = ids as [string, string, string];
  fail(ejector, one, 3, 0, 3); // 50% of 3 → 1 slot
  assert.equal(fail(ejector, two, 3, 0, 3), undefined);
  assert.equal(ejector.isEjected(B, two, 500), false);
  // One still ejected at 999: refused again.
  assert.equal(fail(ejector, two, 1, 999, 3), undefined);
  // Slot free at 1000: the very next failure ejects.
  assert.deepEqual(fail(ejector, two, 1, 1_000, 3), { ejectedUntil: 2_000, multiplier: 1 });
  // Other backends are counted separately.
  assert.ok(ejector.recordResult('shop/api:80', three, false, 1_000, settings, 3) === undefined);
  for (let i = 0; i < 2; i += 1)
    ejector.recordResult('shop/api:80', three, false, 1_000, settings, 3);
  assert.equal(ejector.isEjected('shop/api:80', three, 1_000), true);
  assert.equal(ejector.isEjected(B, three, 1_000), false);
});

test('applyShared adopts ejections from other nodes within the cap', () => {
  const ejector = new PassiveEjector();
  const [one, two, three] = ids as [string, string, string];
  assert.equal(ejector.applyShared(B, one, 5_000, 0, settings, 4), true);
  assert.equal(ejector.isEjected(B, one, 4_999), true);
  assert.equal(ejector.isEjected(B, one, 5_000), false);
  // Extending an ejection in force takes the later end, never an earlier one.
  assert.equal(ejector.applyShared(B, one, 3_000, 10, settings, 4), true);
  assert.equal(ejector.ejectedUntil(B, one, 10), 5_000);
  assert.equal(ejector.applyShared(B, one, 6_000, 10, settings, 4), true);
  assert.equal(ejector.ejectedUntil(B, one, 10), 6_000);
  // 50% of 4 = 2: a second is taken, a third is refused, however many nodes ejected it.
  assert.equal(ejector.applyShared(B, two, 5_000, 10, settings, 4), true);
  assert.equal(ejector.applyShared(B, three, 5_000, 10, settings, 4), false);
  assert.equal(ejector.isEjected(B, three, 10), false);
  // Expired or garbage values change nothing.
  assert.equal(ejector.applyShared(B, three, 5, 10, settings, 4), false);
  assert.equal(ejector.applyShared(B, three, Number.NaN, 10, settings, 4), false);
  // 0% turns shared ejections off too.
  const off = { ...settings, maxEjectionPercent: 0 };
  assert.equal(new PassiveEjector().applyShared(B, one, 5_000, 0, off, 4), false);
});

test('a shared ejection counts for back-off', () => {
  const ejector = new PassiveEjector();
  ejector.applyShared(B, A, 1_000, 0, settings, 10);
  assert.deepEqual(fail(ejector, A, 3, 1_000), { ejectedUntil: 3_000, multiplier: 2 });
});

test('ejectedCounts lists the backends with endpoints ejected now, and how many', () => {
  const ejector = new PassiveEjector();
  const [one, two, three] = ids as [string, string, string];
  fail(ejector, one, 3, 0);
  fail(ejector, two, 3, 500);
  ejector.recordResult('other', three, false, 0, settings, 10);
  assert.deepEqual(ejector.ejectedCounts(600), new Map([[B, 2]]), 'one failure ejects nothing');
  assert.deepEqual(ejector.ejectedCounts(1_000), new Map([[B, 1]]), 'the first ejection ended');
  assert.deepEqual(ejector.ejectedCounts(1_500), new Map());
});

test('forget drops endpoints and backends', () => {
  const ejector = new PassiveEjector();
  const [one, two] = ids as [string, string];
  fail(ejector, one, 3, 0);
  fail(ejector, two, 3, 0);
  ejector.forget(B, new Set([two]));
  assert.equal(ejector.isEjected(B, one, 0), false);
  assert.equal(ejector.isEjected(B, two, 0), true);
  ejector.forget(B);
  assert.equal(ejector.isEjected(B, two, 0), false);
  assert.deepEqual(ejector.backendIds(), []);
});
