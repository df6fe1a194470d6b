/**
 * The dataplane's route table, followed from Redis on a worker thread so that the serving thread
 * never does the work whose cost grows with the table: reading and decoding a snapshot or a large
 * patch, validating the table, and encoding its copy on local disk (`RouteSync` runs there
 * unchanged). The worker sends only what changed since the table it sent before, entry by entry
 * as JSON text in messages of bounded size; this side parses the changed entries in slices of a
 * few milliseconds (`runSliced`) and hands over a table in which every unchanged entry is the
 * same object as in the table before. `DataplaneApp` relies on that to find what changed by
 * identity, without reading the entries again.
 */
import { Worker } from 'node:worker_threads';
import {
  type PierLogger,
  type Problem,
  ROUTE_SECTIONS,
  type RouteSection,
  type RouteTable,
  SlicedQueue,
} from '@pier/shared';
import type { RouteSource, RouteSourceHandlers } from '../dataplane-parts.ts';

/** Entries parsed per step on the serving thread. */
const ENTRIES_PER_STEP = 16;
/** Delay before a worker that ended unasked is replaced, ms. */
const RESPAWN_MS = 1_000;
/** How long stop() waits for the worker to save the table and close its connection, ms. */
const STOP_WAIT_MS = 5_000;

/** What the worker needs: where Redis is, and where the table is saved. */
export interface RouteSyncWorkerData {
  redisUrl: string;
  redisPassword?: string;
  stateFile: string;
  logLevel: string;
  blockMs?: number;
  persistEveryMs?: number;
}

/** Messages from the worker, in order. */
export type RouteSyncMessage =
  /** A new table begins: the entries that follow are its changes. */
  | { type: 'begin'; revision: number }
  /** Changed or new entries of one section, as JSON text. */
  | { type: 'entries'; section: RouteSection; entries: Array<[key: string, json: string]> }
  /** Keys gone from one section. */
  | { type: 'removed'; section: RouteSection; keys: string[] }
  /** The table is complete. */
  | { type: 'end' }
  | { type: 'problems'; problems: Problem[] }
  | { type: 'redis'; connected: boolean }
  /** `RouteSync.start()` resolved: the saved table, if any, has been sent. */
  | { type: 'started' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };

/** Options of {@link RouteSyncThread}. */
export interface RouteSyncThreadOptions extends RouteSyncWorkerData {
  logger: PierLogger;
  handlers: RouteSourceHandlers;
  /** The worker's connection to Redis came up or went down. */
  onRedis?: (connected: boolean) => void;
}

interface PendingTable {
  revision: number;
  entries: Array<[RouteSection, string, string]>;
  removed: Array<[RouteSection, string]>;
}

/** A {@link RouteSource} following Redis on a worker thread; see the module comment. */
export class RouteSyncThread implements RouteSource {
  readonly #o: RouteSyncThreadOptions;
  readonly #building: SlicedQueue;
  #worker: Worker | undefined;
  #pending: PendingTable | undefined;
  #table: RouteTable | undefined;
  #started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #stopped: (() => void) | undefined;

  constructor(options: RouteSyncThreadOptions) {
    this.#o = options;
    this.#building = new SlicedQueue((err) =>
      this.#o.logger.error({ err }, 'route table from the worker could not be built'),
    );
  }

  /** Starts the worker; resolves once the saved table, if any, has been handed over. */
  start(): Promise<void> {
    const started = new Promise<void>((resolve, reject) => {
      this.#started = { resolve, reject };
    });
    this.#spawn();
    return started;
  }

  /**
   * A worker that ends unasked (a bug, out of memory) is replaced after {@link RESPAWN_MS}; the
   * last table is served meanwhile, and the new worker sends every entry again.
   */
  #spawn(): void {
    const { logger: _logger, handlers: _handlers, onRedis: _onRedis, ...data } = this.#o;
    const worker = new Worker(workerUrl(), { workerData: data satisfies RouteSyncWorkerData });
    this.#worker = worker;
    this.#pending = undefined;
    worker.on('message', (message: RouteSyncMessage) => this.#receive(message));
    worker.on('error', (err) => {
      this.#o.logger.error({ err }, 'route sync worker failed; serving the last table');
      this.#started?.reject(err);
    });
    worker.on('exit', (code) => {
      this.#stopped?.();
      if (this.#worker !== worker) return; // stopped, or replaced
      this.#o.logger.error({ code }, 'route sync worker ended; starting another');
      this.#o.onRedis?.(false);
      setTimeout(() => {
        if (this.#worker === worker) this.#spawn();
      }, RESPAWN_MS).unref();
    });
  }

  /** Lets the worker save the table and disconnect, then ends it. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    const stopped = new Promise<void>((resolve) => {
      this.#stopped = resolve;
      setTimeout(resolve, STOP_WAIT_MS).unref();
    });
    worker.postMessage({ type: 'stop' });
    await stopped;
    await worker.terminate();
    await this.#building.idle();
  }

  #receive(message: RouteSyncMessage): void {
    switch (message.type) {
      case 'begin':
        this.#pending = { revision: message.revision, entries: [], removed: [] };
        break;
      case 'entries':
        for (const [key, json] of message.entries) {
          this.#pending?.entries.push([message.section, key, json]);
        }
        break;
      case 'removed':
        for (const key of message.keys) this.#pending?.removed.push([message.section, key]);
        break;
      case 'end': {
        const pending = this.#pending;
        this.#pending = undefined;
        if (pending !== undefined) this.#building.run(() => this.#build(pending));
        break;
      }
      case 'problems':
        this.#o.handlers.onProblems(message.problems);
        break;
      case 'redis':
        this.#o.onRedis?.(message.connected);
        break;
      case 'started': {
        const started = this.#started;
        this.#started = undefined;
        // The saved table is built before start() resolves: the dataplane serves it at once.
        void this.#building.idle().then(() => started?.resolve());
        break;
      }
      case 'stopped':
        this.#stopped?.();
        break;
      case 'failed':
        this.#o.logger.error({ reason: message.message }, 'route sync worker failed');
        this.#started?.reject(new Error(message.message));
        break;
    }
  }

  /** The table before with the changes applied, a few entries per step; then hands it over. */
  *#build(pending: PendingTable): Generator<void> {
    const before = this.#table;
    const sections = {} as Record<RouteSection, Record<string, unknown>>;
    for (const section of ROUTE_SECTIONS) sections[section] = { ...before?.[section] };
    yield;
    let step = 0;
    for (const [section, key] of pending.removed) {
      delete sections[section][key];
      if (++step % (ENTRIES_PER_STEP * 16) === 0) yield;
    }
    for (const [section, key, json] of pending.entries) {
      sections[section][key] = JSON.parse(json);
      if (++step % ENTRIES_PER_STEP === 0) yield;
    }
    const table = { revision: pending.revision, ...sections } as RouteTable;
    this.#table = table;
    this.#o.handlers.onTable(table);
  }
}

/** The worker's module: beside this one, `.ts` when running from source, `.js` when built. */
function workerUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./route-sync-worker${extension}`, import.meta.url);
}
