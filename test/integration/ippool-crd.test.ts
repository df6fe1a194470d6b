import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { kubectl } from '../lib/test-cluster.ts';

// IPAddressPool is cluster-scoped: no namespace isolates this file, so every
// pool it creates carries a random suffix and is deleted at the end.
const kubeconfig = testEnv().kubeconfig;
const suffix = randomBytes(3).toString('hex');
const created = new Set<string>();

const ADDRESS_RULE =
  'each address must be a CIDR (192.0.2.0/24) or a range of two addresses of one family (192.0.2.10-192.0.2.20)';

function poolName(base: string): string {
  return `ippool-test-${base}-${suffix}`;
}

/** An IPAddressPool manifest as a user would write it. */
function poolYaml(name: string, addresses: readonly string[], extraSpec = ''): string {
  const list =
    addresses.length === 0
      ? '  addresses: []'
      : ['  addresses:', ...addresses.map((a) => `    - ${JSON.stringify(a)}`)].join('\n');
  return [
    'apiVersion: pier.dev/v1alpha1',
    'kind: IPAddressPool',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    list,
    extraSpec,
    '',
  ].join('\n');
}

/** What kubectl prints for an address the CEL rule refuses. */
function refusedAddress(index: number, value: string): string {
  return `spec.addresses[${index}]: Invalid value: ${JSON.stringify(value)}: ${ADDRESS_RULE}`;
}

async function apply(manifest: string, allowFailure = false) {
  return kubectl(kubeconfig, ['apply', '-f', '-'], { input: manifest, allowFailure });
}

/**
 * Parses kubectl's table output by the header's column offsets (kubectl pads
 * every column to its widest cell, and a cell may itself contain spaces).
 */
function parseTable(stdout: string): { columns: string[]; rows: Record<string, string>[] } {
  const [header = '', ...lines] = stdout.trimEnd().split('\n');
  const found = [...header.matchAll(/\S+(?: \S+)*/g)];
  const columns = found.map((m) => m[0]);
  const starts = found.map((m) => m.index);
  const rows = lines.map((line) =>
    Object.fromEntries(
      columns.map((name, i) => [name, line.slice(starts[i], starts[i + 1] ?? line.length).trim()]),
    ),
  );
  return { columns, rows };
}

after(async () => {
  if (created.size === 0) return;
  await kubectl(kubeconfig, ['delete', 'ippool', '--ignore-not-found', ...created], {
    allowFailure: true,
  });
});

test('a valid pool is accepted, listed under every name, and read back with its defaults', async () => {
  const name = poolName('valid');
  const addresses = [
    '192.0.2.0/28',
    '198.51.100.10-198.51.100.20',
    '203.0.113.1 - 203.0.113.5',
    '2001:db8::/120',
    '2001:db8:1::10-2001:db8:1::20',
    '198.51.100.77/30', // host bits set: accepted, the controller masks them
  ];
  created.add(name);
  const applied = await apply(poolYaml(name, addresses));
  assert.match(applied.stdout, new RegExp(`ipaddresspool\\.pier\\.dev/${name} created`));

  const got = await kubectl(kubeconfig, ['get', 'ippool', name]);
  const table = parseTable(got.stdout);
  assert.deepEqual(table.columns, ['NAME', 'ADDRESSES', 'USED', 'FREE', 'HOLDERS', 'AGE']);
  const row = table.rows.find((r) => r.NAME === name);
  assert.ok(row, `no row for ${name} in:\n${got.stdout}`);
  for (const address of addresses) {
    assert.ok(
      row.ADDRESSES?.includes(address),
      `${address} missing from ADDRESSES: ${row.ADDRESSES}`,
    );
  }

  for (const resource of ['ippools', 'ipaddresspools', 'ipaddresspools.pier.dev']) {
    const listed = await kubectl(kubeconfig, ['get', resource]);
    const table = parseTable(listed.stdout);
    assert.deepEqual(table.columns, ['NAME', 'ADDRESSES', 'USED', 'FREE', 'HOLDERS', 'AGE']);
    assert.ok(
      table.rows.some((r) => r.NAME === name),
      `kubectl get ${resource} does not list ${name}:\n${listed.stdout}`,
    );
  }
  // The category: `kubectl get pier` lists every Pier object.
  const category = await kubectl(kubeconfig, ['get', 'pier', '-o', 'name']);
  assert.match(category.stdout, new RegExp(`^ipaddresspool\\.pier\\.dev/${name}$`, 'm'));

  const defaults = await kubectl(kubeconfig, [
    'get',
    'ippool',
    name,
    '-o',
    'jsonpath={.spec.autoAssign} {.spec.avoidBuggyIPs}',
  ]);
  assert.equal(defaults.stdout, 'true false');

  const wide = parseTable(
    (await kubectl(kubeconfig, ['get', 'ippool', name, '-o', 'wide'])).stdout,
  );
  assert.deepEqual(wide.columns, [
    'NAME',
    'ADDRESSES',
    'AUTO ASSIGN',
    'USED',
    'FREE',
    'HOLDERS',
    'AGE',
  ]);
  assert.equal(wide.rows[0]?.['AUTO ASSIGN'], 'true');

  // The field descriptions are what kubectl explain shows (the OpenAPI
  // document is published a moment after the CRD is established).
  const explained = await waitUntil('kubectl explain ippool.spec', async () => {
    const r = await kubectl(kubeconfig, ['explain', 'ippool.spec'], { allowFailure: true });
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.match(explained, /addresses\s+<\[\]string> -required-/);
  // kubectl wraps descriptions at 80 columns.
  assert.match(
    explained.replace(/\s+/g, ' '),
    /Each entry is a CIDR \(192\.0\.2\.0\/24, 2001:db8::\/120\)/,
  );
  assert.match(explained, /autoAssign\s+<boolean>/);
});

test('a pool with L2 settings is accepted', async () => {
  const name = poolName('l2');
  created.add(name);
  await apply(
    poolYaml(
      name,
      ['198.51.100.0/30'],
      [
        '  autoAssign: false',
        '  avoidBuggyIPs: true',
        '  l2:',
        '    interfaces: [eth0, bond0.100]',
        '    nodeSelector:',
        '      matchLabels: { pier.dev/edge: "true" }',
        '      matchExpressions:',
        '        - { key: topology.kubernetes.io/zone, operator: In, values: [a, b] }',
        '        - { key: node-role.kubernetes.io/control-plane, operator: DoesNotExist }',
      ].join('\n'),
    ),
  );
  const read = await kubectl(kubeconfig, [
    'get',
    'ippool',
    name,
    '-o',
    'jsonpath={.spec.autoAssign} {.spec.avoidBuggyIPs} {.spec.l2.interfaces}',
  ]);
  assert.equal(read.stdout, 'false true ["eth0","bond0.100"]');
});

test('malformed pools are refused by kubectl apply, naming the rule and the field', async (t) => {
  const cases: { what: string; addresses: string[]; l2?: string; errors: string[] }[] = [
    ...[
      ['prefix longer than 32', '192.0.2.0/33'],
      ['prefix longer than 128', '2001:db8::/129'],
      ['octet above 255', '300.1.2.3/24'],
      ['range of mixed families', '192.0.2.1-2001:db8::1'],
      ['not an address at all', 'not-an-ip'],
      ['range without an end', '192.0.2.1-'],
      ['range of three addresses', '192.0.2.1-192.0.2.2-192.0.2.3'],
      ['address without prefix length', '192.0.2.1'],
      ['IPv4-mapped IPv6', '::ffff:192.0.2.0/120'],
    ].map(([what = '', address = '']) => ({
      what,
      addresses: [address],
      errors: [refusedAddress(0, address)],
    })),
    {
      what: 'the bad entry of several is the one named',
      addresses: ['192.0.2.0/24', '192.0.2.300', '2001:db8::/64'],
      errors: [refusedAddress(1, '192.0.2.300')],
    },
    {
      what: 'empty list',
      addresses: [],
      errors: [
        'spec.addresses: Invalid value: 0: spec.addresses in body should have at least 1 items',
      ],
    },
    {
      what: 'duplicate entry',
      addresses: ['192.0.2.0/24', '192.0.2.0/24'],
      errors: ['spec.addresses[1]: Duplicate value: "192.0.2.0/24"'],
    },
    {
      what: 'interface name longer than 15 characters',
      addresses: ['192.0.2.0/24'],
      l2: '    interfaces: [eth0, averyverylongifname]',
      errors: [
        `spec.l2.interfaces[1]: Invalid value: "averyverylongifname": spec.l2.interfaces[1] in body should match '^[a-zA-Z0-9_.:-]{1,15}$'`,
      ],
    },
    {
      what: 'node selector operator In without values',
      addresses: ['192.0.2.0/24'],
      l2: '    nodeSelector:\n      matchExpressions: [{ key: zone, operator: In }]',
      errors: [
        'spec.l2.nodeSelector.matchExpressions[0]: Invalid value: values must be non-empty for the operators In and NotIn and empty for Exists and DoesNotExist',
      ],
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(c.what, async () => {
      const name = poolName(`bad${i}`);
      const l2 = c.l2 === undefined ? '' : `  l2:\n${c.l2}`;
      const result = await apply(poolYaml(name, c.addresses, l2), true);
      assert.notEqual(result.code, 0, `accepted:\n${result.stdout}`);
      assert.match(result.stderr, new RegExp(`^The IPAddressPool "${name}" is invalid: `));
      for (const error of c.errors) {
        assert.ok(result.stderr.includes(error), `expected ${error}\nin:\n${result.stderr}`);
      }
      // Only what is wrong is reported.
      const reported = result.stderr.match(/: (?:Invalid|Duplicate|Required) value/g) ?? [];
      assert.equal(reported.length, c.errors.length, result.stderr);
      const got = await kubectl(kubeconfig, ['get', 'ippool', name], { allowFailure: true });
      assert.match(got.stderr, /NotFound/);
    });
  }
});

test('status written through the status subresource shows in kubectl get ippool', async () => {
  const name = poolName('status');
  created.add(name);
  await apply(poolYaml(name, ['192.0.2.0/28']));

  const before = parseTable((await kubectl(kubeconfig, ['get', 'ippool', name])).stdout).rows[0];
  assert.equal(before?.USED, '', 'no count before the controller writes one');
  assert.equal(before?.FREE, '');
  assert.equal(before?.HOLDERS, '');

  await kubectl(kubeconfig, [
    'patch',
    'ippool',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({
      status: {
        assigned: 3,
        available: 13,
        holders: [
          { address: '192.0.2.1', node: 'edge-b' },
          { address: '192.0.2.2', node: 'edge-a' },
          { address: '192.0.2.3', node: 'edge-b' },
        ],
        holderNodes: ['edge-a', 'edge-b'],
        observedGeneration: 1,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Accepted',
            message: 'all addresses are valid',
            lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            observedGeneration: 1,
          },
        ],
      },
    }),
  ]);
  const got = await kubectl(kubeconfig, ['get', 'ippool', name]);
  const row = parseTable(got.stdout).rows.find((r) => r.NAME === name);
  assert.equal(row?.USED, '3', got.stdout);
  assert.equal(row?.FREE, '13', got.stdout);
  assert.equal(row?.HOLDERS, '["edge-a","edge-b"]', got.stdout);
  // An L2 pool whose addresses no node announces shows an empty list, not a blank.
  await kubectl(kubeconfig, [
    'patch',
    'ippool',
    name,
    '--subresource=status',
    '--type=merge',
    '-p',
    '{"status":{"holders":[],"holderNodes":[]}}',
  ]);
  const unheld = await kubectl(kubeconfig, ['get', 'ippool', name]);
  assert.equal(parseTable(unheld.stdout).rows[0]?.HOLDERS, '[]', unheld.stdout);
  await kubectl(kubeconfig, ['wait', '--for=condition=Ready', '--timeout=5s', 'ippool', name]);

  // A spec write cannot change the status, and the status cannot claim more
  // free addresses than a JSON number holds exactly.
  const specWrite = await kubectl(kubeconfig, [
    'patch',
    'ippool',
    name,
    '--type=merge',
    '-p',
    '{"status":{"assigned":99}}',
  ]);
  assert.match(specWrite.stdout, /patched \(no change\)/);
  const assigned = await kubectl(kubeconfig, [
    'get',
    'ippool',
    name,
    '-o',
    'jsonpath={.status.assigned}',
  ]);
  assert.equal(assigned.stdout, '3');
  const tooMany = await kubectl(
    kubeconfig,
    [
      'patch',
      'ippool',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"available":9007199254740992}}',
    ],
    { allowFailure: true },
  );
  assert.notEqual(tooMany.code, 0);
  assert.match(
    tooMany.stderr,
    /status\.available: Invalid value: 9007199254740992: available in body should be less than or equal to 9007199254740991/,
  );
});

test('kubectl delete removes the pools', async () => {
  const names = [...created];
  const deleted = await kubectl(kubeconfig, ['delete', 'ippool', ...names]);
  for (const name of names) {
    assert.match(deleted.stdout, new RegExp(`ipaddresspool\\.pier\\.dev "${name}" deleted`));
  }
  const left = await kubectl(kubeconfig, ['get', 'ippools', '-o', 'name']);
  for (const name of names) assert.doesNotMatch(left.stdout, new RegExp(`/${name}$`, 'm'));
  created.clear();
});
