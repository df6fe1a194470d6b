import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteIndex } from './route-index.ts';
import { regexPathMatches, regexPathProblem, rewriteTarget } from './route-rewrite.ts';
import type { Backend, Route, RouteTable } from './route-table.ts';

const route = (path: string, rewrite?: string, backend = 'n/s:80'): Route => ({
  path,
  pathType: 'ImplementationSpecific',
  backend,
  source: { namespace: 'n', name: 'i' },
  ...(rewrite === undefined ? {} : { rewriteTarget: rewrite }),
});

// ingress-nginx docs, annotations.md#rewrite: "/something(/|$)(.*)" with rewrite-target "/$2".
test('rewrite-target: the whole path becomes the target, $n expanded, the query kept', () => {
  const r = route('/something(/|$)(.*)', '/$2');
  const rows: Array<[string, string]> = [
    ['/something', '/'],
    ['/something/', '/'],
    ['/something/new', '/new'],
    ['/SomeThing/new?a=1', '/new?a=1'],
    ['/other', '/other'],
  ];
  for (const [from, to] of rows) assert.equal(rewriteTarget(r, from), to, from);
  assert.equal(
    rewriteTarget(route('/api', '/'), '/api/a/b'),
    '/',
    'a target without groups drops the rest of the path, as nginx does',
  );
  assert.equal(rewriteTarget(route('/api(/|$)(.*)', '/v2?x=1'), '/api/a?b=2'), '/v2?x=1&b=2');
  assert.equal(
    rewriteTarget(route('/(a)(b)?', '/$2-$1'), '/a'),
    '/-a',
    'a group that did not take part is empty',
  );
  assert.equal(rewriteTarget(route('/api(/|$)(.*)', '$2'), '/api/a'), '/a', 'always absolute');
  assert.equal(rewriteTarget(route('/api'), '/api/a'), '/api/a', 'no target: unchanged');
});

test('regex paths: case-insensitive, anchored at the start only, bounded', () => {
  assert.equal(regexPathMatches(route('/api(/|$)(.*)'), '/API/x'), true);
  assert.equal(regexPathMatches(route('/api'), '/apix'), true, '^/api is a prefix, as nginx');
  assert.equal(regexPathMatches(route('/api'), '/v1/api'), false);
  assert.equal(
    regexPathProblem('/a(b'),
    'is not a regular expression: Invalid regular expression: /^/a(b/i: Unterminated group',
  );
  assert.match(regexPathProblem(`/${'a'.repeat(300)}`) ?? '', /longer than 256/);
});

test('a host in regex mode: the first route in table order that matches wins', () => {
  const backend = (id: string): Backend =>
    ({
      id,
      service: { namespace: 'n', name: id },
      servicePort: 80,
      endpoints: [],
    }) as unknown as Backend;
  const table: RouteTable = {
    revision: 1,
    backends: { a: backend('a'), b: backend('b'), c: backend('c') },
    certificates: {},
    virtualHosts: {
      '*|h': {
        address: '*',
        host: 'h',
        pathRegex: true,
        routes: [
          route('/api/v[0-9]+/(.*)', undefined, 'a'),
          route('/api(/|$)(.*)', undefined, 'b'),
          route('/', undefined, 'c'),
        ],
      },
    },
  };
  const index = new RouteIndex(table);
  const at = (path: string) => index.lookup('192.0.2.1', 'h', path)?.backend.id;
  assert.equal(at('/api/v2/users'), 'a');
  assert.equal(at('/API/users?x'), 'b');
  assert.equal(at('/apiary'), 'c', '(/|$) keeps /apiary out of /api');
  assert.equal(at('/anything'), 'c');
});
