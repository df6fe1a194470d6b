/**
 * The L2 lease scripts against the real redis-server: one holder at a time, fencing epochs that
 * only grow, compare-and-set renewals and releases, and a holder re-taking its lease after Redis
 * lost it (but never after someone else held it).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { vipEpochKey, vipLeaseKey } from '@pier/shared';
import { Redis } from 'ioredis';
import { L2LeaseStore } from '../../packages/dataplane/src/l2/l2-lease-store.ts';
import { testEnv } from '../lib/env.ts';

const redis = new Redis(testEnv().redisUrl);
const store = (node: string): L2LeaseStore =>
  new L2LeaseStore({ redis, node, token: randomBytes(4).toString('hex'), timeoutMs: 2_000 });
/** A fresh documentation address per test, so tests do not see each other's keys. */
let next = 1;
const fresh = (): string => `203.0.113.${next++}`;
const used: string[] = [];

after(async () => {
  for (const a of used) await redis.del(vipLeaseKey(a), vipEpochKey(a));
  redis.disconnect();
});

test('one holder at a time; each acquisition gets a higher epoch', async () => {
  const address = fresh();
  used.push(address);
  const [a, b] = [store('edge-1'), store('edge-2')];
  const first = await a.acquire(address, 5_000);
  assert.equal(first?.epoch, 1);
  assert.equal(await b.acquire(address, 5_000), undefined, 'held: nobody else gets it');
  assert.deepEqual((await b.read([address])).get(address), first);
  assert.ok(first && (await a.renew(address, first, 5_000)));
  await a.release(address, first);
  assert.equal((await b.read([address])).get(address), undefined);
  const second = await b.acquire(address, 5_000);
  assert.equal(second?.epoch, 2);
  assert.equal(second?.node, 'edge-2');
});

test('a holder whose lease was taken can neither renew nor release the new one', async () => {
  const address = fresh();
  used.push(address);
  const [a, b] = [store('edge-1'), store('edge-2')];
  const old = await a.acquire(address, 100);
  assert.ok(old);
  await new Promise((r) => setTimeout(r, 200));
  const taken = await b.acquire(address, 5_000);
  assert.equal(taken?.epoch, old.epoch + 1);
  assert.equal(await a.renew(address, old, 5_000), false, 'the old epoch is fenced off');
  await a.release(address, old);
  assert.deepEqual((await a.read([address])).get(address), taken, 'the new holder keeps it');
});

test('a holder re-takes its lease when Redis lost it and nobody held it since', async () => {
  const address = fresh();
  used.push(address);
  const a = store('edge-1');
  const lease = await a.acquire(address, 5_000);
  assert.ok(lease);
  // As after a Redis restart without persistence: both keys gone.
  await redis.del(vipLeaseKey(address), vipEpochKey(address));
  assert.equal(await a.renew(address, lease, 5_000), true);
  assert.deepEqual((await a.read([address])).get(address), lease);
  // The epoch counter was raised to the holder's: the next holder is numbered above it.
  await a.release(address, lease);
  const next = await store('edge-2').acquire(address, 5_000);
  assert.equal(next?.epoch, lease.epoch + 1);
});
