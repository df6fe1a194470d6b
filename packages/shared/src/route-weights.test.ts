import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from './fixtures.test.ts';
import { MAX_BACKEND_WEIGHT, pickWeighted, weightProblem } from './route-weights.ts';

const split = (main: number, canary: number) => [
  { backend: 'main', weight: main },
  { backend: 'canary', weight: canary },
];

// annotations.md#canary: `canary-weight` out of `canary-weight-total`; 0 never, the total always.
test('pickWeighted: each backend by its share; edges of the random source', () => {
  const rows: Array<[ReturnType<typeof split>, number, string | undefined]> = [
    [split(80, 20), 0, 'main'],
    [split(80, 20), 0.799, 'main'],
    [split(80, 20), 0.8, 'canary'],
    [split(80, 20), 0.9999, 'canary'],
    [split(100, 0), 0.9999, 'main'],
    [split(0, 100), 0, 'canary'],
    [split(0, 0), 0.5, undefined],
    [[], 0.5, undefined],
    [split(80, 20), 1, 'canary'],
    [split(80, 20), -1, 'main'],
    [split(80, 20), Number.NaN, 'main'],
  ];
  for (const [items, r, want] of rows) {
    assert.equal(pickWeighted(items, () => r)?.backend, want, `${JSON.stringify(items)} at ${r}`);
  }
});

test('pickWeighted: shares hold over many draws (seeded)', () => {
  const random = seededRandom(14);
  const items = split(9_000, 1_000);
  let canary = 0;
  for (let i = 0; i < 100_000; i++) if (pickWeighted(items, random)?.backend === 'canary') canary++;
  assert.ok(canary > 9_500 && canary < 10_500, `canary got ${canary} of 100000`);
});

test('weightProblem: integers from 0 to the 32-bit maximum', () => {
  for (const ok of [0, 1, 100, MAX_BACKEND_WEIGHT]) assert.equal(weightProblem(ok), undefined);
  for (const bad of [-1, 1.5, MAX_BACKEND_WEIGHT + 1, '5', undefined, Number.NaN]) {
    assert.equal(weightProblem(bad), `must be an integer from 0 to ${MAX_BACKEND_WEIGHT}`);
  }
});
