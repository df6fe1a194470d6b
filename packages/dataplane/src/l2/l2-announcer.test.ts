import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  addAddressArgs,
  gratuitousArpArgs,
  IpCommandAnnouncer,
  removeAddressArgs,
} from './l2-announcer.ts';

test('iproute2 and arping arguments per family', () => {
  const rows: Array<[string, string[], string[]]> = [
    [
      '203.0.113.10',
      ['-4', 'addr', 'replace', '203.0.113.10/32', 'dev', 'eth0'],
      ['-4', 'addr', 'del', '203.0.113.10/32', 'dev', 'eth0'],
    ],
    [
      '2001:db8::10',
      ['-6', 'addr', 'replace', '2001:db8::10/128', 'dev', 'eth0', 'nodad'],
      ['-6', 'addr', 'del', '2001:db8::10/128', 'dev', 'eth0'],
    ],
  ];
  for (const [address, add, remove] of rows) {
    assert.deepEqual(addAddressArgs(address, 'eth0'), add, address);
    assert.deepEqual(removeAddressArgs(address, 'eth0'), remove, address);
  }
  assert.deepEqual(gratuitousArpArgs('203.0.113.10', 'bond0.100'), [
    '-U',
    '-c',
    '1',
    '-I',
    'bond0.100',
    '-s',
    '203.0.113.10',
    '203.0.113.10',
  ]);
});

test('link state from sysfs: up, or unknown with a carrier; anything else is down', async () => {
  const sysfs = mkdtempSync(join(tmpdir(), 'pier-sysfs-'));
  try {
    const rows: Array<[string, string, string | undefined, boolean]> = [
      ['eth0', 'up', '1', true],
      ['eth1', 'down', '0', false],
      ['eth2', 'lowerlayerdown', '0', false],
      ['tun0', 'unknown', '1', true],
      ['tun1', 'unknown', '0', false],
      ['dormant0', 'dormant', '1', false],
    ];
    for (const [name, operstate, carrier] of rows) {
      mkdirSync(join(sysfs, name));
      writeFileSync(join(sysfs, name, 'operstate'), `${operstate}\n`);
      if (carrier !== undefined) writeFileSync(join(sysfs, name, 'carrier'), `${carrier}\n`);
    }
    const announcer = new IpCommandAnnouncer({ sysfs });
    for (const [name, , , up] of rows) assert.equal(await announcer.linkUp(name), up, name);
    assert.equal(await announcer.linkUp('missing0'), false, 'an interface that does not exist');
  } finally {
    rmSync(sysfs, { recursive: true, force: true });
  }
});

test('removing an address that is not there is not an error; other failures are', async () => {
  const rows: Array<[string, boolean]> = [
    ['RTNETLINK answers: Cannot assign requested address', true],
    ['Error: ipv4: Address not found.', true],
    ['Cannot find device "eth9"', false],
    ['RTNETLINK answers: Operation not permitted', false],
  ];
  for (const [stderr, ok] of rows) {
    const announcer = new IpCommandAnnouncer({
      run: async () => ({ code: 2, stdout: '', stderr }),
    });
    const removing = announcer.remove('203.0.113.10', 'eth0');
    if (ok) await removing;
    else await assert.rejects(removing, /ip -4 addr del/, stderr);
  }
});
