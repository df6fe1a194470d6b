/**
 * Gives every Ingress of Pier's class an external address and keeps
 * `status.loadBalancer` and the pools' status true. Only the leader runs it.
 *
 * Invariants (docs/addresses.md):
 * - allocations are rebuilt from the Ingresses' status, read fresh from the
 *   API server, before anything new is allocated: a restart or leader change
 *   moves no address;
 * - status and Events are written only on Ingresses of Pier's class (an
 *   Ingress that leaves the class has its address cleared, nothing else);
 * - status is written only when it changes.
 */
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import type { PierLogger } from '@pier/shared';
import type { ControllerMetrics } from '../controller-metrics.ts';
import { parseAddressAnnotations } from '../ingress/ingress-annotations.ts';
import { classifyIngress } from '../ingress/ingress-class.ts';
import { ingressSubject, type KubeWriter, poolSubject } from '../kube/kube-writer.ts';
import { DONE, type ReconcileResult, WorkQueue } from '../kube/work-queue.ts';
import {
  type IPAddressPool,
  type IPAddressPoolStatus,
  POOL_CONDITION_ACCEPTED,
  POOL_CONDITION_OVERLAPPING,
  sameStatus,
  setCondition,
  toPoolSpec,
} from './ip-address-pool.ts';
import { DEFAULT_SHARING_KEY, IpAllocator, type RestoreEntry } from './ip-allocator.ts';

/** Event reasons on Ingresses and pools. Stable: documented in docs/addresses.md. */
export const REASON_ADDRESS_ASSIGNED = 'AddressAssigned';
export const REASON_ALLOCATION_FAILED = 'AllocationFailed';
export const REASON_ADDRESS_RELEASED = 'AddressReleased';

/** Read access to a watched resource. */
export interface ObjectSource<T> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
}

export interface AddressControllerDeps {
  ingresses: ObjectSource<V1Ingress>;
  classes: ObjectSource<V1IngressClass>;
  pools: ObjectSource<IPAddressPool>;
  writer: KubeWriter;
  metrics: ControllerMetrics;
  logger: PierLogger;
  /** Status writes in flight at once. */
  concurrency?: number;
  /**
   * Resolves once the routes compiled from the current allocations are
   * published: an address goes into status only after its routes are live.
   */
  awaitPublished?: () => Promise<void>;
  /** L2 pools: who announces each address (`status.holders`); undefined for other pools. */
  holdersOf?: (pool: string) => Array<{ address: string; node: string }> | undefined;
  /** Called whenever allocations may have changed (the L2 announcements follow them). */
  onAllocationsChange?: () => void;
}

const POOLS_KEY = 'pools';
const INGRESS_PREFIX = 'ingress:';
const STATUS_PREFIX = 'status:';

/** The addresses in an Ingress's status, as written. */
export function statusAddresses(ingress: V1Ingress): string[] {
  return (ingress.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip)
    .filter((ip): ip is string => typeof ip === 'string' && ip !== '');
}

export function ownerOf(ingress: V1Ingress): string {
  return `${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}`;
}

/** Oldest first, then namespace/name: the order in which restored claims win. */
export function byAge(a: V1Ingress, b: V1Ingress): number {
  const ta = new Date(a.metadata?.creationTimestamp ?? 0).getTime();
  const tb = new Date(b.metadata?.creationTimestamp ?? 0).getTime();
  return ta - tb || ownerOf(a).localeCompare(ownerOf(b));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function httpCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

export class AddressController {
  readonly #d: AddressControllerDeps;
  readonly #queue: WorkQueue;
  #allocator = new IpAllocator();
  #leading = false;
  /** Last failure reported per owner, so the same Event is not repeated each reconcile. */
  readonly #failures = new Map<string, string>();
  /** Owners without an address, retried when addresses free up or pools change. */
  readonly #waiting = new Set<string>();
  #poolProblems = new Map<string, string[]>();
  /** Assignments waiting for the publication of their routes. */
  #pendingStatus = new Map<string, { addresses: string[]; pool: string }>();
  /** Assignments whose routes are published, waiting to be written to status. */
  readonly #publishedStatus = new Map<string, { addresses: string[]; pool: string }>();
  #flushing = false;
  #invalidPools = new Map<string, string[]>();

  constructor(deps: AddressControllerDeps) {
    this.#d = deps;
    this.#queue = new WorkQueue({
      concurrency: deps.concurrency ?? 32,
      onError: (key, err) => deps.logger.error({ key, err }, 'reconcile failed'),
    });
  }

  get leading(): boolean {
    return this.#leading;
  }

  get queueDepth(): number {
    return this.#queue.depth;
  }

  /** The addresses allocated to an Ingress (what routes are compiled with). */
  addressesOf(ingress: V1Ingress): readonly string[] {
    return this.#leading ? this.#allocator.addressesOf(ownerOf(ingress)) : [];
  }

  /**
   * Becomes the writer: rebuilds allocations from `ingresses` (a fresh list
   * from the API server, not the cache, so a write by the previous leader just
   * before it stepped down is seen) and then reconciles everything.
   */
  startLeading(ingresses: readonly V1Ingress[]): void {
    this.#allocator = new IpAllocator();
    this.#pendingStatus = new Map();
    this.#publishedStatus.clear();
    this.#failures.clear();
    this.#waiting.clear();
    this.#syncPools();
    this.#restore(ingresses);
    this.#leading = true;
    this.#queue.start((key) => this.#reconcile(key));
    this.#enqueueAllIngresses();
    this.#queue.add(POOLS_KEY);
  }

  /** Stops writing; in-flight reconciles finish first. */
  async stopLeading(): Promise<void> {
    this.#leading = false;
    await this.#queue.stop();
  }

  onIngressChange(ingress: V1Ingress): void {
    if (this.#leading) this.#queue.add(INGRESS_PREFIX + ownerOf(ingress));
  }

  onClassChange(): void {
    if (this.#leading) this.#enqueueAllIngresses();
  }

  /** The L2 holders changed: rewrite the pools' status. */
  onHoldersChange(): void {
    if (this.#leading) this.#queue.add(POOLS_KEY);
  }

  /** Every allocated address with its pool (empty unless leading). */
  assigned(): Array<{ address: string; pool: string }> {
    return this.#leading ? this.#allocator.assigned() : [];
  }

  onPoolChange(): void {
    if (!this.#leading) return;
    this.#syncPools();
    this.#enqueueAllIngresses();
    this.#queue.add(POOLS_KEY);
  }

  /** Resolves when no reconcile is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  #enqueueAllIngresses(): void {
    for (const ingress of this.#d.ingresses.list())
      this.#queue.add(INGRESS_PREFIX + ownerOf(ingress));
  }

  #syncPools(): void {
    const specs = [];
    this.#invalidPools = new Map();
    for (const pool of this.#d.pools.list()) {
      const converted = toPoolSpec(pool);
      if (converted.ok) specs.push(converted.spec);
      else this.#invalidPools.set(converted.name, converted.errors);
    }
    const problems = this.#allocator.setPools(specs);
    this.#poolProblems = new Map();
    for (const p of problems) {
      this.#poolProblems.set(p.pool, [...(this.#poolProblems.get(p.pool) ?? []), p.message]);
    }
    for (const orphan of this.#allocator.orphans()) {
      this.#d.logger.warn(
        { address: orphan.address, owners: orphan.owners },
        'address in use lies in no pool any more; it stays assigned',
      );
    }
  }

  #restore(ingresses: readonly V1Ingress[]): void {
    const entries: RestoreEntry[] = [];
    for (const ingress of [...ingresses].sort(byAge)) {
      const addresses = statusAddresses(ingress);
      if (addresses.length === 0) continue;
      if (!classifyIngress(ingress, this.#d.classes.list()).ours) continue;
      const parsed = parseAddressAnnotations(ingress);
      entries.push({
        owner: ownerOf(ingress),
        key: parsed.ok ? parsed.request.key : DEFAULT_SHARING_KEY,
        pool: parsed.ok ? parsed.request.pool : undefined,
        addresses,
      });
    }
    const conflicts = this.#allocator.restore(entries);
    for (const c of conflicts) {
      this.#d.logger.warn(
        { owner: c.owner, address: c.address, heldBy: c.heldBy },
        'status claims an address another sharing key holds; it will get a new one',
      );
    }
    this.#d.logger.info(
      { restored: entries.length, conflicts: conflicts.length },
      'allocations restored',
    );
  }

  async #reconcile(key: string): Promise<ReconcileResult> {
    const started = performance.now();
    const controller =
      key === POOLS_KEY ? 'pools' : key.startsWith(STATUS_PREFIX) ? 'status' : 'ingress';
    let result: ReconcileResult = DONE;
    try {
      if (key === POOLS_KEY) result = await this.#reconcilePools();
      else if (key.startsWith(STATUS_PREFIX)) {
        result = await this.#reconcileStatus(key.slice(STATUS_PREFIX.length));
      } else result = await this.#reconcileIngress(key.slice(INGRESS_PREFIX.length));
      return result;
    } finally {
      this.#d.metrics.reconcileDuration.observe(
        { controller, result: result.kind },
        (performance.now() - started) / 1000,
      );
      this.#d.metrics.queueDepth.set({ queue: 'addresses' }, this.#queue.depth);
    }
  }

  /** Releases what `owner` holds; freed addresses are reported on their pool. */
  #releaseOwner(owner: string, why: string): void {
    const poolOf = new Map(
      this.#allocator.addressesOf(owner).map((a) => [a, this.#allocator.holderOf(a)?.pool ?? '']),
    );
    const { freed } = this.#allocator.release(owner);
    if (freed.length === 0) return;
    this.#queue.add(POOLS_KEY);
    for (const waiting of this.#waiting) this.#queue.add(INGRESS_PREFIX + waiting);
    this.#d.logger.info({ addresses: freed, why }, 'addresses released');
    for (const address of freed) {
      const pool = this.#d.pools.get(poolOf.get(address) ?? '');
      if (pool === undefined) continue;
      void this.#event(() =>
        this.#d.writer.recordEvent(
          poolSubject(pool),
          'Normal',
          REASON_ADDRESS_RELEASED,
          `${address} released: ${why}`,
        ),
      );
    }
  }

  async #reconcileIngress(owner: string): Promise<ReconcileResult> {
    const slash = owner.indexOf('/');
    const namespace = owner.slice(0, slash);
    const name = owner.slice(slash + 1);
    const ingress = this.#d.ingresses.get(name, namespace);
    if (ingress === undefined) {
      this.#failures.delete(owner);
      this.#waiting.delete(owner);
      this.#releaseOwner(owner, `Ingress ${owner} deleted`);
      return DONE;
    }
    const log = this.#d.logger.child({ namespace, name });
    const verdict = classifyIngress(ingress, this.#d.classes.list());
    if (!verdict.ours) {
      const held = this.#allocator.addressesOf(owner);
      this.#failures.delete(owner);
      this.#waiting.delete(owner);
      if (held.length === 0) return DONE;
      this.#releaseOwner(owner, `Ingress ${owner} left Pier's class`);
      // Clear only what Pier wrote; another controller's address stays.
      const status = statusAddresses(ingress);
      if (status.length > 0 && status.every((ip) => held.includes(ip))) {
        log.info({ reason: verdict.reason }, 'Ingress left the class: clearing its address');
        return this.#writeStatus(ingress, []);
      }
      return DONE;
    }

    const parsed = parseAddressAnnotations(ingress);
    if (!parsed.ok) {
      this.#fail(
        ingress,
        'PIER_INVALID_ANNOTATION',
        `annotation ${parsed.annotation}: ${parsed.message}`,
      );
      return DONE;
    }
    const result = this.#allocator.assign({ owner, ...parsed.request });
    if (!result.ok) {
      this.#fail(ingress, result.code, result.message);
      // Status tells the truth: an Ingress that holds nothing shows nothing.
      if (this.#allocator.addressesOf(owner).length === 0 && statusAddresses(ingress).length > 0) {
        return this.#writeStatus(ingress, []);
      }
      return DONE;
    }
    this.#failures.delete(owner);
    this.#waiting.delete(owner);
    if (result.changed) this.#queue.add(POOLS_KEY);
    if (sameList(statusAddresses(ingress), result.addresses)) return DONE;
    this.#requestStatus(owner, { addresses: result.addresses, pool: result.pool });
    return DONE;
  }

  /**
   * Queues a status write for after the next publication: the slot of the
   * reconcile is not held meanwhile, so a burst of new Ingresses is allocated
   * at once, compiled and published together, and then written.
   */
  #requestStatus(owner: string, assignment: { addresses: string[]; pool: string }): void {
    this.#pendingStatus.set(owner, assignment);
    void this.#flushStatus();
  }

  async #flushStatus(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#pendingStatus.size > 0 && this.#leading) {
        const batch = this.#pendingStatus;
        this.#pendingStatus = new Map();
        await this.#d.awaitPublished?.();
        if (!this.#leading) return;
        for (const [owner, assignment] of batch) {
          this.#publishedStatus.set(owner, assignment);
          this.#queue.add(STATUS_PREFIX + owner);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Writes an address whose routes are published, unless it changed meanwhile. */
  async #reconcileStatus(owner: string): Promise<ReconcileResult> {
    const assignment = this.#publishedStatus.get(owner);
    const slash = owner.indexOf('/');
    const ingress = this.#d.ingresses.get(owner.slice(slash + 1), owner.slice(0, slash));
    if (assignment === undefined || ingress === undefined) {
      this.#publishedStatus.delete(owner);
      return DONE;
    }
    // A newer allocation has its own write coming after its own publication.
    if (!sameList(this.#allocator.addressesOf(owner), assignment.addresses)) {
      this.#publishedStatus.delete(owner);
      return DONE;
    }
    if (sameList(statusAddresses(ingress), assignment.addresses)) {
      this.#publishedStatus.delete(owner);
      return DONE;
    }
    const written = await this.#writeStatus(ingress, assignment.addresses);
    if (written.kind !== 'done') return written;
    this.#publishedStatus.delete(owner);
    this.#d.logger.info(
      { namespace: ingress.metadata?.namespace, name: ingress.metadata?.name, ...assignment },
      'address assigned',
    );
    await this.#event(() =>
      this.#d.writer.recordEvent(
        ingressSubject(ingress),
        'Normal',
        REASON_ADDRESS_ASSIGNED,
        `Assigned ${assignment.addresses.join(', ')} from pool ${assignment.pool}`,
      ),
    );
    return DONE;
  }

  #fail(ingress: V1Ingress, code: string, message: string): void {
    const owner = ownerOf(ingress);
    this.#waiting.add(owner);
    this.#d.metrics.allocationFailures.inc({ reason: code });
    const text = `${code}: ${message}`;
    if (this.#failures.get(owner) === text) return;
    this.#failures.set(owner, text);
    this.#d.logger.warn(
      { namespace: ingress.metadata?.namespace, name: ingress.metadata?.name, code, message },
      'allocation failed',
    );
    void this.#event(() =>
      this.#d.writer.recordEvent(
        ingressSubject(ingress),
        'Warning',
        REASON_ALLOCATION_FAILED,
        text,
      ),
    );
  }

  async #writeStatus(ingress: V1Ingress, addresses: readonly string[]): Promise<ReconcileResult> {
    try {
      await this.#d.writer.updateIngressStatus(ingress, addresses);
      this.#d.metrics.apiWrites.inc({ kind: 'ingress-status', result: 'ok' });
      return DONE;
    } catch (err) {
      const code = httpCode(err);
      this.#d.metrics.apiWrites.inc({ kind: 'ingress-status', result: String(code ?? 'error') });
      // 404: deleted meanwhile; the delete event reconciles it.
      if (code === 404) return DONE;
      return { kind: 'retry', reason: `status update: ${code ?? String(err)}` };
    }
  }

  async #event(write: () => Promise<void>): Promise<void> {
    try {
      await write();
      this.#d.metrics.apiWrites.inc({ kind: 'event', result: 'ok' });
    } catch (err) {
      // Events are best effort: losing one must not stall reconciliation.
      this.#d.metrics.apiWrites.inc({ kind: 'event', result: String(httpCode(err) ?? 'error') });
      this.#d.logger.warn({ err }, 'could not record an Event');
    }
  }

  async #reconcilePools(): Promise<ReconcileResult> {
    this.#d.onAllocationsChange?.();
    const stats = new Map(this.#allocator.stats().map((s) => [s.pool, s]));
    let retry = false;
    const now = new Date();
    for (const pool of this.#d.pools.list()) {
      const name = pool.metadata?.name ?? '';
      const s = stats.get(name);
      const invalid = this.#invalidPools.get(name);
      const overlaps = this.#poolProblems.get(name) ?? [];
      let conditions = pool.status?.conditions ?? [];
      conditions = setCondition(
        conditions,
        invalid
          ? {
              type: POOL_CONDITION_ACCEPTED,
              status: 'False',
              reason: 'InvalidAddresses',
              message: invalid.join('; '),
              observedGeneration: pool.metadata?.generation ?? 0,
            }
          : {
              type: POOL_CONDITION_ACCEPTED,
              status: 'True',
              reason: 'Valid',
              message: 'addresses parsed',
              observedGeneration: pool.metadata?.generation ?? 0,
            },
        now,
      );
      conditions = setCondition(
        conditions,
        overlaps.length > 0
          ? {
              type: POOL_CONDITION_OVERLAPPING,
              status: 'True',
              reason: 'OverlapsPool',
              message: overlaps.join('; '),
              observedGeneration: pool.metadata?.generation ?? 0,
            }
          : {
              type: POOL_CONDITION_OVERLAPPING,
              status: 'False',
              reason: 'NoOverlap',
              message: 'no other pool shares these addresses',
              observedGeneration: pool.metadata?.generation ?? 0,
            },
        now,
      );
      const holders = this.#d.holdersOf?.(name);
      const status: IPAddressPoolStatus = {
        assigned: s?.assigned ?? 0,
        available: Math.min(s?.available ?? 0, Number.MAX_SAFE_INTEGER),
        ...(holders ? { holders } : {}),
        observedGeneration: pool.metadata?.generation ?? 0,
        conditions,
      };
      this.#d.metrics.poolSize.set({ pool: name }, s?.size ?? 0);
      this.#d.metrics.poolAssigned.set({ pool: name }, status.assigned ?? 0);
      this.#d.metrics.poolAvailable.set({ pool: name }, status.available ?? 0);
      if (sameStatus(pool.status, status)) continue;
      try {
        await this.#d.writer.updatePoolStatus(pool, status);
        this.#d.metrics.apiWrites.inc({ kind: 'pool-status', result: 'ok' });
      } catch (err) {
        this.#d.metrics.apiWrites.inc({
          kind: 'pool-status',
          result: String(httpCode(err) ?? 'error'),
        });
        if (httpCode(err) !== 404) retry = true;
      }
    }
    return retry ? { kind: 'retry', reason: 'pool status update failed' } : DONE;
  }
}
