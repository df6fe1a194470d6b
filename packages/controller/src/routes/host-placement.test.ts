import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { DEFAULT_HEALTH_CHECK, validateRouteTable } from '@pier/shared';
import { ignoredAnnotationOf } from '../ingress/ingress-plan.ts';
import { NGINX_DIALECT, PIER_DIALECT } from '../ingress/nginx-annotations.ts';
import { IncrementalCompiler } from './incremental-compiler.ts';
import { compileRoutes } from './route-compiler.ts';
import {
  A_CERT,
  A_KEY,
  ADDRESS,
  compileInput,
  fakeSealer,
  ingress,
  path,
  rule,
  service,
  slice,
  tlsSecret,
} from './route-fixtures.test.ts';

const P = 'nginx.ingress.kubernetes.io/';
const objects = {
  services: [service('web')],
  endpointSlices: [slice('web-abc', 'web', [{ name: 'http', port: 8080 }], [['192.0.2.1']])],
  secrets: [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY })],
};
const nginxClass = (i: V1Ingress) =>
  i.spec?.ingressClassName === 'nginx' ? NGINX_DIALECT : PIER_DIALECT;

function asNginx(i: V1Ingress): V1Ingress {
  return { ...i, spec: { ...i.spec, ingressClassName: 'nginx' } };
}

const ingresses = [
  asNginx(
    ingress('shop', {
      age: 1,
      rules: [
        rule(
          'a.example.test',
          path('/', 'web', 80),
          path('/.well-known/acme-challenge/t', 'web', 80, 'Exact'),
        ),
      ],
      tls: [{ hosts: ['a.example.test'], secretName: 'a-tls' }],
      annotations: { [`${P}app-root`]: '/shop', [`${P}server-snippet`]: 'return 200;' },
    }),
  ),
  ingress('moved', {
    age: 2,
    rules: [rule('a.example.test', path('/old', 'web', 80))],
    annotations: {
      [`${P}permanent-redirect`]: 'https://new.example.test/',
      [`${P}app-root`]: '/other',
    },
  }),
];

test('placement: the redirects of ingress-nginx annotations reach the table, with their reports', () => {
  const out = compileRoutes(compileInput({ ingresses, ...objects, dialectOf: nginxClass }));
  const checked = validateRouteTable({ revision: 1, ...out.table });
  assert.deepEqual(checked.problems, []);
  const vhost = out.table.virtualHosts[`${ADDRESS}|a.example.test`];
  assert.equal(vhost?.appRoot, '/shop', 'the oldest Ingress’s app root');
  const byPath = new Map(vhost?.routes.map((r) => [r.path, r]));
  assert.deepEqual(byPath.get('/')?.httpsRedirect, {
    onlyWithCertificate: true,
    statusCode: 308,
    preserveTrailingSlash: false,
    usePort: false,
  });
  assert.equal(
    byPath.get('/.well-known/acme-challenge/t')?.httpsRedirect,
    undefined,
    'ACME challenges are answered over plain HTTP, as ingress-nginx',
  );
  assert.deepEqual(byPath.get('/old')?.redirect, {
    statusCode: 301,
    url: 'https://new.example.test/',
  });
  assert.equal(
    byPath.get('/old')?.httpsRedirect,
    undefined,
    'a Pier-class Ingress gets no https redirect by default',
  );

  const said = out.problems.map((p) => [p.object.name, p.reason, p.message]);
  assert.deepEqual(said, [
    [
      'moved',
      'AnnotationConflict',
      `${P}app-root '/other' is ignored for host 'a.example.test': it already has app root '/shop' from the older Ingress shop/shop`,
    ],
    [
      'shop',
      'AnnotationIgnored',
      `${P}server-snippet: a snippet of nginx configuration; Pier never executes snippets; the Ingress is served without it`,
    ],
  ]);
  assert.equal(ignoredAnnotationOf(said[1]?.[2] ?? ''), `${P}server-snippet`);
});

test('placement: the incremental compiler gives the same table with the same dialects', () => {
  const full = compileRoutes(compileInput({ ingresses, ...objects, dialectOf: nginxClass }));
  const sealer = fakeSealer();
  const compiler = new IncrementalCompiler({
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey: sealer.sealKey,
    dialectOf: nginxClass,
  });
  const out = compiler.compileAll({ ...compileInput({ ingresses, ...objects }) });
  assert.deepEqual(Object.fromEntries(out.entries.virtualHosts), full.table.virtualHosts);
});

test('placement: rewrite-target puts the whole host in regex mode, longest path first, bad regexes dropped', () => {
  const out = compileRoutes(
    compileInput({
      ...objects,
      dialectOf: nginxClass,
      ingresses: [
        asNginx(
          ingress('api', {
            age: 1,
            rules: [
              rule('r.example.test', path('/api(/|$)(.*)', 'web', 80, 'ImplementationSpecific')),
            ],
            annotations: { [`${P}rewrite-target`]: '/$2' },
          }),
        ),
        ingress('site', {
          age: 2,
          rules: [
            rule(
              'r.example.test',
              path('/', 'web', 80),
              path('/static', 'web', 80),
              path('/broken(', 'web', 80, 'ImplementationSpecific'),
            ),
          ],
        }),
      ],
    }),
  );
  assert.deepEqual(validateRouteTable({ revision: 1, ...out.table }).problems, []);
  const vhost = out.table.virtualHosts[`${ADDRESS}|r.example.test`];
  assert.equal(vhost?.pathRegex, true);
  assert.deepEqual(
    vhost?.routes.map((r) => [r.path, r.rewriteTarget]),
    [
      ['/api(/|$)(.*)', '/$2'],
      ['/static', undefined],
      ['/', undefined],
    ],
  );
  assert.deepEqual(
    out.problems.map((p) => [p.object.name, p.reason, p.message]),
    [
      [
        'site',
        'InvalidRule',
        "path '/broken(' is not a regular expression: Invalid regular expression: /^/broken(/i: Unterminated group (the host uses regex paths); dropped",
      ],
    ],
  );
});

test('placement: the rate limits of an Ingress share one zone over its hosts and paths', () => {
  const out = compileRoutes(
    compileInput({
      ...objects,
      dialectOf: nginxClass,
      ingresses: [
        asNginx(
          ingress('login', {
            age: 1,
            rules: [
              rule('l.example.test', path('/login', 'web', 80), path('/reset', 'web', 80)),
              rule('m.example.test', path('/login', 'web', 80)),
            ],
            annotations: { [`${P}limit-rps`]: '5', [`${P}limit-whitelist`]: '10.0.0.0/8' },
          }),
        ),
        ingress('site', {
          age: 2,
          rules: [rule('l.example.test', path('/', 'web', 80))],
          annotations: { [`${P}limit-connections`]: '2' },
        }),
      ],
    }),
  );
  assert.deepEqual(validateRouteTable({ revision: 1, ...out.table }).problems, []);
  const limits = Object.values(out.table.virtualHosts)
    .flatMap((v) => v.routes.map((r) => ({ at: `${v.host}${r.path}`, limit: r.rateLimit })))
    .sort((a, b) => a.at.localeCompare(b.at))
    .map(({ at, limit }) => [at, limit]);
  const login = {
    zone: 'shop/login',
    perSecond: { rate: 5, burst: 25 },
    exempt: ['10.0.0.0/8'],
  };
  assert.deepEqual(limits, [
    ['l.example.test/', { zone: 'shop/site', connections: 2 }],
    ['l.example.test/login', login],
    ['l.example.test/reset', login],
    ['m.example.test/login', login],
  ]);
});

test('placement: server-alias belongs to the host, from its oldest Ingress; real hosts and hosts sorting first win', () => {
  const alias = (value: string) => ({ [`${P}server-alias`]: value });
  const world = compileInput({
    ...objects,
    ingresses: [
      ingress('site', {
        age: 1,
        rules: [rule('s.example.test', path('/', 'web', 80))],
        annotations: alias('www.example.test, s.example.test, api.example.test, b.example.test'),
      }),
      ingress('more', {
        age: 2,
        rules: [rule('s.example.test', path('/more', 'web', 80))],
        annotations: alias('other.example.test'),
      }),
      ingress('plain', { age: 3, rules: [rule('s.example.test', path('/plain', 'web', 80))] }),
      ingress('api', { age: 4, rules: [rule('api.example.test', path('/', 'web', 80))] }),
      ingress('first', {
        age: 5,
        rules: [rule('a.example.test', path('/', 'web', 80))],
        annotations: alias('b.example.test'),
      }),
    ],
  });
  const out = compileRoutes(world);
  assert.deepEqual(validateRouteTable({ revision: 1, ...out.table }).problems, []);
  assert.deepEqual(
    out.table.virtualHosts[`${ADDRESS}|s.example.test`]?.aliases,
    ['api.example.test', 'b.example.test', 'www.example.test'],
    'sorted, the host itself left out; the dataplane decides who answers',
  );
  assert.deepEqual(
    out.problems.map((p) => [p.object.name, p.reason, p.message]),
    [
      [
        'more',
        'AnnotationConflict',
        `${P}server-alias 'other.example.test' is ignored for host 's.example.test': it already has the aliases of the older Ingress shop/site`,
      ],
      [
        'site',
        'AnnotationConflict',
        `${P}server-alias 'api.example.test' is ignored for host 's.example.test': host 'api.example.test' is served by its own Ingress, which wins over an alias`,
      ],
      [
        'site',
        'AnnotationConflict',
        `${P}server-alias 'b.example.test' is ignored for host 's.example.test': host 'a.example.test' claims it too, and sorts first`,
      ],
    ],
  );
  const sealer = fakeSealer();
  const compiler = new IncrementalCompiler({
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey: sealer.sealKey,
  });
  const incremental = compiler.compileAll(world);
  assert.deepEqual(incremental.problems, out.problems);
  // The host 'api' goes: its name is the alias's again, and nobody is told otherwise.
  const gone = compiler.update(
    [{ kind: 'Ingress', namespace: 'shop', name: 'api', object: undefined, addresses: [] }],
    world.addressesOf,
  );
  assert.deepEqual(
    gone.problems.map((p) => p.message).filter((m) => m.includes("'api.example.test'")),
    [],
  );
});
