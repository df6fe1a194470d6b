import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
  test('checks every document in order: a good one is its object, a bad one a line with file, object and field', () => {
    const parsed = parseManifestFile('examples/shop.yaml', `${SERVICE}---\n${BAD_INGRESS}---\n`);
    assert.equal(parsed.parsed, true);
    assert.deepEqual(parsed.problems, []);
    const [service, ingress] = parsed.documents;
    assert.ok(service?.ok);
    assert.deepEqual(
      [service.object.kind, service.object.namespace, service.object.name, service.object.file],
      ['Service', 'default', 'shop', 'examples/shop.yaml'],
    );
    assert.ok(ingress && !ingress.ok);
    assert.equal(ingress.object, 'Ingress default/shop', 'the object it is a version of');
    assert.equal(
      formatProblem(ingress.problem),
      'examples/shop.yaml: Ingress default/shop: spec.rules[0].http.paths[0].pathType: must be Exact, Prefix or ImplementationSpecific',
    );
  });

  test('names a document by its position while its identity is unknown', () => {
    const parsed = parseManifestFile('a.yaml', `${SERVICE}---\nkind: Service\n`);
    const bad = parsed.documents[1];
    assert.ok(bad && !bad.ok);
    assert.equal(bad.object, undefined);
    assert.equal(formatProblem(bad.problem), 'a.yaml: document 2: apiVersion: is required');
  });

  test('a YAML syntax error marks the whole file unparsed, with the line', () => {
    const parsed = parseManifestFile('a.yaml', `${SERVICE}---\nkind: [Service\n`);
    assert.equal(parsed.parsed, false);
    assert.deepEqual(parsed.documents, []);
    assert.equal(parsed.problems.length > 0, true);
    assert.match(formatProblem(parsed.problems[0] as never), /^a\.yaml: line \d+: /);
  });

  test('empty documents and comments are no objects and no problems', () => {
    const parsed = parseManifestFile('a.yaml', '# nothing yet\n---\n---\n');
    assert.deepEqual(parsed, { file: 'a.yaml', parsed: true, documents: [], problems: [] });
  });
});
