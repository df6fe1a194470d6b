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

test('the time a piece held the loop is its slices, not the waits between them', async () => {
  const held: number[] = [];
  const started = performance.now();
  // 40 steps of 0.5 ms: 20 ms of work, sliced by 4 ms, with a 30 ms timer in between.
  const done = runSliced(busy(40, 0.5, []), 4, (ms) => held.push(ms));
  const blocker = new Promise<void>((resolve) =>
    setTimeout(() => {
      const end = performance.now() + 30;
      while (performance.now() < end);
      resolve();
    }, 0),
  );
  await Promise.all([done, blocker]);
  const wall = performance.now() - started;
  assert.equal(held.length, 1);
  const [ms = 0] = held;
  assert.ok(ms >= 19 && ms < 40, `held the loop ${ms.toFixed(1)} ms`);
  assert.ok(wall - ms >= 25, `the 30 ms of the timer (wall ${wall.toFixed(1)} ms) are not counted`);

  const queued: number[] = [];
  const queue = new SlicedQueue(
    (err) => assert.fail(String(err)),
    (m) => queued.push(m),
  );
  queue.run(() => busy(2, 1, []));
  queue.run(() => busy(4, 1, []));
  await queue.idle();
  assert.equal(queued.length, 2);
  assert.ok((queued[0] ?? 0) >= 2 && (queued[1] ?? 0) >= 4, `pieces held ${queued.join(', ')} ms`);
});
