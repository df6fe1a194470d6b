/**
 * Route tables through a real redis-server: the controller's RoutePublisher and PublicationLoop
 * write them, RouteLogReader (the dataplane's side) follows them. Revisions grow one by one,
 * the change log replays to the snapshot, readers never see half a change, catch up after
 * falling behind and after Redis restarts, and no key ever holds a plaintext private key.
 *
 * The suite runs its own redis-servers (it flushes them, and kills one), not the shared one.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  applyRoutePatch,
  type Backend,
  backendId,
  type Certificate,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  decodeRoutePatch,
  decodeRouteTable,
  emptyRouteTable,
  encodeRouteTable,
  KeyRing,
  ROUTE_SECTIONS,
  ROUTES_FORMAT,
  RouteLogReader,
  type RouteTable,
  RouteTableState,
  routeEntriesOf,
  routeLogReaderRedisOptions,
  routesFormatKey,
  routesLogKey,
  routesRevisionKey,
  routesSectionKey,
  routesSnapshotKey,
  type TableSource,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import { Redis, type RedisOptions } from 'ioredis';
import { PublicationLoop } from '../../packages/controller/src/routes/publication-loop.ts';
import {
  ROUTE_PUBLISHER_REDIS_OPTIONS,
  type RouteContent,
  RoutePublisher,
} from '../../packages/controller/src/routes/route-publisher.ts';
import { seededRandom } from '../../packages/shared/src/fixtures.test.ts';
import { waitUntil } from '../lib/child-process.ts';
import { testEnv } from '../lib/env.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';

const logger = createLogger({ name: 'route-publication-test', level: 'silent' });
const stateDir = join(testEnv().stateDir, 'route-publication');
const BLOCK_MS = 500;
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const KEY_PEM =
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAfake\n-----END PRIVATE KEY-----\n';

let redis: TestRedis;
let admin: Redis;
const clients: Redis[] = [];
const readers: RouteLogReader[] = [];
const loops: PublicationLoop[] = [];
const servers: TestRedis[] = [];

// ---- small hand-built tables ----

function backend(service: string, addresses: string[]): Backend {
  return {
    id: backendId('shop', service, 80),
    service: { namespace: 'shop', name: service },
    servicePort: 80,
    endpoints: addresses.map((address) => ({
      address,
      port: 8080,
      ready: true,
      serving: true,
      terminating: false,
    })),
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
    balancing: { algorithm: 'p2c' },
  };
}

function vhost(host: string, backendIdOf: string, extra: Partial<VirtualHost> = {}): VirtualHost {
  return {
    address: '203.0.113.1',
    host,
    routes: [
      {
        path: '/',
        pathType: 'Prefix',
        backend: backendIdOf,
        source: { namespace: 'shop', name: 'web' },
      },
    ],
    ...extra,
  };
}

function content(parts: {
  vhosts: VirtualHost[];
  backends: Backend[];
  certificates?: Certificate[];
}): RouteContent {
  return {
    virtualHosts: Object.fromEntries(
      parts.vhosts.map((v) => [virtualHostKey(v.address, v.host), v]),
    ),
    backends: Object.fromEntries(parts.backends.map((b) => [b.id, b])),
    certificates: Object.fromEntries((parts.certificates ?? []).map((c) => [c.id, c])),
  };
}

/** Content number `i`: hosts, backends and endpoints come and go as `i` grows. */
function contentFor(i: number): RouteContent {
  const services = ['web', 'api', 'shop'].slice(0, 1 + (i % 3));
  const backends = services.map((s, n) => backend(s, [`192.0.2.${1 + ((i + n) % 200)}`]));
  const vhosts = services.map((s, n) =>
    vhost(`${s}${(i + n) % 4}.example.com`, backendId('shop', s, 80)),
  );
  return content({ vhosts, backends });
}

function tableAt(revision: number, c: RouteContent): RouteTable {
  return { revision, ...c };
}

// ---- Redis plumbing ----

function connect(server: TestRedis, options: RedisOptions): Redis {
  const client = new Redis({
    host: server.host,
    port: server.port,
    password: server.password,
    lazyConnect: true,
    ...options,
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

async function publisherOn(
  server: TestRedis,
  options: { maxLogLength?: number } = {},
): Promise<{ publisher: RoutePublisher; connection: Redis }> {
  const connection = connect(server, ROUTE_PUBLISHER_REDIS_OPTIONS);
  await connection.connect();
  return { publisher: new RoutePublisher({ redis: connection, logger, ...options }), connection };
}

/** A started reader with every table it announced. */
async function readerOn(server: TestRedis): Promise<{
  reader: RouteLogReader;
  connection: Redis;
  seen: Array<{ revision: number; how: TableSource; table: RouteTable }>;
  first: RouteTable;
}> {
  const connection = connect(server, routeLogReaderRedisOptions(BLOCK_MS));
  await connection.connect();
  const reader = new RouteLogReader({
    redis: connection,
    logger,
    blockMs: BLOCK_MS,
    initialRetryMs: 50,
    maxRetryMs: 500,
  });
  readers.push(reader);
  const seen: Array<{ revision: number; how: TableSource; table: RouteTable }> = [];
  reader.on('table', (table, how) => seen.push({ revision: table.revision, how, table }));
  const first = await reader.start();
  return { reader, connection, seen, first };
}

/** The table the pieces in Redis make, read in one MULTI, checked to have no problem. */
async function snapshotIn(client: Redis): Promise<RouteTable> {
  const { table, problems } = await piecesIn(client);
  assert.deepEqual(problems, []);
  return table;
}

async function piecesIn(client: Redis): Promise<{ table: RouteTable; problems: unknown[] }> {
  const multi = client.multi().get(routesFormatKey()).get(routesRevisionKey());
  for (const section of ROUTE_SECTIONS) multi.hgetall(routesSectionKey(section));
  const replies = ((await multi.exec()) ?? []).map(([, value]) => value);
  assert.equal(replies[0], String(ROUTES_FORMAT), 'the format key says format 2');
  const pieces = Object.fromEntries(
    ROUTE_SECTIONS.map((section, i) => [
      section,
      Object.entries(replies[2 + i] as Record<string, string>),
    ]),
  );
  const { state, problems } = RouteTableState.fromPieces(Number(replies[1] ?? 0), pieces);
  return { table: state.toTable(), problems };
}

/** Every log entry in order, checked to be one revision after the other. */
async function logEntries(
  client: Redis,
): Promise<Array<{ rev: number; from: number; patch: string }>> {
  const entries = await client.xrange(routesLogKey(), '-', '+');
  return entries.map(([, fields]) => {
    const get = (name: string): string =>
      fields.includes(name) ? (fields[fields.indexOf(name) + 1] ?? '') : '';
    return { rev: Number(get('rev')), from: Number(get('base')), patch: get('delta') };
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function waitForRevision(reader: RouteLogReader, revision: number, timeoutMs = 15_000) {
  return waitUntil(
    `reader at revision ${revision} (is at ${reader.revision})`,
    () => (reader.revision === revision ? true : undefined),
    timeoutMs,
    20,
  );
}

before(async () => {
  redis = await startRedis(stateDir);
  servers.push(redis);
  admin = connect(redis, { maxRetriesPerRequest: 0 });
  await admin.connect();
});

beforeEach(async () => {
  await admin.flushall();
});

after(async () => {
  for (const loop of loops) await loop.stop();
  for (const reader of readers) await reader.stop();
  for (const client of clients) client.disconnect();
  await Promise.all(servers.map((s) => s.stop()));
});

test('revisions grow by one per change; unchanged content writes nothing', async () => {
  const { publisher } = await publisherOn(redis);
  const results = [];
  for (let i = 1; i <= 3; i++) results.push(await publisher.publish(contentFor(i)));
  assert.deepEqual(
    results.map(({ revision, published }) => ({ revision, published })),
    [
      { revision: 1, published: true },
      { revision: 2, published: true },
      { revision: 3, published: true },
    ],
  );
  // Each write reports its payload: the pieces it changed, not the table (the log entry of the
  // first has no delta, so the later ones, which carry one, are not smaller by much).
  for (const { bytes } of results) assert.ok(bytes > 100 && bytes < 10_000, `wrote ${bytes} bytes`);
  assert.deepEqual(await publisher.publish(contentFor(3)), {
    revision: 3,
    published: false,
    bytes: 0,
  });
  assert.equal(await admin.xlen(routesLogKey()), 3);
  assert.equal(await admin.get(routesRevisionKey()), '3');

  // A new leader continues from what Redis holds.
  const { publisher: next } = await publisherOn(redis);
  assert.deepEqual(await next.publish(contentFor(3)), { revision: 3, published: false, bytes: 0 });
  assert.equal((await next.publish(contentFor(4))).revision, 4);
  assert.equal(next.revision, 4);
});

test('the snapshot is the last content, and the change log replays to it', async () => {
  const { publisher } = await publisherOn(redis);
  let last: RouteContent = contentFor(0);
  for (let i = 1; i <= 12; i++) {
    last = contentFor(i);
    await publisher.publish(last);
  }
  const snapshot = await snapshotIn(admin);
  assert.deepEqual(snapshot, tableAt(12, last));

  let replayed = emptyRouteTable();
  const entries = await logEntries(admin);
  assert.deepEqual(
    entries.map((e) => [e.from, e.rev]),
    Array.from({ length: 12 }, (_, i) => [i, i + 1]),
  );
  for (const entry of entries) replayed = applyRoutePatch(replayed, decodeRoutePatch(entry.patch));
  assert.deepEqual(replayed, snapshot);
});

test('two writers racing never fork the history', async () => {
  const [a, b] = await Promise.all([publisherOn(redis), publisherOn(redis)]);
  const outcomes = await Promise.allSettled(
    Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? a.publisher : b.publisher).publish(contentFor(i + 1)),
    ),
  );
  // A writer may give up after losing too many races in a row; it never writes then.
  for (const o of outcomes) {
    if (o.status === 'rejected') assert.match(String(o.reason), /lost \d+ races/);
  }
  const written = outcomes.filter((o) => o.status === 'fulfilled' && o.value.published);
  assert.ok(written.length >= 20, `most publications were written (${written.length})`);
  const entries = await logEntries(admin);
  assert.deepEqual(
    entries.map((e) => e.from + 1),
    entries.map((e) => e.rev),
  );
  assert.deepEqual(
    entries.map((e) => e.rev),
    entries.map((_, i) => i + 1),
    'one entry per revision, none twice',
  );
  let replayed = emptyRouteTable();
  for (const entry of entries) replayed = applyRoutePatch(replayed, decodeRoutePatch(entry.patch));
  assert.deepEqual(replayed, await snapshotIn(admin));
});

test('readers started before and after the publications end with the snapshot', async () => {
  const early = await readerOn(redis);
  assert.deepEqual(early.first, emptyRouteTable());
  const { publisher } = await publisherOn(redis);
  for (let i = 1; i <= 5; i++) await publisher.publish(contentFor(i));
  await waitForRevision(early.reader, 5);

  const late = await readerOn(redis);
  const snapshot = await snapshotIn(admin);
  assert.deepEqual(late.first, snapshot);
  assert.deepEqual(
    late.seen.map((s) => s.how),
    ['snapshot'],
  );
  assert.deepEqual(early.reader.table, snapshot);
  assert.ok(early.seen.length > 0);
  assert.ok(
    early.seen.every((s) => s.how === 'patch'),
    `the early reader followed by patches: ${early.seen.map((s) => s.how)}`,
  );
  // Each announced table is the table published at its revision.
  for (const s of early.seen)
    assert.deepEqual(s.table, tableAt(s.revision, contentFor(s.revision)));
});

test('a reader that fell behind the trimmed log resyncs from the snapshot', async () => {
  const { publisher } = await publisherOn(redis, { maxLogLength: 2 });
  await publisher.publish(contentFor(1));
  const behind = await readerOn(redis);
  assert.equal(behind.reader.revision, 1);

  // Stop reading its socket: the reader sees nothing while 250 revisions go by. Approximate
  // trimming removes whole stream nodes (100 entries), so it takes that many to trim.
  behind.connection.stream.pause();
  for (let i = 2; i <= 251; i++) await publisher.publish(contentFor(i));
  const length = await admin.xlen(routesLogKey());
  assert.ok(length < 200, `the log was trimmed (${length} entries left)`);
  behind.connection.stream.resume();

  await waitForRevision(behind.reader, 251);
  assert.ok(
    behind.seen.some((s) => s.how === 'resync'),
    `a resync happened: ${behind.seen.map((s) => `${s.revision}:${s.how}`)}`,
  );
  assert.deepEqual(behind.reader.table, await snapshotIn(admin));
});

test('publication is atomic: no reader sees half a change', async () => {
  const publisherConn = connect(redis, ROUTE_PUBLISHER_REDIS_OPTIONS);
  await publisherConn.connect();
  const publisher = new RoutePublisher({ redis: publisherConn, logger });
  const loop = new PublicationLoop({ publisher, logger, redis: publisherConn });
  loops.push(loop);
  const follower = await readerOn(redis);
  const watcher = connect(redis, { maxRetriesPerRequest: 0 });
  await watcher.connect();

  const published = new Map<number, RouteContent>();
  let done = false;
  const observations = { count: 0, torn: [] as string[], tables: [] as RouteTable[] };
  const watching = (async () => {
    const deadline = Date.now() + 60_000;
    while (!done && Date.now() < deadline) {
      const multi = watcher.multi().get(routesRevisionKey());
      for (const section of ROUTE_SECTIONS) multi.hgetall(routesSectionKey(section));
      const replies = await multi.xrevrange(routesLogKey(), '+', '-', 'COUNT', 1).exec();
      const values = (replies ?? []).map(([, value]) => value);
      const revision = values[0] as string | null;
      if (revision === null) continue;
      const newest = values[4] as [string, string[]][];
      const fields = newest[0]?.[1] ?? [];
      const loggedRevision = fields[fields.indexOf('rev') + 1];
      const pieces = Object.fromEntries(
        ROUTE_SECTIONS.map((section, i) => [
          section,
          Object.entries(values[1 + i] as Record<string, string>),
        ]),
      );
      const table = RouteTableState.fromPieces(Number(revision), pieces).state.toTable();
      observations.count++;
      observations.tables.push(table);
      if (loggedRevision !== revision) {
        observations.torn.push(`revision ${revision}, log ${loggedRevision}`);
      }
    }
  })();

  for (let i = 1; i <= 200; i++) {
    const c = contentFor(i);
    loop.update(routeEntriesOf(c));
    published.set(await loop.flush(), c);
  }
  done = true;
  await watching;
  assert.deepEqual(
    [...published.keys()],
    Array.from({ length: 200 }, (_, i) => i + 1),
  );
  assert.ok(observations.count > 50, `the watcher looked often (${observations.count} times)`);
  assert.deepEqual(observations.torn, []);
  // Every table the pieces made at one moment is exactly the content of its revision.
  for (const table of observations.tables) {
    assert.deepEqual(table, tableAt(table.revision, published.get(table.revision) as RouteContent));
  }

  await waitForRevision(follower.reader, 200);
  let previous = 0;
  for (const s of follower.seen) {
    assert.ok(s.revision > previous, 'revisions only grow');
    previous = s.revision;
    assert.deepEqual(s.table, tableAt(s.revision, published.get(s.revision) as RouteContent));
  }
  for (const entry of await logEntries(admin)) {
    assert.ok(published.has(entry.rev), `log entry ${entry.rev} was published`);
    assert.equal(entry.from, entry.rev - 1);
  }
});

test('through a Redis restart nothing is lost and the reader converges', async () => {
  const dir = join(stateDir, 'restart');
  let server = await startRedis(dir);
  servers.push(server);
  const publisherConn = connect(server, ROUTE_PUBLISHER_REDIS_OPTIONS);
  await publisherConn.connect();
  const publisher = new RoutePublisher({ redis: publisherConn, logger });
  const loop = new PublicationLoop({
    publisher,
    logger,
    redis: publisherConn,
    initialDelayMs: 50,
    maxDelayMs: 1000,
  });
  loops.push(loop);
  const follower = await readerOn(server);

  let i = 0;
  let last: RouteContent = contentFor(0);
  const update = (): void => {
    last = contentFor(++i);
    loop.update(routeEntriesOf(last));
  };
  for (let n = 0; n < 10; n++) {
    update();
    await new Promise((r) => setTimeout(r, 20));
  }
  const revisionBefore = await withTimeout(loop.flush(), 10_000, 'the first publications');
  await waitForRevision(follower.reader, revisionBefore);
  const servedBefore = follower.reader.table;
  const seenBefore = follower.seen.length;

  server.process.child.kill('SIGKILL');
  await server.process.exited;
  const updater = setInterval(update, 50);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(follower.reader.table, servedBefore, 'the reader kept its table through the outage');
  assert.equal(follower.seen.length, seenBefore, 'and announced nothing');
  assert.ok(loop.pending, 'updates are waiting for Redis');

  server = await startRedis(dir, { port: server.port, password: server.password });
  servers.push(server);
  const restarted = performance.now();
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(updater);
  update();
  const final = last;

  const revision = await withTimeout(loop.flush(), 20_000, 'the loop to publish after the restart');
  const fresh = connect(server, { maxRetriesPerRequest: 0 });
  await fresh.connect();
  const snapshot = await snapshotIn(fresh);
  assert.deepEqual(snapshot, tableAt(revision, final), 'Redis holds the last content given');
  // Compared whole: the new history's revisions may repeat numbers of the old one.
  await waitUntil(
    'the reader to serve the last content',
    () => (isDeepStrictEqual(follower.reader.table, snapshot) ? true : undefined),
    20_000,
    20,
  );
  const ms = performance.now() - restarted;
  assert.ok(ms < 5000, `the whole table is back within 5 s of Redis restarting empty (${ms} ms)`);
});

test('no key holds a plaintext private key', async () => {
  const ring = new KeyRing({ current: 'k1', keys: { k1: new Uint8Array(32).fill(7) } });
  const id = 'shop/shop-tls';
  const certificate: Certificate = {
    id,
    secret: { namespace: 'shop', name: 'shop-tls' },
    certificatePem: CERT_PEM,
    key: ring.seal(KEY_PEM, id),
  };
  const web = backend('web', ['192.0.2.10']);
  const { publisher } = await publisherOn(redis);
  const withTls = content({
    vhosts: [vhost('shop.example.com', web.id, { tls: { certificate: id } })],
    backends: [web],
    certificates: [certificate],
  });
  await publisher.publish(withTls);
  await publisher.publish(contentFor(1)); // the certificate leaves in a patch
  await publisher.publish(withTls); // and comes back in one

  // The plaintext never leaves, even by mistake: a table carrying it is refused.
  const leaky = content({
    vhosts: [],
    backends: [web],
    certificates: [{ ...certificate, certificatePem: `${CERT_PEM}${KEY_PEM}` }],
  });
  await assert.rejects(publisher.publish(leaky), { code: 'PIER_KEY_SEAL_FAILED' });
  assert.equal(await admin.get(routesRevisionKey()), '3');

  const found: string[] = [];
  let scanned = 0;
  let cursor = '0';
  for (let round = 0; round < 1000; round++) {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 100);
    for (const key of keys) {
      scanned++;
      const type = await admin.type(key);
      let values: unknown;
      if (type === 'string') values = await admin.get(key);
      else if (type === 'hash') values = await admin.hgetall(key);
      else if (type === 'stream') values = await admin.xrange(key, '-', '+');
      else if (type === 'list') values = await admin.lrange(key, 0, -1);
      else if (type === 'set') values = await admin.smembers(key);
      else if (type === 'zset') values = await admin.zrange(key, '0', '-1');
      else values = `unexpected type ${type}`;
      if (JSON.stringify(values).includes('PRIVATE KEY')) found.push(key);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  assert.equal(cursor, '0', 'the scan finished');
  assert.ok(scanned >= 3, `the route keys were scanned (${scanned} keys)`);
  assert.deepEqual(found, []);

  // What the dataplane reads opens with the key ring.
  const served = (await snapshotIn(admin)).certificates[id];
  assert.ok(served);
  assert.equal(ring.open(served.key, id), KEY_PEM);
});

test('fencing: a write prepared on a revision that moved is refused, and redone on the new one', async () => {
  const a = await publisherOn(redis);
  const b = await publisherOn(redis);
  await a.publisher.publish(contentFor(1));
  // Between A's WATCH and its EXEC, B (the other leader) publishes.
  const watch = a.connection.watch.bind(a.connection);
  let watches = 0;
  a.connection.watch = (async (...keys: string[]) => {
    const reply = await watch(...keys);
    if (++watches === 1) await b.publisher.publish(contentFor(2));
    return reply;
  }) as typeof a.connection.watch;
  assert.equal((await a.publisher.publish(contentFor(3))).revision, 3);
  assert.equal(watches, 2, "A's first transaction was refused and redone");
  assert.deepEqual(
    (await logEntries(admin)).map((e) => [e.from, e.rev]),
    [
      [0, 1],
      [1, 2],
      [2, 3],
    ],
  );
  assert.deepEqual(await snapshotIn(admin), tableAt(3, contentFor(3)));
});

test('format: a reader refuses format 1 and unknown formats loudly and keeps its table', async () => {
  // Redis as a format-1 controller left it: a snapshot string and `from`/`patch` log entries.
  const old = tableAt(5, contentFor(5));
  await admin.set(routesRevisionKey(), '5');
  await admin.set(routesSnapshotKey(), encodeRouteTable(old));
  await admin.xadd(routesLogKey(), '*', 'rev', '5', 'from', '4', 'patch', '{}');
  const lastGood = tableAt(3, contentFor(3));
  const connection = connect(redis, routeLogReaderRedisOptions(BLOCK_MS));
  await connection.connect();
  const reader = new RouteLogReader({
    redis: connection,
    logger,
    blockMs: BLOCK_MS,
    initialTable: lastGood,
  });
  readers.push(reader);
  const problems: string[] = [];
  reader.on('problems', (list) => problems.push(...list.map((p) => `${p.field}: ${p.message}`)));
  assert.deepEqual(await reader.start(), lastGood, 'the last good table stays served');
  assert.match(
    problems.join('\n'),
    /format: route keys in redis are format 1; this reader knows format 2/,
  );

  // The new controller takes over: every piece written, a revision skipped, the snapshot key
  // left with a marker a format-1 reader refuses with an error naming the format.
  const { publisher } = await publisherOn(redis);
  assert.equal((await publisher.publish(contentFor(6))).revision, 7);
  await waitForRevision(reader, 7);
  assert.deepEqual(reader.table, tableAt(7, contentFor(6)));
  const marker = (await admin.get(routesSnapshotKey())) as string;
  assert.throws(() => decodeRouteTable(marker), /routes are format 2/);
  const [newest] = (await logEntries(admin)).slice(-1);
  assert.deepEqual(
    [newest?.from, newest?.rev, newest?.patch],
    [6, 7, ''],
    'no delta from a base nobody holds',
  );

  // A newer format is refused the same way; the table read before stays.
  problems.length = 0;
  // A newer controller: another format, and a log entry this reader cannot apply.
  await admin.set(routesFormatKey(), '3');
  await admin.set(routesRevisionKey(), '8');
  await admin.xadd(routesLogKey(), '*', 'rev', '8', 'base', '7');
  await waitUntil('the refusal', () => (problems.length > 0 ? true : undefined), 10_000, 20);
  assert.match(problems.join('\n'), /format 3; this reader knows format 2/);
  assert.deepEqual(reader.table, tableAt(7, contentFor(6)));
});

test('drift check: an unchanged table reads as such, piece by piece; an edited, missing or extra piece, or a revision nobody published, is found and repaired', async () => {
  // 1,200 backends: several HSCAN pages per section.
  const backends = Array.from({ length: 1_200 }, (_, i) =>
    backend(`drift${i}`, [`192.0.2.${1 + (i % 200)}`]),
  );
  const vhosts = backends.map((b, i) => vhost(`drift${i}.example.com`, b.id));
  const entries = routeEntriesOf(content({ vhosts, backends }));
  const { publisher, connection } = await publisherOn(redis);
  const loop = new PublicationLoop({ publisher, logger, redis: connection });
  loops.push(loop);
  loop.update(entries);
  const revision = await loop.flush();
  assert.equal(await publisher.differsFrom(entries), false);
  assert.equal(await loop.repairDrift(), false, 'nothing to repair');
  assert.equal(Number(await admin.get(routesRevisionKey())), revision, 'nothing written');

  const hash = routesSectionKey('backends');
  const id = backendId('shop', 'drift777', 80);
  const original = (await admin.hget(hash, id)) as string;
  const edits: Array<[string, () => Promise<unknown>]> = [
    ['an edited piece', () => admin.hset(hash, id, original.replace('192.0.2.', '203.0.113.'))],
    ['a missing piece', () => admin.hdel(hash, id)],
    ['an extra piece', () => admin.hset(hash, 'shop/stray:80', original)],
    [
      'a revision nobody published',
      async () =>
        admin.set(routesRevisionKey(), String(Number(await admin.get(routesRevisionKey())) + 3)),
    ],
  ];
  for (const [what, edit] of edits) {
    await edit();
    assert.equal(await publisher.differsFrom(entries), true, what);
    assert.equal(await loop.repairDrift(), true, `${what} is repaired`);
    assert.equal(await publisher.differsFrom(entries), false, `${what}: nothing differs after`);
    const { table } = await piecesIn(admin);
    assert.equal(Object.keys(table.backends).length, 1_200, what);
    assert.equal(table.backends[id]?.endpoints[0]?.address, '192.0.2.178', what);
  }
});

test('a single-endpoint change at 10,000 Ingresses writes under 10 KiB to Redis', async () => {
  const big = (endpointOf: (i: number) => string): RouteContent => {
    const backends = Array.from({ length: 10_000 }, (_, i) =>
      backend(`svc${i}`, [endpointOf(i), `198.51.100.${1 + (i % 250)}`]),
    );
    const vhosts = backends.map((b, i) => vhost(`host${i}.example.com`, b.id));
    return content({ vhosts, backends });
  };
  // Readers of earlier tests would resync this table on the test's own event loop meanwhile.
  for (const reader of readers.splice(0)) await reader.stop();
  const { publisher } = await publisherOn(redis);
  const before = big(() => '192.0.2.10');
  await publisher.publish(before);
  // The incremental compiler's output: one backend replaced, every other entry the same object.
  const entries = routeEntriesOf(before);
  const id = backendId('shop', 'svc42', 80);
  const changedBackend = backend('svc42', ['192.0.2.11', '198.51.100.43']);
  const next = {
    ...entries,
    backends: new Map([...entries.backends, [id, changedBackend]]),
  };
  const inputBytes = async (): Promise<number> => {
    const info = await admin.info('stats');
    return Number(/total_net_input_bytes:(\d+)/.exec(info)?.[1]);
  };
  const start = await inputBytes();
  const empty = new Set<string>();
  const startedAt = performance.now();
  const result = await publisher.publish(next, {
    virtualHosts: empty,
    backends: new Set([id]),
    certificates: empty,
  });
  const ms = performance.now() - startedAt;
  const written = (await inputBytes()) - start;
  assert.deepEqual([result.revision, result.published], [2, true]);
  console.log(
    `single-endpoint change: ${written} bytes to Redis (${result.bytes} of payload) in ${ms.toFixed(1)} ms`,
  );
  assert.ok(written < 10 * 1024, `bytes written for one endpoint: ${written}`);
  // The payload the publisher reports (pier_route_publish_bytes) is most of what Redis received.
  assert.ok(
    result.bytes > 0 && result.bytes <= written && result.bytes > written / 4,
    `reported ${result.bytes} of ${written} bytes`,
  );
  assert.ok(ms < 100, `one change published in ${ms} ms`);
  const [newest] = (await logEntries(admin)).slice(-1);
  assert.deepEqual(Object.keys(decodeRoutePatch(newest?.patch ?? '').set), ['backends']);
});

test('convergence: random deltas with gaps, skipped revisions and corrupt pieces and entries (seeded)', async () => {
  const seed = Number(process.env.PIER_CONVERGENCE_SEED ?? 20_261_203);
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const { publisher } = await publisherOn(redis, { maxLogLength: 5 });
  const follower = await readerOn(redis);
  let current = contentFor(0);
  const expected = (): string => encodeRouteTable({ ...current, revision: publisher.revision });
  const converge = async (step: number, what: string): Promise<void> => {
    await waitUntil(
      `seed ${seed} step ${step} (${what}): the reader serves the controller's table`,
      () => {
        const table = follower.reader.table;
        return table !== undefined && encodeRouteTable(table) === expected() ? true : undefined;
      },
      15_000,
      10,
    );
  };
  const injected: Record<string, number> = {};
  for (let step = 1; step <= 60; step++) {
    const what = ['change', 'gap', 'skip', 'corrupt piece', 'corrupt entry'][pick(5)] as string;
    injected[what] = (injected[what] ?? 0) + 1;
    if (what === 'gap') {
      // The reader hears nothing while more revisions go by than the log keeps.
      follower.connection.stream.pause();
      for (let n = 0; n < 3 + pick(5); n++) {
        current = randomContent(random);
        await publisher.publish(current);
      }
      await admin.xtrim(routesLogKey(), 'MAXLEN', 0);
      follower.connection.stream.resume();
    } else if (what === 'skip') {
      // Revisions skipped (a hand-edited revision key): the next entry follows no reader.
      await admin.incrby(routesRevisionKey(), 1 + pick(5));
    } else if (what === 'corrupt piece') {
      // Garbage in one piece: readers that resync drop that entry until the drift check
      // rewrites it (PublicationLoop.repairDrift does this periodically).
      const section = ROUTE_SECTIONS[pick(3)] as (typeof ROUTE_SECTIONS)[number];
      const fields = await admin.hkeys(routesSectionKey(section));
      const field = fields[pick(fields.length)] ?? 'shop/none:80';
      await admin.hset(routesSectionKey(section), field, pick(2) === 0 ? '{"garbage' : '{}');
      if (pick(2) === 0) follower.connection.disconnect(true); // this reader resyncs now
      await publisher.publish(current, 'all', { verify: true });
    } else if (what === 'corrupt entry') {
      // A log entry that follows the reader's revision but carries no readable delta.
      const revision = publisher.revision;
      await admin.xadd(
        routesLogKey(),
        '*',
        'rev',
        String(revision + 1),
        'base',
        String(revision),
        'delta',
        pick(2) === 0 ? '{"fromRevision":' : '{"fromRevision":1,"toRevision":0}',
      );
    }
    current = randomContent(random);
    await publisher.publish(current);
    await converge(step, what);
  }
  for (const what of ['change', 'gap', 'skip', 'corrupt piece', 'corrupt entry']) {
    assert.ok((injected[what] ?? 0) > 0, `seed ${seed} exercised ${what}`);
  }
  assert.ok(
    follower.seen.some((s) => s.how === 'resync') && follower.seen.some((s) => s.how === 'patch'),
    'the reader both resynced and applied deltas',
  );
});

/** Content drawn from a small universe, so entries come, go and change. */
function randomContent(random: () => number): RouteContent {
  const pick = (n: number): number => Math.floor(random() * n);
  const services = ['web', 'api', 'shop', 'cart', 'auth', 'img'].filter(() => random() < 0.7);
  const backends = services.map((s) =>
    backend(
      s,
      Array.from({ length: 1 + pick(3) }, (_, i) => `192.0.2.${1 + ((pick(50) + i * 60) % 250)}`),
    ),
  );
  const vhosts = services.map((s, n) =>
    vhost(`${s}${pick(3)}.example.com`, backendId('shop', s, 80), {
      routes: [
        {
          path: `/${n}`,
          pathType: 'Prefix',
          backend: backendId('shop', s, 80),
          source: { namespace: 'shop', name: s },
        },
      ],
    }),
  );
  return content({ vhosts, backends });
}
