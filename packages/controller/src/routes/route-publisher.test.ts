import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import {
  applyRoutePatch,
  type Backend,
  backendId,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  emptyRouteTable,
  isPierError,
  type RouteEntries,
  type RouteTable,
  routeEntriesOf,
} from '@pier/shared';
import { PublicationLoop } from './publication-loop.ts';
import {
  encodePublication,
  type PublishResult,
  planPublication,
  type RedisRouteState,
  type RouteContent,
} from './route-publisher.ts';

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

function state(partial: Partial<RedisRouteState>): RedisRouteState {
  return { revision: 0, table: emptyRouteTable(), highest: 0, logBehind: false, ...partial };
}

const planCases: Array<{
  name: string;
  state: RedisRouteState;
  content: RouteContent;
  expect: { write: false; revision: number } | { write: true; revision: number; from: number };
}> = [
  {
    name: 'an empty Redis starts at revision 1, from the empty table',
    state: state({}),
    content: content('web'),
    expect: { write: true, revision: 1, from: 0 },
  },
  {
    name: 'new content is the next revision',
    state: state({ revision: 7, table: at(7, content('web')), highest: 7 }),
    content: content('web', 'api'),
    expect: { write: true, revision: 8, from: 7 },
  },
  {
    name: 'unchanged content writes nothing',
    state: state({ revision: 7, table: at(7, content('web')), highest: 7 }),
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
    name: 'an unknown table at the revision skips one, so readers resync',
    state: state({ revision: 7, table: undefined, highest: 7 }),
    content: content('web'),
    expect: { write: true, revision: 9, from: 8 },
  },
  {
    name: 'a snapshot ahead of the revision key is stayed above',
    state: state({ revision: 3, table: undefined, highest: 12 }),
    content: content('web'),
    expect: { write: true, revision: 14, from: 13 },
  },
  {
    name: 'a change log behind the snapshot gets a new revision even for unchanged content',
    state: state({ revision: 7, table: at(7, content('web')), highest: 7, logBehind: true }),
    content: content('web'),
    expect: { write: true, revision: 8, from: 7 },
  },
];

for (const c of planCases) {
  test(`plan: ${c.name}`, () => {
    const plan = planPublication(c.state, c.content);
    if (!c.expect.write) {
      assert.deepEqual(plan, c.expect);
      return;
    }
    assert.ok(plan.write);
    assert.equal(plan.table.revision, c.expect.revision);
    assert.equal(plan.patch.fromRevision, c.expect.from);
    assert.equal(plan.patch.toRevision, c.expect.revision);
    // Applied to the table it was made from, the patch gives exactly the new table.
    const base = c.state.table ?? { ...emptyRouteTable(), revision: c.expect.from };
    assert.deepEqual(applyRoutePatch(base, plan.patch), plan.table);
  });
}

test('a table carrying a plaintext private key is never encoded for Redis', () => {
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
  const plan = planPublication(state({}), table);
  assert.ok(plan.write);
  assert.throws(
    () => encodePublication(plan.table, plan.patch),
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
  succeed(index: number): void {
    this.#revision++;
    this.calls[index]?.settle({ revision: this.#revision, published: true });
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
  publisher.calls[2]?.settle({ revision: 1, published: false });
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
