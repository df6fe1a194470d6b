import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendResolver } from '../routes/backend-resolver.ts';
import { backend, ingress, path, rule, service } from '../routes/route-fixtures.test.ts';
import { type IngressPlan, planIngress } from './ingress-plan.ts';

const resolver = new BackendResolver([service('web'), service('api')], []);

function plan(...args: Parameters<typeof ingress>): { plan: IngressPlan; problems: string[][] } {
  const problems: string[][] = [];
  const planned = planIngress(ingress(...args), resolver, (reason, message) =>
    problems.push([reason, message]),
  );
  return { plan: planned, problems };
}

const summary = (p: IngressPlan) =>
  [...p.hosts].map(([host, routes]) => [
    host,
    routes.map((r) => `${r.pathType} ${r.path} → ${r.backend.id}`),
  ]);

test('ingress plan: rules of one host merge in the order written', () => {
  const { plan: p, problems } = plan('i', {
    rules: [
      rule('a.example.test', path('/a', 'web', 80)),
      rule(undefined, path('/', 'api', 'http')),
      rule('a.example.test', path('/b', 'api', 80, 'Exact')),
    ],
  });
  assert.deepEqual(summary(p), [
    ['a.example.test', ['Prefix /a → shop/web:80', 'Exact /b → shop/api:80']],
    ['', ['Prefix / → shop/api:http']],
  ]);
  assert.deepEqual(problems, []);
  assert.equal(p.key, 'shop/i');
});

test('ingress plan: a host whose paths were all dropped still claims its requests', () => {
  const { plan: p, problems } = plan('i', {
    rules: [rule('a.example.test', path('no-slash', 'web', 80)), { host: 'b.example.test' }],
  });
  assert.deepEqual(summary(p), [
    ['a.example.test', []],
    ['b.example.test', []],
  ]);
  assert.deepEqual(
    problems.map((x) => x[0]),
    ['InvalidRule'],
  );
  assert.match(problems[0]?.[1] ?? '', /spec\.rules\[0\]\.http\.paths\[0\]: path 'no-slash'/);
});

const badRules: Array<[string, Parameters<typeof rule>, RegExp]> = [
  [
    'uppercase host',
    ['A.example.test', path('/', 'web', 80)],
    /spec\.rules\[0\]\.host 'A\.example\.test' must be lowercase; rule dropped/,
  ],
  ['IP host', ['192.0.2.1', path('/', 'web', 80)], /not an IP address/],
  ['wildcard inside', ['a.*.test', path('/', 'web', 80)], /wildcard/],
  ['unknown pathType', ['a.example.test', path('/', 'web', 80, 'Glob')], /pathType 'Glob'/],
  ['Prefix without path', ['a.example.test', path(undefined, 'web', 80)], /path ''/],
  ['Exact with //', ['a.example.test', path('/a//b', 'web', 80, 'Exact')], /'\/\/'/],
];

for (const [name, args, message] of badRules) {
  test(`ingress plan: ${name} is an InvalidRule`, () => {
    const { problems } = plan('i', { rules: [rule(...args)] });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.[0], 'InvalidRule');
    assert.match(problems[0]?.[1] ?? '', message);
  });
}

test('ingress plan: TLS hosts are kept only where the Ingress has a rule for them', () => {
  const { plan: p, problems } = plan('i', {
    rules: [
      rule('a.example.test', path('/', 'web', 80)),
      rule('*.example.test', path('/', 'web', 80)),
    ],
    tls: [
      { hosts: ['a.example.test', 'elsewhere.example.test', '*.example.test'], secretName: 's1' },
      { hosts: ['a.example.test'] },
      { hosts: [], secretName: 's2' },
    ],
  });
  assert.deepEqual(p.tls, [
    { host: 'a.example.test', secretName: 's1' },
    { host: '*.example.test', secretName: 's1' },
  ]);
  assert.deepEqual(
    problems.map((x) => x[0]),
    ['InvalidRule'],
  );
  assert.match(problems[0]?.[1] ?? '', /spec\.tls\[2\] lists no hosts/);
});

test('ingress plan: default backend, balancing annotations and their problems', () => {
  const { plan: p, problems } = plan('i', {
    defaultBackend: backend('web', 80),
    annotations: { 'pier.dev/load-balance': 'round-robin', 'pier.dev/affinity': 'sticky' },
  });
  assert.equal(p.defaultBackend?.id, 'shop/web:80');
  assert.deepEqual(p.balancing, { algorithm: 'round-robin' });
  assert.deepEqual(
    problems.map((x) => x[0]),
    ['InvalidAnnotation'],
  );
  assert.match(problems[0]?.[1] ?? '', /^pier\.dev\/affinity: /);
});

test('ingress plan: a missing Service is said once, however many paths use it', () => {
  const { plan: p, problems } = plan('i', {
    rules: [rule('a.example.test', path('/1', 'gone', 80), path('/2', 'gone', 80))],
  });
  assert.equal(p.hosts.get('a.example.test')?.length, 2);
  assert.equal(new Set(problems.map((x) => x.join())).size, 1);
});
