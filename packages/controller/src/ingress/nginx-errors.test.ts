import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { errorCodes, parseNginxErrors, resolveErrorBackend } from './nginx-errors.ts';

const P = 'nginx.ingress.kubernetes.io/';
const on = (values: Record<string, string>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [P + k, v]));

// ingress-nginx docs, annotations.md#custom-http-errors, #default-backend,
// #disable-proxy-intercept-errors; internal/ingress/annotations/customhttperrors.
const rows: Array<{
  name: string;
  annotations: Record<string, string>;
  errors: ReturnType<typeof parseNginxErrors>;
  problems?: string[];
}> = [
  { name: 'nothing asked', annotations: {}, errors: undefined },
  {
    name: 'the doc example, sorted and deduplicated',
    annotations: on({ 'custom-http-errors': '415,404, 404 ' }),
    errors: { codes: [404, 415] },
  },
  {
    name: 'default-backend alone',
    annotations: on({ 'default-backend': 'error-pages' }),
    errors: { defaultBackend: 'error-pages' },
  },
  {
    name: 'all three',
    annotations: on({
      'custom-http-errors': '503',
      'default-backend': 'errors',
      'disable-proxy-intercept-errors': 'true',
    }),
    errors: { codes: [503], defaultBackend: 'errors', upstreamPasses: true },
  },
  {
    name: 'a code outside 400-599 drops the list',
    annotations: on({ 'custom-http-errors': '404,302' }),
    errors: undefined,
    problems: [
      `${P}custom-http-errors: '302' is not a status from 400 to 599; no status is intercepted`,
    ],
  },
  {
    name: 'not a number',
    annotations: on({ 'custom-http-errors': '4o4', 'default-backend': 'x' }),
    errors: { defaultBackend: 'x' },
    problems: [
      `${P}custom-http-errors: '4o4' is not a status from 400 to 599; no status is intercepted`,
    ],
  },
  {
    name: 'a bad Service name and a bad boolean',
    annotations: on({
      'custom-http-errors': '500',
      'default-backend': 'ns/errors',
      'disable-proxy-intercept-errors': 'yes',
    }),
    errors: { codes: [500] },
    problems: [
      `${P}default-backend: 'ns/errors' is not a Service name; the Ingress has no default backend`,
      `${P}disable-proxy-intercept-errors: 'yes' is not true or false; using false`,
    ],
  },
  {
    name: 'disable-proxy-intercept-errors alone asks for nothing',
    annotations: on({ 'disable-proxy-intercept-errors': 'true' }),
    errors: undefined,
  },
];

for (const row of rows) {
  test(`nginx errors: ${row.name}`, () => {
    const problems: AnnotationProblem[] = [];
    assert.deepEqual(parseNginxErrors(row.annotations, problems), row.errors);
    assert.deepEqual(
      problems.map((p) => `${p.annotation}: ${p.message}`),
      row.problems ?? [],
    );
  });
}

test('nginx errors: the list is bounded', () => {
  assert.equal(errorCodes(Array(401).fill('404').join(',')), 'lists more than 200 statuses');
  assert.deepEqual(errorCodes('599,400'), [400, 599]);
  assert.equal(errorCodes(' , '), "' , ' lists no status");
});

const service = (ports: V1Service['spec']): V1Service => ({
  metadata: { namespace: 'shop', name: 'errors' },
  spec: ports,
});

test('nginx errors: default-backend is the Service’s first port, or a problem naming the annotation', () => {
  const found = resolveErrorBackend('shop', 'errors', () =>
    service({ ports: [{ name: 'http', port: 8080 }, { port: 80 }] }),
  );
  assert.ok('backend' in found);
  assert.equal(found.backend.id, 'shop/errors:8080');
  assert.deepEqual(
    resolveErrorBackend('shop', 'errors', () => undefined),
    {
      reason: 'ServiceNotFound',
      message: `${P}default-backend: Service shop/errors not found; the Ingress is served without its default backend until it exists`,
    },
  );
  const portless = resolveErrorBackend('shop', 'errors', () => service({ ports: [] }));
  assert.ok('reason' in portless && portless.reason === 'ServicePortNotFound');
  const external = resolveErrorBackend('shop', 'errors', () =>
    service({ type: 'ExternalName', externalName: 'x.example', ports: [{ port: 80 }] }),
  );
  assert.ok('reason' in external && external.reason === 'UnsupportedBackend');
});
