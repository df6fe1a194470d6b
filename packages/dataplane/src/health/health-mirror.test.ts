/**
 * The health state the serving thread mirrors from the background thread: `HealthReporter` (the
 * worker's side) and `HealthMirror` (the serving thread's) joined by a function instead of a
 * message port. What the mirror answers per request must be what the checker would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MainMessage, WorkerMessage } from '../background/messages.ts';
import { HealthMirror } from './health-mirror.ts';
import { HealthReporter, type StandingSource } from './health-reporter.ts';
import type { HealthStatus } from './health-state.ts';

/** A stand-in for the checker: statuses and ejection ends set by the test. */
class FakeChecker implements StandingSource {
  readonly statuses = new Map<string, HealthStatus>();
  readonly ejections = new Map<string, number>();
  owned = 0;
  status(b: string, e: string): HealthStatus {
    return this.statuses.get(`${b} ${e}`) ?? 'unknown';
  }
  ejectedUntil(b: string, e: string, now: number): number | undefined {
    const until = this.ejections.get(`${b} ${e}`);
    return until !== undefined && until > now ? until : undefined;
  }
}

function pair(now = () => 1_000) {
  const checker = new FakeChecker();
  const sent: Array<Extract<WorkerMessage, { type: 'health' }>> = [];
  const toWorker: MainMessage[] = [];
  const transitions: Array<[string, HealthStatus, HealthStatus]> = [];
  const probes: boolean[] = [];
  const mirror = new HealthMirror({
    onProbe: (r) => probes.push(r.ok),
    onTransition: (_b, e, from, to) => transitions.push([e, from, to]),
  });
  mirror.connect((m) => toWorker.push(m));
  const flushes: Array<() => void> = [];
  const reporter = new HealthReporter({
    post: (m) => {
      sent.push(m);
      mirror.receive(m);
    },
    clock: now,
    schedule: (f) => flushes.push(f),
  });
  reporter.attach(checker);
  const flush = (): void => {
    for (const f of flushes.splice(0)) f();
  };
  return { checker, reporter, mirror, sent, toWorker, transitions, probes, flush };
}

test('an unhealthy endpoint is unusable on the serving thread, and usable again', () => {
  const p = pair();
  assert.equal(p.mirror.usable('b', 'e1', 1_000), true, 'unknown counts as usable');
  p.checker.statuses.set('b e1', 'unhealthy');
  p.reporter.statusChanged('b', 'e1', 'unknown', 'unhealthy');
  p.flush();
  assert.equal(p.mirror.usable('b', 'e1', 1_000), false);
  assert.equal(p.mirror.usable('b', 'e2', 1_000), true, 'only that endpoint');
  assert.deepEqual(p.transitions, [['e1', 'unknown', 'unhealthy']]);
  p.checker.statuses.set('b e1', 'healthy');
  p.reporter.statusChanged('b', 'e1', 'unhealthy', 'healthy');
  p.flush();
  assert.equal(p.mirror.usable('b', 'e1', 1_000), true);
});

test('healthy endpoints cost no message, and a report is sent once per turn', () => {
  const p = pair();
  for (let i = 0; i < 100; i++) {
    p.checker.statuses.set(`b e${i}`, 'healthy');
    p.reporter.statusChanged('b', `e${i}`, 'unknown', 'healthy');
  }
  p.flush();
  assert.equal(p.sent.length, 1, 'one message for the turn');
  assert.deepEqual(p.sent[0]?.standings, [], 'no standing: every endpoint is plainly usable');
  assert.equal(p.sent[0]?.statuses.length, 100, 'the metrics still see every change');
  p.flush();
  assert.equal(p.sent.length, 1, 'nothing new, nothing sent');
});

test('an ejection is honoured until it ends, by the serving thread clock', () => {
  let now = 1_000;
  const p = pair(() => now);
  p.checker.ejections.set('b e1', 3_000);
  p.reporter.changed('b', 'e1');
  p.flush();
  assert.equal(p.mirror.usable('b', 'e1', 2_999), false);
  assert.equal(p.mirror.usable('b', 'e1', 3_000), true, 'the end is exclusive');
  // Extended by another node: the new end is sent.
  p.checker.ejections.set('b e1', 5_000);
  p.reporter.changed('b', 'e1');
  p.flush();
  assert.equal(p.mirror.usable('b', 'e1', 4_000), false);
  // After it ended, a recheck makes both sides forget it.
  now = 6_000;
  p.reporter.recheck();
  p.flush();
  assert.deepEqual(p.sent.at(-1)?.standings, [['b', 'e1', false, 0]]);
  assert.equal(p.mirror.usable('b', 'e1', 6_000), true);
});

test('ejected endpoints are counted per backend for the metrics, by the serving thread clock', () => {
  const p = pair();
  p.checker.ejections.set('b e1', 3_000);
  p.checker.ejections.set('b e2', 5_000);
  p.checker.ejections.set('c e1', 3_000);
  // Unhealthy but not ejected: not counted (that is pier_dataplane_endpoint_healthy).
  p.checker.statuses.set('c e2', 'unhealthy');
  for (const [b, e] of [
    ['b', 'e1'],
    ['b', 'e2'],
    ['c', 'e1'],
  ] as const)
    p.reporter.changed(b, e);
  p.reporter.statusChanged('c', 'e2', 'unknown', 'unhealthy');
  p.flush();
  const rows: Array<[now: number, counts: Array<[string, number]>]> = [
    [
      2_000,
      [
        ['b', 2],
        ['c', 1],
      ],
    ],
    [3_000, [['b', 1]]],
    [5_000, []],
  ];
  for (const [now, counts] of rows) {
    assert.deepEqual(p.mirror.ejectedCounts(now), new Map(counts), `at ${now}`);
  }
});

test('an endpoint whose state was dropped (it left the table) is usable again after a recheck', () => {
  const p = pair();
  p.checker.statuses.set('b e1', 'unhealthy');
  p.reporter.statusChanged('b', 'e1', 'unknown', 'unhealthy');
  p.flush();
  // The table update dropped the endpoint's state without an event.
  p.checker.statuses.delete('b e1');
  p.reporter.recheck();
  p.flush();
  assert.equal(p.mirror.usable('b', 'e1', 1_000), true);
});

test('attempts: every failure and the first success after one go to the worker, batched', async () => {
  const p = pair();
  p.mirror.reportResult('b', 'e1', true, 1);
  p.mirror.reportResult('b', 'e1', true, 2);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(p.toWorker, [], 'successes with no failure counted are not sent');
  p.mirror.reportResult('b', 'e1', false, 3);
  p.mirror.reportResult('b', 'e1', false, 4);
  p.mirror.reportResult('b', 'e1', true, 5);
  p.mirror.reportResult('b', 'e1', true, 6);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(p.toWorker, [
    {
      type: 'results',
      results: [
        ['b', 'e1', false, 3],
        ['b', 'e1', false, 4],
        ['b', 'e1', true, 5],
      ],
    },
  ]);
});

test('probes are counted for the metrics; owned targets follow the worker', () => {
  const p = pair();
  p.checker.owned = 7;
  p.reporter.probed(true);
  p.reporter.probed(false);
  p.reporter.probed(true);
  p.flush();
  assert.deepEqual(p.probes.sort(), [false, true, true]);
  assert.equal(p.mirror.owned, 7);
});

test('a worker that ended takes what it reported with it; synced() does not wait for it', async () => {
  const p = pair();
  p.checker.statuses.set('b e1', 'unhealthy');
  p.reporter.statusChanged('b', 'e1', 'unknown', 'unhealthy');
  p.flush();
  const synced = p.mirror.synced();
  assert.deepEqual(p.toWorker.at(-1), { type: 'health-synced', id: 0 });
  p.mirror.connect(undefined);
  await synced;
  assert.equal(p.mirror.usable('b', 'e1', 1_000), true, 'a new worker reports afresh');
  await p.mirror.synced();
});

test('start() follows the worker checker: resolves, or rejects with its reason', async () => {
  const a = pair();
  a.mirror.receive({ type: 'health-started' });
  await a.mirror.start();
  const b = pair();
  b.mirror.receive({ type: 'health-started', failed: 'Error: no Redis' });
  await assert.rejects(b.mirror.start(), /no Redis/);
});
