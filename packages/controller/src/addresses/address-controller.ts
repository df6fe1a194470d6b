/**
 * Gives every object that claims an address (Ingresses of Pier's class, Services of type
 * LoadBalancer of its class: see ClaimKind) an external address and keeps
 * `status.loadBalancer` and the pools' status true. Only the leader runs it.
 *
 * Invariants (docs/addresses.md):
 * - allocations are rebuilt from the claimants' status, read fresh from the
 *   API server, before anything new is allocated: a restart or leader change
 *   moves no address;
 * - status and Events are written only on objects that are Pier's (one that
 *   leaves has its address cleared, nothing else);
 * - status is written only when it changes; kinds whose status has conditions (Services) carry
 *   `pier.dev/AddressAssigned` (address-condition.ts), True exactly while Pier's address is in
 *   status, False with the error code as reason while none can be given.
 */
import type { V1Ingress, V1Namespace } from '@kubernetes/client-node';
import type { PierLogger } from '@pier/shared';
import type { ControllerMetrics } from '../controller-metrics.ts';
import { type ConditionSpec, setCondition } from '../kube/conditions.ts';
import { EventLane } from '../kube/event-lane.ts';
import { type KubeWriter, poolSubject } from '../kube/kube-writer.ts';
import { DONE, type ReconcileResult, WorkQueue } from '../kube/work-queue.ts';
import { assignedCondition, failedCondition, nextConditions } from './address-condition.ts';
import type { ClaimKind, ObjectSource } from './claim-kind.ts';
import {
  type IPAddressPool,
  type IPAddressPoolStatus,
  POOL_CONDITION_ACCEPTED,
  POOL_CONDITION_OVERLAPPING,
  sameStatus,
  toPoolSpec,
} from './ip-address-pool.ts';
import { DEFAULT_SHARING_KEY, IpAllocator, type RestoreEntry } from './ip-allocator.ts';
import { eligiblePools } from './pool-eligibility.ts';

/** Event reasons on Ingresses and pools. Stable: documented in docs/addresses.md. */
export const REASON_ADDRESS_ASSIGNED = 'AddressAssigned';
export const REASON_ALLOCATION_FAILED = 'AllocationFailed';
export const REASON_ADDRESS_RELEASED = 'AddressReleased';
/** On a Service: the node that announces its address in L2 mode changed. */
export const REASON_ADDRESS_ANNOUNCED = 'AddressAnnounced';

export type { ObjectSource } from './claim-kind.ts';

/** A claim kind of any object type (its methods are bivariant, so each adapter fits). */
export type AnyClaimKind = ClaimKind<object>;

export interface AddressControllerDeps {
  /** The kinds that claim addresses; Ingress first. */
  claims: readonly AnyClaimKind[];
  /** Namespaces, for pools' serviceAllocation.namespaceSelectors. */
  namespaces: ObjectSource<V1Namespace>;
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
  /**
   * Called at once when the addresses of one object changed (allocated, moved, released), or
   * without an object when those of any may have (allocations restored): the routes follow.
   */
  onAddressesChange?: (changed?: { kind: string; namespace: string; name: string }) => void;
}

const POOLS_KEY = 'pools';
const CLAIM_PREFIX = 'claim:';
const STATUS_PREFIX = 'status:';

/** A queue key: the kind and the object's `namespace/name`. */
function claimRef(kind: string, namespaceName: string): string {
  return `${kind}:${namespaceName}`;
}

interface Claimant {
  kind: AnyClaimKind;
  obj: object;
  owner: string;
  created: number;
}

function createdAt(obj: object): number {
  const meta = (obj as { metadata?: { creationTimestamp?: Date | string } }).metadata;
  return new Date(meta?.creationTimestamp ?? 0).getTime();
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
  readonly #kinds: ReadonlyMap<string, AnyClaimKind>;
  #allocator = new IpAllocator();
  #leading = false;
  /** Last failure reported per claim ref, so the same Event is not repeated each reconcile. */
  readonly #failures = new Map<string, string>();
  /** Claim refs without an address, retried when addresses free up or pools change. */
  readonly #waiting = new Set<string>();
  #poolProblems = new Map<string, string[]>();
  /** Assignments waiting for the publication of their routes, by claim ref. */
  #pendingStatus = new Map<string, { addresses: string[]; pool: string }>();
  /** Assignments ready to be written to status, by claim ref. */
  readonly #readyStatus = new Map<string, { addresses: string[]; pool: string }>();
  #flushing = false;
  #invalidPools = new Map<string, string[]>();
  /** The node last reported as announcing each address (see ClaimKind.reportsHolder). */
  readonly #reportedHolders = new Map<string, string>();
  /** Events, written behind the status writes (see event-lane.ts). */
  readonly #events: EventLane;

  constructor(deps: AddressControllerDeps) {
    this.#d = deps;
    this.#kinds = new Map(deps.claims.map((k) => [k.kind, k]));
    this.#queue = new WorkQueue({
      concurrency: deps.concurrency ?? 32,
      onError: (key, err) => deps.logger.error({ key, err }, 'reconcile failed'),
    });
    this.#events = new EventLane({
      onDropped: () => deps.metrics.apiWrites.inc({ kind: 'event', result: 'dropped' }),
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
    if (!this.#leading) return [];
    const nn = `${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}`;
    return this.#allocator.addressesOf(this.#kind('Ingress')?.owner(nn) ?? nn);
  }

  /** The allocator owners that hold `address` (empty unless leading). */
  holdersOf(address: string): readonly string[] {
    if (!this.#leading) return [];
    return [...(this.#allocator.holderOf(address)?.owners ?? [])].sort();
  }

  /**
   * Becomes the writer: rebuilds allocations from `fresh` (per kind, a fresh list from the API
   * server, not the cache, so a write by the previous leader just before it stepped down is
   * seen) and then reconciles everything.
   */
  startLeading(fresh: ReadonlyMap<string, readonly object[]>): void {
    this.#allocator = new IpAllocator();
    this.#pendingStatus = new Map();
    this.#readyStatus.clear();
    this.#failures.clear();
    this.#waiting.clear();
    this.#reportedHolders.clear();
    this.#syncPools();
    this.#restore(fresh);
    this.#leading = true;
    this.#queue.start((key) => this.#reconcile(key));
    this.#enqueueAll();
    this.#queue.add(POOLS_KEY);
  }

  /** Stops writing; in-flight reconciles and Events finish first, queued Events are dropped. */
  async stopLeading(): Promise<void> {
    this.#leading = false;
    await this.#queue.stop();
    this.#events.clear();
    await this.#events.idle();
  }

  /** An object of claim kind `kind` was added, changed or deleted. */
  onClaimChange(kind: string, obj: object): void {
    const claims = this.#kinds.get(kind);
    if (this.#leading && claims !== undefined) {
      this.#queue.add(CLAIM_PREFIX + claimRef(kind, claims.namespaceName(obj)));
    }
  }

  /** What decides whether objects are Pier's (IngressClasses, namespaces) changed. */
  onClassChange(): void {
    if (this.#leading) this.#enqueueAll();
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
    this.#enqueueAll();
    this.#queue.add(POOLS_KEY);
  }

  /** Resolves when no reconcile is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  #kind(kind: string): AnyClaimKind | undefined {
    return this.#kinds.get(kind);
  }

  #enqueueAll(): void {
    for (const claims of this.#d.claims) {
      for (const obj of claims.list()) {
        this.#queue.add(CLAIM_PREFIX + claimRef(claims.kind, claims.namespaceName(obj)));
      }
    }
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

  /** Restores every kind's claims together, oldest first, so that the oldest claim wins. */
  #restore(fresh: ReadonlyMap<string, readonly object[]>): void {
    const claimants: Claimant[] = [];
    for (const claims of this.#d.claims) {
      for (const obj of fresh.get(claims.kind) ?? []) {
        const nn = claims.namespaceName(obj);
        claimants.push({ kind: claims, obj, owner: claims.owner(nn), created: createdAt(obj) });
      }
    }
    claimants.sort(
      (a, b) => a.created - b.created || (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0),
    );
    const entries: RestoreEntry[] = [];
    for (const { kind, obj, owner } of claimants) {
      const addresses = kind.statusAddresses(obj);
      if (addresses.length === 0) continue;
      if (kind.notOursBecause(obj) !== undefined) continue;
      const parsed = kind.request(obj);
      entries.push({
        owner,
        key: parsed.ok ? parsed.request.key : DEFAULT_SHARING_KEY,
        pool: parsed.ok ? parsed.request.pool : undefined,
        sharing: parsed.ok ? parsed.request.sharing : undefined,
        addresses,
      });
    }
    const conflicts = this.#allocator.restore(entries);
    this.#d.onAddressesChange?.();
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
    let controller = 'pools';
    let result: ReconcileResult = DONE;
    try {
      if (key === POOLS_KEY) result = await this.#reconcilePools();
      else if (key.startsWith(STATUS_PREFIX)) {
        controller = 'status';
        result = await this.#reconcileStatus(key.slice(STATUS_PREFIX.length));
      } else {
        const ref = key.slice(CLAIM_PREFIX.length);
        controller = ref.slice(0, ref.indexOf(':')).toLowerCase();
        result = await this.#reconcileClaim(ref);
      }
      return result;
    } finally {
      this.#d.metrics.reconcileDuration.observe(
        { controller, result: result.kind },
        (performance.now() - started) / 1000,
      );
      this.#d.metrics.queueDepth.set({ queue: 'addresses' }, this.#queue.depth);
    }
  }

  /** The claim kind, namespace and name a claim ref (`Kind:namespace/name`) names. */
  #parseRef(
    ref: string,
  ): { claims: AnyClaimKind; namespace: string; name: string; nn: string } | undefined {
    const colon = ref.indexOf(':');
    const claims = this.#kind(ref.slice(0, colon));
    if (claims === undefined) return undefined;
    const nn = ref.slice(colon + 1);
    const slash = nn.indexOf('/');
    return { claims, namespace: nn.slice(0, slash), name: nn.slice(slash + 1), nn };
  }

  /** Releases what `owner` (the object `of`) holds; freed addresses are reported on their pool. */
  #releaseOwner(
    owner: string,
    of: { kind: string; namespace: string; name: string },
    why: string,
  ): void {
    const held = this.#allocator.addressesOf(owner);
    const poolOf = new Map(held.map((a) => [a, this.#allocator.holderOf(a)?.pool ?? '']));
    const { freed } = this.#allocator.release(owner);
    if (held.length > 0) this.#d.onAddressesChange?.(of);
    if (freed.length === 0) return;
    this.#queue.add(POOLS_KEY);
    for (const waiting of this.#waiting) this.#queue.add(CLAIM_PREFIX + waiting);
    this.#d.logger.info({ addresses: freed, why }, 'addresses released');
    for (const address of freed) {
      const pool = this.#d.pools.get(poolOf.get(address) ?? '');
      if (pool === undefined) continue;
      this.#event(() =>
        this.#d.writer.recordEvent(
          poolSubject(pool),
          'Normal',
          REASON_ADDRESS_RELEASED,
          `${address} released: ${why}`,
        ),
      );
    }
  }

  async #reconcileClaim(ref: string): Promise<ReconcileResult> {
    const parsedRef = this.#parseRef(ref);
    if (parsedRef === undefined) return DONE;
    const { claims, namespace, name, nn } = parsedRef;
    const owner = claims.owner(nn);
    const obj = claims.get(namespace, name);
    if (obj === undefined) {
      this.#failures.delete(ref);
      this.#waiting.delete(ref);
      this.#releaseOwner(
        owner,
        { kind: claims.kind, namespace, name },
        `${claims.kind} ${nn} deleted`,
      );
      return DONE;
    }
    const log = this.#d.logger.child({ kind: claims.kind, namespace, name });
    const notOurs = claims.notOursBecause(obj);
    if (notOurs !== undefined) {
      const held = this.#allocator.addressesOf(owner);
      this.#failures.delete(ref);
      this.#waiting.delete(ref);
      // Pier's condition goes with Pier (a write only if it has one); nothing else is touched.
      if (held.length === 0) return this.#writeStatus(claims, obj, undefined, undefined);
      const status = claims.statusAddresses(obj);
      this.#releaseOwner(
        owner,
        { kind: claims.kind, namespace, name },
        `${claims.kind} ${nn} is no longer Pier's: ${notOurs}`,
      );
      // Clear only what Pier wrote; another controller's address stays.
      if (status.length > 0 && status.every((ip) => held.includes(ip))) {
        log.info({ reason: notOurs }, "no longer Pier's: clearing its address");
        return this.#writeStatus(claims, obj, [], undefined);
      }
      return this.#writeStatus(claims, obj, undefined, undefined);
    }

    const parsed = claims.request(obj);
    if (!parsed.ok) {
      this.#fail(claims, obj, ref, parsed.code, parsed.message);
      return this.#writeStatus(
        claims,
        obj,
        undefined,
        failedCondition(obj, parsed.code, parsed.message),
      );
    }
    const nsLabels = this.#d.namespaces.get(namespace)?.metadata?.labels ?? {};
    const before = this.#allocator.addressesOf(owner);
    const result = this.#allocator.assign({
      owner,
      ...parsed.request,
      allowedPools: eligiblePools(this.#d.pools.list(), claims.kind, namespace, nsLabels),
    });
    if (!sameList(before, this.#allocator.addressesOf(owner))) {
      this.#d.onAddressesChange?.({ kind: claims.kind, namespace, name });
    }
    if (!result.ok) {
      this.#fail(claims, obj, ref, result.code, result.message);
      // False even while an address held from before stays: the object's request is not met.
      const failed = failedCondition(obj, result.code, result.message);
      // Status tells the truth: an object that holds nothing shows nothing.
      if (
        this.#allocator.addressesOf(owner).length === 0 &&
        claims.statusAddresses(obj).length > 0
      ) {
        return this.#writeStatus(claims, obj, [], failed);
      }
      return this.#writeStatus(claims, obj, undefined, failed);
    }
    this.#failures.delete(ref);
    this.#waiting.delete(ref);
    if (result.changed) this.#queue.add(POOLS_KEY);
    if (sameList(claims.statusAddresses(obj), result.addresses)) {
      const assigned = assignedCondition(obj, result.addresses, result.pool);
      return this.#writeStatus(claims, obj, undefined, assigned);
    }
    const assignment = { addresses: result.addresses, pool: result.pool };
    if (claims.waitsForRoutes && this.#d.awaitPublished !== undefined) {
      this.#requestStatus(ref, assignment);
    } else {
      // Nothing to publish first (kube-proxy forwards a Service's address): write it now.
      this.#readyStatus.set(ref, assignment);
      this.#queue.add(STATUS_PREFIX + ref);
    }
    return DONE;
  }

  /**
   * Queues a status write for after the next publication: the slot of the
   * reconcile is not held meanwhile, so a burst of new Ingresses is allocated
   * at once, compiled and published together, and then written.
   */
  #requestStatus(ref: string, assignment: { addresses: string[]; pool: string }): void {
    this.#pendingStatus.set(ref, assignment);
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
        for (const [ref, assignment] of batch) {
          this.#readyStatus.set(ref, assignment);
          this.#queue.add(STATUS_PREFIX + ref);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Writes an address that is ready (its routes published), unless it changed meanwhile. */
  async #reconcileStatus(ref: string): Promise<ReconcileResult> {
    const assignment = this.#readyStatus.get(ref);
    const parsedRef = this.#parseRef(ref);
    const obj = parsedRef?.claims.get(parsedRef.namespace, parsedRef.name);
    if (assignment === undefined || parsedRef === undefined || obj === undefined) {
      this.#readyStatus.delete(ref);
      return DONE;
    }
    const { claims, namespace, name, nn } = parsedRef;
    // A newer allocation has its own write coming after its own publication.
    if (!sameList(this.#allocator.addressesOf(claims.owner(nn)), assignment.addresses)) {
      this.#readyStatus.delete(ref);
      return DONE;
    }
    const assigned = assignedCondition(obj, assignment.addresses, assignment.pool);
    if (sameList(claims.statusAddresses(obj), assignment.addresses)) {
      const written = await this.#writeStatus(claims, obj, undefined, assigned);
      if (written.kind === 'done') this.#readyStatus.delete(ref);
      return written;
    }
    // The address and its condition in one write: neither is seen without the other.
    const written = await this.#writeStatus(claims, obj, assignment.addresses, assigned);
    if (written.kind !== 'done') return written;
    this.#readyStatus.delete(ref);
    this.#d.logger.info({ kind: claims.kind, namespace, name, ...assignment }, 'address assigned');
    this.#event(() =>
      this.#d.writer.recordEvent(
        claims.subject(obj),
        'Normal',
        REASON_ADDRESS_ASSIGNED,
        `Assigned ${assignment.addresses.join(', ')} from pool ${assignment.pool}`,
      ),
    );
    return DONE;
  }

  #fail(claims: AnyClaimKind, obj: object, ref: string, code: string, message: string): void {
    this.#waiting.add(ref);
    this.#d.metrics.allocationFailures.inc({ reason: code });
    const text = `${code}: ${message}`;
    if (this.#failures.get(ref) === text) return;
    this.#failures.set(ref, text);
    this.#d.logger.warn(
      { kind: claims.kind, object: claims.namespaceName(obj), code, message },
      'allocation failed',
    );
    this.#event(() =>
      this.#d.writer.recordEvent(claims.subject(obj), 'Warning', REASON_ALLOCATION_FAILED, text),
    );
  }

  /**
   * Writes what of the status differs from what `obj` shows: `addresses` (undefined: leave them)
   * and, for kinds with conditions, the AddressAssigned `condition` (undefined: none of Pier's).
   * Nothing differs: no write.
   */
  async #writeStatus(
    claims: AnyClaimKind,
    obj: object,
    addresses: readonly string[] | undefined,
    condition: ConditionSpec | undefined,
  ): Promise<ReconcileResult> {
    const conditions =
      claims.conditions === undefined
        ? undefined
        : nextConditions(claims.conditions(obj), condition, new Date());
    if (addresses === undefined && conditions === undefined) return DONE;
    try {
      await claims.writeStatus(obj, {
        ...(addresses === undefined ? {} : { addresses }),
        ...(conditions === undefined ? {} : { conditions }),
      });
      this.#d.metrics.apiWrites.inc({ kind: claims.statusWriteKind, result: 'ok' });
      return DONE;
    } catch (err) {
      const code = httpCode(err);
      this.#d.metrics.apiWrites.inc({
        kind: claims.statusWriteKind,
        result: String(code ?? 'error'),
      });
      // 404: deleted meanwhile; the delete event reconciles it.
      if (code === 404) return DONE;
      return { kind: 'retry', reason: `status update: ${code ?? String(err)}` };
    }
  }

  /** Queues an Event: best effort, never awaited by a reconcile (see event-lane.ts). */
  #event(write: () => Promise<void>): void {
    this.#events.push(async () => {
      try {
        await write();
        this.#d.metrics.apiWrites.inc({ kind: 'event', result: 'ok' });
      } catch (err) {
        // Events are best effort: losing one must not stall reconciliation.
        this.#d.metrics.apiWrites.inc({ kind: 'event', result: String(httpCode(err) ?? 'error') });
        this.#d.logger.warn({ err }, 'could not record an Event');
      }
    });
  }

  /**
   * Records an Event on each claimant that reports holders (Services) whose address is now
   * announced by another node, so `kubectl describe` says where its traffic enters.
   */
  #reportHolders(holders: ReadonlyArray<{ address: string; node: string }>): void {
    for (const { address, node } of holders) {
      if (this.#reportedHolders.get(address) === node) continue;
      this.#reportedHolders.set(address, node);
      for (const owner of this.holdersOf(address)) {
        const claimant = this.#claimantOf(owner);
        if (claimant === undefined) continue;
        this.#event(() =>
          this.#d.writer.recordEvent(
            claimant.claims.subject(claimant.obj),
            'Normal',
            REASON_ADDRESS_ANNOUNCED,
            `${address} announced by node ${node}`,
          ),
        );
      }
    }
  }

  /** The object behind an allocator owner, among the kinds that report holders. */
  #claimantOf(owner: string): { claims: AnyClaimKind; obj: object } | undefined {
    for (const claims of this.#d.claims) {
      const nn = claims.reportsHolder ? claims.namespaceNameOf(owner) : undefined;
      if (nn === undefined) continue;
      const slash = nn.indexOf('/');
      const obj = claims.get(nn.slice(0, slash), nn.slice(slash + 1));
      return obj === undefined ? undefined : { claims, obj };
    }
    return undefined;
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
      if (holders) this.#reportHolders(holders);
      const status: IPAddressPoolStatus = {
        assigned: s?.assigned ?? 0,
        available: Math.min(s?.available ?? 0, Number.MAX_SAFE_INTEGER),
        ...(holders
          ? { holders, holderNodes: [...new Set(holders.map((h) => h.node))].sort() }
          : {}),
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
