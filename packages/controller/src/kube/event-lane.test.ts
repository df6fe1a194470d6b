import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventLane } from './event-lane.ts';

/** A write that ends when told to, recording when it started. */
function gate(started: string[], name: string): { write: () => Promise<void>; end: () => void } {
  let end = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    end = resolve;
  });
  return {
    write: () => {
      started.push(name);
      return done;
    },
    end: () => end(),
  };
}

test('writes run in order, at most `concurrency` at once', async () => {
  const lane = new EventLane({ concurrency: 2 });
  const started: string[] = [];
  const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
  for (const g of gates) assert.equal(lane.push(g.write), true);
  assert.deepEqual(started, ['a', 'b']);
  assert.equal(lane.depth, 2);
  gates[1]?.end();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['a', 'b', 'c']);
  for (const g of gates) g.end();
  await lane.idle();
  assert.deepEqual(started, ['a', 'b', 'c', 'd']);
  assert.equal(lane.depth, 0);
});

test('a full queue drops the write and says so; a failed write does not stop the lane', async () => {
  let dropped = 0;
  const lane = new EventLane({ concurrency: 1, maxQueued: 2, onDropped: () => dropped++ });
  const started: string[] = [];
  const first = gate(started, 'first');
  lane.push(first.write);
  assert.equal(
    lane.push(() => Promise.reject(new Error('API server said no'))),
    true,
  );
  assert.equal(lane.push(gate(started, 'second').write), true);
  assert.equal(lane.push(gate(started, 'third').write), false, 'two wait already');
  assert.equal(dropped, 1);
  first.end();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, ['first', 'second'], 'the rejected write was passed');
});

test('clear drops what waits; idle waits for what is in flight', async () => {
  const lane = new EventLane({ concurrency: 1 });
  const started: string[] = [];
  const running = gate(started, 'running');
  lane.push(running.write);
  lane.push(gate(started, 'waiting').write);
  assert.equal(lane.clear(), 1);
  let idle = false;
  const settled = lane.idle().then(() => {
    idle = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(idle, false, 'one is still in flight');
  running.end();
  await settled;
  assert.deepEqual(started, ['running']);
});

test('many writes through a long queue all run, once each', async () => {
  const lane = new EventLane({ concurrency: 3 });
  let ran = 0;
  for (let i = 0; i < 5_000; i++) lane.push(async () => void ran++);
  await lane.idle();
  assert.equal(ran, 5_000);
});

test('bad options are refused', () => {
  assert.throws(() => new EventLane({ concurrency: 0 }), /concurrency must be an integer >= 1/);
  assert.throws(() => new EventLane({ maxQueued: 1.5 }), /maxQueued must be an integer >= 1/);
});
