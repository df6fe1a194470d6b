import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { formatMigrationReport, migrationReport } from './migration-report.ts';

const N = 'nginx.ingress.kubernetes.io/';

function ingress(
  name: string,
  className: string | undefined,
  annotations: Record<string, string>,
): V1Ingress {
  return {
    metadata: { name, namespace: 'shop', annotations },
    spec: className === undefined ? {} : { ingressClassName: className },
  };
}

const ingresses = [
  ingress('web', 'nginx', {
    [`${N}ssl-redirect`]: 'false',
    'cert-manager.io/cluster-issuer': 'le',
  }),
  ingress('api', 'nginx', {
    [`${N}proxy-buffering`]: 'off',
    [`${N}configuration-snippet`]: 'more_set_headers "A: b";',
    [`${N}permanent-redirect-code`]: '999',
    [`${N}permanent-redirect`]: 'https://api.example.com/',
  }),
  {
    ...ingress('old', undefined, {
      'kubernetes.io/ingress.class': 'nginx',
      [`${N}ssl-redirects`]: 'x',
    }),
  },
  ingress('other', 'traefik', { [`${N}rewrite-target`]: '/' }),
  ingress('classless', undefined, {}),
];

test('migration report: per Ingress what is honoured, ignored, never run or invalid', () => {
  const report = migrationReport(ingresses, ['nginx']);
  assert.equal(report.skipped, 1, 'the traefik Ingress is not checked');
  assert.deepEqual(report.summary, { ingresses: 4, unchanged: 2, changes: 2 });
  const [api, classless, old, web] = report.ingresses;
  assert.deepEqual(
    [api, classless, old, web].map((i) => [i?.name, i?.className, i?.verdict]),
    [
      ['api', 'nginx', 'changes'],
      ['classless', '', 'unchanged'],
      ['old', 'nginx', 'changes'],
      ['web', 'nginx', 'unchanged'],
    ],
  );
  assert.deepEqual(
    api?.honoured.map((a) => a.annotation),
    [`${N}permanent-redirect`, `${N}permanent-redirect-code`],
  );
  assert.deepEqual(
    api?.ignored.map((a) => a.annotation),
    [`${N}proxy-buffering`],
  );
  assert.deepEqual(
    api?.neverRun.map((a) => a.annotation),
    [`${N}configuration-snippet`],
  );
  assert.deepEqual(api?.invalid, [
    {
      annotation: `${N}permanent-redirect-code`,
      note: "'999' is not a redirect code from 300 to 308; using 301",
    },
  ]);
  assert.deepEqual(old?.ignored, [
    { annotation: `${N}ssl-redirects`, note: 'not an ingress-nginx annotation Pier knows' },
  ]);
});

test('migration report: the table says it line by line', () => {
  const text = formatMigrationReport(migrationReport(ingresses, ['nginx']));
  assert.equal(
    text,
    [
      'INGRESS         CLASS   HONOURED  IGNORED  NEVER RUN  INVALID  VERDICT',
      'shop/api        nginx   2         1        1          1        changes',
      'shop/classless  (none)  0         0        0          0        unchanged',
      'shop/old        nginx   0         1        0          0        changes',
      'shop/web        nginx   1         0        0          0        unchanged',
      '',
      'shop/api:',
      `  never run  ${N}configuration-snippet: a snippet of nginx configuration; Pier never executes snippets`,
      `  ignored    ${N}proxy-buffering: Pier streams responses; there is nothing to buffer`,
      `  invalid    ${N}permanent-redirect-code: '999' is not a redirect code from 300 to 308; using 301`,
      '',
      'shop/old:',
      `  ignored    ${N}ssl-redirects: not an ingress-nginx annotation Pier knows`,
      '',
      '4 Ingresses of class nginx or none: 2 served as ingress-nginx serves them, 2 with changes; 1 of other classes not checked',
      '',
    ].join('\n'),
  );
});
