import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBackendSplit, RouteSplit } from './backend-split.ts';
import { reporter } from './field-reader.ts';
import { backend, route } from './fixtures.test.ts';
import type { Backend, BackendSplit } from './route-table.ts';

const main = backend('main');
const canary = backend('canary');
const backends = { [main.id]: main, [canary.id]: canary };
const affine = (b: Backend, cookieName: string): Backend => ({
  ...b,
  balancing: { algorithm: 'round-robin', affinity: { cookieName, ttlSeconds: 60 } },
});

/** ingress-nginx's canary rules as the controller writes them: header, then cookie, then weight. */
const canarySplit: BackendSplit = {
  rules: [
    { source: 'header', name: 'x-canary', type: 'Exact', value: 'always', backend: canary.id },
    { source: 'header', name: 'x-canary', type: 'Exact', value: 'never', backend: main.id },
    { source: 'cookie', name: 'canary', type: 'Exact', value: 'always', backend: canary.id },
    { source: 'cookie', name: 'canary', type: 'Exact', value: 'never', backend: main.id },
  ],
  weights: [
    { backend: main.id, weight: 80 },
    { backend: canary.id, weight: 20 },
  ],
};

const compiled = (split: BackendSplit, table = backends, primary = main) =>
  RouteSplit.of({ ...route('/', 'Prefix', primary.id), split }, primary, table) as RouteSplit;

// annotations.md#canary: precedence canary-by-header -> canary-by-cookie -> canary-weight.
test('choose: header, then cookie, then weight; other values fall through', () => {
  const split = compiled(canarySplit);
  const rows: Array<[Record<string, string>, number, string]> = [
    [{ 'x-canary': 'always' }, 0, canary.id],
    [{ 'x-canary': 'never' }, 0.99, main.id],
    [{ 'x-canary': 'never', cookie: 'canary=always' }, 0.99, main.id],
    [{ 'x-canary': 'always', cookie: 'canary=never' }, 0, canary.id],
    [{ 'x-canary': 'maybe', cookie: 'canary=always' }, 0, canary.id],
    [{ cookie: 'a=b; Canary=never' }, 0.99, main.id],
    [{ cookie: 'canary=sometimes' }, 0.99, canary.id],
    [{ 'x-canary': 'ALWAYS' }, 0.5, main.id],
    [{}, 0.79, main.id],
    [{}, 0.8, canary.id],
  ];
  for (const [headers, r, want] of rows) {
    assert.equal(split.choose(headers, () => r).id, want, `${JSON.stringify(headers)} at ${r}`);
  }
});

test('choose: without weights the primary serves what no rule decided; a pattern is found anywhere', () => {
  const split = compiled({
    rules: [
      {
        source: 'header',
        name: 'x-user',
        type: 'RegularExpression',
        value: '^beta-',
        backend: canary.id,
      },
    ],
  });
  assert.equal(split.choose({ 'x-user': 'beta-42' }, () => 0).id, canary.id);
  assert.equal(split.choose({ 'x-user': 'alpha-beta-42' }, () => 0).id, main.id);
  assert.equal(split.choose({}, () => 0).id, main.id);
  assert.equal(
    compiled({
      weights: [
        { backend: main.id, weight: 0 },
        { backend: canary.id, weight: 0 },
      ],
    }).choose({}, () => 0.5).id,
    main.id,
  );
});

test('choose: a backend missing from the table is left out of the split', () => {
  const split = compiled(canarySplit, { [main.id]: main });
  assert.equal(split.choose({ 'x-canary': 'always' }, () => 0.99).id, main.id);
  assert.deepEqual(
    split.backends.map((b) => b.id),
    [main.id],
  );
});

// annotations.md#session-affinity: affinity-canary-behavior sticky (default) and legacy.
test('choose: affinity first, the primary first; `primary` lends the primary’s cookie to the canary', () => {
  const stickyMain = affine(main, 'INGRESSCOOKIE');
  const table = { [stickyMain.id]: stickyMain, [canary.id]: canary };
  const pins = new Map([
    ['main-token', stickyMain.id],
    ['canary-token', canary.id],
  ]);
  const pinned = (b: Backend, value: string) => pins.get(value) === b.id;
  const sticky = compiled({ ...canarySplit, affinity: 'primary' }, table, stickyMain);
  const lent = sticky.backends[1] as Backend;
  assert.equal(lent.id, canary.id);
  assert.deepEqual(lent.balancing, { algorithm: 'p2c', affinity: stickyMain.balancing.affinity });
  const rows: Array<[Record<string, string>, string]> = [
    // Pinned to the main: stays there, whatever the header says (ingress-nginx's is_affinitized).
    [{ cookie: 'INGRESSCOOKIE=main-token', 'x-canary': 'always' }, stickyMain.id],
    [{ cookie: 'INGRESSCOOKIE=canary-token', 'x-canary': 'never' }, canary.id],
    [{ cookie: 'INGRESSCOOKIE=unknown', 'x-canary': 'always' }, canary.id],
  ];
  for (const [headers, want] of rows) {
    assert.equal(sticky.choose(headers, () => 0.99, pinned).id, want, JSON.stringify(headers));
  }
  // Without the lookup, affinity plays no part.
  assert.equal(sticky.choose(rows[0]?.[0] ?? {}, () => 0.99).id, canary.id);
  // `own`: the canary has no affinity of its own, so only the main's pin counts.
  const legacy = compiled({ ...canarySplit, affinity: 'own' }, table, stickyMain);
  assert.equal(
    legacy.choose({ cookie: 'INGRESSCOOKIE=canary-token', 'x-canary': 'never' }, () => 0, pinned)
      .id,
    stickyMain.id,
  );
  assert.equal(legacy.backends[1], canary, 'the canary keeps its own settings');
  // `primary` with a main without affinity: the canary's own is dropped on this route.
  const own = affine(canary, 'mine');
  const none = compiled(
    { ...canarySplit, affinity: 'primary' },
    { [main.id]: main, [own.id]: own },
  );
  assert.equal(none.backends[1]?.balancing.affinity, undefined);
});

test('checkBackendSplit: each field checked; a bad one drops the split', () => {
  const check = (raw: unknown) => {
    const problems: string[] = [];
    const split = checkBackendSplit(
      raw,
      'split.',
      reporter((field, message) => problems.push(`${field}: ${message}`)),
    );
    return { split, problems };
  };
  assert.deepEqual(check(canarySplit), { split: canarySplit, problems: [] });
  assert.deepEqual(check({ ...canarySplit, affinity: 'primary' }).problems, []);
  const bad: Array<[unknown, string]> = [
    ['x', 'split: must be an object'],
    [{ rules: 'x' }, 'split.rules: must be a list of at most 16 rules'],
    [
      { weights: [{ backend: 'a', weight: -1 }] },
      'split.weights[0].weight: must be an integer from 0 to 2147483647',
    ],
    [{ affinity: 'sticky' }, "split.affinity: must be 'own' or 'primary'"],
    [
      { rules: [{ source: 'query', name: 'a', type: 'Exact', value: 'b', backend: 'x' }] },
      "split.rules[0].source: must be 'header' or 'cookie'",
    ],
    [
      { rules: [{ source: 'header', name: 'X-Canary', type: 'Exact', value: 'b', backend: 'x' }] },
      'split.rules[0].name: must be lower-case',
    ],
    [
      {
        rules: [
          { source: 'cookie', name: 'Canary', type: 'RegularExpression', value: '(', backend: 'x' },
        ],
      },
      'split.rules[0].value: is not a regular expression: Invalid regular expression: /(/: Unterminated group',
    ],
    [
      { rules: [{ source: 'cookie', name: 'c', type: 'Glob', value: '*', backend: 'x' }] },
      'split.rules[0].type: must be one of Exact,RegularExpression',
    ],
  ];
  for (const [raw, problem] of bad) {
    const got = check(raw);
    assert.equal(got.split, undefined, problem);
    assert.deepEqual(got.problems, [problem]);
  }
});
