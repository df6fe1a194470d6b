import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimitZone } from './connection-limit-zone.ts';

const A = '192.0.2.1';
const B = '192.0.2.2';

type Step = ['acquire', string, boolean] | ['release', string];

const rows: Array<{ name: string; limit: number; capacity?: number; steps: Step[] }> = [
  {
    name: 'up to the limit at once; one over refused until one ends',
    limit: 2,
    steps: [
      ['acquire', A, true],
      ['acquire', A, true],
      ['acquire', A, false],
      ['release', A],
      ['acquire', A, true],
      ['acquire', A, false],
    ],
  },
  {
    name: 'sequential requests never pile up',
    limit: 1,
    steps: [
      ['acquire', A, true],
      ['release', A],
      ['acquire', A, true],
      ['release', A],
      ['acquire', A, true],
    ],
  },
  {
    name: 'each address counts alone',
    limit: 1,
    steps: [
      ['acquire', A, true],
      ['acquire', B, true],
      ['acquire', A, false],
      ['acquire', B, false],
    ],
  },
  {
    name: 'a full zone refuses new addresses, not those it counts (nginx: no room for the node)',
    limit: 5,
    capacity: 1,
    steps: [
      ['acquire', A, true],
      ['acquire', B, false],
      ['acquire', A, true],
      ['release', A],
      ['release', A],
      ['acquire', B, true],
    ],
  },
  {
    name: 'a release with nothing counted changes nothing',
    limit: 1,
    steps: [
      ['release', A],
      ['acquire', A, true],
      ['acquire', A, false],
    ],
  },
];

for (const row of rows) {
  test(`limit_conn: ${row.name}`, () => {
    const zone = new ConnectionLimitZone(row.capacity ?? 100);
    for (const [i, step] of row.steps.entries()) {
      if (step[0] === 'release') zone.release(step[1]);
      else assert.equal(zone.acquire(step[1], row.limit), step[2], `step ${i}`);
    }
  });
}

test('limit_conn: an address is forgotten once its last request ends', () => {
  const zone = new ConnectionLimitZone(10);
  zone.acquire(A, 3);
  zone.acquire(A, 3);
  assert.equal(zone.count(A), 2);
  zone.release(A);
  zone.release(A);
  assert.equal(zone.size, 0);
  assert.throws(() => new ConnectionLimitZone(0), RangeError);
});
