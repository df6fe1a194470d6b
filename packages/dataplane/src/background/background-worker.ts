/**
 * The dataplane's background thread ({@link BackgroundThread}): runs `RouteSync` (Redis,
 * validation, the copy on disk) and, when asked, the `HealthChecker` (probes, the shared health
 * state, passive ejection). It sends the serving thread the entries each delta changed (the
 * reader says which), as JSON text per entry, in messages of at most
 * {@link ENTRIES_PER_MESSAGE} entries or {@link BYTES_PER_MESSAGE} bytes, and the endpoints
 * whose standing changed (`HealthReporter`). Nothing here walks the whole table per delta.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  type Backend,
  type ChangedKeys,
  createLogger,
  encodeDataplaneReport,
  type LogLevel,
  ROUTE_SECTIONS,
  type RouteSection,
  type RouteTableState,
  routeLogReaderRedisOptions,
} from '@pier/shared';
import { Redis } from 'ioredis';
import { HealthChecker, healthCheckerRedisOptions } from '../health/health-checker.ts';
import { HealthReporter } from '../health/health-reporter.ts';
import { RouteSync } from '../sync/route-sync.ts';
import type { BackgroundWorkerData, MainMessage, WorkerMessage } from './messages.ts';
import { lowerThisThread } from './thread-priority.ts';

const ENTRIES_PER_MESSAGE = 256;
const BYTES_PER_MESSAGE = 256 * 1024;
const KEYS_PER_MESSAGE = 4_096;

const port = parentPort;
if (port === null) throw new Error('background-worker.ts runs as a worker thread');
const data = workerData as BackgroundWorkerData;
const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(message, transfer);
const { component, ...bindings } = data.logBindings ?? {};
const logger = createLogger({
  name: typeof component === 'string' ? component : 'dataplane',
  level: data.logLevel as LogLevel,
}).child(bindings);
try {
  lowerThisThread();
} catch (err) {
  logger.warn(
    { err: String(err) },
    'the background thread runs at the priority of the serving one',
  );
}

const password = data.redisPassword === undefined ? {} : { password: data.redisPassword };
const connections: Redis[] = [];

function connect(options: object): Redis {
  const redis = new Redis(data.redisUrl, { ...options, ...password, lazyConnect: false });
  redis.on('error', (err: Error) => logger.debug({ err: err.message }, 'redis connection error'));
  connections.push(redis);
  return redis;
}

/**
 * The backends as the health checker knows them, kept per delta: an entry that did not change
 * keeps its object, which is how the checker finds what changed. Null prototype: keys are data.
 */
let backends: Record<string, Backend> = Object.create(null);
/** The revision last handed to the serving thread and since when, for the node's report. */
const served = { revision: 0, since: Date.now() };
const startedAt = Math.round(performance.timeOrigin);

const encoder = new TextEncoder();

/** Entries of one section collected for one message (see the `entries` message). */
class EntryBatch {
  readonly #section: RouteSection;
  #keys: string[] = [];
  #texts: string[] = [];
  #bytes = 0;

  constructor(section: RouteSection) {
    this.#section = section;
  }

  add(key: string, json: string): void {
    this.#keys.push(key);
    this.#texts.push(json);
    this.#bytes += Buffer.byteLength(json);
  }

  get full(): boolean {
    return this.#keys.length >= ENTRIES_PER_MESSAGE || this.#bytes >= BYTES_PER_MESSAGE;
  }

  /** Posts what was added, if anything, and starts again. */
  send(): void {
    if (this.#keys.length === 0) return;
    const text = new Uint8Array(this.#bytes);
    const ends: number[] = [];
    let at = 0;
    for (const json of this.#texts) {
      at += encoder.encodeInto(json, text.subarray(at)).written;
      ends.push(at);
    }
    const message: WorkerMessage = {
      type: 'entries',
      section: this.#section,
      keys: this.#keys,
      text,
      ends,
    };
    post(message, [text.buffer]);
    this.#keys = [];
    this.#texts = [];
    this.#bytes = 0;
  }
}

/**
 * Sends the entries of `state` that `changed` names (all of them, as a table that replaces the
 * one before whole, for 'all'), and the keys it lost.
 */
function send(state: RouteTableState, changed: ChangedKeys | 'all'): void {
  const full = changed === 'all';
  post({ type: 'begin', revision: state.revision, full });
  if (state.revision !== served.revision) {
    served.revision = state.revision;
    served.since = Date.now();
  }
  if (full) backends = Object.create(null);
  for (const section of ROUTE_SECTIONS) {
    const entries = state.served(section);
    const batch = new EntryBatch(section);
    let removed: string[] = [];
    for (const key of full ? entries.keys() : changed[section]) {
      const entry = entries.get(key);
      if (section === 'backends') {
        if (entry === undefined) delete backends[key];
        else backends[key] = entry.value as Backend;
      }
      if (entry === undefined) {
        removed.push(key);
        if (removed.length >= KEYS_PER_MESSAGE) {
          post({ type: 'removed', section, keys: removed });
          removed = [];
        }
        continue;
      }
      batch.add(key, entry.text);
      if (batch.full) batch.send();
    }
    batch.send();
    if (removed.length > 0) post({ type: 'removed', section, keys: removed });
  }
  post({ type: 'end' });
  if (health !== undefined) {
    // The checker reads only the backends, from this live record, when it gets to the newest
    // table it was given.
    health.checker.update(
      { revision: state.revision, virtualHosts: {}, backends, certificates: {} },
      full ? undefined : changed.backends,
    );
    // Endpoints that left lose their state without an event: look at the reported ones again.
    void health.checker.applied().then(() => health?.reporter.recheck());
  }
}

/** The health checker and what reports it, when the serving thread asked for them. */
const health = data.health && startHealth(data.health);

function startHealth(options: NonNullable<BackgroundWorkerData['health']>) {
  const reporter = new HealthReporter({ post });
  const checker = new HealthChecker({
    redis: connect(healthCheckerRedisOptions()),
    subscriber: connect(healthCheckerRedisOptions()),
    node: options.node,
    probes: options.probes,
    logger,
    onProbe: (event) => reporter.probed(event.ok),
    onTransition: (backendId, endpointId, from, to) =>
      reporter.statusChanged(backendId, endpointId, from, to),
    onEjection: (backendId, endpointId) => reporter.changed(backendId, endpointId),
    report: () =>
      encodeDataplaneReport({
        revision: served.revision,
        revisionSince: served.since,
        startedAt,
      }),
  });
  reporter.attach(checker);
  checker.start().then(
    () => post({ type: 'health-started' }),
    (err: unknown) => post({ type: 'health-started', failed: String(err) }),
  );
  // An ejection ends without an event: the serving thread compares the time itself, and the
  // entries of ended ones are dropped here now and then.
  setInterval(() => reporter.recheck(), 10_000).unref();
  return { checker, reporter };
}

const routesRedis = connect(routeLogReaderRedisOptions(data.blockMs ?? 5_000));
routesRedis.on('ready', () => post({ type: 'redis', connected: true }));
routesRedis.on('close', () => post({ type: 'redis', connected: false }));

const sync = new RouteSync({
  redis: routesRedis,
  stateFile: data.stateFile,
  logger,
  onTable: (state, _source, changed) => send(state, changed),
  onProblems: (problems) => post({ type: 'problems', problems: [...problems] }),
  ...(data.blockMs === undefined ? {} : { blockMs: data.blockMs }),
  ...(data.persistEveryMs === undefined ? {} : { persistEveryMs: data.persistEveryMs }),
});

async function stop(): Promise<void> {
  try {
    await health?.checker.stop({ release: false });
    await sync.stop();
  } catch (err) {
    logger.warn({ err: String(err) }, 'background thread stopped badly');
  }
  for (const redis of connections) redis.disconnect();
  post({ type: 'stopped' });
  port?.close();
}

port.on('message', (message: MainMessage) => {
  switch (message.type) {
    case 'results':
      for (const [backendId, endpointId, ok, at] of message.results) {
        health?.checker.reportResult(backendId, endpointId, ok, at);
      }
      break;
    case 'health-synced':
      void (health?.checker.synced() ?? Promise.resolve()).then(() => {
        health?.reporter.flush();
        post({ type: 'health-synced', id: message.id });
      });
      break;
    case 'health-stop':
      void (health?.checker.stop({ release: message.release }) ?? Promise.resolve()).then(() =>
        post({ type: 'health-stopped' }),
      );
      break;
    case 'stop':
      void stop();
      break;
  }
});

sync.start().then(
  () => post({ type: 'started' }),
  (err: unknown) => post({ type: 'failed', message: String(err) }),
);
