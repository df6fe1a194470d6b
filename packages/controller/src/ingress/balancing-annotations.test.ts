import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BalancingSettings } from '@pier/shared';
import { parseBalancingAnnotations, sameBalancing } from './balancing-annotations.ts';

const LB = 'pier.dev/load-balance';
const AFF = 'pier.dev/affinity';
const NAME = 'pier.dev/affinity-cookie-name';
const TTL = 'pier.dev/affinity-cookie-ttl';

const cases: Array<
  [string, Record<string, string> | undefined, BalancingSettings | undefined, string[]]
> = [
  ['no annotations: no preference', undefined, undefined, []],
  ['unrelated annotations: no preference', { 'pier.dev/address-pool': 'x' }, undefined, []],
  ['empty values count as absent', { [LB]: ' ', [AFF]: '' }, undefined, []],
  ['round robin', { [LB]: 'round-robin' }, { algorithm: 'round-robin' }, []],
  ['p2c, trimmed', { [LB]: ' p2c ' }, { algorithm: 'p2c' }, []],
  [
    'cookie affinity with defaults',
    { [AFF]: 'cookie' },
    { algorithm: 'p2c', affinity: { cookieName: 'pier-affinity', ttlSeconds: 3600 } },
    [],
  ],
  [
    'cookie affinity with name and ttl',
    { [LB]: 'round-robin', [AFF]: 'cookie', [NAME]: 'sid', [TTL]: '60' },
    { algorithm: 'round-robin', affinity: { cookieName: 'sid', ttlSeconds: 60 } },
    [],
  ],
  ['unknown algorithm: default used', { [LB]: 'random' }, { algorithm: 'p2c' }, [LB]],
  ['unknown affinity: none', { [AFF]: 'ip' }, { algorithm: 'p2c' }, [AFF]],
  [
    'bad cookie name: default name',
    { [AFF]: 'cookie', [NAME]: 'a b;c' },
    { algorithm: 'p2c', affinity: { cookieName: 'pier-affinity', ttlSeconds: 3600 } },
    [NAME],
  ],
  ...(['0', '-5', '1.5', '10s', '99999999999'].map((ttl) => [
    `bad ttl '${ttl}': default ttl`,
    { [AFF]: 'cookie', [TTL]: ttl },
    { algorithm: 'p2c', affinity: { cookieName: 'pier-affinity', ttlSeconds: 3600 } },
    [TTL],
  ]) as Array<[string, Record<string, string>, BalancingSettings, string[]]>),
  [
    'cookie settings without affinity have no effect',
    { [NAME]: 'sid', [TTL]: '60' },
    { algorithm: 'p2c' },
    [NAME, TTL],
  ],
];

for (const [name, annotations, settings, bad] of cases) {
  test(`balancing annotations: ${name}`, () => {
    const parsed = parseBalancingAnnotations(annotations);
    assert.deepEqual(parsed.settings, settings);
    assert.deepEqual(
      parsed.problems.map((p) => p.annotation),
      bad,
    );
    for (const p of parsed.problems) assert.ok(p.message.length > 0);
  });
}

test('balancing annotations: sameBalancing compares every field', () => {
  const base: BalancingSettings = {
    algorithm: 'p2c',
    affinity: { cookieName: 'a', ttlSeconds: 1 },
  };
  assert.equal(sameBalancing(base, structuredClone(base)), true);
  assert.equal(sameBalancing(base, { ...base, algorithm: 'round-robin' }), false);
  assert.equal(sameBalancing(base, { algorithm: 'p2c' }), false);
  assert.equal(
    sameBalancing(base, { algorithm: 'p2c', affinity: { cookieName: 'a', ttlSeconds: 2 } }),
    false,
  );
  assert.equal(
    sameBalancing(base, { algorithm: 'p2c', affinity: { cookieName: 'b', ttlSeconds: 1 } }),
    false,
  );
});
