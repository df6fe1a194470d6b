/**
 * Shared health checking of one dataplane (design invariant 7): active probes spread over the
 * live nodes, their results shared through Redis so every node agrees, and passive ejections
 * shared the same way. The decisions are made by the pure parts (`HealthTracker`,
 * `PassiveEjector`, `ownerOf`); this class wires them to Redis, timers and HTTP.
 *
 * - **Who probes.** Every ready or serving endpoint of every backend is a probe target, one per
 *   `probeKey` (backends whose probes are identical share one). Its owner is
 *   `ownerOf(key, live nodes)` ({@link NodeHeartbeat}); only the owner probes it. Ownership is
 *   recomputed when the live nodes change and for new targets when the table changes.
 * - **When.** The {@link ProbeScheduler} times the owned targets: every `interval` ± 10 %, never
 *   two at once, first probes spread over the interval (at start and on take-over) or within
 *   about a second for targets a table update created or changed (an edited policy reaches the
 *   probes within a second). When backends sharing a target differ, the shortest interval and
 *   the longest timeout apply.
 * - **Results.** Each backend sharing the target judges the status with its own expected
 *   statuses and thresholds (`HealthTracker.record`). On a change of status the owner writes
 *   `HSET healthKey(backend) endpoint <state>` and publishes a `health` message on
 *   `healthChannel()`; every other node applies it (`HealthTracker.apply`). Without a change it
 *   rewrites the field at most every {@link STATE_REFRESH_MS}, refreshing counters and the
 *   hash's TTL, without publishing.
 * - **Passive.** `reportResult` feeds the local `PassiveEjector`; an ejection is written as
 *   `SET ejectionKey(backend, endpoint) <node> PX <ms>` and published; the others `applyShared`
 *   it with the remaining time (relative, so clocks need not agree).
 * - **Joining and Redis outages.** At start, and whenever a connection is ready again, the node
 *   reads every backend's hash and every ejection key (then rewrites the states it owns, which a
 *   restarted Redis lost). While Redis is unreachable it keeps the last state and live nodes,
 *   keeps probing what it owns and applies its own results locally.
 *
 * Keys and messages: docs/redis-keyspace.md.
 */
import {
  createLogger,
  ejectionKey,
  ejectionPattern,
  healthChannel,
  healthKey,
  ownerOf,
  type PierLogger,
  parseEjectionKey,
  type RouteTable,
  redisReconnectDelay,
  SlicedQueue,
  yieldToIo,
} from '@pier/shared';
import type { Redis } from 'ioredis';
import type { Dispatcher } from 'undici';
import { applyBackendChanges, type BackendHealth, backendChanges } from './backend-health.ts';
import {
  encodeHealthMessage,
  type HealthMessage,
  healthMessage,
  parseHealthMessage,
} from './health-messages.ts';
import { type HealthStatus, parseHealthState, type SharedHealthState } from './health-state.ts';
import { type ProbeResult, probeSucceeded } from './http-prober.ts';
import { NodeHeartbeat, withTimeout } from './node-heartbeat.ts';
import { PassiveEjector } from './passive-ejector.ts';
import { type ProbeMember, ProbeScheduler, type ProbeTargetSpec } from './probe-scheduler.ts';

/** A node rewrites an unchanged state at most this often, ms (counters, hash TTL). */
export const STATE_REFRESH_MS = 10_000;
/** Shortest lifetime of a health hash, ms; longer for long intervals ({@link healthHashTtlMs}). */
export const HEALTH_HASH_MIN_TTL_MS = 600_000;
/** Default time between full re-reads of the shared state, ms (missed messages). */
export const RESYNC_INTERVAL_MS = 30_000;
/** How long start() waits for Redis before running on local state alone, ms. */
const START_WAIT_MS = 3_000;
/** Bound on a Redis call made while stopping, ms. */
const STOP_WAIT_MS = 1_000;
/** Backends per pipeline when reading or rewriting shared state. */
const BATCH = 200;
/** Up to this many endpoints, a load reads their ejection keys directly rather than by SCAN. */
const DIRECT_EJECTION_READS = 1_000;
/** Shared states applied between two yields to I/O when reading them. */
const STATES_PER_SLICE = 2_000;

/** TTL set on a health hash at every write: ten minutes, or three intervals if longer. */
export function healthHashTtlMs(intervalMs: number): number {
  return Math.max(HEALTH_HASH_MIN_TTL_MS, 3 * intervalMs);
}

/** What one probe came to, for metrics ({@link HealthCheckerOptions.onProbe}). */
export interface ProbeEvent extends ProbeResult {
  /** Whether every backend sharing the probe counted it as a success. */
  ok: boolean;
  address: string;
  port: number;
  path: string;
  /** Each member's verdict under its own expected statuses. */
  results: Array<ProbeMember & { ok: boolean }>;
}

/** Options of {@link HealthChecker}. */
export interface HealthCheckerOptions {
  /**
   * Command connection (heartbeat, reads, writes, publishes), made with
   * {@link healthCheckerRedisOptions}.
   */
  redis: Redis;
  /** A connection of its own for the subscription, made with the same options. */
  subscriber: Redis;
  /** This node's name (the Kubernetes node name); unique in the fleet. */
  node: string;
  /**
   * Whether this instance probes and keeps the node's heartbeat (default true). A node running
   * several dataplane processes lets exactly one of them probe; the others (`false`) only follow
   * the shared state, and report and share their passive ejections.
   */
  probes?: boolean;
  /** Defaults to a silent logger. */
  logger?: PierLogger;
  /** Uniform in [0, 1): jitter and first-probe spread. Math.random when omitted. */
  random?: () => number;
  /** Wall clock, ms. Date.now when omitted. */
  clock?: () => number;
  /** Heartbeat timing (NodeHeartbeat defaults: 3000 ms TTL, renewed every 1000 ms). */
  heartbeat?: { ttlMs?: number; intervalMs?: number };
  /** The node's report for operators, written with each heartbeat (`NodeHeartbeatOptions.report`). */
  report?: () => string;
  /** Sends the probes; by default an agent of the checker's own, closed by stop(). */
  dispatcher?: Dispatcher;
  /** Time between full re-reads of the shared state, ms (default {@link RESYNC_INTERVAL_MS}). */
  resyncIntervalMs?: number;
  /** An endpoint's status changed, by a local probe or a shared state (`by`: who decided). */
  onTransition?: (
    backendId: string,
    endpointId: string,
    from: HealthStatus,
    to: HealthStatus,
    by: string | undefined,
  ) => void;
  /** An endpoint's ejection began or was extended, here or by another node (`by`). */
  onEjection?: (backendId: string, endpointId: string, ejectedUntil: number, by: string) => void;
  /** A probe of this node ended. */
  onProbe?: (event: ProbeEvent) => void;
  /** The live nodes changed (sorted, this node included). */
  onLiveNodes?: (liveNodes: readonly string[]) => void;
}

/**
 * ioredis options for the checker's two connections: a command cut by a disconnect fails at
 * once and nothing queues while Redis is down (`maxRetriesPerRequest: 0`,
 * `enableOfflineQueue: false`), so an outage costs no memory and the checker resyncs on `ready`;
 * `socketTimeout` notices a peer that vanished without a FIN (the subscriber is pinged on every
 * resync for the same reason). ioredis reconnects in the background, forever.
 */
export function healthCheckerRedisOptions(): {
  maxRetriesPerRequest: number;
  enableOfflineQueue: boolean;
  connectTimeout: number;
  socketTimeout: number;
  retryStrategy: (attempt: number) => number;
} {
  return {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    socketTimeout: 10_000,
    retryStrategy: redisReconnectDelay,
  };
}

/** State writes sent together ({@link HealthChecker} `#writeBatch`), and what to undo if they fail. */
interface WriteBatch {
  pipeline: ReturnType<Redis['pipeline']>;
  failed: Array<() => void>;
}

/**
 * Shared health checking for one dataplane; see the module comment.
 *
 * `usable` is what the balancer asks per request (O(1)); `reportResult` is what the proxy tells
 * after each attempt. `update` takes every new route table; `start`/`stop` bracket the rest.
 */
export class HealthChecker {
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #node: string;
  readonly #log: PierLogger;
  readonly #clock: () => number;
  readonly #scheduler: ProbeScheduler;
  readonly #resyncMs: number;
  readonly #options: HealthCheckerOptions;
  readonly #heartbeat: NodeHeartbeat;
  readonly #probes: boolean;
  readonly #ejector = new PassiveEjector();
  readonly #backends = new Map<string, BackendHealth>();
  readonly #channel = healthChannel();
  #live: readonly string[];
  #hadTable = false;
  /** Table updates and reassignments, applied in slices one after another. */
  readonly #work: SlicedQueue;
  /** Queues a table update; of several waiting, only the newest is applied. */
  readonly #offerTable: (table: RouteTable) => void;
  /** Backends changed by the tables offered since the last one applied ('all': look at all). */
  #changedBackends: Set<string> | 'all' = 'all';
  #started = false;
  /** Between the end of start() and stop(): timers and Redis events are acted on. */
  #running = false;
  #stopped = false;
  #subscribed = false;
  #redisOk = true;
  #resyncTimer: NodeJS.Timeout | undefined;
  /** Backends waiting to be read from Redis ('all' for a full resync). */
  #pendingLoad: Set<string> | 'all' = new Set();
  #pendingRewrite = false;
  #loading: Promise<void> | undefined;
  #batch: WriteBatch | undefined;

  readonly #onMessage = (channel: string, text: string): void => {
    if (channel !== this.#channel) return;
    try {
      this.#handle(text);
    } catch (err) {
      this.#log.error({ err }, 'health callback failed');
    }
  };
  /** The command connection is back: Redis may have been restarted empty, so rewrite too. */
  readonly #onReady = (): void => {
    if (this.#running) this.#load('all', true);
  };
  /** The subscription is back: messages may have been missed meanwhile. */
  readonly #onSubscriberReady = (): void => {
    if (!this.#running) return;
    void this.#subscribe();
    this.#load('all', false);
  };

  constructor(options: HealthCheckerOptions) {
    this.#options = options;
    this.#redis = options.redis;
    this.#subscriber = options.subscriber;
    if (options.redis === options.subscriber) {
      throw new TypeError('the subscriber must be a connection of its own, not the command one');
    }
    this.#node = options.node;
    this.#log = options.logger ?? createLogger({ name: 'dataplane', level: 'silent' });
    this.#clock = options.clock ?? Date.now;
    this.#scheduler = new ProbeScheduler({
      node: options.node,
      logger: this.#log,
      random: options.random ?? Math.random,
      clock: this.#clock,
      ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
      owns: (key) => this.#owns(key),
      onResult: (target, result, now) => this.#record(target, result, now),
    });
    this.#resyncMs = options.resyncIntervalMs ?? RESYNC_INTERVAL_MS;
    if (!Number.isSafeInteger(this.#resyncMs) || this.#resyncMs <= 0) {
      throw new RangeError(`resyncIntervalMs must be a positive integer, got ${this.#resyncMs}`);
    }
    this.#heartbeat = new NodeHeartbeat({
      redis: options.redis,
      node: options.node,
      ...options.heartbeat,
      ...(options.report ? { report: options.report } : {}),
      logger: this.#log,
      onChange: (live) => this.#onLive(live),
    });
    this.#probes = options.probes ?? true;
    this.#live = this.#probes ? this.#heartbeat.live : [];
    this.#work = new SlicedQueue((err) => this.#log.error({ err }, 'health update failed'));
    this.#offerTable = this.#work.newest((table) => this.#applyTable(table));
  }

  /**
   * Resolves once the shared state of every backend given so far has been read from Redis (or
   * the read failed: Redis down). A dataplane awaits it after its first `update` so that it never
   * serves an endpoint the fleet already knows to be unhealthy.
   */
  synced(): Promise<void> {
    return this.#work.idle().then(() => this.#loading);
  }

  /** Resolves once every table given so far has been applied (reads from Redis may follow). */
  applied(): Promise<void> {
    return this.#work.idle();
  }

  /** Probe targets this node owns now. */
  get owned(): number {
    return this.#scheduler.owned;
  }

  /** Live nodes as this node sees them (sorted, itself included); empty when it does not probe. */
  get liveNodes(): readonly string[] {
    return this.#live;
  }

  /**
   * Starts: heartbeat, subscription, the shared state read from Redis, then probing. Waits a
   * few seconds at most for Redis; without it, runs on local state and catches up when Redis is
   * ready. Resolves once probing has started.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('HealthChecker.start() called twice');
    this.#started = true;
    this.#subscriber.on('message', this.#onMessage);
    await Promise.all([whenReady(this.#redis), whenReady(this.#subscriber)]);
    // stop() may come while starting: every step after a wait checks for it.
    if (this.#stopped) return;
    if (this.#probes) await this.#heartbeat.start();
    if (this.#stopped) return;
    await this.#subscribe();
    this.#load('all', false);
    await this.#loading;
    if (this.#stopped) {
      await this.#heartbeat.stop();
      return;
    }
    if (this.#probes) this.#publish({ type: 'node', node: this.#node, event: 'join' });
    this.#redis.on('ready', this.#onReady);
    this.#subscriber.on('ready', this.#onSubscriberReady);
    this.#running = true;
    this.#scheduler.start();
    this.#armResync();
  }

  /**
   * Takes a new route table: recomputes the probe targets, probes changed ones within
   * {@link SETTINGS_CHANGE_MS}, reads the shared state of backends and endpoints new to this
   * node, and forgets (locally, and in Redis when this node is the backend's cleaner) those that
   * left the table. With `changedBackends` (the ids a delta set, replaced or removed; every
   * other backend is the object of the table before), only those are looked at.
   */
  update(table: RouteTable, changedBackends?: Iterable<string>): void {
    if (changedBackends === undefined) this.#changedBackends = 'all';
    else if (this.#changedBackends !== 'all') {
      for (const id of changedBackends) this.#changedBackends.add(id);
    }
    this.#offerTable(table);
  }

  /** Applies a table, a few endpoints per step (see `applyBackendChanges`). */
  *#applyTable(table: RouteTable): Generator<void> {
    const only = this.#changedBackends;
    this.#changedBackends = new Set();
    const changes = backendChanges(this.#backends, table, only === 'all' ? undefined : only);
    const live = this.#live;
    const toLoad: string[] = [];
    yield* applyBackendChanges(this.#backends, this.#ejector, changes, this.#node, {
      removed: (id) => {
        if (this.#cleans(id, live)) this.#fire(this.#redis.del(healthKey(id)));
      },
      gone: (state, ids) => {
        if (this.#cleans(state.backend.id, live)) {
          this.#fire(this.#redis.hdel(healthKey(state.backend.id), ...ids));
        }
      },
      fresh: (id) => toLoad.push(id),
    });
    yield* this.#scheduler.update(changes.changed, changes.removed, this.#hadTable);
    this.#hadTable = true;
    if (this.#started && !this.#stopped && toLoad.length > 0) this.#load(toLoad, false);
  }

  /**
   * Whether traffic may go to the endpoint now: not actively unhealthy (unknown counts as
   * usable) and not passively ejected. O(1); called per request by the balancer.
   */
  usable(backendId: string, endpointId: string, now: number): boolean {
    const state = this.#backends.get(backendId);
    if (state !== undefined && !state.tracker.isUsable(endpointId)) return false;
    return !this.#ejector.isEjected(backendId, endpointId, now);
  }

  /** End of the endpoint's passive ejection, ms, or undefined when it is not ejected at `now`. */
  ejectedUntil(backendId: string, endpointId: string, now: number): number | undefined {
    return this.#ejector.ejectedUntil(backendId, endpointId, now);
  }

  ejectedCounts(now: number): Map<string, number> {
    return this.#ejector.ejectedCounts(now);
  }

  /** The endpoint's active status here (`unknown` for endpoints never seen). */
  status(backendId: string, endpointId: string): HealthStatus {
    return this.#backends.get(backendId)?.tracker.status(endpointId) ?? 'unknown';
  }

  /**
   * Records the outcome of one proxied request (a connection error or a gateway status is a
   * failure). An ejection it causes is shared with every node. Endpoints not in the table are
   * ignored.
   */
  reportResult(backendId: string, endpointId: string, ok: boolean, now: number): void {
    const state = this.#backends.get(backendId);
    if (state === undefined || !state.endpoints.has(endpointId)) return;
    const ejection = this.#ejector.recordResult(
      backendId,
      endpointId,
      ok,
      now,
      state.backend.healthCheck.passive,
      state.readyCount,
    );
    if (ejection === undefined) return;
    const ms = Math.max(1, Math.ceil(ejection.ejectedUntil - now));
    this.#log.info(
      { backend: backendId, endpoint: endpointId, ms, multiplier: ejection.multiplier },
      'endpoint ejected after consecutive failed requests',
    );
    this.#options.onEjection?.(backendId, endpointId, ejection.ejectedUntil, this.#node);
    if (!this.#started || this.#stopped) return;
    const message: HealthMessage = {
      type: 'ejection',
      backend: backendId,
      endpoint: endpointId,
      ms,
      by: this.#node,
    };
    this.#exec(
      this.#redis
        .pipeline()
        .set(ejectionKey(backendId, endpointId), this.#node, 'PX', ms)
        .publish(this.#channel, encodeHealthMessage(message)),
    );
  }

  /**
   * Stops probing and leaves. With `release` (the default) the heartbeat key is deleted and the
   * departure announced, so the other nodes take this node's targets over at once; without it
   * (as after a crash) they notice when the heartbeat expires.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#running = false;
    clearTimeout(this.#resyncTimer);
    const probesStopped = this.#scheduler.stop();
    this.#redis.off('ready', this.#onReady);
    this.#subscriber.off('ready', this.#onSubscriberReady);
    this.#subscriber.off('message', this.#onMessage);
    const release = options.release ?? true;
    await this.#heartbeat.stop(release);
    if (release && this.#started && this.#probes) {
      const leave = encodeHealthMessage({ type: 'node', node: this.#node, event: 'leave' });
      await withTimeout(this.#redis.publish(this.#channel, leave), STOP_WAIT_MS).catch(noop);
    }
    if (this.#subscribed) {
      await withTimeout(this.#subscriber.unsubscribe(this.#channel), STOP_WAIT_MS).catch(noop);
    }
    if (this.#loading !== undefined) await withTimeout(this.#loading, STOP_WAIT_MS).catch(noop);
    await probesStopped;
  }

  // ---- targets and probes ----

  #onLive(live: readonly string[]): void {
    this.#live = live;
    this.#log.info({ node: this.#node, live }, 'live dataplanes changed');
    this.#options.onLiveNodes?.(live);
    this.#work.run(() => this.#scheduler.reassign());
  }

  #record(target: ProbeTargetSpec, result: ProbeResult, now: number): void {
    const results: ProbeEvent['results'] = [];
    for (const member of target.members.values()) {
      const state = this.#backends.get(member.backendId);
      if (state === undefined) continue;
      const hc = state.backend.healthCheck;
      const ok = probeSucceeded(result, hc.http.expectedStatuses);
      results.push({ ...member, ok });
      const transition = state.tracker.record(member.endpointId, ok, now, hc);
      if (transition !== undefined) {
        this.#announce(member.backendId, member.endpointId, transition, this.#node);
        this.#write(state, member.endpointId, now, true);
      } else if (now - (state.written.get(member.endpointId) ?? -Infinity) >= STATE_REFRESH_MS) {
        this.#write(state, member.endpointId, now, false);
      }
    }
    this.#options.onProbe?.({
      ...result,
      ok: results.length > 0 && results.every((r) => r.ok),
      address: target.address,
      port: target.port,
      path: target.path,
      results,
    });
  }

  #announce(
    backendId: string,
    endpointId: string,
    transition: { from: HealthStatus; to: HealthStatus },
    by: string | undefined,
  ): void {
    this.#log.info(
      { backend: backendId, endpoint: endpointId, from: transition.from, to: transition.to, by },
      'endpoint health changed',
    );
    this.#options.onTransition?.(backendId, endpointId, transition.from, transition.to, by);
  }

  // ---- Redis: writes ----

  #write(state: BackendHealth, endpointId: string, now: number, publish: boolean): void {
    const value = state.tracker.serialize(endpointId);
    if (value === undefined) return;
    state.written.set(endpointId, now);
    const key = healthKey(state.backend.id);
    const batch = this.#writeBatch();
    batch.pipeline
      .hset(key, endpointId, value)
      .pexpire(key, healthHashTtlMs(state.backend.healthCheck.intervalMs));
    if (publish) {
      const message = healthMessage(state.backend.id, endpointId, value);
      if (message !== undefined) batch.pipeline.publish(this.#channel, message);
    }
    batch.failed.push(() => {
      // Not in Redis: write again with the next result, and announce after reconnecting.
      state.written.delete(endpointId);
      this.#pendingRewrite = true;
    });
  }

  /**
   * The writes of this turn of the event loop: one pipeline, sent when the turn ends, however
   * many probes ended in it (thousands do when many endpoints are new).
   */
  #writeBatch(): WriteBatch {
    if (this.#batch === undefined) {
      const batch: WriteBatch = { pipeline: this.#redis.pipeline(), failed: [] };
      this.#batch = batch;
      setImmediate(() => {
        this.#batch = undefined;
        void this.#exec(batch.pipeline, () => {
          for (const undo of batch.failed) undo();
        });
      });
    }
    return this.#batch;
  }

  /**
   * Rewrites (and announces) every state this node owns and has probed: after an outage. Yields
   * to I/O after every pipeline, so tens of thousands of targets do not hold the event loop.
   */
  async #rewriteOwned(): Promise<void> {
    const now = this.#clock();
    let pipeline = this.#redis.pipeline();
    const sends: Promise<void>[] = [];
    for (const target of this.#scheduler.targets()) {
      if (!target.owned) continue;
      for (const member of target.members.values()) {
        const state = this.#backends.get(member.backendId);
        if (state?.tracker.get(member.endpointId)?.lastProbe === undefined) continue;
        const value = state.tracker.serialize(member.endpointId) as string;
        const key = healthKey(member.backendId);
        pipeline
          .hset(key, member.endpointId, value)
          .pexpire(key, healthHashTtlMs(state.backend.healthCheck.intervalMs));
        const message = healthMessage(member.backendId, member.endpointId, value);
        if (message !== undefined) pipeline.publish(this.#channel, message);
        state.written.set(member.endpointId, now);
        if (pipeline.length >= BATCH * 3) {
          sends.push(this.#exec(pipeline));
          pipeline = this.#redis.pipeline();
          await yieldToIo();
        }
      }
    }
    if (pipeline.length > 0) sends.push(this.#exec(pipeline));
    await Promise.all(sends);
  }

  #publish(message: HealthMessage): void {
    this.#fire(this.#redis.publish(this.#channel, encodeHealthMessage(message)));
  }

  /** Runs a pipeline; failures (Redis down) are logged once per outage, never thrown. */
  #exec(pipeline: ReturnType<Redis['pipeline']>, onFail?: () => void): Promise<void> {
    return pipeline.exec().then(
      (replies) => {
        const failed = replies?.find(([err]) => err !== null)?.[0];
        if (failed) {
          onFail?.();
          this.#failed(failed);
        } else this.#succeeded();
      },
      (err: unknown) => {
        onFail?.();
        this.#failed(err);
      },
    );
  }

  #fire(command: Promise<unknown>): void {
    command.then(
      () => this.#succeeded(),
      (err: unknown) => this.#failed(err),
    );
  }

  #failed(err: unknown): void {
    if (this.#redisOk) {
      this.#log.warn({ err, node: this.#node }, 'Redis unreachable; health state kept locally');
    }
    this.#redisOk = false;
  }

  #succeeded(): void {
    if (!this.#redisOk) this.#log.info({ node: this.#node }, 'Redis reachable again');
    this.#redisOk = true;
  }

  // ---- Redis: subscription and reads ----

  async #subscribe(): Promise<void> {
    if (this.#subscribed || this.#stopped) return;
    try {
      await withTimeout(this.#subscriber.subscribe(this.#channel), START_WAIT_MS);
      this.#subscribed = true;
    } catch (err) {
      this.#failed(err);
    }
  }

  #handle(text: string): void {
    const message = parseHealthMessage(text);
    if (message === undefined || this.#stopped) return;
    if (message.type === 'node') {
      if (message.node !== this.#node && this.#probes) void this.#heartbeat.refresh();
    } else if (message.type === 'health') {
      this.#applyState(message.backend, message.endpoint, message.state);
    } else {
      // Our own ejections too: applying one again only confirms it (several processes of one
      // node share its name, so `by` cannot tell them apart).
      this.#applyEjection(message.backend, message.endpoint, message.ms, message.by);
    }
  }

  #applyState(backendId: string, endpointId: string, shared: SharedHealthState): void {
    const state = this.#backends.get(backendId);
    if (state === undefined || !state.endpoints.has(endpointId)) return;
    // Our own write: the local state is at least as new (unless this process never probed it,
    // as after a restart under the same name).
    if (shared.by === this.#node && state.tracker.get(endpointId)?.lastProbe !== undefined) return;
    const transition = state.tracker.apply(endpointId, shared);
    if (transition !== undefined) this.#announce(backendId, endpointId, transition, shared.by);
  }

  #applyEjection(backendId: string, endpointId: string, ms: number, by: string): void {
    const state = this.#backends.get(backendId);
    if (state === undefined || !state.endpoints.has(endpointId)) return;
    const now = this.#clock();
    const was = this.#ejector.ejectedUntil(backendId, endpointId, now);
    const passive = state.backend.healthCheck.passive;
    if (
      !this.#ejector.applyShared(backendId, endpointId, now + ms, now, passive, state.readyCount)
    ) {
      return;
    }
    const until = this.#ejector.ejectedUntil(backendId, endpointId, now);
    if (until !== undefined && until !== was) {
      this.#options.onEjection?.(backendId, endpointId, until, by);
    }
  }

  /** Queues a read of the shared state of `ids` (or all backends); reads run one at a time. */
  #load(ids: Iterable<string> | 'all', rewrite: boolean): void {
    if (ids === 'all') this.#pendingLoad = 'all';
    else if (this.#pendingLoad !== 'all') for (const id of ids) this.#pendingLoad.add(id);
    if (rewrite) this.#pendingRewrite = true;
    if (this.#loading === undefined) void this.#drainLoads();
  }

  #drainLoads(): Promise<void> {
    this.#loading ??= (async () => {
      while (!this.#stopped) {
        const pending = this.#pendingLoad;
        const rewrite = this.#pendingRewrite;
        if (pending !== 'all' && pending.size === 0 && !rewrite) break;
        this.#pendingLoad = new Set();
        this.#pendingRewrite = false;
        try {
          const ids = pending === 'all' ? [...this.#backends.keys()] : [...pending];
          await this.#readHashes(ids);
          await this.#readEjections(pending === 'all' ? undefined : new Set(ids));
          if (rewrite) await this.#rewriteOwned();
          this.#succeeded();
        } catch (err) {
          // Read again in full on the next occasion (ready, resync timer, table update).
          this.#pendingLoad = 'all';
          this.#pendingRewrite ||= rewrite;
          this.#failed(err);
          break;
        }
      }
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #readHashes(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      const pipeline = this.#redis.pipeline();
      for (const id of batch) pipeline.hgetall(healthKey(id));
      const replies = (await pipeline.exec()) ?? [];
      const stale = this.#redis.pipeline();
      for (const [n, id] of batch.entries()) {
        const [err, hash] = replies[n] ?? [new Error('no reply'), null];
        if (err) throw err;
        const state = this.#backends.get(id);
        if (state === undefined) continue;
        const gone: string[] = [];
        let read = 0;
        for (const [endpointId, json] of Object.entries(hash as Record<string, string>)) {
          // A hash of tens of thousands of endpoints is read a slice at a time.
          if (++read % STATES_PER_SLICE === 0) await yieldToIo();
          const shared = parseHealthState(json);
          if (state.endpoints.has(endpointId) && shared !== undefined) {
            this.#applyState(id, endpointId, shared);
          } else if (!state.endpoints.has(endpointId)) gone.push(endpointId);
        }
        if (gone.length > 0 && this.#cleans(id, this.#live)) stale.hdel(healthKey(id), ...gone);
      }
      if (stale.length > 0) await this.#exec(stale);
    }
  }

  /**
   * Applies the ejection keys of `only` (or of every backend). For a few endpoints their keys
   * are known (one per endpoint) and read directly; for many, or every backend, they are found
   * with SCAN, which walks the whole keyspace once instead of a read per endpoint.
   */
  async #readEjections(only: ReadonlySet<string> | undefined): Promise<void> {
    const found: Array<{ backendId: string; endpoint: string; key: string }> = [];
    let endpoints = 0;
    for (const backendId of only ?? []) {
      endpoints += this.#backends.get(backendId)?.endpoints.size ?? 0;
    }
    if (only !== undefined && endpoints <= DIRECT_EJECTION_READS) {
      for (const backendId of only) {
        for (const endpoint of this.#backends.get(backendId)?.endpoints ?? []) {
          found.push({ backendId, endpoint, key: ejectionKey(backendId, endpoint) });
        }
      }
    } else {
      let cursor = '0';
      do {
        const [next, keys] = await this.#redis.scan(
          cursor,
          'MATCH',
          ejectionPattern(),
          'COUNT',
          1000,
        );
        cursor = next;
        for (const key of keys) {
          const parts = parseEjectionKey(key);
          if (parts === undefined || !this.#backends.has(parts.backendId)) continue;
          if (only === undefined || only.has(parts.backendId)) found.push({ ...parts, key });
        }
      } while (cursor !== '0');
    }
    for (let i = 0; i < found.length; i += BATCH) {
      const batch = found.slice(i, i + BATCH);
      const pipeline = this.#redis.pipeline();
      for (const { key } of batch) pipeline.pttl(key).get(key);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach(({ backendId, endpoint }, n) => {
        const ttl = replies[2 * n]?.[1];
        const by = replies[2 * n + 1]?.[1];
        if (typeof ttl !== 'number' || ttl <= 0 || typeof by !== 'string') return;
        this.#applyEjection(backendId, endpoint, ttl, by);
      });
    }
  }

  #armResync(): void {
    this.#resyncTimer = setTimeout(() => {
      if (!this.#running) return;
      this.#fire(this.#subscriber.ping());
      void this.#subscribe();
      this.#load('all', this.#pendingRewrite);
      this.#armResync();
    }, this.#resyncMs);
    this.#resyncTimer.unref();
  }

  /** Whether this instance probes `key`. */
  #owns(key: string): boolean {
    return this.#probes && ownerOf(key, this.#live) === this.#node;
  }

  /** Whether this node deletes the backend's stale health fields (one node per backend). */
  #cleans(backendId: string, live: readonly string[]): boolean {
    return (
      this.#probes && this.#started && !this.#stopped && ownerOf(backendId, live) === this.#node
    );
  }
}

/** Resolves when the connection is ready, or after {@link START_WAIT_MS} regardless. */
function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  if (redis.status === 'wait') redis.connect().catch(noop);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, START_WAIT_MS);
    timer.unref();
    redis.once('ready', done);
  });
}

function noop(): void {}
