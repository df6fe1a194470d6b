import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { kubectl } from '../lib/test-cluster.ts';

// HealthCheckPolicy is namespaced: this file works in a namespace of its own,
// deleted (with every policy in it) at the end.
const kubeconfig = testEnv().kubeconfig;
let ns: Awaited<ReturnType<typeof createTestNamespace>>;

const COLUMNS = ['NAME', 'TARGET', 'PATH', 'INTERVAL', 'ACCEPTED', 'AGE'];
const WIDE_COLUMNS = [
  'NAME',
  'TARGET',
  'PATH',
  'INTERVAL',
  'TIMEOUT',
  'ACCEPTED',
  'RESOLVED',
  'AGE',
];

before(async () => {
  ns = await createTestNamespace(adminKubeConfig(), 'hcp-crd');
});

after(async () => {
  await ns?.remove();
});

/** kubectl in the test's namespace. */
function k(args: readonly string[], options: { input?: string; allowFailure?: boolean } = {}) {
  return kubectl(kubeconfig, ['--namespace', ns.name, ...args], options);
}

/** A HealthCheckPolicy manifest as a user would write it; `spec` lines are indented by two. */
function policyYaml(name: string, spec: readonly string[]): string {
  return [
    'apiVersion: pier.dev/v1alpha1',
    'kind: HealthCheckPolicy',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    ...spec.map((line) => `  ${line}`),
    '',
  ].join('\n');
}

async function apply(manifest: string, allowFailure = false) {
  return k(['apply', '-f', '-'], { input: manifest, allowFailure });
}

/** `kubectl get hcp NAME -o jsonpath=...`. */
async function jsonpath(name: string, path: string): Promise<string> {
  return (await k(['get', 'hcp', name, '-o', `jsonpath=${path}`])).stdout;
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

/** The row of one policy in `kubectl get hcp NAME [extra]`. */
async function row(name: string, extra: readonly string[] = []) {
  const got = await k(['get', 'hcp', name, ...extra]);
  const table = parseTable(got.stdout);
  const found = table.rows.find((r) => r.NAME === name);
  assert.ok(found, `no row for ${name} in:\n${got.stdout}`);
  return { columns: table.columns, row: found };
}

test('a minimal policy is accepted with its defaults and listed by kubectl get hcp', async () => {
  const applied = await apply(policyYaml('minimal', ['targetRef:', '  name: web']));
  assert.match(applied.stdout, /^healthcheckpolicy\.pier\.dev\/minimal created$/m);

  const defaults = await jsonpath(
    'minimal',
    [
      '{.spec.targetRef.group}|{.spec.targetRef.kind}|{.spec.targetRef.name}',
      '{.spec.http.path}|{.spec.http.expectedStatuses}',
      '{.spec.interval}|{.spec.timeout}',
      '{.spec.healthyThreshold}|{.spec.unhealthyThreshold}',
      '{.spec.passive.consecutiveFailures}|{.spec.passive.ejectionTime}|{.spec.passive.maxEjectionPercent}',
    ].join(' '),
  );
  assert.equal(defaults, '|Service|web /|200-399 5s|2s 2|3 5|30s|50');
  // Only what has a default is filled in.
  const spec = JSON.parse(await jsonpath('minimal', '{.spec}')) as Record<string, unknown>;
  assert.equal(spec.port, undefined);
  assert.equal((spec.http as Record<string, unknown>).host, undefined);

  const { columns, row: r } = await row('minimal');
  assert.deepEqual(columns, COLUMNS);
  assert.equal(r.TARGET, 'web');
  assert.equal(r.PATH, '/');
  assert.equal(r.INTERVAL, '5s');
  assert.equal(r.ACCEPTED, '', 'no condition before the controller writes one');

  for (const resource of ['hcps', 'healthcheckpolicies', 'healthcheckpolicies.pier.dev']) {
    const listed = parseTable((await k(['get', resource])).stdout);
    assert.deepEqual(listed.columns, COLUMNS);
    assert.ok(
      listed.rows.some((x) => x.NAME === 'minimal'),
      `kubectl get ${resource} does not list minimal`,
    );
  }
  // The category: `kubectl get pier` lists every Pier object.
  const category = await k(['get', 'pier', '-o', 'name']);
  assert.match(category.stdout, /^healthcheckpolicy\.pier\.dev\/minimal$/m);
  // Namespaced: not visible from another namespace.
  const elsewhere = await kubectl(kubeconfig, [
    'get',
    'hcp',
    '--namespace',
    'default',
    '-o',
    'name',
  ]);
  assert.doesNotMatch(elsewhere.stdout, /\/minimal$/m);

  const wide = await row('minimal', ['-o', 'wide']);
  assert.deepEqual(wide.columns, WIDE_COLUMNS);
  assert.equal(wide.row.TIMEOUT, '2s');

  // The field descriptions are what kubectl explain shows (the OpenAPI
  // document is published a moment after the CRD is established).
  const explained = await waitUntil('kubectl explain hcp.spec', async () => {
    const e = await k(['explain', 'hcp.spec'], { allowFailure: true });
    return e.code === 0 ? e.stdout : undefined;
  });
  assert.match(explained, /targetRef\s+<Object> -required-/);
  assert.match(explained, /interval\s+<string>/);
  assert.match(explained.replace(/\s+/g, ' '), /Time between two probes of one endpoint/);
  const status = await k(['explain', 'hcp.status.conditions.reason']);
  assert.match(status.stdout.replace(/\s+/g, ' '), /Accepted: Accepted, Invalid or Conflicted/);
});

test('a policy with every field set is accepted and read back as written', async () => {
  await apply(
    policyYaml('full', [
      'targetRef: { group: "", kind: Service, name: api-v2 }',
      'port: 8081',
      'http:',
      '  path: /healthz?verbose=1',
      '  host: api.example.com',
      '  expectedStatuses: "200-299, 404"',
      'interval: 1m30s',
      'timeout: 1.5s',
      'healthyThreshold: 1',
      'unhealthyThreshold: 100',
      'passive:',
      '  consecutiveFailures: 1000',
      '  ejectionTime: 1h',
      '  maxEjectionPercent: 0',
    ]),
  );
  const spec = JSON.parse(await jsonpath('full', '{.spec}'));
  assert.deepEqual(spec, {
    targetRef: { group: '', kind: 'Service', name: 'api-v2' },
    port: 8081,
    http: { path: '/healthz?verbose=1', host: 'api.example.com', expectedStatuses: '200-299, 404' },
    interval: '1m30s',
    timeout: '1.5s',
    healthyThreshold: 1,
    unhealthyThreshold: 100,
    passive: { consecutiveFailures: 1000, ejectionTime: '1h', maxEjectionPercent: 0 },
  });
  const { row: r } = await row('full');
  assert.equal(r.TARGET, 'api-v2');
  assert.equal(r.PATH, '/healthz?verbose=1');
  assert.equal(r.INTERVAL, '1m30s');

  // The limits themselves are allowed.
  await apply(
    policyYaml('limits', [
      'targetRef: { name: a }',
      'port: 65535',
      'http: { expectedStatuses: "100,599,200-200" }',
      'interval: 100ms',
      'timeout: 10ms',
      'passive: { consecutiveFailures: 1, ejectionTime: 1s, maxEjectionPercent: 100 }',
    ]),
  );
  await apply(
    policyYaml('limits-high', ['targetRef: { name: a }', 'interval: 1h', 'timeout: 59m59.999s']),
  );
});

test('nonsense is refused by kubectl apply, naming the field and the rule', async (t) => {
  const DURATION = '(units ms, s, m, h)';
  // After a missing field or a wrong type the API server skips the CEL rules.
  const NOT_CHECKED =
    '<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';
  const cases: { what: string; spec: string[]; errors: string[] }[] = [
    {
      what: 'timeout equal to interval',
      spec: ['timeout: 5s'],
      errors: ['spec.timeout: Invalid value: timeout (5s) must be less than interval (5s)'],
    },
    {
      what: 'timeout above interval',
      spec: ['interval: 1s', 'timeout: 1500ms'],
      errors: ['spec.timeout: Invalid value: timeout (1500ms) must be less than interval (1s)'],
    },
    {
      what: 'timeout above the default interval',
      spec: ['timeout: 1m'],
      errors: ['spec.timeout: Invalid value: timeout (1m) must be less than interval (5s)'],
    },
    {
      what: 'healthyThreshold 0',
      spec: ['healthyThreshold: 0'],
      errors: [
        'spec.healthyThreshold: Invalid value: 0: spec.healthyThreshold in body should be greater than or equal to 1',
      ],
    },
    {
      what: 'unhealthyThreshold 0',
      spec: ['unhealthyThreshold: 0'],
      errors: [
        'spec.unhealthyThreshold: Invalid value: 0: spec.unhealthyThreshold in body should be greater than or equal to 1',
      ],
    },
    {
      what: 'healthyThreshold above 100',
      spec: ['healthyThreshold: 101'],
      errors: [
        'spec.healthyThreshold: Invalid value: 101: spec.healthyThreshold in body should be less than or equal to 100',
      ],
    },
    {
      what: 'path not starting with /',
      spec: ['http: { path: healthz }'],
      errors: [`spec.http.path: Invalid value: "healthz": http.path must start with '/'`],
    },
    {
      what: 'path with a space',
      spec: ['http: { path: "/health check" }'],
      errors: [
        'spec.http.path: Invalid value: "/health check": http.path must not contain spaces, control or non-ASCII characters (percent-encode them, e.g. %20)',
      ],
    },
    ...['600', 'abc', '200-299,', '2000', '200-', '99'].map((statuses) => ({
      what: `expectedStatuses ${statuses}`,
      spec: [`http: { expectedStatuses: "${statuses}" }`],
      errors: [
        `spec.http.expectedStatuses: Invalid value: "${statuses}": http.expectedStatuses must be a comma-separated list of statuses and ranges between 100 and 599, such as 200-299,404`,
      ],
    })),
    ...['300-200', '200-299,404-400'].map((statuses) => ({
      what: `expectedStatuses ${statuses} (range high-low)`,
      spec: [`http: { expectedStatuses: "${statuses}" }`],
      errors: [
        `spec.http.expectedStatuses: Invalid value: "${statuses}": http.expectedStatuses: each range must be written low-high, such as 200-299 (not 299-200)`,
      ],
    })),
    {
      what: 'host that is not a DNS name',
      spec: ['http: { host: "Bad_Host:80" }'],
      errors: [
        `spec.http.host: Invalid value: "Bad_Host:80": http.host must be a DNS name: lowercase letters, digits, '-' and '.', such as app.example.com`,
      ],
    },
    ...['5 seconds', '5', '-5s', '5us', '1.0005s', '0.5ms', '99999999999h'].map((interval) => ({
      what: `interval ${interval}`,
      spec: [`interval: "${interval}"`],
      errors: [
        `spec.interval: Invalid value: "${interval}": interval must be a duration in whole milliseconds, such as 500ms, 5s, 1.5s or 1m30s ${DURATION}`,
      ],
    })),
    ...['99ms', '1h0.001s', '2h'].map((interval) => ({
      what: `interval ${interval} (out of range)`,
      spec: [`interval: ${interval}`, 'timeout: 10ms'],
      errors: [
        `spec.interval: Invalid value: "${interval}": interval must be between 100ms and 1h`,
      ],
    })),
    {
      what: 'timeout below 10ms',
      spec: ['timeout: 9ms'],
      errors: ['spec.timeout: Invalid value: "9ms": timeout must be at least 10ms'],
    },
    {
      what: 'timeout not a duration',
      spec: ['timeout: 2 s'],
      errors: [
        `spec.timeout: Invalid value: "2 s": timeout must be a duration in whole milliseconds, such as 500ms, 2s or 1.5s ${DURATION}`,
      ],
    },
    {
      what: 'targetRef.kind Deployment',
      spec: ['targetRef: { kind: Deployment, name: web }'],
      errors: ['spec.targetRef.kind: Invalid value: "Deployment": targetRef.kind must be Service'],
    },
    {
      what: 'targetRef.group apps',
      spec: ['targetRef: { group: apps, name: web }'],
      errors: [
        'spec.targetRef.group: Invalid value: "apps": targetRef.group must be "" (the core API group, where Service is)',
      ],
    },
    {
      what: 'targetRef.name not a DNS-1035 label',
      spec: ['targetRef: { name: 1web }'],
      errors: [
        `spec.targetRef.name: Invalid value: "1web": targetRef.name must be a Service name: lowercase letters, digits and '-', starting with a letter and ending with a letter or digit`,
      ],
    },
    {
      what: 'targetRef without name',
      spec: ['targetRef: { kind: Service }'],
      errors: ['spec.targetRef.name: Required value', NOT_CHECKED],
    },
    {
      what: 'port 0',
      spec: ['port: 0'],
      errors: [
        'spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1',
      ],
    },
    {
      what: 'port above 65535',
      spec: ['port: 65536'],
      errors: [
        'spec.port: Invalid value: 65536: spec.port in body should be less than or equal to 65535',
      ],
    },
    ...['0s', '999ms', '61m'].map((ejectionTime) => ({
      what: `ejectionTime ${ejectionTime}`,
      spec: [`passive: { ejectionTime: ${ejectionTime} }`],
      errors: [
        `spec.passive.ejectionTime: Invalid value: "${ejectionTime}": passive.ejectionTime must be between 1s and 1h`,
      ],
    })),
    {
      what: 'ejectionTime without a unit',
      spec: ['passive: { ejectionTime: "30" }'],
      errors: [
        `spec.passive.ejectionTime: Invalid value: "30": passive.ejectionTime must be a duration in whole milliseconds, such as 30s, 1.5m or 2m30s ${DURATION}`,
      ],
    },
    {
      what: 'interval written as a YAML number',
      spec: ['interval: 5'],
      errors: [
        'spec.interval: Invalid value: "integer": spec.interval in body must be of type string: "integer"',
        NOT_CHECKED,
      ],
    },
    {
      what: 'consecutiveFailures 0 and maxEjectionPercent 101',
      spec: ['passive: { consecutiveFailures: 0, maxEjectionPercent: 101 }'],
      errors: [
        'spec.passive.consecutiveFailures: Invalid value: 0: spec.passive.consecutiveFailures in body should be greater than or equal to 1',
        'spec.passive.maxEjectionPercent: Invalid value: 101: spec.passive.maxEjectionPercent in body should be less than or equal to 100',
      ],
    },
    {
      what: 'several faults are all reported',
      spec: ['interval: 5 seconds', 'http: { path: ready }'],
      errors: [
        `spec.interval: Invalid value: "5 seconds": interval must be a duration in whole milliseconds`,
        `spec.http.path: Invalid value: "ready": http.path must start with '/'`,
      ],
    },
  ];
  for (const [i, c] of cases.entries()) {
    await t.test(c.what, async () => {
      const name = `bad-${i}`;
      const spec = c.spec.some((line) => line.startsWith('targetRef:'))
        ? c.spec
        : ['targetRef: { name: web }', ...c.spec];
      const result = await apply(policyYaml(name, spec), true);
      assert.notEqual(result.code, 0, `accepted:\n${result.stdout}`);
      assert.match(result.stderr, new RegExp(`^The HealthCheckPolicy "${name}" is invalid: `));
      for (const error of c.errors) {
        assert.ok(result.stderr.includes(error), `expected ${error}\nin:\n${result.stderr}`);
      }
      // Only what is wrong is reported, once.
      const reported = result.stderr.match(/: (?:Invalid|Required) value/g) ?? [];
      assert.equal(reported.length, c.errors.length, result.stderr);
      const got = await k(['get', 'hcp', name], { allowFailure: true });
      assert.match(got.stderr, /NotFound/);
    });
  }
});

test('an edit is applied when valid and refused, leaving the policy as it was, when not', async () => {
  await apply(policyYaml('edited', ['targetRef: { name: web }']));
  const generation = await jsonpath('edited', '{.metadata.generation}');

  const patched = await k([
    'patch',
    'hcp',
    'edited',
    '--type=merge',
    '-p',
    '{"spec":{"http":{"path":"/ready"}}}',
  ]);
  assert.match(patched.stdout, /healthcheckpolicy\.pier\.dev\/edited patched/);
  const { row: r } = await row('edited');
  assert.equal(r.PATH, '/ready');
  // The rest of http keeps its default.
  assert.equal(await jsonpath('edited', '{.spec.http.expectedStatuses}'), '200-399');
  const version = await jsonpath('edited', '{.metadata.resourceVersion} {.metadata.generation}');
  assert.equal(version.split(' ')[1], String(Number(generation) + 1));

  const refused = await k(
    ['patch', 'hcp', 'edited', '--type=merge', '-p', '{"spec":{"timeout":"10s"}}'],
    { allowFailure: true },
  );
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.equal(
    refused.stderr.trim(),
    'The HealthCheckPolicy "edited" is invalid: spec.timeout: Invalid value: timeout (10s) must be less than interval (5s)',
  );
  // Nothing changed: same resourceVersion, same fields.
  assert.equal(
    await jsonpath('edited', '{.metadata.resourceVersion} {.metadata.generation}'),
    version,
  );
  assert.equal(await jsonpath('edited', '{.spec.timeout} {.spec.http.path}'), '2s /ready');

  // Raising the interval with the timeout in one edit is fine.
  await k([
    'patch',
    'hcp',
    'edited',
    '--type=merge',
    '-p',
    '{"spec":{"interval":"30s","timeout":"10s"}}',
  ]);
  assert.equal(await jsonpath('edited', '{.spec.interval} {.spec.timeout}'), '30s 10s');
});

test('conditions written through the status subresource show in kubectl get hcp', async () => {
  await apply(policyYaml('status', ['targetRef: { name: web }']));
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const writeStatus = (accepted: [string, string], resolved: [string, string]) =>
    k([
      'patch',
      'hcp',
      'status',
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          conditions: [
            {
              type: 'Accepted',
              status: accepted[0],
              reason: accepted[1],
              message: 'the policy is in force',
              lastTransitionTime: now,
              observedGeneration: 1,
            },
            {
              type: 'ResolvedRefs',
              status: resolved[0],
              reason: resolved[1],
              message: 'Service web found',
              lastTransitionTime: now,
              observedGeneration: 1,
            },
          ],
        },
      }),
    ]);

  await writeStatus(['True', 'Accepted'], ['True', 'ResolvedRefs']);
  const got = await row('status');
  assert.equal(got.row.ACCEPTED, 'True');
  await k(['wait', '--for=condition=Accepted', '--timeout=5s', 'hcp', 'status']);
  const wide = await row('status', ['-o', 'wide']);
  assert.equal(wide.row.RESOLVED, 'True');

  await writeStatus(['False', 'Conflicted'], ['False', 'ServiceNotFound']);
  assert.equal((await row('status')).row.ACCEPTED, 'False');
  assert.equal((await row('status', ['-o', 'wide'])).row.RESOLVED, 'False');

  // A spec write cannot change the status.
  const specWrite = await k([
    'patch',
    'hcp',
    'status',
    '--type=merge',
    '-p',
    '{"status":{"conditions":[]}}',
  ]);
  assert.match(specWrite.stdout, /patched \(no change\)/);
  assert.equal(
    await jsonpath('status', '{.status.conditions[?(@.type=="Accepted")].reason}'),
    'Conflicted',
  );

  // A condition must be well-formed.
  const bad = await k(
    [
      'patch',
      'hcp',
      'status',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"conditions":[{"type":"Accepted","status":"Maybe","reason":"Accepted","message":"","lastTransitionTime":"2024-01-01T00:00:00Z"}]}}',
    ],
    { allowFailure: true },
  );
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /status\.conditions\[0\]\.status: Unsupported value: "Maybe"/);
});
