/**
 * Keeps the dataplane's route table: the last good table from local disk at
 * start (so a restart during a Redis outage still serves), then the shared
 * log reader following Redis. Every table that arrives is written back to
 * disk (write to a temporary file, then rename: a crash never leaves half a
 * file), at most every `persistEveryMs`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  decodeRouteTable,
  encodeRouteTable,
  type PierLogger,
  type Problem,
  RouteLogReader,
  type RouteTable,
} from '@pier/shared';
import type { Redis } from 'ioredis';

export type TableSource = 'disk' | 'snapshot' | 'patch' | 'resync';

export interface RouteSyncOptions {
  /** A dedicated connection (the reader blocks in XREAD). */
  redis: Redis;
  stateFile: string;
  logger: PierLogger;
  onTable: (table: RouteTable, source: TableSource) => void;
  onProblems?: (problems: readonly Problem[]) => void;
  blockMs?: number;
  persistEveryMs?: number;
}

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
  #pending: RouteTable | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(options: RouteSyncOptions) {
    this.#o = options;
  }

  /**
   * Applies the saved table at once, then follows Redis in the background:
   * serving never waits for Redis.
   */
  async start(): Promise<void> {
    const saved = await loadSavedTable(this.#o.stateFile, this.#o.logger);
    if (saved) {
      this.#o.onTable(saved, 'disk');
      this.#o.logger.info({ revision: saved.revision }, 'serving the saved route table');
    }
    const reader = new RouteLogReader({
      redis: this.#o.redis,
      logger: this.#o.logger,
      ...(saved ? { initialTable: saved } : {}),
      ...(this.#o.blockMs ? { blockMs: this.#o.blockMs } : {}),
    });
    this.#reader = reader;
    reader.on('table', (table: RouteTable, how: TableSource) => {
      this.#o.onTable(table, how);
      this.#persistSoon(table);
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

  #persistSoon(table: RouteTable): void {
    this.#pending = table;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#persist();
    }, this.#o.persistEveryMs ?? 200);
    this.#timer.unref();
  }

  #persist(): Promise<void> {
    const table = this.#pending;
    this.#pending = undefined;
    if (!table) return this.#writing;
    this.#writing = this.#writing.then(async () => {
      const path = this.#o.stateFile;
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(tmp, encodeRouteTable(table), { mode: 0o600 });
        await rename(tmp, path);
      } catch (err) {
        this.#o.logger.warn({ path, err: String(err) }, 'cannot save the route table');
      }
    });
    return this.#writing;
  }
}
