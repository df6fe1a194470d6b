import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import { backend, sampleTable } from './fixtures.test.ts';
import {
  canonicalJson,
  decodeRoutePatch,
  decodeRouteTable,
  encodeRoutePatch,
  encodeRouteTable,
  tableChecksum,
} from './route-codec.ts';
import type { RoutePatch } from './route-patch.ts';
import { emptyRouteTable } from './route-table.ts';

test('canonicalJson sorts keys at every level and is otherwise JSON', () => {
  const rows: Array<[unknown, string]> = [
    [
      { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } },
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    ],
    // Integer-like keys sort as strings too (JS objects would put them first, numerically).
    [{ 9: 'x', 10: 'y', a: 'z' }, '{"10":"y","9":"x","a":"z"}'],
    [{ a: undefined, b: () => 1, c: 1 }, '{"c":1}'],
    [[undefined, Number.NaN, Number.POSITIVE_INFINITY], '[null,null,null]'],
    ['quote " and \n newline', '"quote \\" and \\n newline"'],
    [new Date(Date.UTC(2025, 0, 2)), '"2025-01-02T00:00:00.000Z"'],
    [{ nested: { toJSON: () => ({ b: 2, a: 1 }) } }, '{"nested":{"a":1,"b":2}}'],
    [-0, '0'],
    [[], '[]'],
    [{}, '{}'],
  ];
  for (const [value, expected] of rows) assert.equal(canonicalJson(value), expected);
  assert.throws(() => canonicalJson(1n), TypeError);
  assert.throws(() => canonicalJson(undefined), TypeError);
});

test('equal content encodes to equal bytes, whatever the key order', () => {
  const a = sampleTable(2);
  const b = JSON.parse(JSON.stringify(a));
  b.backends = Object.fromEntries(Object.entries(a.backends).reverse());
  assert.equal(encodeRouteTable(a), encodeRouteTable(b));
});

test('a table survives encode and decode', () => {
  const t = sampleTable(12);
  const { table, problems } = decodeRouteTable(encodeRouteTable(t));
  assert.deepEqual(problems, []);
  assert.deepEqual(table, t);
});

test('decodeRouteTable drops bad entries and refuses non-tables', () => {
  const t = JSON.parse(encodeRouteTable(sampleTable(12)));
  t.backends['shop/web:80'].balancing.algorithm = 'random';
  const { table, problems } = decodeRouteTable(JSON.stringify(t));
  assert.equal(table.backends['shop/web:80'], undefined);
  assert.ok(table.backends['shop/api:http']);
  assert.ok(problems.some((p) => p.field === 'balancing.algorithm'));
  for (const text of ['', '{', 'null', '[]', '{"revision":"1"}']) {
    assert.throws(
      () => decodeRouteTable(text),
      (err) => isPierError(err, 'PIER_INVALID_ROUTE_TABLE'),
      text,
    );
  }
});

test('tableChecksum covers content, not revision or key order', () => {
  // Pinned: dataplanes and the controller compare checksums across versions.
  assert.equal(
    tableChecksum(emptyRouteTable()),
    '38cee86caa019ca204ff339b4ecfe1dd32b16dabae4bcb34ce4c90546b0adfdd',
  );
  const a = sampleTable(1);
  const reordered = JSON.parse(JSON.stringify({ ...a, revision: 99 }));
  reordered.virtualHosts = Object.fromEntries(Object.entries(a.virtualHosts).reverse());
  assert.equal(tableChecksum(a), tableChecksum(reordered));
  reordered.backends['shop/web:80'].endpoints[0].ready = false;
  assert.notEqual(tableChecksum(a), tableChecksum(reordered));
});

const GOOD_PATCH: RoutePatch = {
  fromRevision: 4,
  toRevision: 5,
  set: { backends: { 'shop/img:80': backend('img') } },
  remove: { virtualHosts: ['203.0.113.1|'] },
};

test('a patch survives encode and decode', () => {
  assert.deepEqual(decodeRoutePatch(encodeRoutePatch(GOOD_PATCH)), GOOD_PATCH);
});

test('decodeRoutePatch refuses a patch with any problem, naming it', () => {
  const json = (p: unknown) => JSON.stringify(p);
  const rows: Array<[string, string, RegExp]> = [
    ['not JSON', '{', /not valid JSON/],
    ['not an object', '[]', /must be an object/],
    [
      'revisions do not advance',
      json({ ...GOOD_PATCH, toRevision: 4 }),
      /toRevision: must be greater/,
    ],
    [
      'negative revision',
      json({ ...GOOD_PATCH, fromRevision: -1 }),
      /fromRevision: must be a non-negative/,
    ],
    [
      'invalid entry',
      json({
        ...GOOD_PATCH,
        set: { backends: { 'shop/img:80': { ...backend('img'), endpoints: {} } } },
      }),
      /set\.backends\[shop\/img:80\]\.endpoints: must be an array/,
    ],
    [
      'invalid route inside a virtual host',
      json({
        ...GOOD_PATCH,
        set: {
          virtualHosts: {
            '203.0.113.1|a.example': { address: '203.0.113.1', host: 'a.example', routes: [{}] },
          },
        },
      }),
      /routes\[0\]/,
    ],
    [
      'remove is not a list',
      json({ ...GOOD_PATCH, remove: { backends: 'x' } }),
      /remove\.backends/,
    ],
    ['missing set', json({ ...GOOD_PATCH, set: undefined }), /set: must be an object/],
    [
      'set and removed',
      json({ ...GOOD_PATCH, remove: { backends: ['shop/img:80'] } }),
      /'shop\/img:80' is also set/,
    ],
  ];
  for (const [name, text, message] of rows) {
    assert.throws(
      () => decodeRoutePatch(text),
      (err) => isPierError(err, 'PIER_INVALID_ROUTE_PATCH') && message.test(err.message),
      name,
    );
  }
});
