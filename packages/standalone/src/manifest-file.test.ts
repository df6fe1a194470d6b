import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { combineManifestFiles } from './manifest-directory.ts';
import { formatProblem, parseManifestFile } from './manifest-file.ts';

const SERVICE = `apiVersion: v1
kind: Service
metadata: { name: shop }
spec: { ports: [{ port: 80 }] }
`;
const BAD_INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: shop }
spec:
  rules:
    - http:
        paths:
          - { path: /, pathType: Sometimes, backend: { service: { name: shop, port: { number: 80 } } } }
`;

describe('parseManifestFile', () => {
  test('keeps the good documents and reports each bad one as one line with file, object and field', () => {
    const parsed = parseManifestFile('examples/shop.yaml', `${SERVICE}---\n${BAD_INGRESS}---\n`);
    assert.equal(parsed.parsed, true);
    assert.deepEqual(
      parsed.objects.map((o) => [o.kind, o.namespace, o.name, o.file]),
      [['Service', 'default', 'shop', 'examples/shop.yaml']],
    );
    assert.deepEqual(parsed.problems.map(formatProblem), [
      'examples/shop.yaml: Ingress default/shop: spec.rules[0].http.paths[0].pathType: must be Exact, Prefix or ImplementationSpecific',
    ]);
  });

  test('names a document by its position while its identity is unknown', () => {
    const parsed = parseManifestFile('a.yaml', `${SERVICE}---\nkind: Service\n`);
    assert.deepEqual(parsed.problems.map(formatProblem), [
      'a.yaml: document 2: apiVersion: is required',
    ]);
  });

  test('a YAML syntax error marks the whole file unparsed, with the line', () => {
    const parsed = parseManifestFile('a.yaml', `${SERVICE}---\nkind: [Service\n`);
    assert.equal(parsed.parsed, false);
    assert.deepEqual(parsed.objects, []);
    assert.equal(parsed.problems.length > 0, true);
    assert.match(formatProblem(parsed.problems[0] as never), /^a\.yaml: line \d+: /);
  });

  test('empty documents and comments are no objects and no problems', () => {
    const parsed = parseManifestFile('a.yaml', '# nothing yet\n---\n---\n');
    assert.deepEqual(parsed, { parsed: true, objects: [], problems: [] });
  });
});

describe('combineManifestFiles', () => {
  test('an object defined twice is kept from the first file and reported where it is repeated', () => {
    const a = parseManifestFile('dir/a.yaml', SERVICE);
    const b = parseManifestFile('dir/b.yaml', SERVICE);
    const snapshot = combineManifestFiles([a, b]);
    assert.deepEqual(
      snapshot.objects.map((o) => o.file),
      ['dir/a.yaml'],
    );
    assert.deepEqual(snapshot.problems.map(formatProblem), [
      'dir/b.yaml: Service default/shop: defined again; the one in dir/a.yaml is used',
    ]);
  });
});
