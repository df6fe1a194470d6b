/**
 * Which dataplanes are alive, as every node sees it through Redis: each node keeps its own
 * heartbeat key (`nodeHeartbeatKey(node)`, `SET … PX ttlMs`, renewed every `intervalMs`) and
 * lists the others' with `SCAN MATCH pier:v1:nodes:*` on the same tick. A node whose key expired
 * is gone: a crashed node leaves the list at most `ttlMs + intervalMs` after its last renewal
 * (4 s by default); a node stopping gracefully deletes its key, and whoever announces that
 * (`refresh()`) sees it gone at once. Probe work is spread over this list (design invariant 7).
 *
 * A string key per node, rather than one sorted set scored by expiry time, lets Redis expire
 * departed nodes by its own clock: the nodes' clocks never enter the decision.
 */
import { randomUUID } from 'node:crypto';
import {
  createLogger,
  dataplaneReportKey,
  nodeHeartbeatKey,
  nodeHeartbeatPattern,
  nodeOfHeartbeatKey,
  type PierLogger,
} from '@pier/shared';
import type { Redis } from 'ioredis';

/** Options of {@link NodeHeartbeat}. */
export interface NodeHeartbeatOptions {
  /** Command connection (shared with other users is fine; nothing blocks on it). */
  redis: Redis;
  /** This node's name (the Kubernetes node name). */
  node: string;
  /** Lifetime of the heartbeat key, ms (default 3000); more than `intervalMs`. */
  ttlMs?: number;
  /** Time between renewals and rescans, ms (default 1000). */
  intervalMs?: number;
  /** Called with the new live list (sorted, this node included) whenever it changes. */
  onChange?: (liveNodes: readonly string[]) => void;
  /**
   * The node's report for operators (`encodeDataplaneReport`), written to
   * `dataplaneReportKey(node)` with the same TTL on every renewal and deleted with the heartbeat.
   */
  report?: () => string;
  /** Defaults to a silent logger. */
  logger?: PierLogger;
}

/** Defaults of {@link NodeHeartbeatOptions}. */
export const NODE_HEARTBEAT_DEFAULTS = Object.freeze({ ttlMs: 3_000, intervalMs: 1_000 });

/** Keys per SCAN step. */
const SCAN_COUNT = 1000;

/**
 * Deletes the heartbeat (and the report beside it) only while the heartbeat still holds this
 * process's token: a restarted node may own both by now.
 */
const RELEASE_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end return 0";

/**
 * Keeps this node's heartbeat and the list of live nodes.
 *
 * - The live list always contains this node while started, even when its own `SET` failed: from
 *   its own point of view it is alive and must keep probing what it owns.
 * - While Redis is unreachable the last list is kept (never shrunk to zero nodes), so the node
 *   keeps probing what it owned; others may take its work over meanwhile, which only duplicates
 *   probes.
 */
export class NodeHeartbeat {
  readonly #redis: Redis;
  readonly #node: string;
  readonly #key: string;
  readonly #reportKey: string;
  readonly #report: (() => string) | undefined;
  readonly #ttlMs: number;
  readonly #intervalMs: number;
  readonly #onChange: ((live: readonly string[]) => void) | undefined;
  readonly #log: PierLogger;
  /** Written as the key's value; release deletes only a key still holding it. */
  readonly #token = randomUUID();
  #live: readonly string[];
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** The tick in progress, so refresh() and stop() do not race it. */
  #tick: Promise<void> | undefined;
  #again = false;
  #failing = false;

  constructor(options: NodeHeartbeatOptions) {
    this.#redis = options.redis;
    this.#node = options.node;
    this.#key = nodeHeartbeatKey(options.node);
    this.#reportKey = dataplaneReportKey(options.node);
    this.#report = options.report;
    this.#ttlMs = options.ttlMs ?? NODE_HEARTBEAT_DEFAULTS.ttlMs;
    this.#intervalMs = options.intervalMs ?? NODE_HEARTBEAT_DEFAULTS.intervalMs;
    assertHeartbeatTimes(this.#ttlMs, this.#intervalMs);
    this.#onChange = options.onChange;
    this.#log = options.logger ?? createLogger({ name: 'dataplane', level: 'silent' });
    this.#live = [this.#node];
  }

  /** Live node names, sorted, this node included. */
  get live(): readonly string[] {
    return this.#live;
  }

  /** Writes the first heartbeat and reads the live list (failures are kept quiet), then ticks. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    await this.refresh();
  }

  /**
   * Renews the heartbeat and rescans now, e.g. when another node announced that it joined or
   * left. Calls during a tick run one more tick after it.
   */
  refresh(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    if (this.#tick !== undefined) {
      this.#again = true;
      return this.#tick;
    }
    clearTimeout(this.#timer);
    this.#tick = this.#beat().finally(() => {
      this.#tick = undefined;
      if (!this.#running) return;
      if (this.#again) {
        this.#again = false;
        void this.refresh();
        return;
      }
      this.#timer = setTimeout(() => void this.refresh(), this.#intervalMs);
      this.#timer.unref();
    });
    return this.#tick;
  }

  /**
   * Stops renewing. With `release` (the default) the key is deleted, so the others re-own this
   * node's work as soon as they rescan; without it the key is left to expire, as after a crash.
   */
  async stop(release = true): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#tick !== undefined) await withTimeout(this.#tick, 1_000).catch(() => undefined);
    if (!release) return;
    try {
      await withTimeout(
        this.#redis.eval(RELEASE_SCRIPT, 2, this.#key, this.#reportKey, this.#token),
        1_000,
      );
    } catch (err) {
      this.#log.warn({ err, node: this.#node }, 'could not delete the heartbeat key; it expires');
    }
  }

  async #beat(): Promise<void> {
    try {
      if (this.#report === undefined) {
        await this.#redis.set(this.#key, this.#token, 'PX', this.#ttlMs);
      } else {
        const results = await this.#redis
          .pipeline()
          .set(this.#key, this.#token, 'PX', this.#ttlMs)
          .set(this.#reportKey, this.#report(), 'PX', this.#ttlMs)
          .exec();
        const failed = results?.find(([err]) => err !== null)?.[0];
        if (failed) throw failed;
      }
      const nodes = await this.#scan();
      if (!this.#running) return;
      nodes.add(this.#node);
      this.#publish([...nodes].sort());
      if (this.#failing) this.#log.info({ node: this.#node }, 'heartbeat renewed again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) {
        this.#log.warn({ err, node: this.#node }, 'heartbeat failed; keeping the last live nodes');
      }
      this.#failing = true;
    }
  }

  async #scan(): Promise<Set<string>> {
    const nodes = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(
        cursor,
        'MATCH',
        nodeHeartbeatPattern(),
        'COUNT',
        SCAN_COUNT,
      );
      cursor = next;
      for (const key of keys) {
        const node = nodeOfHeartbeatKey(key);
        if (node !== undefined) nodes.add(node);
      }
    } while (cursor !== '0');
    return nodes;
  }

  #publish(live: string[]): void {
    if (sameList(live, this.#live)) return;
    this.#live = Object.freeze(live);
    this.#onChange?.(this.#live);
  }
}

/**
 * Checks heartbeat timing: both positive integers, the TTL longer than the interval (else the key
 * lapses between renewals and the node flickers out of every list).
 *
 * @throws RangeError naming the bad value.
 */
export function assertHeartbeatTimes(ttlMs: number, intervalMs: number): void {
  for (const [name, value] of [
    ['ttlMs', ttlMs],
    ['intervalMs', intervalMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`heartbeat ${name} must be a positive integer, got ${value}`);
    }
  }
  if (ttlMs <= intervalMs) {
    throw new RangeError(
      `heartbeat ttlMs (${ttlMs}) must be longer than intervalMs (${intervalMs})`,
    );
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** Rejects when `promise` takes longer than `ms` (a command queued while Redis is down). */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms}ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
