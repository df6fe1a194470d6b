import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route } from '@pier/shared';
import { sourceAllowed } from './source-access.ts';

const route = (sourceRanges?: Route['sourceRanges']): Route => ({
  path: '/',
  pathType: 'Prefix',
  backend: 'n/s:80',
  source: { namespace: 'n', name: 'i' },
  ...(sourceRanges === undefined ? {} : { sourceRanges }),
});

test('source ranges: deny wins, an allowlist admits only its own, IPv4 and IPv6', () => {
  const rows: Array<[string, Route['sourceRanges'], string, boolean]> = [
    ['no ranges', undefined, '198.51.100.7', true],
    ['inside the allowlist', { allow: ['198.51.100.0/24'] }, '198.51.100.7', true],
    ['outside the allowlist', { allow: ['198.51.100.0/24'] }, '203.0.113.7', false],
    ['in the denylist', { deny: ['203.0.113.0/24'] }, '203.0.113.7', false],
    ['outside the denylist', { deny: ['203.0.113.0/24'] }, '198.51.100.7', true],
    [
      'allowed and denied: denied',
      { allow: ['0.0.0.0/0'], deny: ['198.51.100.7/32'] },
      '198.51.100.7',
      false,
    ],
    ['IPv6 allowlist', { allow: ['2001:db8::/32'] }, '2001:db8::1', true],
    ['an IPv4 client against an IPv6 list', { allow: ['2001:db8::/32'] }, '192.0.2.1', false],
    ['an empty allowlist refuses everyone', { allow: [] }, '192.0.2.1', false],
    ['not an address', { allow: ['0.0.0.0/0'] }, '', false],
  ];
  for (const [name, ranges, address, allowed] of rows) {
    assert.equal(sourceAllowed(route(ranges), address), allowed, name);
  }
  assert.equal(sourceAllowed(undefined, '192.0.2.1'), true, 'the default backend has no route');
});
