import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareByAge, type HasMetadata, namespacedName } from './object-age.ts';

const at = (
  namespace: string,
  name: string,
  created?: Date | string,
  uid?: string,
): HasMetadata => ({
  metadata: {
    namespace,
    name,
    ...(created === undefined ? {} : { creationTimestamp: created as Date }),
    ...(uid === undefined ? {} : { uid }),
  },
});

const cases: Array<[string, HasMetadata[], string[]]> = [
  [
    'older first',
    [
      at('a', 'new', new Date('2024-01-02T00:00:00Z')),
      at('z', 'old', new Date('2024-01-01T00:00:00Z')),
    ],
    ['z/old', 'a/new'],
  ],
  [
    'same time: namespace, then name, by code unit (not locale)',
    [
      at('b', 'x', new Date(0)),
      at('a', 'b', new Date(0)),
      at('a', 'B', new Date(0)),
      at('a', 'a', new Date(0)),
    ],
    ['a/B', 'a/a', 'a/b', 'b/x'],
  ],
  [
    'timestamps as strings (manifests) compare as times',
    [at('a', 'late', '2024-01-01T00:00:10Z'), at('a', 'early', '2024-01-01T00:00:09Z')],
    ['a/early', 'a/late'],
  ],
  [
    'no timestamp counts as the epoch',
    [at('a', 'dated', new Date('2024-01-01T00:00:00Z')), at('z', 'undated')],
    ['z/undated', 'a/dated'],
  ],
];

for (const [name, objects, expected] of cases) {
  test(`object age: ${name}`, () => {
    assert.deepEqual([...objects].sort(compareByAge).map(namespacedName), expected);
    assert.deepEqual([...objects].reverse().sort(compareByAge).map(namespacedName), expected);
  });
}

test('object age: same namespace/name and time: the uid decides, so the order is total', () => {
  const a = at('n', 'x', new Date(0), 'uid-a');
  const b = at('n', 'x', new Date(0), 'uid-b');
  assert.equal(compareByAge(a, b) < 0, true);
  assert.equal(compareByAge(b, a) > 0, true);
});
