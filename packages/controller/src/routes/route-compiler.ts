/**
 * The route compiler: Ingresses, Services, EndpointSlices, Secrets and HealthCheckPolicies in,
 * the route table every edge node serves out. Pure and deterministic: no client, clock or
 * randomness inside, and the same objects in any order give a deep-equal result.
 *
 * As Contour's ingress processor, it builds a typed model and never fails as a whole: a bad
 * rule, reference or Secret drops only what it affects and is reported as a problem on the
 * object to blame (for Events and status conditions).
 *
 * Semantics are the Kubernetes Ingress ones (see docs/route-model.md):
 *
 * - Each rule host H of an Ingress served on address A is the virtual host `A|H` ('' without
 *   host); `spec.defaultBackend` is the default backend of `A|`.
 * - Ingresses on one host merge. Where two claim the same path, the oldest Ingress
 *   (creationTimestamp, then namespace/name) keeps it and the other is told (`RouteConflict`).
 *   "The same" is what the dataplane cannot tell apart: equal Exact paths, or Prefix and
 *   ImplementationSpecific paths with equal elements (`/a`, `/a/`). The same holds for two
 *   default backends on one address (`DefaultBackendConflict`) and two certificates for one
 *   host (`TLSConflict`). Routes are listed oldest Ingress first, as the dataplane expects.
 * - Balancing comes from `pier.dev/` annotations ({@link parseBalancingAnnotations}); where
 *   Ingresses that set them disagree on a shared backend, the oldest wins
 *   (`BackendSettingsConflict`).
 */
import type { V1EndpointSlice, V1Ingress, V1Secret, V1Service } from '@kubernetes/client-node';
import type {
  Backend,
  BalancingSettings,
  Certificate,
  HealthCheckSettings,
  PathType,
  Route,
  RouteTable,
  SealedKey,
  VirtualHost,
} from '@pier/shared';
import { canonicalIp, pathElements, virtualHostKey } from '@pier/shared';
import { describeBalancing, sameBalancing } from '../ingress/balancing-annotations.ts';
import { type IngressPlan, planIngress } from '../ingress/ingress-plan.ts';
import { compareByAge, compareStrings } from '../kube/object-age.ts';
import { BackendResolver, type ServiceBackend } from './backend-resolver.ts';
import {
  type HealthCheckPolicy,
  type PolicyStatus,
  resolveHealthPolicies,
} from './health-policy-resolver.ts';
import { type CheckedCertificate, TlsResolver } from './tls-resolver.ts';

export { REASON_INVALID_ANNOTATION, REASON_INVALID_RULE } from '../ingress/ingress-plan.ts';
export type { HealthCheckPolicy, PolicyStatus } from './health-policy-resolver.ts';

/** Event reasons on Ingresses beyond those of ingress-plan.ts. Stable: documented for users. */
export const REASON_ROUTE_CONFLICT = 'RouteConflict';
export const REASON_DEFAULT_BACKEND_CONFLICT = 'DefaultBackendConflict';
export const REASON_TLS_CONFLICT = 'TLSConflict';
export const REASON_BACKEND_SETTINGS_CONFLICT = 'BackendSettingsConflict';
/** Event reason on a Secret whose key could not be sealed; its hosts lose TLS. */
export const REASON_KEY_SEAL_FAILED = 'KeySealFailed';

/** Everything the compiler reads. */
export interface CompileInput {
  /** Only Ingresses of Pier's class (the caller filters). */
  ingresses: readonly V1Ingress[];
  /** External IPs allocated to the Ingress (or '*' for every address); [] = not served. */
  addressesOf: (ingress: V1Ingress) => readonly string[];
  services: readonly V1Service[];
  endpointSlices: readonly V1EndpointSlice[];
  secrets: readonly V1Secret[];
  policies: readonly HealthCheckPolicy[];
  /** Health check of Services no policy targets; `DEFAULT_HEALTH_CHECK` unless configured. */
  defaultHealthCheck: Readonly<HealthCheckSettings>;
  /**
   * Seals a private key for a certificate id. The caller memoises it, so unchanged keys give
   * identical output (sealing draws a random nonce). Called once per certificate in the table.
   */
  sealKey: (certificateId: string, keyPem: string) => SealedKey;
}

/** Something wrong with one object, for an Event on it. */
export interface CompileProblem {
  object: { kind: 'Ingress' | 'HealthCheckPolicy' | 'Secret'; namespace: string; name: string };
  type: 'Warning' | 'Normal';
  reason: string;
  message: string;
}

/** What the compiler produces. */
export interface CompileOutput {
  /** The table; the publisher sets the revision. */
  table: Omit<RouteTable, 'revision'>;
  /** Deduplicated, sorted by object (kind, namespace, name), reason, message. */
  problems: CompileProblem[];
  /** One per input policy, sorted by namespace/name. */
  policyStatuses: PolicyStatus[];
  /** `namespace/name` of Ingresses that contributed a route or a default backend, sorted. */
  servedIngresses: string[];
}

/** A claim on a path of one virtual host: who made it, as what. */
interface PathClaim {
  owner: string;
  pathType: PathType;
  path: string;
}

/** A virtual host being assembled. */
interface HostBuilder {
  address: string;
  host: string;
  routes: Route[];
  claims: Map<string, PathClaim>;
  defaultBackend?: { id: string; owner: string };
  tls?: { certificate: CheckedCertificate; owner: string };
}

/** A backend some kept route uses, with the balancing the oldest Ingress asking for one set. */
interface BackendUse {
  backend: ServiceBackend;
  balancing?: { settings: BalancingSettings; owner: string };
}

/** Compiles the route table; see the module comment for the rules. */
export function compileRoutes(input: CompileInput): CompileOutput {
  const problems = new Map<string, CompileProblem>();
  const addProblem = (problem: CompileProblem): void => {
    const { kind, namespace, name } = problem.object;
    problems.set(JSON.stringify([kind, namespace, name, problem.reason, problem.message]), problem);
  };
  const resolver = new BackendResolver(input.services, input.endpointSlices);
  const tlsResolver = new TlsResolver(input.secrets);
  const health = resolveHealthPolicies(
    input.policies,
    (namespace, name) => resolver.hasService(namespace, name),
    input.defaultHealthCheck,
  );
  const hosts = new Map<string, HostBuilder>();
  const used = new Map<string, BackendUse>();
  const served = new Set<string>();

  for (const ingress of [...input.ingresses].sort(compareByAge)) {
    const { namespace, name } = ingress.metadata ?? {};
    if (!namespace || !name) continue;
    const addresses = servedAddresses(input.addressesOf(ingress));
    if (addresses.length === 0) continue;
    const report = (reason: string, message: string): void =>
      addProblem({
        object: { kind: 'Ingress', namespace, name },
        type: 'Warning',
        reason,
        message,
      });
    const plan = planIngress(ingress, resolver, report);
    for (const address of addresses) {
      if (placeIngress(plan, address, hosts, used, tlsResolver, report)) served.add(plan.key);
    }
  }

  const certificates = sealCertificates(hosts, input.sealKey, addProblem);
  const virtualHosts: Record<string, VirtualHost> = {};
  for (const key of [...hosts.keys()].sort(compareStrings)) {
    const builder = hosts.get(key) as HostBuilder;
    const vhost: VirtualHost = {
      address: builder.address,
      host: builder.host,
      routes: builder.routes,
    };
    const certificate = builder.tls?.certificate.id;
    if (certificate !== undefined && Object.hasOwn(certificates, certificate)) {
      vhost.tls = { certificate };
    }
    if (builder.defaultBackend !== undefined) vhost.defaultBackend = builder.defaultBackend.id;
    virtualHosts[key] = vhost;
  }

  const backends: Record<string, Backend> = {};
  for (const id of [...used.keys()].sort(compareStrings)) {
    const { backend, balancing } = used.get(id) as BackendUse;
    const { namespace, name } = backend.service;
    backends[id] = {
      id,
      service: { namespace, name },
      servicePort: backend.servicePort,
      endpoints:
        backend.port === undefined ? [] : resolver.endpoints(namespace, name, backend.port),
      healthCheck: health.settingsFor(namespace, name),
      balancing: cloneBalancing(balancing?.settings ?? { algorithm: 'p2c' }),
    };
  }

  for (const status of health.statuses) {
    const object = {
      kind: 'HealthCheckPolicy' as const,
      namespace: status.namespace,
      name: status.name,
    };
    for (const condition of [status.accepted, status.resolvedRefs]) {
      if (condition.status === 'True') continue;
      addProblem({ object, type: 'Warning', reason: condition.reason, message: condition.message });
    }
  }

  return {
    table: { virtualHosts, backends, certificates },
    problems: [...problems.values()].sort(compareProblems),
    policyStatuses: health.statuses,
    servedIngresses: [...served].sort(compareStrings),
  };
}

/**
 * Puts one Ingress's plan on one of its addresses, where older Ingresses already have their
 * claims. Returns whether it contributed a route or the default backend.
 */
function placeIngress(
  plan: IngressPlan,
  address: string,
  hosts: Map<string, HostBuilder>,
  used: Map<string, BackendUse>,
  tlsResolver: TlsResolver,
  report: (reason: string, message: string) => void,
): boolean {
  let contributed = false;
  const source = { namespace: plan.namespace, name: plan.name };
  for (const [host, routes] of plan.hosts) {
    const builder = hostBuilder(hosts, address, host);
    for (const route of routes) {
      const key = matchKey(route.pathType, route.path);
      const claim = builder.claims.get(key);
      if (claim !== undefined) {
        report(REASON_ROUTE_CONFLICT, routeConflictMessage(route, host, claim, plan.key));
        continue;
      }
      builder.claims.set(key, { owner: plan.key, pathType: route.pathType, path: route.path });
      builder.routes.push({
        path: route.path,
        pathType: route.pathType,
        backend: route.backend.id,
        source: { ...source },
      });
      useBackend(used, route.backend, plan, report);
      contributed = true;
    }
  }

  if (plan.defaultBackend !== undefined) {
    const builder = hostBuilder(hosts, address, '');
    const taken = builder.defaultBackend;
    if (taken === undefined) {
      builder.defaultBackend = { id: plan.defaultBackend.id, owner: plan.key };
      useBackend(used, plan.defaultBackend, plan, report);
      contributed = true;
    } else {
      report(
        REASON_DEFAULT_BACKEND_CONFLICT,
        `spec.defaultBackend is ignored: the older Ingress ${taken.owner} already sets the default backend (${taken.id}) on an address both are served on`,
      );
    }
  }

  for (const { host, secretName } of plan.tls) {
    const checked = tlsResolver.check(plan.namespace, secretName);
    if (!checked.ok) {
      report(checked.reason, checked.message);
      continue;
    }
    // Every TLS host of a plan is one of its rule hosts, so its builder exists by now.
    const builder = hostBuilder(hosts, address, host);
    const taken = builder.tls;
    if (taken === undefined) {
      builder.tls = { certificate: checked, owner: plan.key };
    } else if (taken.certificate.id !== checked.id) {
      report(
        REASON_TLS_CONFLICT,
        `Secret ${checked.id} is ignored for ${hostText(host)}: it already uses Secret ${taken.certificate.id} from ${ownerText(taken.owner, plan.key)}`,
      );
    }
  }
  return contributed;
}

/** Records that a kept route uses a backend, and applies the Ingress's balancing to it. */
function useBackend(
  used: Map<string, BackendUse>,
  backend: ServiceBackend,
  plan: IngressPlan,
  report: (reason: string, message: string) => void,
): void {
  let use = used.get(backend.id);
  if (use === undefined) {
    use = { backend };
    used.set(backend.id, use);
  }
  if (plan.balancing === undefined) return;
  if (use.balancing === undefined) {
    use.balancing = { settings: plan.balancing, owner: plan.key };
  } else if (!sameBalancing(use.balancing.settings, plan.balancing)) {
    report(
      REASON_BACKEND_SETTINGS_CONFLICT,
      `backend ${backend.id} keeps balancing '${describeBalancing(use.balancing.settings)}' from the older Ingress ${use.balancing.owner}; this Ingress's '${describeBalancing(plan.balancing)}' is ignored for it`,
    );
  }
}

/**
 * Seals the key of every certificate a virtual host uses, once each. A certificate whose key
 * cannot be sealed is left out (its hosts fall back to the default certificate) and reported
 * on its Secret, rather than failing the whole table.
 */
function sealCertificates(
  hosts: Map<string, HostBuilder>,
  sealKey: CompileInput['sealKey'],
  addProblem: (problem: CompileProblem) => void,
): Record<string, Certificate> {
  const wanted = new Map<string, CheckedCertificate>();
  for (const builder of hosts.values()) {
    if (builder.tls !== undefined) wanted.set(builder.tls.certificate.id, builder.tls.certificate);
  }
  const certificates: Record<string, Certificate> = {};
  for (const id of [...wanted.keys()].sort(compareStrings)) {
    const checked = wanted.get(id) as CheckedCertificate;
    let key: SealedKey;
    try {
      key = sealKey(id, checked.keyPem);
    } catch (err) {
      addProblem({
        object: { kind: 'Secret', ...checked.secret },
        type: 'Warning',
        reason: REASON_KEY_SEAL_FAILED,
        message: `the private key could not be sealed (${err instanceof Error ? err.message : String(err)}); the default certificate is served instead`,
      });
      continue;
    }
    certificates[id] = {
      id,
      secret: { ...checked.secret },
      certificatePem: checked.certificatePem,
      key,
      notAfter: checked.notAfter,
    };
  }
  return certificates;
}

function hostBuilder(hosts: Map<string, HostBuilder>, address: string, host: string): HostBuilder {
  const key = virtualHostKey(address, host);
  let builder = hosts.get(key);
  if (builder === undefined) {
    builder = { address, host, routes: [], claims: new Map() };
    hosts.set(key, builder);
  }
  return builder;
}

/**
 * Two paths with the same key serve the same requests in the dataplane's index: Exact by the
 * whole path; Prefix and ImplementationSpecific alike, by path elements (`/a` = `/a/`).
 */
function matchKey(pathType: PathType, path: string): string {
  return pathType === 'Exact' ? `=${path}` : `~${pathElements(path).join('/')}`;
}

function routeConflictMessage(
  route: { pathType: PathType; path: string },
  host: string,
  claim: PathClaim,
  self: string,
): string {
  const what = `${route.pathType} path '${route.path}' on ${hostText(host)}`;
  const same = claim.pathType === route.pathType && claim.path === route.path;
  const winner = same ? '' : ` (${claim.pathType} '${claim.path}' serves the same requests)`;
  return `${what} is ignored: it is already served by ${ownerText(claim.owner, self)}${winner}`;
}

function hostText(host: string): string {
  return host === '' ? 'any host' : `host '${host}'`;
}

function ownerText(owner: string, self: string): string {
  return owner === self ? 'an earlier entry of this Ingress' : `the older Ingress ${owner}`;
}

/** The Ingress's addresses in canonical form, without repeats; '*' stands for every address. */
function servedAddresses(addresses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const address of addresses) {
    const canonical = address === '*' ? '*' : canonicalIp(address);
    if (canonical !== undefined) out.add(canonical);
  }
  return [...out];
}

function cloneBalancing(settings: BalancingSettings): BalancingSettings {
  const { algorithm, affinity } = settings;
  return affinity === undefined ? { algorithm } : { algorithm, affinity: { ...affinity } };
}

function compareProblems(a: CompileProblem, b: CompileProblem): number {
  return (
    compareStrings(a.object.kind, b.object.kind) ||
    compareStrings(a.object.namespace, b.object.namespace) ||
    compareStrings(a.object.name, b.object.name) ||
    compareStrings(a.reason, b.reason) ||
    compareStrings(a.message, b.message) ||
    compareStrings(a.type, b.type)
  );
}
