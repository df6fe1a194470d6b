import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PathRule, PathType } from './path-match.ts';
import { bestPathMatch, pathElements, pathMatches, validateIngressPath } from './path-match.ts';

/**
 * Every single-rule row of the Kubernetes Ingress documentation's path-matching examples
 * (concepts/services-networking/ingress, "Examples"), plus Pier's own edge cases.
 */
const K8S_SINGLE_RULE: Array<[PathType, string, string, boolean]> = [
  ['Prefix', '/', '/', true],
  ['Prefix', '/', '/foo', true],
  ['Prefix', '/', '/foo/bar/', true],
  ['Prefix', '/', '/aaa/bbb/ccc', true],
  ['Exact', '/foo', '/foo', true],
  ['Exact', '/foo', '/bar', false],
  ['Exact', '/foo', '/foo/', false],
  ['Exact', '/foo/', '/foo', false],
  ['Prefix', '/foo', '/foo', true],
  ['Prefix', '/foo', '/foo/', true],
  ['Prefix', '/foo/', '/foo', true],
  ['Prefix', '/foo/', '/foo/', true],
  ['Prefix', '/aaa/bb', '/aaa/bbb', false],
  ['Prefix', '/aaa/bbb', '/aaa/bbb', true],
  ['Prefix', '/aaa/bbb/', '/aaa/bbb', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbb/', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbb/ccc', true],
  ['Prefix', '/aaa/bbb', '/aaa/bbbxyz', false],
  ['Prefix', '/aaa', '/ccc', false],
];

const PIER_EDGE_CASES: Array<[PathType, string, string, boolean]> = [
  // The query string never takes part in matching.
  ['Exact', '/foo', '/foo?x=1', true],
  ['Exact', '/foo', '/foo/?x=1', false],
  ['Prefix', '/foo', '/foo?bar', true],
  ['Prefix', '/foo', '/foobar?x=/foo', false],
  ['Prefix', '/foo', '/?/foo', false],
  // Case-sensitive, and raw bytes: nothing is percent-decoded.
  ['Exact', '/Foo', '/foo', false],
  ['Prefix', '/Foo', '/foo', false],
  ['Prefix', '/a', '/a%2Fb', false],
  ['Prefix', '/a%2Fb', '/a/b', false],
  ['Prefix', '/a b', '/a%20b', false],
  // Inner empty elements are kept, as the backend will see them.
  ['Prefix', '/a', '/a//b', true],
  ['Prefix', '/a/b', '/a//b', false],
  ['Prefix', '/foo', '/foo//', true],
];

test('single-rule matching: Kubernetes documentation examples and edge cases', () => {
  for (const [type, routePath, requestPath, expected] of [...K8S_SINGLE_RULE, ...PIER_EDGE_CASES]) {
    assert.equal(
      pathMatches(type, routePath, requestPath),
      expected,
      `${type} ${routePath} vs ${requestPath}`,
    );
  }
});

test('ImplementationSpecific behaves exactly as Prefix', () => {
  for (const [type, routePath, requestPath] of [...K8S_SINGLE_RULE, ...PIER_EDGE_CASES]) {
    if (type !== 'Prefix') continue;
    assert.equal(
      pathMatches('ImplementationSpecific', routePath, requestPath),
      pathMatches('Prefix', routePath, requestPath),
      `${routePath} vs ${requestPath}`,
    );
  }
  assert.equal(pathMatches('ImplementationSpecific', '', '/anything'), true);
});

const P = (path: string): PathRule => ({ path, pathType: 'Prefix' });
const E = (path: string): PathRule => ({ path, pathType: 'Exact' });

/** The multi-rule rows of the Kubernetes examples table, plus tie-breaking. */
const MULTI_RULE: Array<[string, PathRule[], string, number]> = [
  ['longest prefix wins', [P('/'), P('/aaa')], '/aaa/ccc', 1],
  ['deepest of three', [P('/'), P('/aaa'), P('/aaa/bbb')], '/aaa/bbb', 2],
  ['falls back to /', [P('/'), P('/aaa'), P('/aaa/bbb')], '/ccc', 0],
  ['no match: default backend', [P('/aaa')], '/ccc', -1],
  ['Exact beats Prefix of the same path', [P('/foo'), E('/foo')], '/foo', 1],
  ['Exact beats Prefix listed after it', [E('/foo'), P('/foo')], '/foo', 0],
  ['Prefix serves what Exact does not', [P('/foo'), E('/foo')], '/foo/', 0],
  ['order does not decide length', [P('/aaa/bbb'), P('/aaa')], '/aaa/bbb/c', 0],
  ['first of equal prefixes', [P('/foo'), P('/foo/')], '/foo/bar', 0],
  ['first of equal exacts', [E('/x'), E('/x')], '/x', 0],
];

test('bestPathMatch applies Ingress precedence', () => {
  for (const [name, rules, requestPath, expected] of MULTI_RULE) {
    assert.equal(bestPathMatch(rules, requestPath), expected, name);
  }
});

test('pathElements', () => {
  const rows: Array<[string, string[]]> = [
    ['/', []],
    ['', []],
    ['/foo', ['foo']],
    ['/foo/', ['foo']],
    ['/foo/bar?x=/y', ['foo', 'bar']],
    ['/a//b', ['a', '', 'b']],
  ];
  for (const [path, expected] of rows) assert.deepEqual(pathElements(path), expected, path);
});

test('validateIngressPath accepts what the API server accepts', () => {
  const rows: Array<[PathType, string]> = [
    ['Prefix', '/'],
    ['Exact', '/foo/'],
    ['Prefix', '/aaa/bbb'],
    ['ImplementationSpecific', ''],
    ['ImplementationSpecific', '/a//b'],
    ['Prefix', '/.well-known/acme'],
  ];
  for (const [type, path] of rows) assert.equal(validateIngressPath(type, path), undefined, path);
});

test('validateIngressPath rejects what the API server rejects', () => {
  const rows: Array<[PathType, string, RegExp]> = [
    ['Prefix', 'foo', /absolute/],
    ['Exact', '', /absolute/],
    ['ImplementationSpecific', 'foo', /absolute/],
    ['Prefix', '/a b', /whitespace/],
    ['Exact', '/a\tb', /whitespace/],
    ['Prefix', '/a\u0000', /control/],
    ['Prefix', '/a//b', /'\/\/'/],
    ['Exact', '/a/./b', /'\/\.\/'/],
    ['Prefix', '/a/../b', /'\/\.\.\/'/],
    ['Prefix', '/a%2Fb', /'%2F'/],
    ['Prefix', '/a/..', /end with/],
    ['Exact', '/a/.', /end with/],
    ['Regex' as PathType, '/a', /unknown path type/],
  ];
  for (const [type, path, message] of rows) {
    assert.match(validateIngressPath(type, path) ?? 'accepted', message, `${type} ${path}`);
  }
});
