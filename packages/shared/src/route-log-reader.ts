/**
 * Follows the route table in Redis the way docs/redis-keyspace.md ("Reading protocol")
 * describes: a snapshot and the newest change-log id read together, then the change log with
 * `XREAD BLOCK`, patch by patch, falling back to the snapshot whenever a patch does not follow.
 *
 * Two tables are kept: the table *as published* (the base every patch applies to, because the
 * controller diffs what it published) and the table *served* (the published one validated, with
 * invalid entries dropped). Validating only what is served keeps every reader at revision r
 * serving exactly `validateRouteTable(table r)`, whichever way it got there.
 */

import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidRouteTableError, isPierError } from './errors.ts';
import { ROUTES_LOG_FIELDS, routesLogKey, routesSnapshotKey } from './keyspace.ts';
import type { PierLogger } from './logger.ts';
import { createLogger } from './logger.ts';
import { redisReconnectDelay } from './redis-reconnect.ts';
import { decodeRoutePatch, tableChecksum } from './route-codec.ts';
import { applyRoutePatch, PATCH_SECTIONS } from './route-patch.ts';
import type { RouteTable } from './route-table.ts';
import { emptyRouteTable } from './route-table.ts';
import type { Problem } from './route-table-validation.ts';
import { validateRouteTable } from './route-table-validation.ts';

/** How a table reached the reader: the first snapshot, a change-log patch, or a full resync. */
export type TableSource = 'snapshot' | 'patch' | 'resync';

/** Events of a {@link RouteLogReader}. */
export interface RouteLogReaderEvents {
  /** The served table changed. It is complete and validated; treat it as immutable. */
  table: [table: RouteTable, how: TableSource];
  /** Entries of a new table that failed validation and were dropped (emitted before `table`). */
  problems: [problems: Problem[]];
}

/** Options of {@link RouteLogReader}. */
export interface RouteLogReaderOptions {
  /**
   * A connection for the reader alone: it blocks in `XREAD`, and `stop()` disconnects it.
   * Create it with {@link routeLogReaderRedisOptions}.
   */
  redis: Redis;
  /** Defaults to a silent logger. */
  logger?: PierLogger;
  /** How long one `XREAD` blocks, ms (default 5000). Bounds how long `stop()` can take, too. */
  blockMs?: number;
  /**
   * The table to serve until Redis has one, e.g. the dataplane's copy on local disk
   * (design invariant 5). Without it, a Redis holding no snapshot gives the empty table.
   */
  initialTable?: RouteTable;
  /** First retry delay after a failed Redis command, ms (default 100); doubles up to `maxRetryMs`. */
  initialRetryMs?: number;
  /** Longest retry delay, ms (default 5000). */
  maxRetryMs?: number;
}

/** The snapshot as published (the base for patches) and as served (validated). */
export interface ParsedRouteSnapshot {
  /** Entries exactly as published, unchecked: what the next patch applies to. */
  published: RouteTable;
  /** `published` after {@link validateRouteTable}: what may be served. */
  table: RouteTable;
  /** What validation dropped. */
  problems: Problem[];
}

const DEFAULT_BLOCK_MS = 5000;
/** Entries per XREAD: bounds one reply when a reader is far behind. */
const READ_COUNT = 100;

/**
 * ioredis options for a reader's connection. A command in flight when the connection drops is
 * rejected at once (`maxRetriesPerRequest: 0`) and nothing queues while it is down
 * (`enableOfflineQueue: false`), so the reader notices the outage, keeps its table, retries with
 * its own back-off and resyncs; ioredis reconnects in the background, forever. `socketTimeout`
 * (a little longer than one `XREAD BLOCK`) tears down a connection whose peer vanished without a
 * FIN, which TCP alone would notice only after many minutes.
 */
export function routeLogReaderRedisOptions(blockMs = DEFAULT_BLOCK_MS): RedisOptions {
  return {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    socketTimeout: blockMs + 10_000,
    connectTimeout: 5000,
    retryStrategy: redisReconnectDelay,
  };
}

/**
 * Parses a snapshot (`pier:v1:routes:snapshot`) into the published table and the served one.
 * A section that is not an object counts as empty in both.
 *
 * @throws InvalidRouteTableError when the text is not JSON, not an object, or has no valid
 *   revision.
 */
export function parseRouteSnapshot(text: string): ParsedRouteSnapshot {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (cause) {
    throw new InvalidRouteTableError('route table is not valid JSON', { cause });
  }
  const { table, problems } = validateRouteTable(input);
  const raw = input as Record<string, unknown>;
  const published = { ...emptyRouteTable(), revision: table.revision };
  for (const section of PATCH_SECTIONS) {
    const value = raw[section];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      Object.assign(published, { [section]: value });
    }
  }
  return { published, table, problems };
}

/**
 * Keeps an up-to-date route table from Redis and announces each new one.
 *
 * `start()` reads the snapshot and the newest change-log id in one `MULTI`, then follows the log.
 * A log entry is applied when its `from` is the revision of the published table held; otherwise
 * (entries trimmed while behind, a reset Redis) or when its patch cannot be decoded or applied,
 * the reader resyncs from the snapshot. Any connection loss also leads to a resync, because a
 * restarted Redis may hold another history. While Redis is unreachable, or holds no snapshot,
 * the last table is kept and served.
 *
 * Events: `table` (see {@link RouteLogReaderEvents}) whenever the served table changes, never
 * for half a change; `problems` with the entries of that table that validation dropped.
 */
export class RouteLogReader extends EventEmitter<RouteLogReaderEvents> {
  readonly #redis: Redis;
  readonly #log: PierLogger;
  readonly #blockMs: number;
  readonly #initialRetryMs: number;
  readonly #maxRetryMs: number;
  /** Served table; undefined until one is known. */
  #table: RouteTable | undefined;
  /** The table as published in the history being followed; undefined: no base, next entry resyncs. */
  #published: RouteTable | undefined;
  /** Id of the last log entry applied or seen in a resync; entries after it are new. */
  #lastId = '0-0';
  /** Bumped on every connection close: a reply from another connection than the sync is stale. */
  #epoch = 0;
  #syncedEpoch = -1;
  #needResync = true;
  #started = false;
  #stopped = false;
  #run: Promise<void> | undefined;
  #first: { resolve: (t: RouteTable) => void; reject: (e: Error) => void } | undefined;
  #wake: (() => void) | undefined;
  readonly #onClose = (): void => {
    this.#epoch++;
  };
  /** Redis is back: retry now rather than at the end of the back-off. */
  readonly #onReady = (): void => {
    this.#wake?.();
  };
  readonly #onError = (err: Error): void => {
    this.#log.debug({ err: err.message }, 'redis connection error');
  };

  constructor(options: RouteLogReaderOptions) {
    super();
    this.#redis = options.redis;
    this.#log = options.logger ?? createLogger({ name: 'route-log-reader', level: 'silent' });
    this.#blockMs = positiveInteger(options.blockMs ?? DEFAULT_BLOCK_MS, 'blockMs');
    this.#initialRetryMs = positiveInteger(options.initialRetryMs ?? 100, 'initialRetryMs');
    this.#maxRetryMs = positiveInteger(options.maxRetryMs ?? 5000, 'maxRetryMs');
    this.#table = options.initialTable;
  }

  /** The table served now (validated), or undefined before the first one. */
  get table(): RouteTable | undefined {
    return this.#table;
  }

  /** Revision of {@link RouteLogReader.table}; 0 before the first one. */
  get revision(): number {
    return this.#table?.revision ?? 0;
  }

  /**
   * Reads the snapshot, then follows the change log in the background until `stop()`.
   * Resolves with the first table read from Redis, or with the initial (else the empty) table
   * when Redis holds no snapshot. While Redis is unreachable it keeps retrying, so a caller
   * that must serve meanwhile (the dataplane, from disk) should not wait for it.
   *
   * @throws Error when called twice, or when `stop()` comes before the first read.
   */
  start(): Promise<RouteTable> {
    if (this.#started) return Promise.reject(new Error('RouteLogReader: start() called twice'));
    this.#started = true;
    this.#redis.on('close', this.#onClose);
    this.#redis.on('ready', this.#onReady);
    this.#redis.on('error', this.#onError);
    if (this.#redis.status === 'wait') this.#redis.connect().catch(() => undefined);
    const first = new Promise<RouteTable>((resolve, reject) => {
      this.#first = { resolve, reject };
    });
    this.#run = this.#follow();
    return first;
  }

  /** Stops following and disconnects the reader's connection. The last table stays readable. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
    this.#redis.disconnect();
    await this.#run;
    this.#redis.off('close', this.#onClose);
    this.#redis.off('ready', this.#onReady);
    this.#redis.off('error', this.#onError);
    this.#first?.reject(new Error('RouteLogReader stopped before the first read'));
    this.#first = undefined;
  }

  async #follow(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (this.#needResync || this.#syncedEpoch !== this.#epoch) {
          await this.#resync();
        } else {
          await this.#readLog();
        }
        if (failures > 0) this.#log.info({ failures }, 'route log reachable again');
        failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        failures++;
        const delayMs = backoffMs(failures, this.#initialRetryMs, this.#maxRetryMs);
        const fields = {
          err: errorText(err),
          failures,
          retryInMs: delayMs,
          revision: this.revision,
        };
        // Loud at first, then now and then: a long outage is not a thousand warnings.
        if (failures % 20 === 1) {
          this.#log.warn(fields, 'reading routes from redis failed; serving the last table');
        } else {
          this.#log.debug(fields, 'reading routes from redis failed again');
        }
        this.#needResync = true;
        await this.#sleep(delayMs);
      }
    }
  }

  /** Step 1 of the protocol: snapshot and newest log id together. */
  async #resync(): Promise<void> {
    const epoch = this.#epoch;
    const replies = await this.#redis
      .multi()
      .get(routesSnapshotKey())
      .xrevrange(routesLogKey(), '+', '-', 'COUNT', 1)
      .exec();
    if (this.#stopped || epoch !== this.#epoch) return; // answered on another connection: again
    if (replies === null) throw new Error('MULTI reading the route snapshot was aborted');
    const snapshot = replyValue(replies[0]);
    const newest = replyValue(replies[1]);
    if (snapshot !== null && typeof snapshot !== 'string') {
      throw new Error('route snapshot is not a string');
    }
    const newestId = rangeEntries(newest)[0]?.id;
    this.#lastId = newestId ?? '0-0';
    this.#syncedEpoch = epoch;
    this.#needResync = false;
    const how: TableSource = this.#first === undefined ? 'resync' : 'snapshot';
    if (snapshot === null) {
      // Nothing published in this Redis (new, or reset). With an empty log too, the history
      // starts from the empty table at revision 0, which is what the first patch applies to.
      this.#published = newestId === undefined ? emptyRouteTable() : undefined;
      if (this.#table !== undefined && this.#table.revision > 0) {
        this.#log.warn(
          { revision: this.#table.revision },
          'redis holds no route snapshot; serving the last table until the controller publishes',
        );
      }
      this.#table ??= emptyRouteTable();
    } else {
      try {
        const parsed = parseRouteSnapshot(snapshot);
        this.#published = parsed.published;
        this.#install(parsed.table, parsed.problems, how);
      } catch (err) {
        if (!isPierError(err)) throw err;
        // A table that is no table is not served; the next log entry brings another resync.
        this.#published = undefined;
        this.#table ??= emptyRouteTable();
        this.#log.error(
          { err: err.message, code: err.code, revision: this.revision },
          'route snapshot unreadable; serving the last table',
        );
      }
    }
    const first = this.#first;
    this.#first = undefined;
    first?.resolve(this.#table as RouteTable);
  }

  /** Step 2 of the protocol: apply new log entries while they follow. */
  async #readLog(): Promise<void> {
    const epoch = this.#epoch;
    const reply: unknown = await this.#redis.xread(
      'COUNT',
      READ_COUNT,
      'BLOCK',
      this.#blockMs,
      'STREAMS',
      routesLogKey(),
      this.#lastId,
    );
    if (this.#stopped || epoch !== this.#epoch) return; // another connection: resync first
    let published = this.#published;
    let applied = 0;
    for (const entry of readEntries(reply)) {
      const rev = decimal(entry.fields.get(ROUTES_LOG_FIELDS.revision));
      const from = decimal(entry.fields.get(ROUTES_LOG_FIELDS.from));
      if (published === undefined || from !== published.revision || rev === undefined) {
        this.#gap(
          entry.id,
          `entry ${from ?? '?'}→${rev ?? '?'} does not follow revision ${published?.revision ?? 'none'}`,
        );
        break;
      }
      try {
        const patch = decodeRoutePatch(entry.fields.get(ROUTES_LOG_FIELDS.patch) ?? '');
        if (patch.fromRevision !== from || patch.toRevision !== rev) {
          this.#gap(
            entry.id,
            `patch ${patch.fromRevision}→${patch.toRevision} mislabelled ${from}→${rev}`,
          );
          break;
        }
        published = applyRoutePatch(published, patch);
      } catch (err) {
        if (!isPierError(err)) throw err;
        this.#gap(entry.id, err.message, err.code);
        break;
      }
      this.#lastId = entry.id;
      applied++;
    }
    if (applied === 0 || published === undefined) return;
    this.#published = published;
    const { table, problems } = validateRouteTable(published);
    this.#install(table, problems, 'patch');
  }

  #gap(id: string, reason: string, code?: string): void {
    this.#needResync = true;
    this.#log.info(
      { entry: id, reason, code, revision: this.revision },
      'route log gap; resyncing',
    );
  }

  /** Serves `table` and announces it, unless a resync found exactly what is served. */
  #install(table: RouteTable, problems: Problem[], how: TableSource): void {
    const previous = this.#table;
    this.#table = table;
    const unchanged =
      previous !== undefined &&
      how !== 'patch' &&
      previous.revision === table.revision &&
      tableChecksum(previous) === tableChecksum(table);
    if (unchanged) return;
    this.#log.debug({ revision: table.revision, how, problems: problems.length }, 'route table');
    // A listener's bug must not break following the log (it would resync forever).
    try {
      if (problems.length > 0) this.emit('problems', problems);
      this.emit('table', table, how);
    } catch (err) {
      this.#log.error(
        { err: errorText(err), revision: table.revision },
        'route table listener failed',
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/** Exponential back-off with full jitter in the upper half: attempt 1 waits ~initialMs. */
function backoffMs(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** One `[error, value]` pair of an EXEC reply; the error is thrown. */
function replyValue(pair: [Error | null, unknown] | undefined): unknown {
  if (pair === undefined) throw new Error('EXEC reply is missing a command');
  if (pair[0] !== null) throw pair[0];
  return pair[1];
}

interface StreamEntry {
  id: string;
  fields: Map<string, string>;
}

/**
 * Entries of an XREAD reply for one stream: `[[key, entries]]` (RESP2, and RESP3 with ioredis'
 * legacy reply mapping) or `{ key: entries }` (RESP3 with the `resp3` mapping).
 */
function readEntries(reply: unknown): StreamEntry[] {
  if (reply === null || typeof reply !== 'object') return [];
  const perStream: unknown[] = Array.isArray(reply)
    ? reply.map((stream: unknown) => (Array.isArray(stream) ? stream[1] : undefined))
    : Object.values(reply);
  return perStream.flatMap((entries) => rangeEntries(entries));
}

/** Entries of an XRANGE / XREVRANGE reply, `[[id, [field, value, ...]], ...]`; junk skipped. */
function rangeEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return [];
  const entries: StreamEntry[] = [];
  for (const item of reply) {
    if (!Array.isArray(item) || typeof item[0] !== 'string' || !Array.isArray(item[1])) continue;
    const flat: unknown[] = item[1];
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const name = flat[i];
      const value = flat[i + 1];
      if (typeof name === 'string' && typeof value === 'string') fields.set(name, value);
    }
    entries.push({ id: item[0], fields });
  }
  return entries;
}

function decimal(text: string | undefined): number | undefined {
  if (text === undefined || !/^(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`RouteLogReader: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
