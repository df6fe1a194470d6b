/**
 * When probes are sent, for the targets this process owns. Shared by the Redis-backed
 * `HealthChecker` (ownership spread over the live nodes) and the single-node
 * `LocalHealthChecker` (owns everything); what a result means is theirs to decide (`onResult`).
 *
 * - Each owned target is probed every `interval` ± 10 % ({@link jitteredInterval}), the next
 *   probe timed from the start of the previous one, never two at once.
 * - The first probe comes after a random fraction of the interval (at start and on take-over, so
 *   a fleet never probes in lockstep), or, for targets a table update created or changed, of at
 *   most {@link SETTINGS_CHANGE_MS} (an edited policy reaches the probes within a second), spread
 *   further when many start together ({@link FIRST_PROBES_PER_SECOND}).
 * - However many targets there are, the event loop is never held for long: targets change
 *   backend by backend in sliced steps ({@link ProbeScheduler.update} is a generator run by
 *   `runSliced`), and one timer serves a queue of due times, starting at most
 *   {@link PROBES_PER_SLICE} probes (or {@link SLICE_BUDGET_MS}) per turn of the event loop,
 *   and at most {@link MAX_PROBES_PER_SECOND} a second; more due than that are probed late, with
 *   a warning. (One Node timer per target, as before, let thousands of expired timers run in
 *   one turn.)
 * - Probes go through a {@link ProbeAgent} of the scheduler's own unless a dispatcher is given;
 *   the pools of endpoints that left the table are closed.
 */
import { performance } from 'node:perf_hooks';
import {
  type Backend,
  endpointField,
  type PierLogger,
  probeKey,
  SLICE_BUDGET_MS,
} from '@pier/shared';
import type { Dispatcher } from 'undici';
import { createProbeAgent, type ProbeResult, probe, probeOrigin } from './http-prober.ts';
import { ProbeAgent } from './probe-agent.ts';

/** Targets created or changed by a table update are first probed within this, ms. */
export const SETTINGS_CHANGE_MS = 1_000;

/**
 * First probes of targets new to a table update are spread so that at most this many start per
 * second (but over at least {@link SETTINGS_CHANGE_MS} and at most the target's interval): a
 * table that brings 50,000 endpoints at once must not probe them all in the same second.
 */
export const FIRST_PROBES_PER_SECOND = 2_000;

/** At most this many probes start in one turn of the event loop; the rest wait for the next. */
export const PROBES_PER_SLICE = 64;

/**
 * At most this many probes start per second in one process, however many are due: probing must
 * never take the process from serving. More targets than that (50,000 endpoints every 5 s on one
 * node is 10,000 a second) are probed late, and a warning says so ({@link LATE_PROBE_MS}).
 */
export const MAX_PROBES_PER_SECOND = 2_000;

/** A probe starting this late counts as late, ms. */
export const LATE_PROBE_MS = 1_000;

/** Late probes are reported at most this often, ms. */
const LATE_REPORT_MS = 60_000;

/** Endpoints handled per step of {@link ProbeScheduler.update}. */
const ENDPOINTS_PER_STEP = 32;

/** A backend and endpoint sharing a probe target. */
export interface ProbeMember {
  backendId: string;
  /** `endpointField(address, port)` of the endpoint's traffic port. */
  endpointId: string;
}

/** One probe target: what goes on the wire, and who judges the answer. */
export interface ProbeTargetSpec {
  /** {@link probeKey}. */
  key: string;
  address: string;
  /** Port probed (the policy's, else the endpoint's). */
  port: number;
  path: string;
  host?: string;
  /** Probe over TLS (the backend speaks HTTPS). */
  tls?: boolean;
  /** The shortest interval of the members' backends, ms. */
  intervalMs: number;
  /** The longest timeout of the members' backends, ms. */
  timeoutMs: number;
  /** Who judges the answer, by backend id (a target may serve thousands of backends). */
  members: ReadonlyMap<string, ProbeMember>;
}

/** `intervalMs` × a factor in [0.9, 1.1), from `random` in [0, 1). */
export function jitteredInterval(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()));
}

/** What one backend's endpoint asks of a target: its own interval and timeout. */
interface Membership extends ProbeMember {
  intervalMs: number;
  timeoutMs: number;
}

/** A target as the scheduler keeps it. */
export interface ScheduledTarget extends ProbeTargetSpec {
  /** Whether this process probes it now. */
  owned: boolean;
  /** When the next probe is due (`performance.now()` ms), or undefined when none is scheduled. */
  due: number | undefined;
  inFlight: boolean;
}

interface TargetState extends ScheduledTarget {
  /** Members by backend id, with what each asks of the target. */
  members: Map<string, Membership>;
  /** False once the target left the table: queued due times and results are then ignored. */
  live: boolean;
}

/** Options of {@link ProbeScheduler}. */
export interface ProbeSchedulerOptions {
  /** Sent in the probes' User-Agent: `pier-health-check/<node>`. */
  node: string;
  logger: PierLogger;
  /** Uniform in [0, 1): jitter and first-probe spread. */
  random: () => number;
  /** Wall clock, ms. */
  clock: () => number;
  /** Sends the probes; by default a {@link ProbeAgent} of the scheduler's own, closed by stop(). */
  dispatcher?: Dispatcher;
  /** Whether this process probes the target with this key (default: every target). */
  owns?: (key: string) => boolean;
  /** A probe of an owned target ended; a throw is logged and probing goes on. */
  onResult: (target: ScheduledTarget, result: ProbeResult, now: number) => void;
}

/** Timers and probes of the owned targets; see the module comment. */
export class ProbeScheduler {
  readonly #options: ProbeSchedulerOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: boolean;
  readonly #targets = new Map<string, TargetState>();
  /** Per backend: the keys of its targets, with the endpoint each stands for. */
  readonly #byBackend = new Map<string, Map<string, string>>();
  /** Targets per probe origin: the origin's pool is closed when the last one goes. */
  readonly #origins = new Map<string, number>();
  readonly #owns: (key: string) => boolean;
  readonly #queue = new DueQueue();
  #timer: NodeJS.Timeout | undefined;
  /** The due time the timer is armed for. */
  #timerDue = Number.POSITIVE_INFINITY;
  #immediate: NodeJS.Immediate | undefined;
  #running = false;
  /** Probes that may start now (a token bucket filled at {@link MAX_PROBES_PER_SECOND}). */
  #tokens = PROBES_PER_SLICE;
  #tokensAt = performance.now();
  /** Probes started late since the last report, and when that was. */
  #late = 0;
  #lateReportedAt = Number.NEGATIVE_INFINITY;
  /** Targets with `owned` set: asked after every probe (a metric), so kept rather than counted. */
  #ownedCount = 0;

  constructor(options: ProbeSchedulerOptions) {
    this.#options = options;
    this.#ownDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createProbeAgent();
    this.#owns = options.owns ?? (() => true);
  }

  /** Targets this process owns now. */
  get owned(): number {
    return this.#ownedCount;
  }

  /** Every target of the current table, owned or not. */
  targets(): IterableIterator<ScheduledTarget> {
    return this.#targets.values();
  }

  /** Starts probing the owned targets, each first after a random fraction of its interval. */
  start(): void {
    this.#running = true;
    for (const target of this.#targets.values()) {
      if (target.owned && target.due === undefined && !target.inFlight) {
        this.#scheduleFirst(target, false);
      }
    }
  }

  /**
   * Takes the backends a table update changed or removed, a few endpoints per step (run it with
   * `runSliced`). With `soon`, targets it creates or whose interval or timeout changed are first
   * probed within {@link SETTINGS_CHANGE_MS} (further spread for many); otherwise (the first
   * table) within their interval. A backend must not be both changed and removed.
   */
  *update(changed: Iterable<Backend>, removed: Iterable<string>, soon: boolean): Generator<void> {
    const created: TargetState[] = [];
    const touched = new Set<TargetState>();
    // One count for the whole update: a step is a few endpoints, of one backend or of several.
    let step = 0;
    for (const id of removed) {
      const keys = this.#byBackend.get(id);
      if (keys === undefined) continue;
      this.#byBackend.delete(id);
      for (const key of keys.keys()) {
        this.#leave(key, id, touched);
        if (++step % ENDPOINTS_PER_STEP === 0) yield;
      }
    }
    for (const backend of changed) {
      const before = this.#byBackend.get(backend.id) ?? new Map<string, string>();
      const after = new Map<string, string>();
      const hc = backend.healthCheck;
      for (const endpoint of backend.endpoints) {
        if (++step % ENDPOINTS_PER_STEP === 0) yield;
        if (!endpoint.ready && !endpoint.serving) continue;
        const key = probeKey(endpoint, hc);
        if (after.has(key)) continue;
        const endpointId = endpointField(endpoint.address, endpoint.port);
        after.set(key, endpointId);
        const membership: Membership = {
          backendId: backend.id,
          endpointId,
          intervalMs: hc.intervalMs,
          timeoutMs: hc.timeoutMs,
        };
        let target = this.#targets.get(key);
        if (target === undefined) {
          target = {
            key,
            address: endpoint.address,
            port: hc.port ?? endpoint.port,
            path: hc.http.path,
            intervalMs: hc.intervalMs,
            timeoutMs: hc.timeoutMs,
            members: new Map(),
            owned: this.#owns(key),
            due: undefined,
            inFlight: false,
            live: true,
          };
          if (hc.http.host !== undefined) target.host = hc.http.host;
          if (hc.http.tls === true) target.tls = true;
          this.#targets.set(key, target);
          if (target.owned) this.#ownedCount += 1;
          this.#addOrigin(target);
          if (this.#running && target.owned) created.push(target);
        }
        target.members.set(backend.id, membership);
        touched.add(target);
      }
      for (const key of before.keys()) {
        if (!after.has(key)) this.#leave(key, backend.id, touched);
        if (++step % ENDPOINTS_PER_STEP === 0) yield;
      }
      if (after.size > 0) this.#byBackend.set(backend.id, after);
      else this.#byBackend.delete(backend.id);
    }
    const fresh = new Set(created);
    for (const target of touched) {
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
      if (!target.live || fresh.has(target)) continue;
      const changedSettings = this.#settle(target);
      if (changedSettings && target.due !== undefined) this.#scheduleFirst(target, true);
    }
    // Created targets: the first probes spread over a second, or longer for many.
    const bulkMs = Math.ceil((created.length / FIRST_PROBES_PER_SECOND) * 1_000);
    for (const target of created) {
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
      this.#settle(target);
      if (target.live && target.owned && target.due === undefined && !target.inFlight) {
        this.#scheduleFirst(target, soon, bulkMs);
      }
    }
  }

  /**
   * Ownership changed (the live nodes did): starts and stops probing to match, a few targets per
   * step (run it with `runSliced`).
   */
  *reassign(): Generator<void> {
    let step = 0;
    for (const target of [...this.#targets.values()]) {
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
      if (!target.live) continue;
      const owned = this.#owns(target.key);
      if (owned !== target.owned) this.#ownedCount += owned ? 1 : -1;
      target.owned = owned;
      if (!this.#running) continue;
      if (!target.owned) target.due = undefined;
      else if (target.due === undefined && !target.inFlight) this.#scheduleFirst(target, false);
    }
  }

  /** Stops every timer; probes in flight are dropped when they end. Closes its own dispatcher. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    this.#queue.clear();
    for (const target of this.#targets.values()) target.due = undefined;
    if (this.#ownDispatcher) await this.#dispatcher.destroy().catch(() => undefined);
  }

  /** Backend `backendId` no longer uses target `key`; the target goes with its last member. */
  #leave(key: string, backendId: string, touched: Set<TargetState>): void {
    const target = this.#targets.get(key);
    if (target === undefined) return;
    target.members.delete(backendId);
    if (target.members.size > 0) {
      touched.add(target);
      return;
    }
    this.#targets.delete(key);
    if (target.owned) this.#ownedCount -= 1;
    target.live = false;
    target.due = undefined;
    touched.delete(target);
    this.#removeOrigin(target);
  }

  /**
   * Recomputes the shortest interval and longest timeout; true when they changed. Allocates
   * nothing: a target shared by thousands of backends is settled on every change to one of them.
   */
  #settle(target: TargetState): boolean {
    let intervalMs = Number.POSITIVE_INFINITY;
    let timeoutMs = 0;
    for (const m of target.members.values()) {
      if (m.intervalMs < intervalMs) intervalMs = m.intervalMs;
      if (m.timeoutMs > timeoutMs) timeoutMs = m.timeoutMs;
    }
    const changed = target.intervalMs !== intervalMs || target.timeoutMs !== timeoutMs;
    target.intervalMs = intervalMs;
    target.timeoutMs = timeoutMs;
    return changed;
  }

  #addOrigin(target: TargetState): void {
    const origin = probeOrigin(target);
    this.#origins.set(origin, (this.#origins.get(origin) ?? 0) + 1);
  }

  #removeOrigin(target: TargetState): void {
    const origin = probeOrigin(target);
    const count = (this.#origins.get(origin) ?? 1) - 1;
    if (count > 0) {
      this.#origins.set(origin, count);
      return;
    }
    this.#origins.delete(origin);
    if (this.#dispatcher instanceof ProbeAgent) this.#dispatcher.release(origin);
  }

  /**
   * Schedules a target's first probe after a random fraction of its interval, or, when `soon`,
   * of {@link SETTINGS_CHANGE_MS} stretched to `bulkMs` when many targets start together.
   */
  #scheduleFirst(target: TargetState, soon: boolean, bulkMs = 0): void {
    const soonMs = Math.max(SETTINGS_CHANGE_MS, bulkMs);
    const spread = soon ? Math.min(target.intervalMs, soonMs) : target.intervalMs;
    this.#schedule(target, Math.floor(this.#options.random() * spread));
  }

  #schedule(target: TargetState, delayMs: number): void {
    const due = performance.now() + delayMs;
    target.due = due;
    this.#queue.push(due, target);
    if (due < this.#timerDue && this.#immediate === undefined) this.#arm(due);
  }

  /** One timer, for the earliest due time. */
  #arm(due: number): void {
    clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - performance.now()));
    this.#timer.unref();
  }

  /** Starts the probes that are due, a bounded number per turn, then re-arms. */
  #fire(): void {
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    if (!this.#running) return;
    const now = performance.now();
    const end = now + SLICE_BUDGET_MS;
    this.#tokens = Math.min(
      PROBES_PER_SLICE,
      this.#tokens + ((now - this.#tokensAt) * MAX_PROBES_PER_SECOND) / 1_000,
    );
    this.#tokensAt = now;
    this.#reportLate(now);
    let started = 0;
    for (;;) {
      const next = this.#queue.peek();
      if (next === undefined) return;
      const [due, target] = next;
      if (target.due !== due) {
        this.#queue.pop(); // rescheduled or dropped since
        continue;
      }
      if (due > now) {
        this.#arm(due);
        return;
      }
      if (this.#tokens < 1) {
        // Over the rate: the next probe when the next token is there.
        this.#arm(now + ((1 - this.#tokens) * 1_000) / MAX_PROBES_PER_SECOND);
        return;
      }
      if (started >= PROBES_PER_SLICE || performance.now() >= end) break;
      this.#queue.pop();
      target.due = undefined;
      if (now - due > LATE_PROBE_MS) this.#late += 1;
      this.#tokens -= 1;
      this.#probe(target);
      started += 1;
    }
    // More are due: let I/O run first.
    this.#immediate = setImmediate(() => this.#fire());
    this.#immediate.unref();
  }

  /** Says, at most every {@link LATE_REPORT_MS}, how many probes started late. */
  #reportLate(now: number): void {
    if (this.#late === 0 || now - this.#lateReportedAt < LATE_REPORT_MS) return;
    this.#options.logger.warn(
      { late: this.#late, lateMs: LATE_PROBE_MS, maxPerSecond: MAX_PROBES_PER_SECOND },
      'more probes are due than this process starts per second; probes run late',
    );
    this.#late = 0;
    this.#lateReportedAt = now;
  }

  #probe(target: TargetState): void {
    if (!this.#running || !target.owned || target.inFlight || !target.live) return;
    target.inFlight = true;
    const o = this.#options;
    const started = o.clock();
    const spec = {
      address: target.address,
      port: target.port,
      path: target.path,
      timeoutMs: target.timeoutMs,
      userAgent: `pier-health-check/${o.node}`,
      ...(target.host === undefined ? {} : { host: target.host }),
      ...(target.tls === true ? { tls: true } : {}),
    };
    void probe(spec, this.#dispatcher).then((result) => {
      target.inFlight = false;
      // No answer: no connection worth keeping alive. Dropping the pool keeps an endpoint that
      // refuses (often thousands at once, during a rollout) from holding memory until it leaves.
      if (result.status === undefined && this.#dispatcher instanceof ProbeAgent) {
        this.#dispatcher.release(probeOrigin(target));
      }
      if (!this.#running || !target.live) return;
      const now = o.clock();
      try {
        o.onResult(target, result, now);
      } catch (err) {
        // A throwing callback must neither stop this target's probes nor crash the process.
        o.logger.error({ err, target: target.key }, 'health callback failed');
      }
      if (target.owned && target.due === undefined) {
        const wait = jitteredInterval(target.intervalMs, o.random) - (now - started);
        this.#schedule(target, Math.max(0, wait));
      }
    });
  }
}

/**
 * Due times of targets, earliest first (a binary heap). A target rescheduled or dropped leaves
 * its old entry behind; the scheduler skips entries whose time is no longer the target's.
 */
class DueQueue {
  #times: number[] = [];
  #targets: TargetState[] = [];

  push(due: number, target: TargetState): void {
    const times = this.#times;
    const targets = this.#targets;
    let i = times.length;
    times.push(due);
    targets.push(target);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((times[parent] as number) <= due) break;
      times[i] = times[parent] as number;
      targets[i] = targets[parent] as TargetState;
      i = parent;
    }
    times[i] = due;
    targets[i] = target;
  }

  peek(): [number, TargetState] | undefined {
    if (this.#times.length === 0) return undefined;
    return [this.#times[0] as number, this.#targets[0] as TargetState];
  }

  pop(): void {
    const times = this.#times;
    const targets = this.#targets;
    const lastTime = times.pop() as number;
    const lastTarget = targets.pop() as TargetState;
    const n = times.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (times[right] as number) < (times[left] as number) ? right : left;
      if ((times[child] as number) >= lastTime) break;
      times[i] = times[child] as number;
      targets[i] = targets[child] as TargetState;
      i = child;
    }
    times[i] = lastTime;
    targets[i] = lastTarget;
  }

  clear(): void {
    this.#times = [];
    this.#targets = [];
  }
}
