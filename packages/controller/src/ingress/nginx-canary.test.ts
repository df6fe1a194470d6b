import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { NGINX_DIALECT, parseNginxAnnotations } from './nginx-annotations.ts';
import { canarySplit, type NginxCanary, parseNginxCanary } from './nginx-canary.ts';

const P = NGINX_ANNOTATION_PREFIX;
const on = (entries: Record<string, string>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [P + k, v]));
const base: NginxCanary = { weight: 0, weightTotal: 100, affinity: 'sticky' };

// annotations.md#canary and internal/ingress/annotations/canary/main.go.
const rows: Array<{
  name: string;
  annotations: Record<string, string>;
  canary: NginxCanary | undefined;
  problems?: string[];
}> = [
  { name: 'no canary', annotations: {}, canary: undefined },
  { name: 'canary: "false"', annotations: on({ canary: 'false' }), canary: undefined },
  { name: 'canary: "true" alone', annotations: on({ canary: 'true' }), canary: base },
  {
    name: 'ParseBool spellings',
    annotations: on({ canary: 'T', 'canary-weight': '20' }),
    canary: { ...base, weight: 20 },
  },
  {
    name: 'every setting',
    annotations: on({
      canary: 'true',
      'canary-weight': '250',
      'canary-weight-total': '1000',
      'canary-by-header': 'X-Canary_User',
      'canary-by-header-value': 'beta',
      'canary-by-cookie': 'use_canary',
      'affinity-canary-behavior': 'legacy',
    }),
    canary: {
      weight: 250,
      weightTotal: 1000,
      header: 'x-canary-user',
      headerValue: 'beta',
      cookie: 'use_canary',
      affinity: 'legacy',
    },
  },
  {
    name: 'a pattern without a value',
    annotations: on({
      canary: 'true',
      'canary-by-header': 'x-region',
      'canary-by-header-pattern': '^(eu|us)-west$',
    }),
    canary: { ...base, header: 'x-region', headerPattern: '^(eu|us)-west$' },
  },
  {
    name: 'the value wins over the pattern',
    annotations: on({
      canary: 'true',
      'canary-by-header': 'x-region',
      'canary-by-header-value': 'eu',
      'canary-by-header-pattern': 'us',
    }),
    canary: { ...base, header: 'x-region', headerValue: 'eu' },
    problems: [`${P}canary-by-header-pattern: is unused: canary-by-header-value is set and wins`],
  },
  {
    name: 'a value keeps its spaces',
    annotations: on({
      canary: 'true',
      'canary-by-header': 'x-group',
      'canary-by-header-value': 'beta testers',
      'canary-by-cookie': 'c',
    }),
    canary: { ...base, header: 'x-group', headerValue: 'beta testers', cookie: 'c' },
  },
  {
    name: 'a value longer than a route may hold',
    annotations: on({
      canary: 'true',
      'canary-by-header': 'x-group',
      'canary-by-header-value': 'v'.repeat(4097),
    }),
    canary: { ...base, header: 'x-group' },
    problems: [
      `${P}canary-by-header-value: '${'v'.repeat(80)}…' is longer than 4096 characters; unused`,
    ],
  },
  {
    name: 'value and pattern need the header',
    annotations: on({ canary: 'true', 'canary-by-header-value': 'eu' }),
    canary: base,
    problems: [`${P}canary-by-header-value: is unused without canary-by-header`],
  },
  {
    name: 'bad values fall back as ingress-nginx does',
    annotations: on({
      canary: 'true',
      'canary-weight': 'ten',
      'canary-weight-total': '50',
      'canary-by-header': 'x canary',
      'canary-by-cookie': 'a;b',
      'affinity-canary-behavior': 'Legacy',
    }),
    canary: base,
    problems: [
      `${P}canary-weight-total: 50 is below 100, which ingress-nginx reads as 100; using 100`,
      `${P}canary-weight: 'ten' is not a whole number; using 0`,
      `${P}canary-by-header: 'x canary' is not a header name; no canary by header`,
      `${P}canary-by-cookie: 'a;b' is not a cookie name; no canary by cookie`,
      `${P}affinity-canary-behavior: 'Legacy' is not sticky or legacy; using sticky`,
    ],
  },
  {
    name: 'a weight above the total is all, below 0 none',
    annotations: on({ canary: 'true', 'canary-weight': '150' }),
    canary: { ...base, weight: 100 },
  },
  {
    name: 'a negative weight',
    annotations: on({ canary: 'true', 'canary-weight': '-5' }),
    canary: base,
    problems: [`${P}canary-weight: -5 is below 0; no request goes by weight`],
  },
  {
    name: 'a pattern that is no regular expression',
    annotations: on({ canary: 'true', 'canary-by-header': 'x', 'canary-by-header-pattern': '(' }),
    canary: { ...base, header: 'x' },
    problems: [
      `${P}canary-by-header-pattern: '(' is not a regular expression: Invalid regular expression: /(/: Unterminated group; unused`,
    ],
  },
  {
    name: 'configured but not enabled: an ordinary Ingress',
    annotations: on({ canary: 'yes', 'canary-weight': '10', 'canary-by-cookie': 'c' }),
    canary: undefined,
    problems: [
      `${P}canary: 'yes' is not true or false; using false`,
      `${P}canary-weight: is set but canary is not "true"; the Ingress is served as a main Ingress`,
      `${P}canary-by-cookie: is set but canary is not "true"; the Ingress is served as a main Ingress`,
    ],
  },
  {
    name: 'a zero weight without canary is no configuration',
    annotations: on({ 'canary-weight': '0' }),
    canary: undefined,
  },
];

for (const row of rows) {
  test(`annotations.md#canary: ${row.name}`, () => {
    const problems: AnnotationProblem[] = [];
    assert.deepEqual(parseNginxCanary(row.annotations, problems), row.canary);
    assert.deepEqual(
      problems.map((p) => `${p.annotation}: ${p.message}`),
      row.problems ?? [],
    );
  });
}

test('annotations.md#canary: precedence header, cookie, weight as split rules', () => {
  const split = canarySplit(
    { ...base, weight: 20, header: 'x-canary', cookie: 'canary' },
    'shop/main:80',
    'shop/canary:80',
  );
  assert.deepEqual(split, {
    affinity: 'primary',
    rules: [
      {
        source: 'header',
        name: 'x-canary',
        type: 'Exact',
        value: 'always',
        backend: 'shop/canary:80',
      },
      {
        source: 'header',
        name: 'x-canary',
        type: 'Exact',
        value: 'never',
        backend: 'shop/main:80',
      },
      {
        source: 'cookie',
        name: 'canary',
        type: 'Exact',
        value: 'always',
        backend: 'shop/canary:80',
      },
      { source: 'cookie', name: 'canary', type: 'Exact', value: 'never', backend: 'shop/main:80' },
    ],
    weights: [
      { backend: 'shop/main:80', weight: 80 },
      { backend: 'shop/canary:80', weight: 20 },
    ],
  });
  assert.deepEqual(
    canarySplit(
      { ...base, header: 'x-region', headerPattern: '^eu', affinity: 'legacy' },
      'm',
      'c',
    ),
    {
      affinity: 'own',
      rules: [
        {
          source: 'header',
          name: 'x-region',
          type: 'RegularExpression',
          value: '^eu',
          backend: 'c',
        },
      ],
    },
  );
  assert.deepEqual(canarySplit({ ...base, header: 'h', headerValue: 'v' }, 'm', 'c').rules, [
    { source: 'header', name: 'h', type: 'Exact', value: 'v', backend: 'c' },
  ]);
});

test('annotations.md#canary: a canary reads no other annotation of its own', () => {
  const parsed = parseNginxAnnotations(
    on({ canary: 'true', 'rewrite-target': '/x', 'cors-max-age': 'ten', 'proxy-buffering': 'off' }),
    NGINX_DIALECT,
  );
  assert.deepEqual(parsed.actions, { canary: base });
  assert.deepEqual(parsed.problems, []);
  assert.deepEqual(
    parsed.ignored.map((i) => i.annotation),
    [`${P}proxy-buffering`],
  );
});
