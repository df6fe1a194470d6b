/**
 * Publishes route tables to Redis as docs/redis-keyspace.md ("Publication protocol") describes:
 * one revision per change, snapshot + revision + change-log entry written in one transaction
 * fenced by `WATCH`, so a dataplane never sees half a change and a stale leader cannot fork the
 * history (design invariant 3).
 *
 * {@link RoutePublisher} does one publication per call and throws when Redis is unreachable;
 * `PublicationLoop` (publication-loop.ts) publishes in the background through outages.
 */
import {
  type ChangedKeys,
  diffRouteTables,
  emptyRouteTable,
  encodeRoutePatch,
  encodeRouteTable,
  KeySealError,
  type PierLogger,
  parseRouteSnapshot,
  ROUTES_LOG_FIELDS,
  ROUTES_LOG_MAX_LENGTH,
  type RouteEntries,
  type RoutePatch,
  type RouteTable,
  redisReconnectDelay,
  routesLogKey,
  routesRevisionKey,
  routesSnapshotKey,
  routeTableOf,
  tableChecksum,
} from '@pier/shared';
import type { Redis, RedisOptions } from 'ioredis';

/** A route table without its revision: what the compiler produces. */
export type RouteContent = Omit<RouteTable, 'revision'>;

/** Outcome of {@link RoutePublisher.publish}. */
export interface PublishResult {
  /** The revision Redis holds now for this content. */
  revision: number;
  /** False when the content was already in Redis and nothing was written. */
  published: boolean;
}

/** Options of {@link RoutePublisher}. */
export interface RoutePublisherOptions {
  /** A connection used by this publisher alone, made with {@link ROUTE_PUBLISHER_REDIS_OPTIONS}. */
  redis: Redis;
  logger: PierLogger;
  /** Approximate length the change log is trimmed to (default {@link ROUTES_LOG_MAX_LENGTH}). */
  maxLogLength?: number;
  /** Called after each write with its revision and how long the publication took, ms. */
  onPublished?: (revision: number, ms: number) => void;
}

/** Options of one publication. */
export interface PublishOptions {
  /**
   * Re-read the snapshot and the newest log entry instead of trusting what this publisher
   * wrote last, and republish when Redis does not hold exactly `content` (drift repair).
   */
  verify?: boolean;
}

/**
 * ioredis options for the publisher's connection, checked by the constructor where they matter:
 *
 * - `maxRetriesPerRequest: 0`: commands in flight when the connection drops are rejected, never
 *   replayed on the next connection, where a replayed MULTI…EXEC would run without its WATCH.
 * - `enableOfflineQueue: false`: while Redis is down a command fails at once instead of waiting,
 *   so {@link PublicationLoop}'s back-off, not a hidden queue, decides when to try again.
 * - `socketTimeout`: a connection whose peer vanished without a FIN is torn down and rebuilt.
 * - `retryStrategy` reconnects forever, at most ~600 ms apart (`redisReconnectDelay`), so the
 *   newest table is republished within a second of Redis coming back.
 */
export const ROUTE_PUBLISHER_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  maxRetriesPerRequest: 0,
  enableOfflineQueue: false,
  socketTimeout: 10_000,
  connectTimeout: 5000,
  retryStrategy: redisReconnectDelay,
});

/** Transactions lost to another writer before a publication gives up (and is retried later). */
const MAX_ATTEMPTS = 5;

/** What Redis holds, as far as a publication needs to know. */
export interface RedisRouteState {
  /** Revision key; 0 when absent, undefined when not a decimal integer. */
  revision: number | undefined;
  /**
   * The table at `revision` as published, when the snapshot is present, parses and carries that
   * revision; undefined when the table at `revision` is unknown.
   */
  table: RouteTable | undefined;
  /** Highest revision seen anywhere (revision key, snapshot), to stay above it. */
  highest: number;
  /** The change log does not end with `revision`: write even unchanged content. */
  logBehind: boolean;
}

/** What to write: the new table and the patch to it, or nothing. */
export type PublicationPlan =
  | { write: false; revision: number }
  | { write: true; table: RouteTable; patch: RoutePatch };

/**
 * Decides the next publication (pure). Unchanged content writes nothing. Otherwise the next
 * revision is the one after Redis' table and the patch is the diff from it. When that table is
 * unknown (snapshot missing or not matching the revision key), the publication skips a revision:
 * its entry's `from` is a revision no reader holds, so every reader resyncs from the new
 * snapshot instead of applying a patch to a table the patch was not made from.
 */
export function planPublication(state: RedisRouteState, content: RouteContent): PublicationPlan {
  const base = state.table;
  if (base !== undefined && !state.logBehind && sameContent(base, content)) {
    return { write: false, revision: base.revision };
  }
  const fromRevision = base?.revision ?? state.highest + 1;
  const prev = base ?? { ...emptyRouteTable(), revision: fromRevision };
  const table: RouteTable = {
    revision: fromRevision + 1,
    virtualHosts: content.virtualHosts,
    backends: content.backends,
    certificates: content.certificates,
  };
  checksums.set(table, contentChecksum(content));
  const patch = diffRouteTables(prev, table) ?? {
    fromRevision,
    toRevision: table.revision,
    set: {},
    remove: {},
  };
  return { write: true, table, patch };
}

/**
 * The wire form of a planned write, refusing anything that carries a plaintext private key
 * (design invariant 4): route tables hold sealed keys only.
 *
 * @throws KeySealError when the snapshot or the patch contains `PRIVATE KEY`.
 */
export function encodePublication(
  table: RouteTable,
  patch: RoutePatch,
): { snapshot: string; patch: string } {
  const encoded = { snapshot: encodeRouteTable(table), patch: encodeRoutePatch(patch) };
  if (encoded.snapshot.includes('PRIVATE KEY') || encoded.patch.includes('PRIVATE KEY')) {
    const certificates = Object.values(table.certificates)
      .filter((c) => JSON.stringify(c).includes('PRIVATE KEY'))
      .map((c) => c.id);
    throw new KeySealError(
      `refusing to publish revision ${table.revision}: it contains a plaintext private key`,
      { details: { revision: table.revision, certificates } },
    );
  }
  return encoded;
}

/** Checksums by table object: tables are immutable, and hashing a large one is not free. */
const checksums = new WeakMap<RouteContent, string>();

function contentChecksum(content: RouteContent): string {
  let sum = checksums.get(content);
  if (sum === undefined) {
    sum = tableChecksum({ ...content, revision: 0 });
    checksums.set(content, sum);
  }
  return sum;
}

function sameContent(a: RouteContent, b: RouteContent): boolean {
  return contentChecksum(a) === contentChecksum(b);
}

/**
 * Publishes route tables, one atomic revision per change. Publications are serialized; each
 * runs WATCH → read → MULTI/EXEC on the publisher's own connection, and is retried when another
 * writer moved the revision in between. Throws when Redis is unreachable: use
 * {@link PublicationLoop} for retries.
 */
export class RoutePublisher {
  readonly #redis: Redis;
  readonly #log: PierLogger;
  readonly #maxLogLength: number;
  readonly #onPublished: ((revision: number, ms: number) => void) | undefined;
  /** The table this publisher believes Redis holds; undefined: read it first. */
  #current: RouteTable | undefined;
  #revision = 0;
  #tail: Promise<unknown> = Promise.resolve();

  /** @throws TypeError on options that would break atomicity or bounds. */
  constructor(options: RoutePublisherOptions) {
    this.#redis = options.redis;
    this.#log = options.logger;
    this.#maxLogLength = options.maxLogLength ?? ROUTES_LOG_MAX_LENGTH;
    this.#onPublished = options.onPublished;
    if (!Number.isSafeInteger(this.#maxLogLength) || this.#maxLogLength < 1) {
      throw new TypeError(`RoutePublisher: maxLogLength must be a positive integer`);
    }
    if (this.#redis.options.maxRetriesPerRequest !== 0) {
      throw new TypeError(
        'RoutePublisher: the Redis connection needs maxRetriesPerRequest: 0 (see ROUTE_PUBLISHER_REDIS_OPTIONS); ' +
          'otherwise a transaction cut by a reconnect is replayed without its WATCH',
      );
    }
  }

  /** The revision last published, or found in Redis; 0 before the first publication. */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Publishes `content` as the next revision, atomically; writes nothing when Redis already
   * holds it. A new publisher first reads what Redis holds and continues from its revision.
   *
   * @throws Error when Redis is unreachable or another writer won {@link MAX_ATTEMPTS} races;
   *   KeySealError when the content holds a plaintext private key. Nothing is written then.
   */
  publish(
    entries: RouteEntries | RouteContent,
    _changed: ChangedKeys | 'all' = 'all',
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const { virtualHosts, backends, certificates } =
      entries.virtualHosts instanceof Map
        ? routeTableOf(entries as RouteEntries, 0)
        : (entries as RouteContent);
    const content: RouteContent = { virtualHosts, backends, certificates };
    const run = this.#tail.then(() => this.#publish(content, options.verify === true));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Trims the change log to about `maxLogLength` entries; returns how many were removed. */
  trimLog(): Promise<number> {
    return this.#redis.xtrim(routesLogKey(), 'MAXLEN', '~', this.#maxLogLength);
  }

  async #publish(content: RouteContent, verify: boolean): Promise<PublishResult> {
    const started = performance.now();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const result = await this.#attempt(content, verify);
      if (result === 'conflict') {
        this.#log.info({ attempt }, 'route revision moved under the transaction; retrying');
        // A short random pause, so that two writers do not collide again in lockstep.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        continue;
      }
      if (result.published) this.#onPublished?.(result.revision, performance.now() - started);
      return result;
    }
    throw new Error(
      `route publication lost ${MAX_ATTEMPTS} races: another writer keeps changing ${routesRevisionKey()}`,
    );
  }

  async #attempt(content: RouteContent, verify: boolean): Promise<PublishResult | 'conflict'> {
    const redis = this.#redis;
    assertReady(redis);
    // The WATCH lives on this socket: the transaction must go out on the same one.
    const socket = redis.stream;
    await redis.watch(routesRevisionKey());
    let watching = true;
    try {
      const revisionText = await redis.get(routesRevisionKey());
      const revision = parseRevision(revisionText);
      const known = this.#current;
      const state =
        !verify && known !== undefined && revision === known.revision
          ? { revision, table: known, highest: revision, logBehind: false }
          : await this.#readState(revisionText, verify);
      const plan = planPublication(state, content);
      if (!plan.write) {
        this.#current = state.table;
        this.#revision = plan.revision;
        return { revision: plan.revision, published: false };
      }
      const encoded = encodePublication(plan.table, plan.patch);
      assertReady(redis);
      if (redis.stream !== socket) return 'conflict'; // reconnected since WATCH: start over
      const { revision: next } = plan.table;
      watching = false; // EXEC, whatever its outcome, ends the WATCH
      const replies = await redis
        .multi()
        .set(routesSnapshotKey(), encoded.snapshot)
        .set(routesRevisionKey(), String(next))
        .xadd(
          routesLogKey(),
          'MAXLEN',
          '~',
          this.#maxLogLength,
          '*',
          ROUTES_LOG_FIELDS.revision,
          String(next),
          ROUTES_LOG_FIELDS.from,
          String(plan.patch.fromRevision),
          ROUTES_LOG_FIELDS.patch,
          encoded.patch,
        )
        .exec();
      if (replies === null) {
        this.#current = undefined;
        return 'conflict';
      }
      const failed = replies.find(([err]) => err !== null)?.[0];
      if (failed) {
        // MULTI does not roll back: what Redis holds is unknown now; read it next time.
        this.#current = undefined;
        throw failed;
      }
      this.#current = plan.table;
      this.#revision = next;
      this.#log.debug(
        { revision: next, from: plan.patch.fromRevision, bytes: encoded.snapshot.length },
        'route table published',
      );
      return { revision: next, published: true };
    } finally {
      // Pipelined before anything else on this connection; a broken socket needs no UNWATCH.
      if (watching) redis.unwatch().catch(() => undefined);
    }
  }

  /** Reads the snapshot (and, when verifying, the newest log entry) under the WATCH. */
  async #readState(revisionText: string | null, verify: boolean): Promise<RedisRouteState> {
    const redis = this.#redis;
    const revision = parseRevision(revisionText);
    const [snapshotText, newest] = await Promise.all([
      redis.get(routesSnapshotKey()),
      verify ? redis.xrevrange(routesLogKey(), '+', '-', 'COUNT', 1) : Promise.resolve(undefined),
    ]);
    let table: RouteTable | undefined;
    let snapshotRevision = 0;
    if (snapshotText === null) {
      table = revision === 0 ? emptyRouteTable() : undefined;
    } else {
      try {
        const parsed = parseRouteSnapshot(snapshotText);
        snapshotRevision = parsed.published.revision;
        table = snapshotRevision === revision ? parsed.published : undefined;
      } catch (err) {
        this.#log.warn({ err: String(err) }, 'route snapshot in redis unreadable; replacing it');
      }
    }
    if (table === undefined) {
      this.#log.warn(
        { revision: revisionText, snapshotRevision },
        'route snapshot does not match the revision in redis; publishing a full table',
      );
    }
    const newestRev = newest?.[0]?.[1];
    const loggedRevision =
      newestRev === undefined ? 0 : parseRevision(fieldOf(newestRev, ROUTES_LOG_FIELDS.revision));
    const logBehind = verify && table !== undefined && loggedRevision !== table.revision;
    if (logBehind) {
      this.#log.warn(
        { revision, loggedRevision },
        'route change log behind the snapshot; republishing',
      );
    }
    return {
      revision,
      table,
      highest: Math.max(revision ?? 0, snapshotRevision),
      logBehind,
    };
  }
}

function assertReady(redis: Redis): void {
  if (redis.status === 'wait') redis.connect().catch(() => undefined); // lazyConnect
  if (redis.status !== 'ready') {
    throw new Error(`Redis connection not ready (${redis.status}); routes not published`);
  }
}

/** The revision key's value: 0 when absent, undefined when not a decimal integer. */
function parseRevision(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return 0;
  if (!/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function fieldOf(flat: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}
