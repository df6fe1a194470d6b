/**
 * Publishes route tables to Redis as docs/redis-keyspace.md ("Publication protocol") describes:
 * the table lives in one hash per section, entry by entry (format 2); a revision writes only the
 * entries that changed, the revision key and a change-log entry with the delta, in one
 * transaction fenced by `WATCH`, so a dataplane never sees half a change and a stale leader
 * cannot fork the history (design invariant 3).
 *
 * {@link RoutePublisher} does one publication per call and throws when Redis is unreachable;
 * `PublicationLoop` (publication-loop.ts) publishes in the background through outages.
 */
import {
  type ChangedKeys,
  type PierLogger,
  ROUTE_SECTIONS,
  ROUTES_FORMAT,
  ROUTES_FORMAT_1_MARKER,
  ROUTES_LOG_FIELDS,
  ROUTES_LOG_MAX_LENGTH,
  type RouteEntries,
  type RouteSection,
  type RouteTable,
  redisReconnectDelay,
  routeEntriesOf,
  routesFormatKey,
  routesLogKey,
  routesRevisionKey,
  routesSectionKey,
  routesSnapshotKey,
} from '@pier/shared';
import type { ChainableCommander, Redis, RedisOptions } from 'ioredis';
import {
  applyWrites,
  assertNoPrivateKey,
  digestsOf,
  emptyDigests,
  entryDigest,
  type PublicationPlan,
  type PublishedPieces,
  pieceDigest,
  planPublication,
  type RedisRouteState,
  type SectionDigests,
  writtenBytes,
} from './publication-plan.ts';

/** A route table without its revision: what the compiler produces. */
export type RouteContent = Omit<RouteTable, 'revision'>;

/** Outcome of {@link RoutePublisher.publish}. */
export interface PublishResult {
  /** The revision Redis holds now for this content. */
  revision: number;
  /** False when the content was already in Redis and nothing was written. */
  published: boolean;
  /** Bytes written ({@link writtenBytes}); 0 when nothing was. */
  bytes: number;
}

/** Options of {@link RoutePublisher}. */
export interface RoutePublisherOptions {
  /** A connection used by this publisher alone, made with {@link ROUTE_PUBLISHER_REDIS_OPTIONS}. */
  redis: Redis;
  logger: PierLogger;
  /** Approximate length the change log is trimmed to (default {@link ROUTES_LOG_MAX_LENGTH}). */
  maxLogLength?: number;
  /**
   * Called after each write with its revision, how long the publication took (ms) and how many
   * bytes it wrote ({@link writtenBytes}).
   */
  onPublished?: (revision: number, ms: number, bytes: number) => void;
}

/** Options of one publication. */
export interface PublishOptions {
  /**
   * Re-read every piece and the newest log entry instead of trusting what this publisher
   * wrote last, and rewrite the pieces that differ from `entries` (drift repair: an evicted or
   * hand-edited piece, a change log behind the revision).
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

/** Pieces asked for per `HSCAN` of a drift check. */
const DRIFT_SCAN_COUNT = 500;

/** Transactions lost to another writer before a publication gives up (and is retried later). */
const MAX_ATTEMPTS = 5;

/**
 * Publishes route tables, one atomic revision per change, writing only the pieces that changed.
 * Publications are serialized; each runs WATCH → read → MULTI/EXEC on the publisher's own
 * connection, and is retried when another writer moved the revision in between. Throws when
 * Redis is unreachable: use {@link PublicationLoop} for retries.
 */
export class RoutePublisher {
  readonly #redis: Redis;
  readonly #log: PierLogger;
  readonly #maxLogLength: number;
  readonly #onPublished: ((revision: number, ms: number, bytes: number) => void) | undefined;
  /** The pieces this publisher believes Redis holds; undefined: read them first. */
  #current: PublishedPieces | undefined;
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
   * Publishes `entries` as the next revision, atomically, writing the entries that differ from
   * what Redis holds; writes nothing when Redis already holds them. `changed` lists the keys
   * that may differ from the entries of the previous call ('all' when unknown); entries not
   * listed must be those published before (the incremental compiler keeps their objects). A new
   * publisher first reads what Redis holds and continues from its revision.
   *
   * @throws Error when Redis is unreachable or another writer won {@link MAX_ATTEMPTS} races;
   *   KeySealError when the content holds a plaintext private key. Nothing is written then.
   */
  publish(
    entries: RouteEntries | RouteContent,
    changed: ChangedKeys | 'all' = 'all',
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const asEntries =
      entries.virtualHosts instanceof Map
        ? (entries as RouteEntries)
        : routeEntriesOf(entries as RouteContent);
    const run = this.#tail.then(() =>
      this.#publish(asEntries, options.verify === true ? 'all' : changed, options.verify === true),
    );
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Whether Redis may hold something else than `entries` (the table of the last publication):
   * another format, a revision this publisher did not write, a change log behind the revision,
   * or a piece missing, extra or different. Reads the pieces a few hundred at a time (`HSCAN`)
   * and compares their digests, so a check of a large table neither blocks Redis nor this
   * process for long, and keeps nothing of what it read. Undefined when the table moved while it
   * looked (a publication in between): nothing can be concluded then.
   */
  async differsFrom(entries: RouteEntries): Promise<boolean | undefined> {
    const redis = this.#redis;
    assertReady(redis);
    const [format, revisionText, newest] = await Promise.all([
      redis.get(routesFormatKey()),
      redis.get(routesRevisionKey()),
      redis.xrevrange(routesLogKey(), '+', '-', 'COUNT', 1),
    ]);
    const revision = parseRevision(revisionText);
    const logged = newest[0]?.[1];
    if (
      format !== String(ROUTES_FORMAT) ||
      revision !== this.#revision ||
      logged === undefined ||
      parseRevision(fieldOf(logged, ROUTES_LOG_FIELDS.revision)) !== revision
    ) {
      return true;
    }
    let differs = false;
    for (const section of ROUTE_SECTIONS) {
      differs = await this.#sectionDiffers(
        section,
        entries[section] as ReadonlyMap<string, object>,
      );
      if (differs) break;
    }
    const after = parseRevision(await redis.get(routesRevisionKey()));
    return after === revision ? differs : undefined;
  }

  /** Whether the section's pieces in Redis differ from `expected` (read by `HSCAN`). */
  async #sectionDiffers(
    section: RouteSection,
    expected: ReadonlyMap<string, object>,
  ): Promise<boolean> {
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.#redis.hscan(
        routesSectionKey(section),
        cursor,
        'COUNT',
        DRIFT_SCAN_COUNT,
      );
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const key = flat[i] as string;
        const entry = expected.get(key);
        if (entry === undefined) return true;
        if (entryDigest(entry).digest !== pieceDigest(flat[i + 1] as string)) return true;
        seen.add(key);
      }
    } while (cursor !== '0');
    return seen.size !== expected.size;
  }

  /** Trims the change log to about `maxLogLength` entries; returns how many were removed. */
  trimLog(): Promise<number> {
    return this.#redis.xtrim(routesLogKey(), 'MAXLEN', '~', this.#maxLogLength);
  }

  async #publish(
    entries: RouteEntries,
    changed: ChangedKeys | 'all',
    verify: boolean,
  ): Promise<PublishResult> {
    const started = performance.now();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const result = await this.#attempt(entries, changed, verify);
      if (result === 'conflict') {
        this.#log.info({ attempt }, 'route revision moved under the transaction; retrying');
        // A short random pause, so that two writers do not collide again in lockstep.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
        continue;
      }
      if (result.published) {
        this.#onPublished?.(result.revision, performance.now() - started, result.bytes);
      }
      return result;
    }
    throw new Error(
      `route publication lost ${MAX_ATTEMPTS} races: another writer keeps changing ${routesRevisionKey()}`,
    );
  }

  async #attempt(
    entries: RouteEntries,
    changed: ChangedKeys | 'all',
    verify: boolean,
  ): Promise<PublishResult | 'conflict'> {
    const redis = this.#redis;
    assertReady(redis);
    // The WATCH lives on this socket: the transaction must go out on the same one.
    const socket = redis.stream;
    await redis.watch(routesRevisionKey());
    let watching = true;
    try {
      const revisionText = await redis.get(routesRevisionKey());
      const known = this.#current;
      const fast = !verify && known !== undefined && parseRevision(revisionText) === known.revision;
      const state: RedisRouteState = fast
        ? { base: known, highest: known.revision, logBehind: false }
        : await this.#readState(revisionText, verify);
      const plan = planPublication(state, entries, { changed: fast ? changed : 'all' });
      if (!plan.write) {
        this.#current = state.base;
        this.#revision = plan.revision;
        return { revision: plan.revision, published: false, bytes: 0 };
      }
      assertNoPrivateKey(plan);
      assertReady(redis);
      if (redis.stream !== socket) return 'conflict'; // reconnected since WATCH: start over
      watching = false; // EXEC, whatever its outcome, ends the WATCH
      const replies = await this.#transaction(plan).exec();
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
      this.#current = applyWrites(plan.full ? undefined : state.base, plan);
      this.#revision = plan.revision;
      this.#log.debug(
        {
          revision: plan.revision,
          from: plan.fromRevision,
          full: plan.full,
          pieces: ROUTE_SECTIONS.reduce(
            (n, s) => n + plan.writes[s].set.size + plan.writes[s].remove.length,
            0,
          ),
          deltaBytes: plan.delta?.length ?? 0,
        },
        'route table published',
      );
      return { revision: plan.revision, published: true, bytes: writtenBytes(plan) };
    } finally {
      // Pipelined before anything else on this connection; a broken socket needs no UNWATCH.
      if (watching) redis.unwatch().catch(() => undefined);
    }
  }

  /** The changed pieces, the revision and the log entry, in one MULTI. */
  #transaction(plan: Extract<PublicationPlan, { write: true }>): ChainableCommander {
    const multi = this.#redis.multi();
    if (plan.full) multi.del(...ROUTE_SECTIONS.map(routesSectionKey));
    // The first revision of a history (an empty Redis) and every full rewrite set the format.
    if (plan.full || plan.fromRevision === 0) {
      multi.set(routesFormatKey(), String(ROUTES_FORMAT));
      multi.set(routesSnapshotKey(), ROUTES_FORMAT_1_MARKER);
    }
    for (const section of ROUTE_SECTIONS) {
      const { set, remove } = plan.writes[section];
      if (set.size > 0) multi.hset(routesSectionKey(section), set);
      if (remove.length > 0) multi.hdel(routesSectionKey(section), ...remove);
    }
    multi.set(routesRevisionKey(), String(plan.revision));
    const fields = [
      ROUTES_LOG_FIELDS.revision,
      String(plan.revision),
      ROUTES_LOG_FIELDS.from,
      String(plan.fromRevision),
    ];
    if (plan.delta !== undefined) fields.push(ROUTES_LOG_FIELDS.patch, plan.delta);
    multi.xadd(routesLogKey(), 'MAXLEN', '~', this.#maxLogLength, '*', ...fields);
    return multi;
  }

  /** Reads the format, every piece and the newest log entry under the WATCH. */
  async #readState(revisionText: string | null, verify: boolean): Promise<RedisRouteState> {
    const redis = this.#redis;
    const revision = parseRevision(revisionText);
    const [format, virtualHosts, backends, certificates, newest] = await Promise.all([
      redis.get(routesFormatKey()),
      redis.hgetall(routesSectionKey('virtualHosts')),
      redis.hgetall(routesSectionKey('backends')),
      redis.hgetall(routesSectionKey('certificates')),
      redis.xrevrange(routesLogKey(), '+', '-', 'COUNT', 1),
    ]);
    const digests: SectionDigests = {
      virtualHosts: digestsOf(virtualHosts),
      backends: digestsOf(backends),
      certificates: digestsOf(certificates),
    };
    const newestFields = newest[0]?.[1];
    const loggedRevision =
      newestFields === undefined
        ? 0
        : parseRevision(fieldOf(newestFields, ROUTES_LOG_FIELDS.revision));
    // A format-2 entry names its base `base`; format 1's named it `from`.
    const loggedFormat2 =
      newestFields === undefined || fieldOf(newestFields, ROUTES_LOG_FIELDS.from) !== undefined;
    const pieces = ROUTE_SECTIONS.reduce((n, s) => n + digests[s].size, 0);
    const nothing = revisionText === null && format === null && pieces === 0 && !newestFields;
    let base: PublishedPieces | undefined;
    if (nothing) {
      base = { revision: 0, digests: emptyDigests() };
    } else if (format === String(ROUTES_FORMAT) && revision !== undefined && loggedFormat2) {
      base = { revision, digests };
    } else {
      this.#log.warn(
        { format, revision: revisionText, loggedRevision, loggedFormat2 },
        'route keys in redis are not a format-2 table at the revision key; rewriting them whole',
      );
    }
    const logBehind = verify && base !== undefined && loggedRevision !== base.revision;
    if (logBehind) {
      this.#log.warn(
        { revision, loggedRevision },
        'route change log behind the revision; republishing',
      );
    }
    return {
      base,
      highest: Math.max(revision ?? 0, loggedRevision ?? 0),
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
