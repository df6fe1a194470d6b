import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backend, certificate, route, seededRandom, vhost } from './fixtures.test.ts';
import { decodeRouteTable, encodeRouteTable } from './route-codec.ts';
import { type ChangedKeys, ROUTE_SECTIONS } from './route-entries.ts';
import { diffRouteTables, type RoutePatch } from './route-patch.ts';
import type { RouteTable } from './route-table.ts';
import { virtualHostKey } from './route-table.ts';
import { RouteTableState } from './route-table-state.ts';
import { validateRouteTable } from './route-table-validation.ts';

const web = backend('web');
const api = backend('api');
const tls = certificate('shop/tls');
const shopKey = virtualHostKey('203.0.113.1', 'shop.example.com');
const shop = vhost('203.0.113.1', 'shop.example.com', [route('/', 'Prefix', web.id)], {
  tls: { certificate: tls.id },
});
const apiKey = virtualHostKey('203.0.113.1', 'api.example.com');
const apiHost = vhost('203.0.113.1', 'api.example.com', [
  route('/', 'Prefix', api.id),
  route('/web', 'Prefix', web.id),
]);

function tableOf(revision: number, parts: Partial<Omit<RouteTable, 'revision'>>): RouteTable {
  return { revision, virtualHosts: {}, backends: {}, certificates: {}, ...parts };
}

const base = tableOf(1, {
  virtualHosts: { [shopKey]: shop, [apiKey]: apiHost },
  backends: { [web.id]: web, [api.id]: api },
  certificates: { [tls.id]: tls },
});

function patch(from: number, parts: Partial<Pick<RoutePatch, 'set' | 'remove'>>): RoutePatch {
  return { fromRevision: from, toRevision: from + 1, set: {}, remove: {}, ...parts };
}

function keys(change: { changed: ChangedKeys }): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const section of ROUTE_SECTIONS) {
    const list = [...change.changed[section]].sort();
    if (list.length > 0) out[section] = list;
  }
  return out;
}

const deltaCases: Array<{
  name: string;
  patch: RoutePatch;
  changed: Record<string, string[]>;
  problems: number;
}> = [
  {
    name: 'a backend replaced is the only change',
    patch: patch(1, { set: { backends: { [web.id]: backend('web', 80, ['192.0.2.11']) } } }),
    changed: { backends: [web.id] },
    problems: 0,
  },
  {
    name: 'an equal entry set again changes nothing',
    patch: patch(1, { set: { backends: { [web.id]: structuredClone(web) } } }),
    changed: {},
    problems: 0,
  },
  {
    name: 'a backend removed takes its routes out of the virtual hosts naming it',
    patch: patch(1, { remove: { backends: [web.id] } }),
    changed: { backends: [web.id], virtualHosts: [apiKey, shopKey] },
    problems: 2,
  },
  {
    name: 'a certificate removed takes TLS off its virtual host only',
    patch: patch(1, { remove: { certificates: [tls.id] } }),
    changed: { certificates: [tls.id], virtualHosts: [shopKey] },
    problems: 1,
  },
  {
    name: 'an invalid route in a virtual host set is dropped alone',
    patch: patch(1, {
      set: {
        virtualHosts: {
          [apiKey]: {
            ...apiHost,
            routes: [...apiHost.routes, route('/x', 'Prefix', 'shop/none:80')],
          },
        },
      },
    }),
    changed: {},
    problems: 1,
  },
  {
    name: 'a virtual host removed',
    patch: patch(1, { remove: { virtualHosts: [apiKey] } }),
    changed: { virtualHosts: [apiKey] },
    problems: 0,
  },
];

for (const c of deltaCases) {
  test(`delta: ${c.name}; the result is the whole table validated`, () => {
    const { state } = RouteTableState.fromTable(base);
    const change = state.apply(c.patch);
    assert.deepEqual(keys(change), c.changed);
    assert.equal(change.problems.length, c.problems);
    assert.equal(state.revision, 2);
    const published = applyToTable(base, c.patch);
    assert.deepEqual(state.toTable(), validateRouteTable(published).table);
  });
}

test('a reference that comes back restores what it had dropped', () => {
  const { state } = RouteTableState.fromTable(base);
  state.apply(patch(1, { remove: { backends: [web.id], certificates: [tls.id] } }));
  assert.deepEqual(state.toTable().virtualHosts[shopKey], {
    address: shop.address,
    host: shop.host,
    routes: [],
  });
  const change = state.apply(
    patch(2, { set: { backends: { [web.id]: web }, certificates: { [tls.id]: tls } } }),
  );
  assert.deepEqual(keys(change), {
    backends: [web.id],
    certificates: [tls.id],
    virtualHosts: [apiKey, shopKey],
  });
  assert.deepEqual(state.toTable(), { ...base, revision: 3 });
});

test('a delta that does not apply changes nothing', () => {
  const { state } = RouteTableState.fromTable(base);
  const before = state.encode();
  assert.throws(() => state.apply(patch(5, {})), { code: 'PIER_REVISION_GAP' });
  assert.throws(
    () =>
      state.apply(
        patch(1, { set: { backends: { [web.id]: web } }, remove: { backends: [web.id] } }),
      ),
    { code: 'PIER_INVALID_ROUTE_PATCH' },
  );
  assert.throws(() => state.apply({ ...patch(1, {}), toRevision: 1 }), {
    code: 'PIER_INVALID_ROUTE_PATCH',
  });
  assert.equal(state.encode(), before);
});

test('pieces: a corrupt one is dropped with a problem, and a later delta replaces it', () => {
  const text = (v: unknown) => JSON.stringify(v);
  const { state, problems } = RouteTableState.fromPieces(4, {
    virtualHosts: [[shopKey, text(shop)]],
    backends: [[web.id, '{not json']],
    certificates: [[tls.id, text(tls)]],
  });
  assert.deepEqual(
    problems.map((p) => [p.section, p.key]),
    [
      ['backends', web.id],
      ['virtualHosts', shopKey],
    ],
  );
  assert.deepEqual(state.toTable().virtualHosts[shopKey]?.routes, []);
  const change = state.apply(patch(4, { set: { backends: { [web.id]: web } } }));
  assert.deepEqual(keys(change), { backends: [web.id], virtualHosts: [shopKey] });
  assert.deepEqual(state.toTable().virtualHosts[shopKey], shop);
});

test('encode() is the served table, and decodes back to it', () => {
  const { state } = RouteTableState.fromTable(base);
  state.apply(patch(1, { remove: { backends: [api.id] } }));
  const { table, problems } = decodeRouteTable(state.encode());
  assert.deepEqual(problems, []);
  assert.deepEqual(table, state.toTable());
  assert.equal(encodeRouteTable(table), encodeRouteTable(state.toTable()));
});

test('encodeChunks() is encode() in pieces, of the table at the call', () => {
  const { state } = RouteTableState.fromTable(base);
  const whole = state.encode();
  const tiny = [...state.encodeChunks(10)];
  assert.ok(tiny.length > 3, `${tiny.length} pieces`);
  assert.equal(tiny.join(''), whole);
  // Pieces read after the state changed are still those of the table at the call.
  const later = state.encodeChunks(10);
  state.apply(patch(1, { remove: { backends: [api.id] } }));
  assert.equal([...later].join(''), whole);
  assert.notEqual(state.encode(), whole);
  const { table } = decodeRouteTable(whole);
  assert.equal(table.revision, base.revision);
});

test('adopt() keeps the objects of equal entries and names the others', () => {
  const { state: before } = RouteTableState.fromTable(base);
  const next = structuredClone(base);
  next.revision = 9;
  next.backends[web.id] = backend('web', 80, ['192.0.2.99']);
  const { state: after } = RouteTableState.fromTable(next);
  const changed = after.adopt(before);
  assert.deepEqual(keys({ changed }), { backends: [web.id] });
  assert.equal(after.served('backends').get(api.id), before.served('backends').get(api.id));
  assert.notEqual(after.served('backends').get(web.id), before.served('backends').get(web.id));
});

test('random deltas: the state is always the published table validated (seeded)', () => {
  const random = seededRandom(12);
  let published = tableOf(0, {});
  let { state } = RouteTableState.fromTable(published);
  for (let step = 1; step <= 300; step++) {
    const next = randomTable(random, step);
    const delta = diffRouteTables(published, next);
    if (delta === undefined) continue;
    const before = state.toTable();
    const change = state.apply(delta);
    published = next;
    const expected = validateRouteTable(published).table;
    const actual = state.toTable();
    assert.equal(encodeRouteTable(actual), encodeRouteTable(expected), `step ${step}`);
    // Every entry that differs is named; the state is the same as one built whole.
    for (const section of ROUTE_SECTIONS) {
      for (const key of new Set([
        ...Object.keys(before[section]),
        ...Object.keys(actual[section]),
      ])) {
        const differs =
          JSON.stringify(before[section][key]) !== JSON.stringify(actual[section][key]);
        if (differs) assert.ok(change.changed[section].has(key), `step ${step}: ${section} ${key}`);
      }
    }
    if (step % 50 === 0) state = RouteTableState.fromTable(published).state;
  }
});

function applyToTable(table: RouteTable, p: RoutePatch): RouteTable {
  const next = structuredClone(table);
  next.revision = p.toRevision;
  for (const section of ROUTE_SECTIONS) {
    const into = next[section] as Record<string, unknown>;
    for (const key of p.remove[section] ?? []) delete into[key];
    Object.assign(into, p.set[section] ?? {});
  }
  return next;
}

/** A table drawn from a small universe, so entries and references come and go. */
function randomTable(random: () => number, revision: number): RouteTable {
  const pick = (n: number) => Math.floor(random() * n);
  const services = ['a', 'b', 'c', 'd', 'e'];
  const backends = services
    .filter(() => random() < 0.6)
    .map((s) => backend(s, 80, [`192.0.2.${1 + pick(4)}`]));
  const certificates = ['shop/t1', 'shop/t2'].filter(() => random() < 0.5).map(certificate);
  const virtualHosts: RouteTable['virtualHosts'] = {};
  for (const host of ['h1', 'h2', 'h3', 'h4', 'h5', 'h6']) {
    if (random() < 0.3) continue;
    const routes = Array.from({ length: 1 + pick(3) }, (_, i) =>
      route(`/p${i}`, 'Prefix', `shop/${services[pick(services.length)]}:80`),
    );
    const tlsOf = random() < 0.4 ? { tls: { certificate: `shop/t${1 + pick(2)}` } } : {};
    const v = vhost('203.0.113.1', `${host}.example.com`, routes, tlsOf);
    virtualHosts[virtualHostKey(v.address, v.host)] = v;
  }
  return {
    revision,
    virtualHosts,
    backends: Object.fromEntries(backends.map((b) => [b.id, b])),
    certificates: Object.fromEntries(certificates.map((c) => [c.id, c])),
  };
}
