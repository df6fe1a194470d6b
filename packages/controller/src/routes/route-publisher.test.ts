import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import {
  applyRoutePatch,
  type Backend,
  backendId,
  type ChangedKeys,
  canonicalJson,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  decodeRoutePatch,
  encodeRoutePatch,
  isPierError,
  ROUTE_SECTIONS,
  type RouteEntries,
  type RouteTable,
  routeEntriesOf,
} from '@pier/shared';
import { PublicationLoop } from './publication-loop.ts';
import {
  assertNoPrivateKey,
  type PublishedPieces,
  pieceDigest,
  planPublication,
  type RedisRouteState,
} from './publication-plan.ts';
import type { PublishResult, RouteContent } from './route-publisher.ts';

const logger = createLogger({ name: 'test', level: 'silent' });

function content(...services: string[]): RouteContent {
  const backends: Record<string, Backend> = {};
  for (const service of services) {
    const id = backendId('shop', service, 80);
    backends[id] = {
      id,
      service: { namespace: 'shop', name: service },
      servicePort: 80,
      endpoints: [
        { address: '192.0.2.10', port: 8080, ready: true, serving: true, terminating: false },
      ],
      healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
      balancing: { algorithm: 'p2c' },
    };
  }
  return { virtualHosts: {}, backends, certificates: {} };
}

function entries(...services: string[]): RouteEntries {
  return routeEntriesOf(content(...services));
}

function at(revision: number, c: RouteContent): RouteTable {
  return { revision, ...c };
}

/** The tables the pieces of {@link pieces} were made from. */
const tables = new WeakMap<PublishedPieces, RouteTable>();

/** The pieces of `c` at `revision`, as Redis would hold them. */
function pieces(revision: number, c: RouteContent): PublishedPieces {
  const digests = (record: Record<string, unknown>) =>
    new Map(Object.entries(record).map(([k, v]) => [k, pieceDigest(canonicalJson(v))]));
  const made = {
    revision,
    digests: {
      virtualHosts: digests(c.virtualHosts),
      backends: digests(c.backends),
      certificates: digests(c.certificates),
    },
  };
  tables.set(made, at(revision, c));
  return made;
}

function state(partial: Partial<RedisRouteState>): RedisRouteState {
  return { base: pieces(0, content()), highest: 0, logBehind: false, ...partial };
}

const planCases: Array<{
  name: string;
  state: RedisRouteState;
  content: RouteContent;
  changed?: ChangedKeys;
  expect:
    | { write: false; revision: number }
    | { write: true; revision: number; from: number; full: boolean; pieces: number };
}> = [
  {
    name: 'an empty Redis starts at revision 1, from the empty table',
    state: state({}),
    content: content('web'),
    expect: { write: true, revision: 1, from: 0, full: false, pieces: 1 },
  },
  {
    name: 'new content is the next revision, and only the new entry is written',
    state: state({ base: pieces(7, content('web')), highest: 7 }),
    content: content('web', 'api'),
    expect: { write: true, revision: 8, from: 7, full: false, pieces: 1 },
  },
  {
    name: 'unchanged content writes nothing',
    state: state({ base: pieces(7, content('web')), highest: 7 }),
    content: content('web'),
    expect: { write: false, revision: 7 },
  },
  {
    name: 'empty content into an empty Redis writes nothing',
    state: state({}),
    content: content(),
    expect: { write: false, revision: 0 },
  },
  {
    name: 'an entry gone is removed',
    state: state({ base: pieces(7, content('web', 'api')), highest: 7 }),
    content: content('web'),
    expect: { write: true, revision: 8, from: 7, full: false, pieces: 1 },
  },
  {
    name: 'only the keys said to change are compared',
    state: state({ base: pieces(7, content('web')), highest: 7 }),
    content: content('web', 'api'),
    changed: { virtualHosts: new Set(), backends: new Set(), certificates: new Set() },
    expect: { write: false, revision: 7 },
  },
  {
    name: 'an unknown base rewrites every piece and skips a revision, so readers resync',
    state: state({ base: undefined, highest: 7 }),
    content: content('web'),
    expect: { write: true, revision: 9, from: 8, full: true, pieces: 1 },
  },
  {
    name: 'an unknown base with nothing to publish still clears what is there',
    state: state({ base: undefined, highest: 12 }),
    content: content(),
    expect: { write: true, revision: 14, from: 13, full: true, pieces: 0 },
  },
  {
    name: 'a change log behind the revision gets a new revision even for unchanged content',
    state: state({ base: pieces(7, content('web')), highest: 7, logBehind: true }),
    content: content('web'),
    expect: { write: true, revision: 8, from: 7, full: false, pieces: 0 },
  },
];

for (const c of planCases) {
  test(`plan: ${c.name}`, () => {
    const plan = planPublication(
      c.state,
      routeEntriesOf(c.content),
      c.changed ? { changed: c.changed } : {},
    );
    if (!c.expect.write) {
      assert.deepEqual(plan, c.expect);
      return;
    }
    assert.ok(plan.write);
    const written = ROUTE_SECTIONS.reduce(
      (n, s) => n + plan.writes[s].set.size + plan.writes[s].remove.length,
      0,
    );
    assert.deepEqual(
      { revision: plan.revision, from: plan.fromRevision, full: plan.full, pieces: written },
      {
        revision: c.expect.revision,
        from: c.expect.from,
        full: c.expect.full,
        pieces: c.expect.pieces,
      },
    );
    if (plan.full) {
      assert.equal(plan.delta, undefined, 'no reader holds the base: no delta is logged');
      return;
    }
    // The delta is the canonical patch, and applied to the base it gives exactly the new table.
    assert.ok(plan.delta !== undefined);
    const base = c.state.base as PublishedPieces;
    const baseTable = tableOf(base);
    const patch = decodeRoutePatch(plan.delta);
    assert.equal(plan.delta, encodeRoutePatch(patch));
    assert.deepEqual(applyRoutePatch(baseTable, patch), at(plan.revision, c.content));
  });
}

function tableOf(p: PublishedPieces): RouteTable {
  return tables.get(p) as RouteTable;
}

test('plan: a delta larger than the bound is not logged; readers read the pieces', () => {
  const plan = planPublication(state({}), entries('web', 'api'), { maxDeltaBytes: 100 });
  assert.ok(plan.write);
  assert.equal(plan.full, false);
  assert.equal(plan.delta, undefined);
  assert.equal(plan.writes.backends.set.size, 2);
});

test('a table carrying a plaintext private key is never written to Redis', () => {
  const c = content('web');
  const table: RouteTable = {
    ...at(1, c),
    certificates: {
      'shop/tls': {
        id: 'shop/tls',
        secret: { namespace: 'shop', name: 'tls' },
        certificatePem: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
        key: { alg: 'AES-256-GCM', keyId: 'k1', iv: 'AAAA', tag: 'AAAA', ciphertext: 'AAAA' },
      },
    },
  };
  const plan = planPublication(state({}), routeEntriesOf(table));
  assert.ok(plan.write);
  assert.throws(
    () => assertNoPrivateKey(plan),
    (err) =>
      isPierError(err, 'PIER_KEY_SEAL_FAILED') && /shop\/tls/.test(JSON.stringify(err.details)),
  );
});

/** A publisher whose calls the test settles one by one. */
class FakePublisher {
  calls: Array<{ content: RouteEntries; settle: (outcome: PublishResult | Error) => void }> = [];
  #revision = 0;
  publish(c: RouteEntries): Promise<PublishResult> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        content: c,
        settle: (outcome) => {
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      });
    });
  }
  /** The loop's drift repair asks this first; the fake always says yes. */
  differsFrom(): Promise<boolean> {
    return Promise.resolve(true);
  }
  succeed(index: number): void {
    this.#revision++;
    this.calls[index]?.settle({ revision: this.#revision, published: true, bytes: 1 });
  }
  fail(index: number): void {
    this.calls[index]?.settle(new Error('connect ECONNREFUSED'));
  }
}

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('loop: updates during a publication coalesce into one publication of the newest', async () => {
  const publisher = new FakePublisher();
  const loop = new PublicationLoop({ publisher, logger });
  const [a, b, c, d] = [entries('a'), entries('b'), entries('c'), entries('d')];
  loop.update(a);
  const flushA = loop.flush();
  loop.update(b);
  loop.update(c);
  const flushC = loop.flush();
  loop.update(d);
  assert.equal(publisher.calls.length, 1);
  publisher.succeed(0);
  assert.equal(await flushA, 1);
  await tick();
  assert.equal(publisher.calls.length, 2, 'b and c are skipped');
  assert.equal(publisher.calls[1]?.content, d);
  publisher.succeed(1);
  assert.equal(await flushC, 2, 'newer content satisfies an older flush');
  assert.equal(loop.pending, false);
  assert.equal(await loop.flush(), 2);
  await loop.stop();
});

test('loop: failures are retried with back-off, and only the newest content is published', async () => {
  const publisher = new FakePublisher();
  const errors: number[] = [];
  const loop = new PublicationLoop({
    publisher,
    logger,
    initialDelayMs: 5,
    maxDelayMs: 20,
    onError: (_err, failures) => errors.push(failures),
  });
  loop.update(entries('old'));
  const flushed = loop.flush();
  publisher.fail(0);
  await tick();
  loop.update(entries('new')); // arrives during the back-off: no extra attempt before it ends
  assert.equal(publisher.calls.length, 1);
  await tick(30);
  assert.equal(publisher.calls.length, 2);
  assert.deepEqual([...(publisher.calls[1]?.content.backends.keys() ?? [])], ['shop/new:80']);
  publisher.fail(1);
  await tick(50);
  publisher.succeed(2);
  assert.equal(await flushed, 1);
  assert.deepEqual(errors, [1, 2]);
  await loop.stop();
});

test('loop: a reconnect republishes at once instead of waiting for the back-off', async () => {
  const publisher = new FakePublisher();
  const redis = new EventEmitter();
  const loop = new PublicationLoop({
    publisher,
    logger,
    redis,
    initialDelayMs: 60_000,
    maxDelayMs: 60_000,
  });
  loop.update(entries('web'));
  publisher.fail(0);
  await tick();
  redis.emit('ready');
  assert.equal(publisher.calls.length, 2);
  publisher.succeed(1);
  assert.equal(await loop.flush(), 1);
  // A later reconnect (Redis may be empty) checks the content again.
  redis.emit('ready');
  assert.equal(loop.pending, true);
  assert.equal(publisher.calls.length, 3);
  publisher.calls[2]?.settle({ revision: 1, published: false, bytes: 0 });
  assert.equal(await loop.flush(), 1);
  await loop.stop();
});

test('loop: stop rejects waiting flushes and ignores later updates', async () => {
  const publisher = new FakePublisher();
  const loop = new PublicationLoop({
    publisher,
    logger,
    initialDelayMs: 60_000,
    maxDelayMs: 60_000,
  });
  loop.update(entries('web'));
  const flushed = loop.flush();
  publisher.fail(0);
  await tick();
  await loop.stop();
  await assert.rejects(flushed, /stopped/);
  loop.update(entries('api'));
  assert.equal(publisher.calls.length, 1);
  await assert.rejects(loop.flush(), /stopped/);
});
