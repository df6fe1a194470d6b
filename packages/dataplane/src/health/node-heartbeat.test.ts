import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeHeartbeatKey } from '@pier/shared';
import type { Redis } from 'ioredis';
import { assertHeartbeatTimes, NodeHeartbeat } from './node-heartbeat.ts';

/**
 * The few commands NodeHeartbeat uses, over a Map (no expiry: tests delete keys to make a node
 * leave). `down` makes every command fail as a disconnected ioredis client does.
 */
class FakeRedis {
  readonly keys = new Map<string, string>();
  down = false;

  async set(key: string, value: string): Promise<'OK'> {
    this.#check();
    this.keys.set(key, value);
    return 'OK';
  }

  async scan(_cursor: string, _match: 'MATCH', pattern: string): Promise<[string, string[]]> {
    this.#check();
    const prefix = pattern.slice(0, -1);
    return ['0', [...this.keys.keys()].filter((k) => k.startsWith(prefix))];
  }

  /** The release script: KEYS = heartbeat and report, ARGV = the token. */
  async eval(_script: string, n: number, ...args: string[]): Promise<number> {
    this.#check();
    const [key, ...others] = args.slice(0, n);
    const token = args[n];
    if (key === undefined || this.keys.get(key) !== token) return 0;
    for (const k of [key, ...others]) this.keys.delete(k);
    return 1;
  }

  #check(): void {
    if (this.down)
      throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
  }
}

function heartbeat(redis: FakeRedis, node: string, changes: string[][] = []): NodeHeartbeat {
  return new NodeHeartbeat({
    redis: redis as unknown as Redis,
    node,
    // Long enough that no tick runs on its own during a test: refresh() drives them.
    ttlMs: 120_000,
    intervalMs: 60_000,
    onChange: (live) => changes.push([...live]),
  });
}

test('heartbeat timing is checked when constructed', () => {
  const rows: Array<[number, number, RegExp | undefined]> = [
    [3000, 1000, undefined],
    [1000, 1000, /ttlMs \(1000\) must be longer than intervalMs \(1000\)/],
    [0, 1000, /ttlMs must be a positive integer/],
    [3000, 1.5, /intervalMs must be a positive integer/],
  ];
  for (const [ttl, interval, error] of rows) {
    if (error === undefined) assertHeartbeatTimes(ttl, interval);
    else assert.throws(() => assertHeartbeatTimes(ttl, interval), error);
  }
});

test('live nodes: every key seen, sorted, this node always included', async () => {
  const redis = new FakeRedis();
  redis.keys.set(nodeHeartbeatKey('edge-c'), 'x');
  redis.keys.set('pier:v1:health:shop/web:80', 'not a node');
  const changes: string[][] = [];
  const beat = heartbeat(redis, 'edge-b', changes);
  assert.deepEqual(beat.live, ['edge-b']);
  await beat.start();
  assert.deepEqual(beat.live, ['edge-b', 'edge-c']);
  assert.ok(redis.keys.has(nodeHeartbeatKey('edge-b')));
  redis.keys.delete(nodeHeartbeatKey('edge-c'));
  await beat.refresh();
  assert.deepEqual(changes, [['edge-b', 'edge-c'], ['edge-b']]);
  await beat.stop();
});

test('while Redis is unreachable the last live nodes are kept, never none', async () => {
  const redis = new FakeRedis();
  redis.keys.set(nodeHeartbeatKey('edge-a'), 'x');
  const beat = heartbeat(redis, 'edge-b');
  await beat.start();
  redis.down = true;
  await beat.refresh();
  assert.deepEqual(beat.live, ['edge-a', 'edge-b']);
  await beat.stop();
});

test('stop(release) deletes only this process own key; stop(false) leaves it to expire', async () => {
  const redis = new FakeRedis();
  const crashed = heartbeat(redis, 'edge-a');
  await crashed.start();
  await crashed.stop(false);
  assert.ok(redis.keys.has(nodeHeartbeatKey('edge-a')));
  // An old process still stopping after the node restarted under the same name must not delete
  // the new process's key.
  const old = heartbeat(redis, 'edge-b');
  await old.start();
  const restarted = heartbeat(redis, 'edge-b');
  await restarted.start();
  await old.stop(true);
  assert.ok(redis.keys.has(nodeHeartbeatKey('edge-b')));
  await restarted.stop(true);
  assert.ok(!redis.keys.has(nodeHeartbeatKey('edge-b')));
});
