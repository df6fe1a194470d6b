import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDataplaneConfig } from './config.ts';

const base = ['--redis-url', 'redis://pier-redis:6379', '--node-name', 'edge-1'];

test('L2 mode is off by default and takes the default timing when turned on', () => {
  assert.equal(parseDataplaneConfig(base, {}).l2, undefined);
  assert.deepEqual(parseDataplaneConfig([...base, '--l2', 'true'], {}).l2, {
    leaseTtlMs: 600,
    renewIntervalMs: 150,
  });
  assert.deepEqual(parseDataplaneConfig(base, { PIER_L2: 'true', PIER_L2_LEASE_TTL: '1s' }).l2, {
    leaseTtlMs: 1_000,
    renewIntervalMs: 150,
  });
});

test('bad L2 timing stops start-up with a line naming the flags', () => {
  const rows: Array<[string[], RegExp]> = [
    [
      ['--l2-lease-ttl', '200ms', '--l2-renew-interval', '150ms'],
      /--l2-lease-ttl\/--l2-renew-interval: .*twice/,
    ],
    [['--l2-lease-ttl', 'soon'], /--l2-lease-ttl/],
    [['--l2', 'maybe'], /--l2/],
  ];
  for (const [args, message] of rows) {
    assert.throws(() => parseDataplaneConfig([...base, '--l2', 'true', ...args], {}), message);
  }
});

test('a Unix socket is a valid Redis URL', () => {
  const config = parseDataplaneConfig(
    ['--redis-url', 'unix:///run/redis/redis.sock', '--node-name', 'edge-1'],
    {},
  );
  assert.equal(config.redisUrl, 'unix:///run/redis/redis.sock');
});
