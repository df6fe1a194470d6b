/**
 * Compiles the cluster's objects into the route table and publishes it to
 * Redis, on the leader only. Changes are coalesced: a burst of watch events
 * gives one compile; an unchanged compile publishes nothing.
 *
 * Compiles are incremental (incremental-compiler.ts): the objects that changed
 * since the last compile are read from the caches and only what depends on
 * them is rebuilt and handed to the publication loop with its keys. Everything
 * is compiled afresh at the start of each leadership term and when an
 * IngressClass changes (which Ingresses are Pier's).
 *
 * Problems the compiler finds become Events on the objects concerned (each
 * once, until it goes away), ignored ingress-nginx annotations are also marked on their Ingress
 * (ignored-annotations-mark.ts), and HealthCheckPolicies get their conditions.
 */
import type {
  V1EndpointSlice,
  V1Ingress,
  V1IngressClass,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import type { Certificate, HealthCheckSettings, PierLogger } from '@pier/shared';
import type { ObjectSource } from '../addresses/address-controller.ts';
import type { ControllerMetrics } from '../controller-metrics.ts';
import { classifyIngress, ingressDialect } from '../ingress/ingress-class.ts';
import { ignoredAnnotationOf, REASON_ANNOTATION_IGNORED } from '../ingress/ingress-plan.ts';
import { sameConditions, setCondition } from '../kube/conditions.ts';
import type { KubeWriter } from '../kube/kube-writer.ts';
import type { HasMetadata } from '../kube/object-age.ts';
import { IgnoredAnnotationMarker } from './ignored-annotations-mark.ts';
import {
  IncrementalCompiler,
  type IncrementalOutput,
  type InputChange,
} from './incremental-compiler.ts';
import type { KeySealer } from './key-sealer.ts';
import type { PublicationLoop } from './publication-loop.ts';
import type { CompileProblem, HealthCheckPolicy, PolicyStatus } from './route-compiler.ts';

/** The kinds of object a route table is compiled from, besides IngressClasses. */
export type RouteInputKind = InputChange['kind'];

export interface RouteControllerDeps {
  ingresses: ObjectSource<V1Ingress>;
  classes: ObjectSource<V1IngressClass>;
  /** `--ingress-class-compat`: class names also served, with ingress-nginx's defaults. */
  ingressClassCompat: ReadonlySet<string>;
  services: ObjectSource<V1Service>;
  endpointSlices: ObjectSource<V1EndpointSlice>;
  secrets: ObjectSource<V1Secret>;
  policies: ObjectSource<HealthCheckPolicy>;
  /** The addresses the allocator gave an Ingress (not its status: status follows publication). */
  addressesOf: (ingress: V1Ingress) => readonly string[];
  defaultHealthCheck: HealthCheckSettings;
  sealer: KeySealer;
  writer: KubeWriter;
  metrics: ControllerMetrics;
  logger: PierLogger;
  /** Coalescing window for bursts of changes (default {@link ROUTE_DEBOUNCE_MS}). */
  debounceMs?: number;
}

/**
 * How long the first change of a burst waits for others before the compile, ms. Short: a change
 * compiles in well under a millisecond and publishes in a few, and changes that come while one
 * compiles and publishes are taken together by the next. It was 20 ms, half of what a change
 * took to reach a dataplane at 10,000 Ingresses once compiles and publications cost what changed.
 */
export const ROUTE_DEBOUNCE_MS = 5;

function problemKey(p: CompileProblem): string {
  return `${p.object.kind}/${p.object.namespace}/${p.object.name}\u0000${p.reason}\u0000${p.message}`;
}

export class RouteController {
  readonly #d: RouteControllerDeps;
  #leading = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  /** Resolvers waiting for a publication that starts after they asked. */
  #waiters: Array<() => void> = [];
  #reported = new Set<string>();
  #lastServed = new Set<string>();
  #certificates: Certificate[] = [];
  #loop: PublicationLoop | undefined;
  #compiler: IncrementalCompiler | undefined;
  /** Objects changed since the last compile, by kind/namespace/name. */
  #pending = new Map<string, { kind: RouteInputKind; namespace: string; name: string }>();
  /** Compile everything afresh next time. */
  #everything = true;
  /** Read every Ingress's addresses again next time (the allocations were restored). */
  #rereadAddresses = false;
  /** The last compile's outputs, to act on them only when they changed. */
  #last: Partial<IncrementalOutput> = {};
  /** A policy status write failed: write the statuses again even if unchanged. */
  #policiesStale = false;
  /** Outputs of compiles whose Events and policy conditions are still to be written. */
  #followUp: { problems?: readonly CompileProblem[]; policyStatuses?: readonly PolicyStatus[] } =
    {};
  /** The running follow-up (#startFollowUp). */
  #followingUp: Promise<void> | undefined;
  readonly #marker: IgnoredAnnotationMarker;

  constructor(deps: RouteControllerDeps) {
    this.#d = deps;
    this.#marker = new IgnoredAnnotationMarker({
      ingresses: deps.ingresses,
      isOurs: (i) => classifyIngress(i, deps.classes.list(), deps.ingressClassCompat).ours,
      writer: deps.writer,
      logger: deps.logger,
      leading: () => this.#leading,
    });
  }

  /** Ingresses (`ns/name`) whose routes are in the last published table. */
  get servedIngresses(): ReadonlySet<string> {
    return this.#lastServed;
  }

  /** Certificates in the last published table (for the expiry job). */
  get certificates(): readonly Certificate[] {
    return this.#certificates;
  }

  /** The publication loop of the current term, if leading. */
  get loop(): PublicationLoop | undefined {
    return this.#loop;
  }

  /** Starts compiling and publishing through `loop` (a new one each leadership term). */
  startLeading(loop: PublicationLoop): void {
    this.#loop = loop;
    this.#leading = true;
    this.#reported.clear();
    this.#marker.startTerm();
    const compat = this.#d.ingressClassCompat;
    this.#compiler = new IncrementalCompiler({
      defaultHealthCheck: this.#d.defaultHealthCheck,
      sealKey: (id, pem) => this.#d.sealer.seal(id, pem),
      dialectOf: (ingress) => ingressDialect(ingress, this.#d.classes.list(), compat),
    });
    this.#last = {};
    this.#pending.clear();
    this.#rereadAddresses = false;
    this.onChange();
  }

  async stopLeading(): Promise<void> {
    this.#leading = false;
    clearTimeout(this.#timer);
    // Stopping the loop first releases a compile waiting on a flush during a Redis outage.
    await this.#loop?.stop();
    await this.#running;
    this.#followUp = {};
    await this.#followingUp;
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * `object` of `kind` changed (was added, updated or deleted): compile soon. Without a kind,
   * anything may have changed (an IngressClass): compile everything.
   */
  onChange(kind?: RouteInputKind, object?: HasMetadata): void {
    if (!this.#leading) return;
    if (kind === undefined || object === undefined) {
      this.#everything = true;
    } else {
      const namespace = object.metadata?.namespace ?? '';
      const name = object.metadata?.name ?? '';
      this.#pending.set(`${kind}/${namespace}/${name}`, { kind, namespace, name });
    }
    this.#schedule();
  }

  /**
   * The allocator changed the addresses of `changed` (compile soon), or without an object, those
   * of any object may have changed (every Ingress's are read again at the next compile).
   */
  addressesChanged(changed?: { kind: string; namespace: string; name: string }): void {
    if (!this.#leading) return;
    if (changed === undefined) {
      this.#rereadAddresses = true;
    } else if (changed.kind === 'Ingress') {
      const { namespace, name } = changed;
      this.#pending.set(`Ingress/${namespace}/${name}`, { kind: 'Ingress', namespace, name });
    } else {
      return;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#leading) return;
    if (this.#running) {
      this.#dirty = true;
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#compileAndPublish().finally(() => {
        this.#running = undefined;
        if (this.#dirty) {
          this.#dirty = false;
          this.#schedule();
        }
      });
    }, this.#d.debounceMs ?? ROUTE_DEBOUNCE_MS);
  }

  /**
   * Resolves once a table compiled after this call is in Redis: the state the
   * caller saw (e.g. a fresh allocation) is then published.
   */
  ensurePublished(): Promise<void> {
    if (!this.#leading) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#running) this.#dirty = true;
    else this.#schedule();
    return done;
  }

  async #compileAndPublish(): Promise<void> {
    const waiting = this.#waiters.splice(0);
    const d = this.#d;
    const compiler = this.#compiler;
    const loop = this.#loop;
    if (compiler === undefined || loop === undefined) {
      for (const w of waiting) w();
      return;
    }
    const started = performance.now();
    const full = this.#everything;
    const reread = this.#rereadAddresses;
    const refs = [...this.#pending.values()];
    this.#everything = false;
    this.#rereadAddresses = false;
    this.#pending.clear();
    const classes = d.classes.list();
    const compat = d.ingressClassCompat;
    let out: IncrementalOutput;
    if (full) {
      out = compiler.compileAll({
        ingresses: d.ingresses.list().filter((i) => classifyIngress(i, classes, compat).ours),
        addressesOf: d.addressesOf,
        services: d.services.list(),
        endpointSlices: d.endpointSlices.list(),
        secrets: d.secrets.list(),
        policies: d.policies.list(),
      });
      // Every certificate in the table was sealed just now: forget the other sealings.
      d.sealer.sweep();
    } else {
      // An Ingress whose addresses changed is among `refs` (addressesChanged); after a restore
      // of the allocations, every Ingress's are read again.
      out = compiler.update(
        refs.map((ref) => this.#inputChange(ref, classes)),
        reread ? d.addressesOf : undefined,
      );
    }
    const compiledMs = performance.now() - started;
    d.metrics.compileDuration.observe(compiledMs / 1000);
    loop.update(out.entries, full ? 'all' : out.changed);
    const last = this.#last;
    this.#last = out;
    try {
      const revision = await loop.flush();
      if (out.servedIngresses !== last.servedIngresses) {
        this.#lastServed = new Set(out.servedIngresses);
      }
      // The compiler's entries change in place: what changed is in `changed`.
      if (full || out.changed.certificates.size > 0) {
        this.#certificates = [...out.entries.certificates.values()];
      }
      d.metrics.routeRevision.set(revision);
      d.logger.debug(
        { revision, compiledMs: Math.round(compiledMs), full, changes: refs.length },
        'routes published',
      );
    } catch (err) {
      d.logger.warn({ err: String(err) }, 'publication stopped before the table reached Redis');
    }
    for (const w of waiting) w();
    if (!this.#leading) return;
    if (out.problems !== last.problems) this.#followUp.problems = out.problems;
    if (out.policyStatuses !== last.policyStatuses || this.#policiesStale) {
      this.#policiesStale = false;
      this.#followUp.policyStatuses = out.policyStatuses;
    }
    this.#startFollowUp();
  }

  /**
   * Writes the Events, ignored-annotation marks and policy conditions of the newest compile, after its publication and
   * apart from it: the next compile, and the address writes waiting for its publication, do not
   * wait for them (10,000 HealthCheckPolicies take their conditions one write each). One
   * follow-up runs at a time; what compiles ask for meanwhile is coalesced into the next, which
   * writes only the newest outputs (problems are diffed against those reported, conditions
   * against the policies' cached status).
   */
  #startFollowUp(): void {
    if (this.#followingUp !== undefined) return;
    const { problems, policyStatuses } = this.#followUp;
    if (problems === undefined && policyStatuses === undefined) return;
    this.#followUp = {};
    this.#followingUp = (async () => {
      if (problems !== undefined && this.#leading) await this.#report(problems);
      if (problems !== undefined && this.#leading) await this.#marker.write(problems);
      if (policyStatuses !== undefined && this.#leading) await this.#updatePolicies(policyStatuses);
    })().finally(() => {
      this.#followingUp = undefined;
      if (this.#leading) this.#startFollowUp();
    });
  }

  /** The change of one object as the compiler takes it, read from the caches now. */
  #inputChange(
    ref: { kind: RouteInputKind; namespace: string; name: string },
    classes: readonly V1IngressClass[],
  ): InputChange {
    const d = this.#d;
    const { namespace, name } = ref;
    switch (ref.kind) {
      case 'Ingress': {
        const found = d.ingresses.get(name, namespace);
        const object =
          found && classifyIngress(found, classes, d.ingressClassCompat).ours ? found : undefined;
        const addresses = object === undefined ? [] : d.addressesOf(object);
        return { kind: 'Ingress', namespace, name, object, addresses };
      }
      case 'Service':
        return { kind: 'Service', namespace, name, object: d.services.get(name, namespace) };
      case 'EndpointSlice':
        return {
          kind: 'EndpointSlice',
          namespace,
          name,
          object: d.endpointSlices.get(name, namespace),
        };
      case 'Secret':
        return { kind: 'Secret', namespace, name, object: d.secrets.get(name, namespace) };
      case 'HealthCheckPolicy':
        return {
          kind: 'HealthCheckPolicy',
          namespace,
          name,
          object: d.policies.get(name, namespace),
        };
    }
  }

  async #report(problems: readonly CompileProblem[]): Promise<void> {
    this.#countIgnoredAnnotations(problems);
    const current = new Set<string>();
    for (const p of problems) {
      const key = problemKey(p);
      current.add(key);
      if (this.#reported.has(key)) continue;
      this.#d.metrics.compileProblems.inc({ reason: p.reason });
      this.#d.logger.warn({ ...p.object, reason: p.reason, message: p.message }, 'route problem');
      const apiVersion =
        p.object.kind === 'Ingress'
          ? 'networking.k8s.io/v1'
          : p.object.kind === 'Secret'
            ? 'v1'
            : 'pier.dev/v1alpha1';
      // With the object's uid, or `kubectl describe` does not list the Event.
      const uid = this.#uidOf(p.object);
      try {
        await this.#d.writer.recordEvent(
          {
            apiVersion,
            kind: p.object.kind,
            name: p.object.name,
            namespace: p.object.namespace,
            ...(uid === undefined ? {} : { uid }),
          },
          p.type,
          p.reason,
          p.message,
        );
      } catch (err) {
        this.#d.logger.warn({ err: String(err) }, 'could not record an Event');
      }
    }
    // A problem that went away may come back: report it again then.
    this.#reported = current;
  }

  #uidOf(object: CompileProblem['object']): string | undefined {
    const { namespace, name } = object;
    const source =
      object.kind === 'Ingress'
        ? this.#d.ingresses
        : object.kind === 'Secret'
          ? this.#d.secrets
          : this.#d.policies;
    return source.get(name, namespace)?.metadata?.uid;
  }

  /** `pier_ingress_annotations_ignored`: from the newest compile's problems, each once per Ingress. */
  #countIgnoredAnnotations(problems: readonly CompileProblem[]): void {
    const counts = new Map<string, number>();
    for (const p of problems) {
      if (p.reason !== REASON_ANNOTATION_IGNORED) continue;
      const annotation = ignoredAnnotationOf(p.message);
      counts.set(annotation, (counts.get(annotation) ?? 0) + 1);
    }
    const gauge = this.#d.metrics.annotationsIgnored;
    gauge.reset();
    for (const [annotation, count] of counts) gauge.set({ annotation }, count);
  }

  async #updatePolicies(statuses: readonly PolicyStatus[]): Promise<void> {
    for (const status of statuses) {
      // A replica that stopped leading leaves the rest to the new leader.
      if (!this.#leading) return;
      const policy = this.#d.policies.get(status.name, status.namespace);
      if (!policy) continue;
      const previous = policy.status?.conditions ?? [];
      const observedGeneration = policy.metadata?.generation ?? 0;
      const now = new Date();
      let next = previous;
      for (const [type, c] of [
        ['Accepted', status.accepted],
        ['ResolvedRefs', status.resolvedRefs],
      ] as const) {
        next = setCondition(next, { type, ...c, observedGeneration }, now);
      }
      if (sameConditions(previous, next)) continue;
      try {
        await this.#d.writer.updatePolicyStatus(policy, { conditions: next });
      } catch (err) {
        this.#d.logger.warn(
          { namespace: status.namespace, name: status.name, err: String(err) },
          'policy status update failed',
        );
        this.#policiesStale = true;
        this.#schedule();
      }
    }
  }
}
