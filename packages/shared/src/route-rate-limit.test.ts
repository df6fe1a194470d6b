import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import { checkRateLimit } from './route-rate-limit.ts';

const rows: Array<{ name: string; raw: unknown; problems?: string[] }> = [
  {
    name: 'every limit, with an exemption',
    raw: {
      zone: 'shop/web',
      perSecond: { rate: 2, burst: 10 },
      perMinute: { rate: 60, burst: 300 },
      connections: 3,
      exempt: ['10.0.0.0/8', '2001:db8::/32'],
    },
  },
  { name: 'a burst of 0', raw: { zone: 'shop/web', perMinute: { rate: 1, burst: 0 } } },
  {
    name: 'no limit at all',
    raw: { zone: 'shop/web', exempt: [] },
    problems: ['r.rateLimit: must set perSecond, perMinute or connections'],
  },
  {
    name: 'a rate of 0, a fractional burst',
    raw: { zone: 'shop/web', perSecond: { rate: 0, burst: 1.5 } },
    problems: [
      'r.rateLimit.perSecond.rate: must be an integer, 1-1000000000',
      'r.rateLimit.perSecond.burst: must be an integer, 0-1000000000',
    ],
  },
  {
    name: 'connections above the ceiling',
    raw: { zone: 'shop/web', connections: 2_000_000_000 },
    problems: ['r.rateLimit.connections: must be an integer, 1-1000000000'],
  },
  {
    name: 'a CIDR not in canonical form',
    raw: { zone: 'shop/web', connections: 1, exempt: ['10.0.0.1'] },
    problems: ['r.rateLimit.exempt: must be a list of canonical CIDRs'],
  },
  {
    name: 'no zone',
    raw: { connections: 1 },
    problems: ['r.rateLimit.zone: must be a string'],
  },
  {
    name: 'a zone with a control character',
    raw: { zone: 'shop/\nweb', connections: 1 },
    problems: ['r.rateLimit.zone: must be 1-512 characters, no controls'],
  },
  { name: 'not an object', raw: [1], problems: ['r.rateLimit: must be an object'] },
];

for (const row of rows) {
  test(`checkRateLimit: ${row.name}`, () => {
    const problems: string[] = [];
    const report = reporter((field, message) => problems.push(`${field}: ${message}`));
    const checked = checkRateLimit(row.raw, 'r.rateLimit.', report);
    assert.deepEqual(problems, row.problems ?? []);
    if (row.problems === undefined) assert.deepEqual(checked, row.raw);
    else assert.equal(checked, undefined);
  });
}
