/**
 * The route compiler, incremental: it keeps the last compile's parts and, told which objects
 * changed, rebuilds only the virtual hosts, backends and certificates that depend on them. The
 * result is exactly that of {@link compileRoutes} over the same objects (a property test
 * compares the two over random sequences of changes), built from the same functions.
 *
 * What depends on what (each arrow an index kept here):
 *
 * - Ingress → its plan → the virtual hosts it asks for (`address|host` for each rule host on
 *   each of its addresses, and `address|` for a default backend);
 * - Service → the plans that name it (ports, ExternalName, ServiceNotFound; in a rule, a default
 *   backend or ingress-nginx's `default-backend` annotation), the backends of
 *   its ports (endpoints) and the policies targeting it (ResolvedRefs);
 * - EndpointSlice → through its Service label, that Service's backends;
 * - Secret → the plans naming it for TLS or for basic authentication, and its certificate;
 * - HealthCheckPolicy → all policies on the same target Service (oldest wins), and that
 *   Service's backends;
 * - virtual host → the backends its kept routes use (balancing: oldest user wins), its
 *   certificate, and whether each Ingress is served;
 * - alias key `address|alias` → the virtual hosts claiming it (ingress-nginx's `server-alias`):
 *   when one of them, or the virtual host of that name, is placed again, the claimants' alias
 *   problems are found again (alias-problems.ts).
 *
 * Conflicts are decided where they arise: paths, default backend and TLS per virtual host,
 * balancing per backend, policies per target Service; so a change reruns those groups only.
 */
import type { V1EndpointSlice, V1Ingress, V1Secret, V1Service } from '@kubernetes/client-node';
import {
  type ChangedKeys,
  type HealthCheckSettings,
  type RouteEntries,
  type SealedKey,
  virtualHostKey,
} from '@pier/shared';
import type { AuthSecretLookup } from '../ingress/auth-secret.ts';
import { type BackendLookup, planIngress } from '../ingress/ingress-plan.ts';
import { NGINX_ANNOTATION_PREFIX } from '../ingress/nginx-annotation-catalogue.ts';
import type { NginxDialect } from '../ingress/nginx-annotations.ts';
import { compareByAge, compareStrings } from '../kube/object-age.ts';
import { aliasKeysOf, aliasProblems, isServed } from './alias-problems.ts';
import { backendEntry } from './backend-entry.ts';
import {
  resolveServiceBackend,
  SERVICE_NAME_LABEL,
  type ServiceBackend,
  sliceEndpoints,
} from './backend-resolver.ts';
import { certificateEntry } from './certificate-entry.ts';
import { type CompileProblem, ingressProblem } from './compile-problems.ts';
import { EntryWriter, type WritableEntries } from './entry-writer.ts';
import {
  cloneHealthCheck,
  type HealthCheckPolicy,
  type PolicyStatus,
  resolveHealthPolicies,
} from './health-policy-resolver.ts';
import {
  type CheckTls,
  type HostPlacement,
  hostsOf,
  type PlacedIngress,
  placeHost,
  type ReportOn,
  reportTlsProblems,
  servedAddresses,
  virtualHostEntry,
} from './host-placement.ts';
import { KeyIndex } from './key-index.ts';
import { ProblemBook } from './problem-book.ts';
import { type CompileInput, policyProblems } from './route-compiler.ts';
import { type CertificateCheck, certificateId, checkTlsSecret } from './tls-resolver.ts';

/** The new state of one changed object; `object` undefined when it is gone. */
export type InputChange =
  | {
      kind: 'Ingress';
      namespace: string;
      name: string;
      /** Undefined also when the Ingress is no longer of Pier's class. */
      object: V1Ingress | undefined;
      /** As {@link CompileInput.addressesOf} gives them. */
      addresses: readonly string[];
    }
  | { kind: 'Service'; namespace: string; name: string; object: V1Service | undefined }
  | { kind: 'EndpointSlice'; namespace: string; name: string; object: V1EndpointSlice | undefined }
  | { kind: 'Secret'; namespace: string; name: string; object: V1Secret | undefined }
  | {
      kind: 'HealthCheckPolicy';
      namespace: string;
      name: string;
      object: HealthCheckPolicy | undefined;
    };

/** The objects of a full compile: a {@link CompileInput} without the settings. */
export type CompileObjects = Omit<CompileInput, 'defaultHealthCheck' | 'sealKey'>;

/** What a compile gives: the `CompileOutput` of {@link compileRoutes}, as entries. */
export interface IncrementalOutput {
  /**
   * The compiler's entries, changed in place (the same maps every compile); an unchanged entry
   * keeps its object. Read them before the next compile.
   */
  entries: RouteEntries;
  /** The keys whose entries differ from the compile before. */
  changed: ChangedKeys;
  /** As `CompileOutput.problems`; the same array while they do not change. */
  problems: readonly CompileProblem[];
  /** As `CompileOutput.policyStatuses`; the same array while they do not change. */
  policyStatuses: readonly PolicyStatus[];
  /** As `CompileOutput.servedIngresses`; the same array while it does not change. */
  servedIngresses: readonly string[];
}

/** Settings that hold for the compiler's life; see {@link CompileInput}. */
export interface IncrementalCompilerOptions {
  defaultHealthCheck: Readonly<HealthCheckSettings>;
  sealKey: (certificateId: string, keyPem: string) => SealedKey;
  /**
   * Whether ingress-nginx's defaults apply to an Ingress; Pier's own when absent. What it reads
   * besides the Ingress (the IngressClasses) changes only with a full compile.
   */
  dialectOf?: (ingress: V1Ingress) => NginxDialect;
}

interface IngressRecord {
  ingress: V1Ingress;
  /** As given, to notice a change. */
  addresses: readonly string[];
  /** Absent while the Ingress is not served (no address). */
  placed?: PlacedIngress;
  /** Virtual hosts it asks for, Services and Secrets its plan read. */
  hosts: string[];
  services: string[];
  secrets: string[];
}

type IngressState = { object: V1Ingress; addresses: readonly string[] } | undefined;

/** The policies on one target Service, resolved: each one's status, and the one that applies. */
interface TargetPolicies {
  statuses: PolicyStatus[];
  applied?: Readonly<HealthCheckSettings>;
}

/** What one compile must redo, filled as a change spreads. */
interface Work {
  ingresses: Map<string, IngressState>;
  /** Services whose backends and policies to redo. */
  services: Set<string>;
  policyTargets: Set<string>;
  hosts: Set<string>;
  /** Virtual hosts whose entry to rewrite (their placement or their certificate changed). */
  entries: Set<string>;
  backends: Set<string>;
  certificates: Set<string>;
  /** Alias keys whose claimants' alias problems to find again. */
  aliases: Set<string>;
}

export class IncrementalCompiler {
  readonly #defaults: Readonly<HealthCheckSettings>;
  readonly #sealKey: IncrementalCompilerOptions['sealKey'];
  readonly #ingresses = new Map<string, IngressRecord>();
  readonly #services = new Map<string, V1Service>();
  readonly #slices = new Map<string, V1EndpointSlice>();
  readonly #secrets = new Map<string, V1Secret>();
  readonly #policies = new Map<string, HealthCheckPolicy>();
  readonly #ingressesByService = new KeyIndex();
  readonly #ingressesBySecret = new KeyIndex();
  readonly #slicesByService = new KeyIndex();
  readonly #policiesByTarget = new KeyIndex();
  /** Virtual host → the Ingresses that ask for it. */
  readonly #candidates = new Map<
    string,
    { address: string; host: string; ingresses: Set<string> }
  >();
  /** Backend → the Ingresses that keep a route to it (with how many), and its resolution. */
  readonly #users = new Map<string, { backend: ServiceBackend; users: Map<string, number> }>();
  readonly #backendsByService = new KeyIndex();
  /** Alias key (`address|alias`) → the virtual hosts claiming it. */
  readonly #aliasClaims = new KeyIndex();
  /** Certificate → the virtual hosts that use it. */
  readonly #certificateUsers = new KeyIndex();
  readonly #tlsChecks = new Map<string, CertificateCheck>();
  readonly #placements = new Map<string, HostPlacement>();
  /** Policy resolution by target Service. */
  readonly #health = new Map<string, TargetPolicies>();
  #policyStatuses: readonly PolicyStatus[] | undefined = [];
  /** Ingress → in how many virtual hosts it kept a route or the default backend. */
  readonly #contributions = new Map<string, number>();
  #served: readonly string[] | undefined = [];
  readonly #problems = new ProblemBook();
  readonly #dialectOf: ((ingress: V1Ingress) => NginxDialect) | undefined;
  /** The table's entries, written in place by each compile (see entry-writer.ts). */
  readonly #entries: WritableEntries = {
    virtualHosts: new Map(),
    backends: new Map(),
    certificates: new Map(),
  };
  readonly #lookup: BackendLookup = {
    resolve: (namespace, backend) =>
      resolveServiceBackend(namespace, backend, (ns, name) => this.#services.get(`${ns}/${name}`)),
    service: (namespace, name) => this.#services.get(`${namespace}/${name}`),
  };
  readonly #authSecrets: AuthSecretLookup = {
    secret: (namespace, name) => this.#secrets.get(`${namespace}/${name}`),
    seal: (aad, text) => this.#sealKey(aad, text),
  };
  readonly #checkTls: CheckTls = (namespace, name) => {
    const id = certificateId(namespace, name);
    let checked = this.#tlsChecks.get(id);
    if (checked === undefined) {
      checked = checkTlsSecret(namespace, name, this.#secrets.get(id));
      this.#tlsChecks.set(id, checked);
    }
    return checked;
  };

  constructor(options: IncrementalCompilerOptions) {
    this.#defaults = options.defaultHealthCheck;
    this.#sealKey = options.sealKey;
    this.#dialectOf = options.dialectOf;
  }

  /** The entries of the last compile: the same maps every time, changed in place. */
  get entries(): RouteEntries {
    return this.#entries;
  }

  /**
   * Compiles from all objects, as {@link compileRoutes} does; what was known before and is not
   * listed is gone. Entries equal to the previous compile's keep their objects.
   */
  compileAll(objects: CompileObjects): IncrementalOutput {
    const changes: InputChange[] = [];
    const keys = new Set<string>();
    const each = <T extends { metadata?: { namespace?: string; name?: string } }>(
      listed: readonly T[],
      known: ReadonlyMap<string, unknown>,
      change: (namespace: string, name: string, object: T | undefined) => InputChange,
    ): void => {
      keys.clear();
      for (const object of listed) {
        const { namespace, name } = object.metadata ?? {};
        if (!namespace || !name) continue;
        keys.add(`${namespace}/${name}`);
        changes.push(change(namespace, name, object));
      }
      for (const key of known.keys()) {
        if (keys.has(key)) continue;
        const slash = key.indexOf('/');
        changes.push(change(key.slice(0, slash), key.slice(slash + 1), undefined));
      }
    };
    each(objects.ingresses, this.#ingresses, (namespace, name, object) => ({
      kind: 'Ingress',
      namespace,
      name,
      object,
      addresses: object === undefined ? [] : objects.addressesOf(object),
    }));
    each(objects.services, this.#services, (namespace, name, object) => ({
      kind: 'Service',
      namespace,
      name,
      object,
    }));
    each(objects.endpointSlices, this.#slices, (namespace, name, object) => ({
      kind: 'EndpointSlice',
      namespace,
      name,
      object,
    }));
    each(objects.secrets, this.#secrets, (namespace, name, object) => ({
      kind: 'Secret',
      namespace,
      name,
      object,
    }));
    each(objects.policies, this.#policies, (namespace, name, object) => ({
      kind: 'HealthCheckPolicy',
      namespace,
      name,
      object,
    }));
    return this.update(changes);
  }

  /**
   * Compiles after `changes`. With `addressesOf`, every Ingress's addresses are read again and
   * those that moved count as changed Ingresses too (allocations change without an event).
   */
  update(
    changes: readonly InputChange[],
    addressesOf?: (ingress: V1Ingress) => readonly string[],
  ): IncrementalOutput {
    const work: Work = {
      ingresses: new Map(),
      services: new Set(),
      policyTargets: new Set(),
      hosts: new Set(),
      entries: new Set(),
      backends: new Set(),
      certificates: new Set(),
      aliases: new Set(),
    };
    if (addressesOf !== undefined) {
      for (const [key, record] of this.#ingresses) {
        const addresses = addressesOf(record.ingress);
        if (!sameList(addresses, record.addresses)) {
          work.ingresses.set(key, { object: record.ingress, addresses });
        }
      }
    }
    for (const change of changes) this.#apply(change, work);
    return this.#rebuild(work);
  }

  /** Records a changed object and marks what depends on it. */
  #apply(change: InputChange, work: Work): void {
    const key = `${change.namespace}/${change.name}`;
    switch (change.kind) {
      case 'Ingress':
        work.ingresses.set(
          key,
          change.object === undefined
            ? undefined
            : { object: change.object, addresses: change.addresses },
        );
        return;
      case 'Service':
        setOrDelete(this.#services, key, change.object);
        for (const ingress of this.#ingressesByService.get(key)) this.#replan(ingress, work);
        work.services.add(key);
        work.policyTargets.add(key);
        return;
      case 'EndpointSlice': {
        const before = sliceService(this.#slices.get(key));
        const after = sliceService(change.object);
        if (before !== undefined) this.#slicesByService.delete(before, key);
        if (after !== undefined) this.#slicesByService.add(after, key);
        setOrDelete(this.#slices, key, change.object);
        for (const service of [before, after])
          if (service !== undefined) work.services.add(service);
        return;
      }
      case 'Secret':
        setOrDelete(this.#secrets, key, change.object);
        this.#tlsChecks.delete(key);
        for (const ingress of this.#ingressesBySecret.get(key)) this.#replan(ingress, work);
        work.certificates.add(key);
        return;
      case 'HealthCheckPolicy': {
        const before = policyTarget(this.#policies.get(key));
        const after = policyTarget(change.object);
        if (before !== undefined) this.#policiesByTarget.delete(before, key);
        if (after !== undefined) this.#policiesByTarget.add(after, key);
        setOrDelete(this.#policies, key, change.object);
        for (const target of [before, after])
          if (target !== undefined) work.policyTargets.add(target);
        return;
      }
    }
  }

  /** Plans an Ingress again as it is (something it reads changed), unless it changed itself. */
  #replan(key: string, work: Work): void {
    const record = this.#ingresses.get(key);
    if (record === undefined || work.ingresses.has(key)) return;
    work.ingresses.set(key, { object: record.ingress, addresses: record.addresses });
  }

  /** Spreads the marked work through the parts, in dependency order. */
  #rebuild(work: Work): IncrementalOutput {
    const out = new EntryWriter(this.#entries);
    for (const target of work.policyTargets) this.#resolvePolicies(target, work);
    for (const [key, state] of work.ingresses) this.#plan(key, state, work);
    for (const host of work.hosts) this.#place(host, work);
    for (const aliasKey of work.aliases) {
      for (const claimant of this.#aliasClaims.get(aliasKey)) this.#findAliasProblems(claimant);
    }
    for (const id of work.certificates) this.#certify(id, out, work);
    for (const key of work.entries) {
      const placement = this.#placements.get(key);
      const sealed = (id: string): boolean => out.has('certificates', id);
      out.set('virtualHosts', key, placement && virtualHostEntry(placement, sealed));
    }
    for (const service of work.services) {
      for (const id of this.#backendsByService.get(service)) work.backends.add(id);
    }
    for (const id of work.backends) this.#build(id, out);
    this.#policyStatuses ??= [...this.#health.values()]
      .flatMap((resolution) => resolution.statuses)
      .sort((a, b) => compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name));
    this.#served ??= [...this.#contributions.keys()].sort(compareStrings);
    return {
      entries: this.#entries,
      changed: out.changed,
      problems: this.#problems.list,
      policyStatuses: this.#policyStatuses,
      servedIngresses: this.#served,
    };
  }

  /** The policies on one target Service: which applies, and each one's status. */
  #resolvePolicies(target: string, work: Work): void {
    const policies = [...this.#policiesByTarget.get(target)].map(
      (key) => this.#policies.get(key) as HealthCheckPolicy,
    );
    if (policies.length === 0 && !this.#health.has(target)) return;
    if (policies.length === 0) {
      this.#health.delete(target);
      this.#problems.set(`policy:${target}`, []);
    } else {
      const resolution = resolveHealthPolicies(
        policies,
        (namespace, name) => this.#services.has(`${namespace}/${name}`),
        this.#defaults,
      );
      const [namespace = '', name = ''] = target.split('/');
      const applied = resolution.applied(namespace, name);
      // Kept without the resolution's closures: one per Service with a policy.
      this.#health.set(
        target,
        applied === undefined
          ? { statuses: resolution.statuses }
          : { statuses: resolution.statuses, applied },
      );
      this.#problems.set(`policy:${target}`, policyProblems(resolution.statuses));
    }
    this.#policyStatuses = undefined;
    work.services.add(target);
  }

  /** Plans one Ingress (or forgets it) and marks the virtual hosts it asked and asks for. */
  #plan(key: string, state: IngressState, work: Work): void {
    const old = this.#ingresses.get(key);
    if (old !== undefined) {
      for (const host of old.hosts) {
        const candidate = this.#candidates.get(host);
        candidate?.ingresses.delete(key);
        if (candidate?.ingresses.size === 0) this.#candidates.delete(host);
        work.hosts.add(host);
      }
      for (const service of old.services) this.#ingressesByService.delete(service, key);
      for (const secret of old.secrets) this.#ingressesBySecret.delete(secret, key);
    }
    const problems: CompileProblem[] = [];
    if (state === undefined) {
      this.#ingresses.delete(key);
    } else {
      const record: IngressRecord = {
        ingress: state.object,
        addresses: state.addresses,
        hosts: [],
        services: [],
        secrets: [],
      };
      this.#ingresses.set(key, record);
      const { namespace, name } = state.object.metadata ?? {};
      const addresses = servedAddresses(state.addresses);
      if (namespace && name && addresses.length > 0) {
        const report: ReportOn = (plan, reason, message) =>
          problems.push(ingressProblem(plan.namespace, plan.name, reason, message));
        const plan = planIngress(
          state.object,
          this.#lookup,
          (reason, message) => problems.push(ingressProblem(namespace, name, reason, message)),
          this.#dialectOf?.(state.object),
          this.#authSecrets,
        );
        reportTlsProblems(plan, this.#checkTls, report);
        record.placed = { ingress: state.object, plan };
        record.services = referencedServices(state.object, namespace);
        const secrets = new Set(plan.tls.map((t) => certificateId(namespace, t.secretName)));
        if (plan.authSecret !== undefined) secrets.add(plan.authSecret);
        record.secrets = [...secrets];
        for (const service of record.services) this.#ingressesByService.add(service, key);
        for (const secret of record.secrets) this.#ingressesBySecret.add(secret, key);
        for (const address of addresses) {
          for (const host of hostsOf(plan)) {
            const hostKey = virtualHostKey(address, host);
            record.hosts.push(hostKey);
            let candidate = this.#candidates.get(hostKey);
            if (candidate === undefined) {
              candidate = { address, host, ingresses: new Set() };
              this.#candidates.set(hostKey, candidate);
            }
            candidate.ingresses.add(key);
            work.hosts.add(hostKey);
          }
        }
      }
    }
    this.#problems.set(`ingress:${key}`, problems);
  }

  /** Places one virtual host again from the Ingresses asking for it, oldest first. */
  #place(key: string, work: Work): void {
    const old = this.#placements.get(key);
    if (old !== undefined) {
      for (const { user, backend } of old.uses) this.#use(backend, user.plan.key, -1, work);
      for (const owner of old.contributors) this.#contribute(owner, -1);
      if (old.certificate !== undefined) {
        this.#certificateUsers.delete(old.certificate.id, key);
        work.certificates.add(old.certificate.id);
      }
      for (const aliasKey of aliasKeysOf(old)) {
        this.#aliasClaims.delete(aliasKey, key);
        work.aliases.add(aliasKey);
      }
    }
    // Whether a virtual host of this name is served decides about aliases of the name.
    work.aliases.add(key);
    this.#problems.set(`aliases:${key}`, []);
    work.entries.add(key);
    const candidate = this.#candidates.get(key);
    const problems: CompileProblem[] = [];
    if (candidate === undefined) {
      this.#placements.delete(key);
    } else {
      const placed: PlacedIngress[] = [];
      for (const ingress of candidate.ingresses) {
        const record = this.#ingresses.get(ingress);
        if (record?.placed !== undefined) placed.push(record.placed);
      }
      placed.sort((a, b) => compareByAge(a.ingress, b.ingress));
      const placement = placeHost(
        candidate.address,
        candidate.host,
        placed,
        this.#checkTls,
        (plan, reason, message) =>
          problems.push(ingressProblem(plan.namespace, plan.name, reason, message)),
      );
      this.#placements.set(key, placement);
      for (const { user, backend } of placement.uses) this.#use(backend, user.plan.key, 1, work);
      for (const owner of placement.contributors) this.#contribute(owner, 1);
      if (placement.certificate !== undefined) {
        this.#certificateUsers.add(placement.certificate.id, key);
        work.certificates.add(placement.certificate.id);
      }
      for (const aliasKey of aliasKeysOf(placement)) {
        this.#aliasClaims.add(aliasKey, key);
        work.aliases.add(aliasKey);
      }
    }
    this.#problems.set(`host:${key}`, problems);
  }

  /** Finds again which aliases of the virtual host `key` lose, and to whom. */
  #findAliasProblems(key: string): void {
    const placement = this.#placements.get(key);
    const problems =
      placement === undefined
        ? []
        : aliasProblems(placement, {
            served: (hostKey) => isServed(this.#placements.get(hostKey)),
            claimants: (aliasKey) => this.#claimantHosts(aliasKey),
          });
    this.#problems.set(`aliases:${key}`, problems);
  }

  *#claimantHosts(aliasKey: string): Iterable<string> {
    for (const claimant of this.#aliasClaims.get(aliasKey)) {
      const host = this.#placements.get(claimant)?.host;
      if (host !== undefined) yield host;
    }
  }

  /** Counts a kept route's use of a backend (delta 1) or its end (-1). */
  #use(backend: ServiceBackend, ingress: string, delta: 1 | -1, work: Work): void {
    work.backends.add(backend.id);
    const service = `${backend.service.namespace}/${backend.service.name}`;
    let use = this.#users.get(backend.id);
    if (use === undefined) {
      if (delta < 0) return;
      use = { backend, users: new Map() };
      this.#users.set(backend.id, use);
      this.#backendsByService.add(service, backend.id);
    }
    if (delta > 0) use.backend = backend;
    const count = (use.users.get(ingress) ?? 0) + delta;
    if (count > 0) use.users.set(ingress, count);
    else use.users.delete(ingress);
    if (use.users.size === 0) {
      this.#users.delete(backend.id);
      this.#backendsByService.delete(service, backend.id);
    }
  }

  #contribute(ingress: string, delta: 1 | -1): void {
    const count = (this.#contributions.get(ingress) ?? 0) + delta;
    if (count > 0) {
      if (!this.#contributions.has(ingress)) this.#served = undefined;
      this.#contributions.set(ingress, count);
    } else {
      this.#contributions.delete(ingress);
      this.#served = undefined;
    }
  }

  /** Seals one certificate again, if any virtual host uses it. */
  #certify(id: string, out: EntryWriter, work: Work): void {
    const had = out.has('certificates', id);
    let problems: CompileProblem[] = [];
    const first = this.#certificateUsers.first(id);
    const checked = first === undefined ? undefined : this.#placements.get(first)?.certificate;
    if (checked === undefined) {
      out.set('certificates', id, undefined);
    } else {
      const sealed = certificateEntry(checked, this.#sealKey);
      out.set('certificates', id, sealed.ok ? sealed.certificate : undefined);
      if (!sealed.ok) problems = [sealed.problem];
    }
    this.#problems.set(`certificate:${id}`, problems);
    if (had !== out.has('certificates', id))
      for (const host of this.#certificateUsers.get(id)) work.entries.add(host);
  }

  /** Builds one backend's entry again, or drops it when no kept route uses it. */
  #build(id: string, out: EntryWriter): void {
    const use = this.#users.get(id);
    const problems: CompileProblem[] = [];
    if (use === undefined) {
      out.set('backends', id, undefined);
    } else {
      const { namespace, name } = use.backend.service;
      const users: PlacedIngress[] = [];
      for (const ingress of use.users.keys()) {
        const placed = this.#ingresses.get(ingress)?.placed;
        if (placed !== undefined) users.push(placed);
      }
      const entry = backendEntry(
        use.backend,
        users,
        (port) => sliceEndpoints(this.#slicesOf(`${namespace}/${name}`), namespace, port),
        this.#healthOf(namespace, name),
        (plan, reason, message) =>
          problems.push(ingressProblem(plan.namespace, plan.name, reason, message)),
      );
      out.set('backends', id, entry);
    }
    this.#problems.set(`backend:${id}`, problems);
  }

  /** The Service's EndpointSlices in name order. */
  #slicesOf(service: string): V1EndpointSlice[] {
    return [...this.#slicesByService.get(service)]
      .map((key) => this.#slices.get(key) as V1EndpointSlice)
      .sort((a, b) => compareStrings(a.metadata?.name ?? '', b.metadata?.name ?? ''));
  }

  #healthOf(namespace: string, name: string): HealthCheckSettings {
    return cloneHealthCheck(this.#health.get(`${namespace}/${name}`)?.applied ?? this.#defaults);
  }
}

/** `namespace/name` of the Service a slice belongs to, by its label. */
function sliceService(slice: V1EndpointSlice | undefined): string | undefined {
  const namespace = slice?.metadata?.namespace;
  const service = slice?.metadata?.labels?.[SERVICE_NAME_LABEL];
  return namespace && service ? `${namespace}/${service}` : undefined;
}

/** The Service key a policy's conflicts are decided under (as resolveHealthPolicies does). */
function policyTarget(policy: HealthCheckPolicy | undefined): string | undefined {
  if (policy === undefined) return undefined;
  const target: unknown = policy.spec?.targetRef?.name;
  return `${policy.metadata?.namespace ?? ''}/${typeof target === 'string' ? target : ''}`;
}

const DEFAULT_BACKEND_ANNOTATION = `${NGINX_ANNOTATION_PREFIX}default-backend`;

/** `namespace/name` of every Service the Ingress's backends name. */
function referencedServices(ingress: V1Ingress, namespace: string): string[] {
  const names = new Set<string>();
  const add = (name: unknown): void => {
    if (typeof name === 'string' && name !== '') names.add(`${namespace}/${name}`);
  };
  add(ingress.spec?.defaultBackend?.service?.name);
  // ingress-nginx's `default-backend` names a Service too (nginx-errors.ts).
  add(ingress.metadata?.annotations?.[DEFAULT_BACKEND_ANNOTATION]?.trim());
  for (const rule of ingress.spec?.rules ?? []) {
    for (const item of rule.http?.paths ?? []) add(item.backend?.service?.name);
  }
  return [...names];
}

function setOrDelete<T>(map: Map<string, T>, key: string, value: T | undefined): void {
  if (value === undefined) map.delete(key);
  else map.set(key, value);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}
