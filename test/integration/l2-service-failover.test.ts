/**
 * L2 mode for a Service of type LoadBalancer, end to end, in the network namespaces of
 * l2-failover.test.ts (test/lib/l2-scenario.ts with its `service` option): two edge nodes each
 * running a real dataplane with `--l2`, a client that opens TCP connections to the Service
 * address over the bridge, and Redis with a Unix socket.
 *
 * Pier only puts the Service's address on the holder's interface; forwarding the traffic is
 * kube-proxy's job. There is no kube-proxy here: in its place each edge runs a stand-in TCP
 * forwarder on 0.0.0.0:5432 to a stand-in endpoint on the edge's loopback that writes the
 * node's name (test/lib/l2-tcp-stand-in.ts). The controller's part (the announcement, with
 * `nodes` narrowed to the nodes with a ready local endpoint under `externalTrafficPolicy: Local`)
 * is written to Redis as it would write it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import {
  type L2Scenario,
  type LabClient,
  NODES,
  preferredNode,
  startL2Scenario,
  type TcpClientRecord,
} from '../lib/l2-scenario.ts';

const SERVICE = { address: '203.0.113.20', port: 5432 };
/** The node that holds the Service address whenever both are eligible and up for a while. */
const PREFERRED = preferredNode(SERVICE.address);
const OTHER = NODES.find((n) => n !== PREFERRED) ?? '';

let s: L2Scenario;

before(async () => {
  s = await startL2Scenario(join(testEnv().stateDir, 'l2-service-failover'), {
    service: SERVICE,
  });
});

after(async () => {
  await s?.stop();
});

/** Waits until the client has been served `count` times, and returns those connections. */
function served(client: LabClient<TcpClientRecord>, count = 5): Promise<TcpClientRecord[]> {
  return waitUntil('the client to be served', () => {
    const ok = client.records().filter((r) => r.ok);
    return ok.length >= count ? ok : undefined;
  });
}

test('the client reaches the Service address through the stand-in kube-proxy of the one node that holds its lease', async () => {
  await s.settledOn(SERVICE.address, PREFERRED);
  const client = s.startTcpClient('reach', 50, 1_000);
  const connections = await served(client);
  await client.stop();
  const holder = await s.holder(SERVICE.address);
  assert.equal(holder, PREFERRED);
  assert.deepEqual(
    connections.filter((r) => r.node !== holder),
    [],
    `every connection served by ${holder}`,
  );
  assert.equal(await s.vipOn(PREFERRED, SERVICE.address), true);
  assert.equal(await s.vipOn(OTHER, SERVICE.address), false);
  assert.match(
    await s.metrics(PREFERRED),
    new RegExp(`pier_l2_address_held\\{address="${SERVICE.address}",interface="eth0"\\} 1`),
  );
});

test('SIGKILL of the holder: a new connection is served by the other node (stand-in kube-proxy) within a second', async (t) => {
  await s.settledOn(SERVICE.address, PREFERRED);
  const client = s.startTcpClient('kill', 20, 200);
  await served(client);
  const killedAt = Date.now();
  await s.dataplanes.get(PREFERRED)?.kill();
  // The killed dataplane leaves the address on its eth0 and the stand-in kube-proxy there keeps
  // answering, so connections may still reach it until the other node's gratuitous ARP: what
  // counts is how soon the other node serves.
  const first = await waitUntil(
    `${OTHER} to serve`,
    () => client.records().find((r) => r.ok && r.node === OTHER && r.at >= killedAt),
    10_000,
  );
  await client.stop();
  const failoverMs = first.at - killedAt;
  t.diagnostic(`served by ${OTHER} ${failoverMs} ms after the SIGKILL of ${PREFERRED}`);
  assert.ok(failoverMs < 1_000, `served by ${OTHER} ${failoverMs} ms after the kill`);
  assert.equal(await s.holder(SERVICE.address), OTHER);

  // Restarted as its DaemonSet would: it removes the address it was killed with and, after the
  // hand-off delay, takes the Service address back.
  await s.startEdge(PREFERRED);
  await s.settledOn(SERVICE.address, PREFERRED);
});

test('externalTrafficPolicy Local: when the endpoint moves to the other node, the address follows it (stand-in kube-proxy)', async (t) => {
  await s.settledOn(SERVICE.address, PREFERRED);
  const holder = await s.holder(SERVICE.address);
  assert.equal(holder, PREFERRED);
  const client = s.startTcpClient('local', 50, 500);
  await served(client);

  // Announces the address to `node` alone, as the controller does when only that node has a
  // ready local endpoint, and measures until `node` serves and alone holds the address.
  const moveTo = async (node: string): Promise<void> => {
    const movedAt = Date.now();
    await s.announce(SERVICE.address, [node]);
    const first = await waitUntil(
      `${node} to serve`,
      () => client.records().find((r) => r.ok && r.node === node && r.at >= movedAt),
      10_000,
    );
    await s.settledOn(SERVICE.address, node, 10_000);
    const settledMs = Date.now() - movedAt;
    const servedMs = first.at - movedAt;
    t.diagnostic(
      `nodes [${node}]: served by ${node} ${servedMs} ms after the announcement changed, its lease and eth0 alone ${settledMs} ms after`,
    );
    assert.ok(servedMs < 3_000, `served by ${node} ${servedMs} ms after the change`);
    assert.ok(settledMs < 3_000, `${node} alone held the address ${settledMs} ms after`);
    // Past a re-read of the announcements (once a second): it stays there, nothing else serves.
    await new Promise((r) => setTimeout(r, 1_200));
    assert.deepEqual(
      client.records().filter((r) => r.at >= first.at && !(r.ok && r.node === node)),
      [],
      `every connection after the move served by ${node}`,
    );
    assert.equal(await s.holder(SERVICE.address), node);
  };

  await moveTo(OTHER);
  await moveTo(PREFERRED);

  // Both nodes have an endpoint again: the holder, also the preferred node, keeps the address.
  const restoredAt = Date.now();
  await s.announce(SERVICE.address, [...NODES]);
  await new Promise((r) => setTimeout(r, 2_000));
  await client.stop();
  assert.deepEqual(
    client.records().filter((r) => r.at >= restoredAt && !(r.ok && r.node === PREFERRED)),
    [],
    `served by ${PREFERRED} throughout once both nodes were announced again`,
  );
  await s.settledOn(SERVICE.address, PREFERRED, 1_000);
});
