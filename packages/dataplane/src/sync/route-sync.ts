/**
 * Keeps the dataplane's route table: the last good table from local disk at
 * start (so a restart during a Redis outage still serves), then the shared
 * log reader following Redis, delta by delta. Every change is handed on with
 * the keys it changed, and the table is written back to disk (write to a
 * temporary file, then rename: a crash never leaves half a file) `persistEveryMs` after a
 * change, and at most once every `persistMinIntervalMs`: each save writes the whole table (a
 * 10,000-host table is 16 MiB of text), so a rollout of many small changes must not write it
 * per change. The copy on disk is at most that interval behind the table served.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type ChangedKeys,
  decodeRouteTable,
  type PierLogger,
  type Problem,
  RouteLogReader,
  type RouteTable,
  RouteTableState,
} from '@pier/shared';
import type { Redis } from 'ioredis';

export type TableSource = 'disk' | 'snapshot' | 'patch' | 'resync';

export interface RouteSyncOptions {
  /** A dedicated connection (the reader blocks in XREAD). */
  redis: Redis;
  stateFile: string;
  logger: PierLogger;
  /**
   * A new table: `state` is the table now (it changes in place with the next delta: read what
   * you need at once), `changed` the keys whose served entry was added, replaced or removed
   * since the previous call ('all' for the first table, from disk or Redis).
   */
  onTable: (state: RouteTableState, source: TableSource, changed: ChangedKeys | 'all') => void;
  onProblems?: (problems: readonly Problem[]) => void;
  blockMs?: number;
  /** Delay from a change to its save, coalescing a burst (default {@link PERSIST_DELAY_MS}). */
  persistEveryMs?: number;
  /** Least time between two saves (default {@link PERSIST_MIN_INTERVAL_MS}). */
  persistMinIntervalMs?: number;
}

/** A change is saved this long after it, ms. */
export const PERSIST_DELAY_MS = 200;
/** Two saves are at least this far apart, ms. */
export const PERSIST_MIN_INTERVAL_MS = 5_000;

/** Reads a table saved by {@link RouteSync}; undefined when absent or unusable (logged). */
export async function loadSavedTable(
  path: string,
  logger: PierLogger,
): Promise<RouteTable | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      logger.warn({ path, err: String(err) }, 'cannot read the saved route table');
    }
    return undefined;
  }
  try {
    const { table, problems } = decodeRouteTable(text);
    if (problems.length > 0)
      logger.warn({ path, problems: problems.length }, 'saved table had invalid entries');
    return table;
  } catch (err) {
    logger.warn({ path, err: String(err) }, 'saved route table is unusable; ignoring it');
    return undefined;
  }
}

export class RouteSync {
  readonly #o: RouteSyncOptions;
  #reader: RouteLogReader | undefined;
  #pending: RouteTableState | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** When the last save started (epoch ms); 0 before the first. */
  #savedAt = 0;

  constructor(options: RouteSyncOptions) {
    this.#o = options;
  }

  /**
   * Applies the saved table at once, then follows Redis in the background:
   * serving never waits for Redis.
   */
  async start(): Promise<void> {
    const saved = await loadSavedTable(this.#o.stateFile, this.#o.logger);
    const initial = saved && RouteTableState.fromTable(saved).state;
    if (initial) {
      this.#o.onTable(initial, 'disk', 'all');
      this.#o.logger.info({ revision: initial.revision }, 'serving the saved route table');
    }
    const reader = new RouteLogReader({
      redis: this.#o.redis,
      logger: this.#o.logger,
      ...(initial ? { initialTable: initial } : {}),
      ...(this.#o.blockMs ? { blockMs: this.#o.blockMs } : {}),
    });
    this.#reader = reader;
    let first = initial === undefined;
    reader.on('change', (state, how, change) => {
      this.#o.onTable(state, how, first ? 'all' : change.changed);
      first = false;
      this.#persistSoon(state);
    });
    reader.on('problems', (problems: Problem[]) => this.#o.onProblems?.(problems));
    reader.start().catch((err: unknown) => {
      this.#o.logger.warn({ err: String(err) }, 'route log reader stopped');
    });
  }

  async stop(): Promise<void> {
    await this.#reader?.stop();
    clearTimeout(this.#timer);
    if (this.#pending) await this.#persist();
    await this.#writing;
  }

  #persistSoon(state: RouteTableState): void {
    this.#pending = state;
    if (this.#timer) return;
    const next = this.#savedAt + (this.#o.persistMinIntervalMs ?? PERSIST_MIN_INTERVAL_MS);
    const delay = Math.max(this.#o.persistEveryMs ?? PERSIST_DELAY_MS, next - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#persist();
    }, delay);
    this.#timer.unref();
  }

  #persist(): Promise<void> {
    const state = this.#pending;
    this.#pending = undefined;
    if (!state) return this.#writing;
    this.#savedAt = Date.now();
    this.#writing = this.#writing.then(async () => {
      const path = this.#o.stateFile;
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        // The newest table when the write starts (the state changes in place; encodeChunks
        // holds the table of the call), written piece by piece as made: a 10,000-host table
        // is 16 MiB of text, never built whole.
        await writeFile(tmp, state.encodeChunks(), { mode: 0o600 });
        await rename(tmp, path);
      } catch (err) {
        this.#o.logger.warn({ path, err: String(err) }, 'cannot save the route table');
      }
    });
    return this.#writing;
  }
}
