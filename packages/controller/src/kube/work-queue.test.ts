import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DONE, type ReconcileResult, type Scheduler, WorkQueue } from './work-queue.ts';

/** A scheduler whose timers fire only when the test advances time. */
class ManualScheduler implements Scheduler {
  now = 0;
  #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #next = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.push({ at: this.now + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    this.now += ms;
    const due = this.#timers.filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((t) => t.at > this.now);
    for (const t of due) t.fn();
  }
  get pending(): number[] {
    return this.#timers.map((t) => t.at - this.now).sort((a, b) => a - b);
  }
}

test('a key added many times before processing is processed once', async () => {
  const q = new WorkQueue();
  const seen: string[] = [];
  for (const k of ['a', 'b', 'a', 'a', 'c', 'b']) q.add(k);
  q.start(async (key) => {
    seen.push(key);
    return DONE;
  });
  await q.idle();
  assert.deepEqual(seen, ['a', 'b', 'c']);
});

test('a key added while processing is processed again afterwards, never concurrently', async () => {
  const q = new WorkQueue({ concurrency: 4 });
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  q.start(async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    if (runs === 1) {
      q.add('x');
      q.add('x');
    }
    await new Promise((r) => setImmediate(r));
    active--;
    return DONE;
  });
  q.add('x');
  await new Promise((r) => setTimeout(r, 20));
  await q.idle();
  assert.equal(runs, 2);
  assert.equal(maxActive, 1);
});

test('failures back off exponentially per key and reset on success', async () => {
  const scheduler = new ManualScheduler();
  const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 400, scheduler });
  const outcomes: ReconcileResult[] = [
    { kind: 'retry', reason: 'conflict' },
    { kind: 'retry', reason: 'conflict' },
    { kind: 'retry', reason: 'conflict' },
    { kind: 'retry', reason: 'conflict' },
    DONE,
  ];
  let calls = 0;
  q.start(async () => outcomes[calls++] ?? DONE);
  q.add('k');
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    await q.idle();
    delays.push(scheduler.pending[0] ?? -1);
    scheduler.advance(scheduler.pending[0] ?? 0);
  }
  await q.idle();
  assert.deepEqual(delays, [100, 200, 400, 400]);
  assert.equal(calls, 5);
  assert.equal(q.retryDelay('k'), 100, 'success resets the back-off');
});

test('a handler that throws is retried like a failure and reported', async () => {
  const scheduler = new ManualScheduler();
  const errors: string[] = [];
  const q = new WorkQueue({
    scheduler,
    baseDelayMs: 50,
    onError: (k, e) => errors.push(`${k}:${e}`),
  });
  let calls = 0;
  q.start(async () => {
    calls++;
    if (calls === 1) throw new Error('boom');
    return DONE;
  });
  q.add('k');
  await q.idle();
  assert.deepEqual(scheduler.pending, [50]);
  scheduler.advance(50);
  await q.idle();
  assert.equal(calls, 2);
  assert.deepEqual(errors, ['k:Error: boom']);
});

test('requeueAfter schedules the key again without counting a failure', async () => {
  const scheduler = new ManualScheduler();
  const q = new WorkQueue({ scheduler });
  let calls = 0;
  q.start(async () => (++calls === 1 ? { kind: 'requeueAfter', ms: 5000 } : DONE));
  q.add('k');
  await q.idle();
  assert.deepEqual(scheduler.pending, [5000]);
  scheduler.advance(5000);
  await q.idle();
  assert.equal(calls, 2);
});

test('stop cancels delayed retries and waits for work in progress', async () => {
  const scheduler = new ManualScheduler();
  const q = new WorkQueue({ scheduler });
  let finished = false;
  q.start(async (key) => {
    if (key === 'slow') {
      await new Promise((r) => setTimeout(r, 10));
      finished = true;
    }
    return { kind: 'retry', reason: 'x' };
  });
  q.add('slow');
  await q.stop();
  assert.equal(finished, true);
  assert.deepEqual(scheduler.pending, []);
});

test('options are checked', () => {
  assert.throws(() => new WorkQueue({ baseDelayMs: 0 }), /baseDelayMs/);
  assert.throws(() => new WorkQueue({ concurrency: 0 }), /concurrency/);
});
