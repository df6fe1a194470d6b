import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSliced, SlicedQueue } from './time-slicer.ts';

/** Busy for `ms` per step, `steps` times; records when each step ran. */
function* busy(steps: number, ms: number, log: number[]): Generator<void> {
  for (let i = 0; i < steps; i++) {
    const end = performance.now() + ms;
    while (performance.now() < end);
    log.push(i);
    yield;
  }
}

test('work that fits in one slice is done when runSliced returns', () => {
  const log: number[] = [];
  assert.equal(runSliced(busy(3, 0, log)), undefined);
  assert.deepEqual(log, [0, 1, 2]);
});

test('long work yields to I/O between slices of about the budget', async () => {
  const log: number[] = [];
  let ticks = 0;
  let worstGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 1);
  const done = runSliced(busy(400, 0.5, log), 4);
  assert.ok(done !== undefined, 'not done in one slice');
  assert.ok(log.length < 400, 'only the first slice ran at once');
  await done;
  clearInterval(timer);
  assert.equal(log.length, 400);
  assert.ok(ticks > 5, `timers ran meanwhile (${ticks})`);
  // Without slices the timer would wait the whole 200 ms.
  assert.ok(worstGap < 100, `longest gap ${worstGap.toFixed(1)} ms`);
});

test('a sliced queue runs its pieces one after another, never interleaved', async () => {
  const order: string[] = [];
  const errors: unknown[] = [];
  const queue = new SlicedQueue((err) => errors.push(err));
  function* piece(name: string, steps: number): Generator<void> {
    for (let i = 0; i < steps; i++) {
      const end = performance.now() + 1;
      while (performance.now() < end);
      order.push(name);
      yield;
    }
  }
  queue.run(() => piece('a', 20));
  queue.run(() => {
    throw new Error('bad piece');
  });
  queue.run(() => piece('b', 20));
  await queue.idle();
  assert.equal(order.join(''), `${'a'.repeat(20)}${'b'.repeat(20)}`);
  assert.equal(errors.length, 1, 'the failing piece is reported, the next one still runs');
});
