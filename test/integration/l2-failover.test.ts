/**
 * L2 mode end to end, in network namespaces this file creates and removes (test/lib/l2-lab.ts):
 * a switch (bridge), two edge nodes each running a real dataplane with `--l2` and a backend that
 * answers with the node's name, and a client that requests the VIP over the bridge. Redis is a
 * redis-server of this file's own with a Unix socket (the suite's one listens on a loopback the
 * edge namespaces cannot reach). The controller's part (what to announce) is written to Redis as
 * it would write it; it has its own test against the API server (controller-l2.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { type L2Scenario, OTHER, PREFERRED, startL2Scenario, VIP } from '../lib/l2-scenario.ts';

let s: L2Scenario;

before(async () => {
  s = await startL2Scenario(join(testEnv().stateDir, 'l2-failover'));
});

after(async () => {
  await s?.stop();
});

test('the client reaches the VIP, served by the one node that holds it, as the metric says', async () => {
  await s.settled();
  const client = s.startClient('reach', 50, 1_000, 1);
  const served = await waitUntil('the client to be served', () => {
    const ok = client.records().filter((r) => r.ok);
    return ok.length >= 5 ? ok : undefined;
  });
  await client.stop();
  assert.ok(served.every((r) => r.node === PREFERRED));
  assert.match(
    await s.metrics(PREFERRED),
    new RegExp(`pier_l2_address_held\\{address="${VIP}",interface="eth0"\\} 1`),
  );
  assert.doesNotMatch(await s.metrics(OTHER), /pier_l2_address_held\{/);
});

test('SIGKILL of the holder: the other node serves the client within a second', async () => {
  await s.settled();
  const client = s.startClient('kill', 20, 200, 1);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const killedAt = Date.now();
  await s.dataplanes.get(PREFERRED)?.kill();
  const first = await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= killedAt),
    10_000,
  );
  await client.stop();
  const failoverMs = first.at - killedAt;
  assert.ok(failoverMs < 1_000, `served by ${OTHER} ${failoverMs} ms after the kill`);
  assert.equal(await s.holder(), OTHER);

  // The killed node comes back (as its DaemonSet would restart it): it first removes the
  // address it was killed with, and later takes the VIP back, the preferred node again.
  await s.startEdge(PREFERRED);
  await s.settled();
});

test('SIGTERM of the holder: handed over with no request failing for a client that retries once', async () => {
  await s.settled();
  const client = s.startClient('term', 50, 1_500, 2);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const stoppedAt = Date.now();
  const stopping = s.dataplanes.get(PREFERRED)?.stop();
  await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= stoppedAt),
    10_000,
  );
  // Keep going a little after the hand-over.
  await new Promise((r) => setTimeout(r, 1_000));
  await client.stop();
  await stopping;
  const failed = client.records().filter((r) => !r.ok);
  assert.deepEqual(failed, [], 'no request failed after one retry');
  assert.equal(await s.vipOn(PREFERRED), false, 'the drained node removed the address');

  await s.startEdge(PREFERRED);
  await s.settled();
});

test('the interface of the holder goes down: it gives the VIP up and the other node serves', async () => {
  await s.settled();
  const client = s.startClient('link', 20, 200, 1);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  const downAt = Date.now();
  const edge = s.lab.edges.find((e) => e.name === PREFERRED);
  await edge?.exec('ip', ['link', 'set', 'eth0', 'down']);
  await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= downAt),
    5_000,
  );
  await client.stop();
  assert.equal(await s.vipOn(PREFERRED), false, 'the address left the downed interface');
  assert.equal(await s.holder(), OTHER);
  await edge?.exec('ip', ['link', 'set', 'eth0', 'up']);
  await s.settled();
});

test('Redis stopped: the holder keeps the VIP and keeps serving, and carries on when Redis returns', async () => {
  await s.settled();
  const client = s.startClient('redis', 50, 1_500, 2);
  await waitUntil('the client to be served', () =>
    client.records().filter((r) => r.ok).length >= 5 ? true : undefined,
  );
  await s.stopRedis();
  const stoppedAt = Date.now();
  // Several lease lifetimes without Redis.
  await new Promise((r) => setTimeout(r, 3_000));
  const during = client.records().filter((r) => r.at >= stoppedAt);
  assert.ok(during.length >= 20, `the client kept asking (${during.length} requests)`);
  const odd = during.filter((r) => !r.ok || r.node !== PREFERRED);
  assert.deepEqual(odd, [], `served by ${PREFERRED} throughout`);
  assert.equal(await s.vipOn(OTHER), false, `${OTHER} took nothing while Redis was away`);

  await s.restartRedis();
  const back = Date.now();
  // The holder re-takes its lease in the empty Redis (same epoch), without a hand-over.
  await waitUntil('the lease to be back in Redis', async () =>
    (await s.holder()) === PREFERRED ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 1_000));
  await client.stop();
  const afterwards = client.records().filter((r) => r.at >= back);
  assert.deepEqual(
    afterwards.filter((r) => !r.ok || r.node !== PREFERRED),
    [],
    `still served by ${PREFERRED} after Redis came back`,
  );
  assert.equal(await s.vipOn(OTHER), false);
});
