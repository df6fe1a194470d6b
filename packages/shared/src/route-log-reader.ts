/**
 * Follows the route table in Redis the way docs/redis-keyspace.md ("Reading protocol")
 * describes: the format, the revision, every piece and the newest change-log id read together
 * in one `MULTI`, then the change log with `XREAD BLOCK`, delta by delta, falling back to the
 * pieces whenever a delta does not follow.
 *
 * The table is a {@link RouteTableState}: the entries *as published* (the base every delta
 * applies to, because the controller diffs what it published) and the entries *served*
 * (validated, invalid ones dropped). A delta is validated by the entries it touches, so every
 * reader at revision r serves exactly `validateRouteTable(table r)`, whichever way it got there,
 * and a one-entry change costs one entry's work whatever the size of the table.
 */

import { EventEmitter } from 'node:events';
import type { Redis, RedisOptions } from 'ioredis';
import { InvalidRouteTableError, isPierError, RouteFormatError } from './errors.ts';
import {
  ROUTES_FORMAT,
  ROUTES_LOG_FIELDS,
  routesFormatKey,
  routesLogKey,
  routesRevisionKey,
  routesSectionKey,
} from './keyspace.ts';
import type { PierLogger } from './logger.ts';
import { createLogger } from './logger.ts';
import { redisReconnectDelay } from './redis-reconnect.ts';
import { decodeRoutePatch } from './route-codec.ts';
import type { ChangedKeys, RouteSection } from './route-entries.ts';
import { ROUTE_SECTIONS } from './route-entries.ts';
import type { RouteTable } from './route-table.ts';
import type { RouteTableChange } from './route-table-state.ts';
import { RouteTableState } from './route-table-state.ts';
import type { Problem } from './route-table-validation.ts';

/** How a table reached the reader: the first read, a change-log delta, or a full resync. */
export type TableSource = 'snapshot' | 'patch' | 'resync';

/** Events of a {@link RouteLogReader}. */
export interface RouteLogReaderEvents {
  /**
   * The served table changed: `state` is the reader's table (it changes with the next delta:
   * read what you need now), `change` the keys whose served entry was added, replaced or removed.
   */
  change: [state: RouteTableState, how: TableSource, change: RouteTableChange];
  /**
   * The same, as a whole table (complete and validated; treat it as immutable). Made only while
   * someone listens: it costs O(table) per change.
   */
  table: [table: RouteTable, how: TableSource];
  /**
   * Entries checked for a change that failed validation and were dropped (emitted before
   * `change`), and a refused format (section `table`, field `format`).
   */
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
   * (design invariant 5). Without it, a Redis holding no table gives the empty table.
   */
  initialTable?: RouteTable | RouteTableState;
  /** First retry delay after a failed Redis command, ms (default 100); doubles up to `maxRetryMs`. */
  initialRetryMs?: number;
  /** Longest retry delay, ms (default 5000). */
  maxRetryMs?: number;
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
 * Keeps an up-to-date route table from Redis and announces each change.
 *
 * `start()` reads the format, the revision, the pieces and the newest change-log id in one
 * `MULTI`, then follows the log. A log entry is applied when its base is the revision of the
 * published table held; otherwise (entries trimmed while behind, a reset Redis, a delta too
 * large to log) or when its delta cannot be decoded or applied, the reader resyncs from the
 * pieces. Any connection loss also leads to a resync, because a restarted Redis may hold another
 * history. While Redis is unreachable, holds no table, or holds another format, the last table
 * is kept and served.
 *
 * Events: `change` (see {@link RouteLogReaderEvents}) whenever the served table changes, never
 * for half a change; `problems` with the entries of that change that validation dropped.
 */
export class RouteLogReader extends EventEmitter<RouteLogReaderEvents> {
  readonly #redis: Redis;
  readonly #log: PierLogger;
  readonly #blockMs: number;
  readonly #initialRetryMs: number;
  readonly #maxRetryMs: number;
  /** Served table; undefined until one is known. */
  #served: RouteTableState | undefined;
  /**
   * The table as published in the history being followed (usually the served one itself);
   * undefined: no base, the next entry resyncs.
   */
  #base: RouteTableState | undefined;
  /** {@link RouteLogReader.table}, made when asked for, until the next change. */
  #table: RouteTable | undefined;
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
    const initial = options.initialTable;
    this.#served =
      initial === undefined || initial instanceof RouteTableState
        ? initial
        : RouteTableState.fromTable(initial).state;
  }

  /** The table served now (validated), or undefined before the first one. O(table) per change. */
  get table(): RouteTable | undefined {
    this.#table ??= this.#served?.toTable();
    return this.#table;
  }

  /** The table served now, entry by entry; it changes in place with every delta. */
  get state(): RouteTableState | undefined {
    return this.#served;
  }

  /** Revision of {@link RouteLogReader.table}; 0 before the first one. */
  get revision(): number {
    return this.#served?.revision ?? 0;
  }

  /**
   * Reads the table, then follows the change log in the background until `stop()`.
   * Resolves with the first table read from Redis, or with the initial (else the empty) table
   * when Redis holds none. While Redis is unreachable it keeps retrying, so a caller that must
   * serve meanwhile (the dataplane, from disk) should not wait for it.
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

  /** Step 1 of the protocol: format, revision, pieces and newest log id together. */
  async #resync(): Promise<void> {
    const epoch = this.#epoch;
    const multi = this.#redis.multi().get(routesFormatKey()).get(routesRevisionKey());
    for (const section of ROUTE_SECTIONS) multi.hgetall(routesSectionKey(section));
    const replies = await multi.xrevrange(routesLogKey(), '+', '-', 'COUNT', 1).exec();
    if (this.#stopped || epoch !== this.#epoch) return; // answered on another connection: again
    if (replies === null) throw new Error('MULTI reading the route table was aborted');
    const format = replyValue(replies[0]);
    const revisionText = replyValue(replies[1]);
    const pieces = {} as Record<RouteSection, [string, string][]>;
    ROUTE_SECTIONS.forEach((section, i) => {
      pieces[section] = hashEntries(replyValue(replies[2 + i]));
    });
    const newest = rangeEntries(replyValue(replies[2 + ROUTE_SECTIONS.length]))[0];
    this.#lastId = newest?.id ?? '0-0';
    this.#syncedEpoch = epoch;
    this.#needResync = false;
    const how: TableSource = this.#first === undefined ? 'resync' : 'snapshot';
    const count = ROUTE_SECTIONS.reduce((n, s) => n + pieces[s].length, 0);
    if (format === null && revisionText === null && count === 0) {
      // Nothing published in this Redis (new, or reset). With an empty log too, the history
      // starts from the empty table at revision 0, which is what the first delta applies to.
      this.#base = newest === undefined ? RouteTableState.empty() : undefined;
      if (this.#served !== undefined && this.#served.revision > 0) {
        this.#log.warn(
          { revision: this.#served.revision },
          'redis holds no route table; serving the last table until the controller publishes',
        );
      }
      this.#served ??= this.#base ?? RouteTableState.empty();
    } else {
      const revision = typeof revisionText === 'string' ? decimal(revisionText) : undefined;
      const refusal = formatRefusal(format, newest);
      if (refusal !== undefined || revision === undefined) {
        // A table this reader cannot read is not served; the next log entry brings another
        // resync (design invariant 5: the last good table stays).
        this.#base = undefined;
        this.#served ??= RouteTableState.empty();
        const err =
          refusal ??
          new InvalidRouteTableError(
            `route revision ${JSON.stringify(revisionText)} is not a decimal integer`,
          );
        this.#log.error(
          { err: err.message, code: err.code, format, revision: this.revision, ...err.details },
          'route table in redis not read; serving the last table',
        );
        this.#emitProblems([
          {
            section: 'table',
            key: '',
            field: refusal ? 'format' : 'revision',
            message: err.message,
          },
        ]);
      } else {
        const { state, problems } = RouteTableState.fromPieces(revision, pieces);
        const previous = this.#served;
        this.#base = state;
        this.#served = state;
        const change = { revision, changed: state.adopt(previous), problems };
        const unchanged =
          previous !== undefined && previous.revision === revision && isEmpty(change.changed);
        if (!unchanged) this.#install(change, how);
      }
    }
    const first = this.#first;
    this.#first = undefined;
    first?.resolve(this.table as RouteTable);
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
    const base = this.#base;
    const changed = {
      virtualHosts: new Set<string>(),
      backends: new Set<string>(),
      certificates: new Set<string>(),
    };
    const problems: Problem[] = [];
    let applied = 0;
    for (const entry of readEntries(reply)) {
      const rev = decimal(entry.fields.get(ROUTES_LOG_FIELDS.revision));
      const from = decimal(entry.fields.get(ROUTES_LOG_FIELDS.from));
      if (base === undefined || from !== base.revision || rev === undefined) {
        this.#gap(
          entry.id,
          `entry ${from ?? '?'}→${rev ?? '?'} does not follow revision ${base?.revision ?? 'none'}`,
        );
        break;
      }
      const text = entry.fields.get(ROUTES_LOG_FIELDS.patch);
      if (text === undefined) {
        this.#gap(entry.id, `entry ${from}→${rev} carries no delta (too large to log)`);
        break;
      }
      try {
        const patch = decodeRoutePatch(text);
        if (patch.fromRevision !== from || patch.toRevision !== rev) {
          this.#gap(
            entry.id,
            `patch ${patch.fromRevision}→${patch.toRevision} mislabelled ${from}→${rev}`,
          );
          break;
        }
        const change = base.apply(patch);
        for (const section of ROUTE_SECTIONS) {
          for (const key of change.changed[section]) changed[section].add(key);
        }
        problems.push(...change.problems);
      } catch (err) {
        if (!isPierError(err)) throw err;
        this.#gap(entry.id, err.message, err.code);
        break;
      }
      this.#lastId = entry.id;
      applied++;
    }
    if (applied === 0 || base === undefined) return;
    const previous = this.#served;
    this.#served = base;
    // After an empty Redis the base (the empty table) is not what was served (the disk copy).
    const all = previous === base ? changed : base.adopt(previous);
    this.#install({ revision: base.revision, changed: all, problems }, 'patch');
  }

  #gap(id: string, reason: string, code?: string): void {
    this.#needResync = true;
    this.#log.info(
      { entry: id, reason, code, revision: this.revision },
      'route log gap; resyncing',
    );
  }

  /** Announces a change of the served table. */
  #install(change: RouteTableChange, how: TableSource): void {
    this.#table = undefined;
    const state = this.#served as RouteTableState;
    this.#log.debug(
      { revision: change.revision, how, problems: change.problems.length },
      'route table',
    );
    this.#emitProblems(change.problems);
    // A listener's bug must not break following the log (it would resync forever).
    try {
      this.emit('change', state, how, change);
      if (this.listenerCount('table') > 0) this.emit('table', this.table as RouteTable, how);
    } catch (err) {
      this.#log.error(
        { err: errorText(err), revision: change.revision },
        'route table listener failed',
      );
    }
  }

  #emitProblems(problems: Problem[]): void {
    if (problems.length === 0) return;
    try {
      this.emit('problems', problems);
    } catch (err) {
      this.#log.error({ err: errorText(err) }, 'route problems listener failed');
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

/**
 * Why the route keys cannot be read as {@link ROUTES_FORMAT}, if they cannot: another value in
 * the format key (absent while a revision exists: format 1), or a newest log entry written in
 * another format (a controller of another version published last).
 */
function formatRefusal(
  format: unknown,
  newest: StreamEntry | undefined,
): RouteFormatError | undefined {
  const found = format === null ? '1' : String(format);
  if (found !== String(ROUTES_FORMAT)) {
    return new RouteFormatError(
      `route keys in redis are format ${found}; this reader knows format ${ROUTES_FORMAT}`,
      { details: { format: found, expected: ROUTES_FORMAT } },
    );
  }
  if (newest !== undefined && !newest.fields.has(ROUTES_LOG_FIELDS.from)) {
    return new RouteFormatError(
      `the newest route log entry is not format ${ROUTES_FORMAT} (a controller of another version published it)`,
      { details: { format: 'unknown', expected: ROUTES_FORMAT, entry: newest.id } },
    );
  }
  return undefined;
}

function isEmpty(changed: ChangedKeys): boolean {
  return ROUTE_SECTIONS.every((section) => changed[section].size === 0);
}

/** An HGETALL reply (`{ field: value }`, or a flat array in some reply modes) as pairs. */
function hashEntries(reply: unknown): [string, string][] {
  if (Array.isArray(reply)) {
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const [field, value] = [reply[i], reply[i + 1]];
      if (typeof field === 'string' && typeof value === 'string') pairs.push([field, value]);
    }
    return pairs;
  }
  if (reply === null || typeof reply !== 'object') return [];
  return Object.entries(reply).filter(
    (pair): pair is [string, string] => typeof pair[1] === 'string',
  );
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
