import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RouteInputs } from './route-inputs.ts';

const ingress = (generation: number, extra: Record<string, unknown> = {}) => ({
  metadata: {
    namespace: 'shop',
    name: 'web',
    generation,
    // Text, as the API server's JSON has it (the client's types say Date).
    creationTimestamp: '2026-12-07T10:00:00Z' as unknown as Date,
    annotations: { 'pier.dev/a': '1', 'pier.dev/b': '2' },
  },
  ...extra,
});

test('a status write or a reordered annotation changes no route input; a spec or annotation change does', () => {
  const inputs = new RouteInputs();
  assert.equal(inputs.changed('ingress', 'add', ingress(1)), true, 'first sight');
  assert.equal(
    inputs.changed('ingress', 'update', ingress(1, { status: { loadBalancer: {} } })),
    false,
    'status only',
  );
  const reordered = ingress(1);
  reordered.metadata.annotations = { 'pier.dev/b': '2', 'pier.dev/a': '1' };
  assert.equal(inputs.changed('ingress', 'update', reordered), false, 'annotation order');
  assert.equal(inputs.changed('ingress', 'update', ingress(2)), true, 'a new generation');
  const annotated = ingress(2);
  annotated.metadata.annotations = { 'pier.dev/a': '9', 'pier.dev/b': '2' };
  assert.equal(inputs.changed('ingress', 'update', annotated), true, 'an annotation');
  assert.equal(inputs.changed('ingress', 'delete', annotated), true, 'a delete');
  assert.equal(inputs.changed('ingress', 'add', annotated), true, 'seen again after the delete');
});

test('a Service is compared by its spec, whatever the order of its keys, and apart from an Ingress of the same name', () => {
  const inputs = new RouteInputs();
  const meta = { namespace: 'shop', name: 'web' };
  assert.equal(
    inputs.changed('service', 'add', { metadata: meta, spec: { ports: [80], type: 'ClusterIP' } }),
    true,
  );
  assert.equal(
    inputs.changed('service', 'update', {
      metadata: meta,
      spec: { type: 'ClusterIP', ports: [80] },
    }),
    false,
  );
  assert.equal(
    inputs.changed('service', 'update', {
      metadata: meta,
      spec: { type: 'ClusterIP', ports: [8080] },
    }),
    true,
  );
  assert.equal(
    inputs.changed('ingress', 'add', { metadata: meta }),
    true,
    'another resource, another key',
  );
});
