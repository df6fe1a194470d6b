import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { type NginxRateLimit, parseNginxRateLimit } from './nginx-rate-limit.ts';

const P = NGINX_ANNOTATION_PREFIX;
const on = (entries: Record<string, string>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [P + k, v]));

// ingress-nginx's internal/ingress/annotations/ratelimit/main.go and annotations.md#rate-limiting.
const rows: Array<{
  name: string;
  annotations: Record<string, string>;
  limit: NginxRateLimit | undefined;
  problems?: string[];
}> = [
  { name: 'nothing set', annotations: {}, limit: undefined },
  {
    name: 'limit-rps: burst 5 × the rate by default',
    annotations: on({ 'limit-rps': '10' }),
    limit: { perSecond: { rate: 10, burst: 50 } },
  },
  {
    name: 'all three, a multiplier, and an allowlist',
    annotations: on({
      'limit-rps': '2',
      'limit-rpm': '+90',
      'limit-connections': '3',
      'limit-burst-multiplier': '1',
      'limit-allowlist': '10.0.0.0/8, 192.0.2.7 ,2001:DB8::/32',
    }),
    limit: {
      perSecond: { rate: 2, burst: 2 },
      perMinute: { rate: 90, burst: 90 },
      connections: 3,
      exempt: ['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32'],
    },
  },
  {
    name: 'limit-whitelist, the older name; limit-allowlist wins when both are set',
    annotations: on({
      'limit-connections': '1',
      'limit-whitelist': '10.0.0.0/8',
      'limit-allowlist': '192.0.2.0/24',
    }),
    limit: { connections: 1, exempt: ['192.0.2.0/24'] },
  },
  {
    name: 'limit-whitelist alone',
    annotations: on({ 'limit-connections': '1', 'limit-whitelist': '10.0.0.0/8' }),
    limit: { connections: 1, exempt: ['10.0.0.0/8'] },
  },
  {
    name: '0 and negative numbers mean no limit, as in ingress-nginx',
    annotations: on({ 'limit-rps': '0', 'limit-rpm': '-5', 'limit-allowlist': '10.0.0.0/8' }),
    limit: undefined,
  },
  {
    name: 'a value that is not a number: reported, that limit off, the others kept',
    annotations: on({ 'limit-rps': '10r/s', 'limit-connections': '2' }),
    limit: { connections: 2 },
    problems: [`${P}limit-rps: '10r/s' is not a whole number; no such limit`],
  },
  {
    name: 'a multiplier below 1 (nginx refuses burst=0): reported, 5 used',
    annotations: on({ 'limit-rpm': '6', 'limit-burst-multiplier': '0' }),
    limit: { perMinute: { rate: 6, burst: 30 } },
    problems: [`${P}limit-burst-multiplier: '0' is not a whole number of at least 1; using 5`],
  },
  {
    name: 'a bad allowlist entry: reported, no one exempt',
    annotations: on({ 'limit-rps': '1', 'limit-allowlist': '10.0.0.0/8, office' }),
    limit: { perSecond: { rate: 1, burst: 5 } },
    problems: [`${P}limit-allowlist: 'office' is not an address or CIDR; no client is exempt`],
  },
  {
    name: 'numbers past a billion are held to it, and so are bursts',
    annotations: on({ 'limit-rps': '5000000000', 'limit-rpm': '400000000' }),
    limit: {
      perSecond: { rate: 1_000_000_000, burst: 1_000_000_000 },
      perMinute: { rate: 400_000_000, burst: 1_000_000_000 },
    },
    problems: [`${P}limit-rps: '5000000000' is above 1000000000; using 1000000000`],
  },
  {
    name: 'limit-rate and limit-rate-after alone are no request limit',
    annotations: on({ 'limit-rate': '100', 'limit-rate-after': '1024' }),
    limit: undefined,
  },
];

for (const row of rows) {
  test(`nginx rate limits: ${row.name}`, () => {
    const problems: AnnotationProblem[] = [];
    assert.deepEqual(parseNginxRateLimit(row.annotations, problems), row.limit);
    assert.deepEqual(
      problems.map((p) => `${p.annotation}: ${p.message}`),
      row.problems ?? [],
    );
  });
}
