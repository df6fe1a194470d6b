/**
 * The worker thread of {@link RouteSyncThread}: runs `RouteSync` (Redis, validation, the copy on
 * disk) and sends the serving thread what changed in each table, as JSON text per entry, in
 * messages of at most {@link ENTRIES_PER_MESSAGE} entries or {@link BYTES_PER_MESSAGE} bytes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  createLogger,
  type LogLevel,
  ROUTE_SECTIONS,
  type RouteSection,
  type RouteTable,
  routeLogReaderRedisOptions,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { RouteSync } from './route-sync.ts';
import type { RouteSyncMessage, RouteSyncWorkerData } from './route-sync-thread.ts';

const ENTRIES_PER_MESSAGE = 256;
const BYTES_PER_MESSAGE = 256 * 1024;
const KEYS_PER_MESSAGE = 4_096;

const port = parentPort;
if (port === null) throw new Error('route-sync-worker.ts runs as a worker thread');
const data = workerData as RouteSyncWorkerData;
const post = (message: RouteSyncMessage): void => port.postMessage(message);
const logger = createLogger({ name: 'dataplane', level: data.logLevel as LogLevel });

/** Per section, the JSON text of every entry as last sent. */
const sent = new Map<RouteSection, Map<string, string>>(
  ROUTE_SECTIONS.map((section) => [section, new Map()]),
);

/** Sends the entries of `table` that differ from those sent before, and the keys it lost. */
function send(table: RouteTable): void {
  post({ type: 'begin', revision: table.revision });
  for (const section of ROUTE_SECTIONS) {
    const known = sent.get(section) as Map<string, string>;
    const next = new Map<string, string>();
    let entries: Array<[string, string]> = [];
    let bytes = 0;
    for (const [key, entry] of Object.entries(table[section])) {
      const json = JSON.stringify(entry);
      next.set(key, json);
      if (known.get(key) === json) continue;
      entries.push([key, json]);
      bytes += json.length;
      if (entries.length >= ENTRIES_PER_MESSAGE || bytes >= BYTES_PER_MESSAGE) {
        post({ type: 'entries', section, entries });
        entries = [];
        bytes = 0;
      }
    }
    if (entries.length > 0) post({ type: 'entries', section, entries });
    let keys: string[] = [];
    for (const key of known.keys()) {
      if (next.has(key)) continue;
      keys.push(key);
      if (keys.length >= KEYS_PER_MESSAGE) {
        post({ type: 'removed', section, keys });
        keys = [];
      }
    }
    if (keys.length > 0) post({ type: 'removed', section, keys });
    sent.set(section, next);
  }
  post({ type: 'end' });
}

const redis = new Redis(data.redisUrl, {
  ...routeLogReaderRedisOptions(data.blockMs ?? 5_000),
  ...(data.redisPassword === undefined ? {} : { password: data.redisPassword }),
  lazyConnect: false,
});
redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
redis.on('ready', () => post({ type: 'redis', connected: true }));
redis.on('close', () => post({ type: 'redis', connected: false }));

const sync = new RouteSync({
  redis,
  stateFile: data.stateFile,
  logger,
  onTable: send,
  onProblems: (problems) => post({ type: 'problems', problems: [...problems] }),
  ...(data.blockMs === undefined ? {} : { blockMs: data.blockMs }),
  ...(data.persistEveryMs === undefined ? {} : { persistEveryMs: data.persistEveryMs }),
});

port.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void sync
    .stop()
    .catch((err: unknown) => logger.warn({ err: String(err) }, 'route sync stopped badly'))
    .finally(() => {
      redis.disconnect();
      post({ type: 'stopped' });
      port.close();
    });
});

sync.start().then(
  () => post({ type: 'started' }),
  (err: unknown) => post({ type: 'failed', message: String(err) }),
);
