/**
 * The L2 announcer against the real kernel, in namespaces this file creates and removes: after
 * the second edge takes an address the first one still has (as after a crash), the client's
 * neighbour entry points at the second edge, moved by gratuitous ARP (IPv4) or by an unsolicited
 * neighbour advertisement (IPv6) alone, without the client asking. And link state as the
 * dataplane reads it from the namespace's sysfs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IpCommandAnnouncer } from '../../packages/dataplane/src/l2/l2-announcer.ts';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { createL2Lab, type L2Lab, type LabNamespace } from '../lib/l2-lab.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';

let lab: L2Lab;

before(async () => {
  lab = await createL2Lab({
    stateDir: testEnv().stateDir,
    edges: [
      { name: 'ann-1', address: '198.51.100.21' },
      { name: 'ann-2', address: '198.51.100.22' },
    ],
    client: '198.51.100.120',
    vipRange: '203.0.113.0/24',
  });
  const v6 = ['2001:db8:1::21', '2001:db8:1::22', '2001:db8:1::120'];
  for (const [i, ns] of [...lab.edges, lab.client].entries()) {
    await ns.exec('ip', ['-6', 'addr', 'add', `${v6[i]}/64`, 'dev', 'eth0', 'nodad']);
  }
  await lab.client.exec('ip', ['-6', 'route', 'add', '2001:db8:2::/64', 'dev', 'eth0']);
});

after(async () => {
  await lab?.remove();
});

function edge(i: number): LabNamespace {
  const ns = lab.edges[i];
  if (!ns) throw new Error(`no edge ${i}`);
  return ns;
}

async function mac(ns: LabNamespace): Promise<string> {
  const { stdout } = await ns.exec('cat', ['/sys/class/net/eth0/address']);
  return stdout.trim();
}

async function announceFrom(ns: LabNamespace, address: string): Promise<void> {
  await ns.exec(process.execPath, [
    '--conditions=@pier/source',
    join(REPO_ROOT, 'test', 'lib', 'l2-announce-once.ts'),
    address,
    'eth0',
  ]);
}

async function clientNeighbour(address: string): Promise<string | undefined> {
  const { stdout } = await lab.client.exec('ip', ['-j', 'neigh', 'show', address]);
  const entries = JSON.parse(stdout || '[]') as Array<{ lladdr?: string }>;
  return entries[0]?.lladdr;
}

for (const [family, vip] of [
  ['IPv4 (gratuitous ARP)', '203.0.113.30'],
  ['IPv6 (unsolicited neighbour advertisement)', '2001:db8:2::30'],
] as const) {
  test(`${family}: a take-over moves the client's neighbour entry without the client asking`, async () => {
    await announceFrom(edge(0), vip);
    // The client resolves the VIP (nothing listens on port 9: refused, which is fine).
    await lab.client.exec(
      'curl',
      ['-s', '--max-time', '1', `http://${vip.includes(':') ? `[${vip}]` : vip}:9/`],
      {
        allowFailure: true,
      },
    );
    assert.equal(await clientNeighbour(vip), await mac(edge(0)));
    await announceFrom(edge(1), vip);
    const moved = await waitUntil(
      'the neighbour entry to move',
      async () => ((await clientNeighbour(vip)) === (await mac(edge(1))) ? true : undefined),
      3_000,
    );
    assert.equal(moved, true);
  });
}

test('link state as the dataplane reads it: up, then down after ip link set down', async () => {
  const ns = edge(1);
  // The namespace's own sysfs, seen through its holder's root.
  const announcer = new IpCommandAnnouncer({ sysfs: `/proc/${ns.pid}/root/sys/class/net` });
  assert.equal(await announcer.linkUp('eth0'), true);
  await ns.exec('ip', ['link', 'set', 'eth0', 'down']);
  assert.equal(await announcer.linkUp('eth0'), false);
  assert.equal(await announcer.linkUp('nothere0'), false);
});
