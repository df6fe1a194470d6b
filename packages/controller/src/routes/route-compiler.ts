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
 * - Each virtual host is placed from the Ingresses that ask for it (host-placement.ts: path,
 *   default backend and TLS conflicts, oldest first); each backend from the Ingresses that
 *   keep a route to it (backend-entry.ts: balancing conflicts); each certificate by sealing
 *   its key (certificate-entry.ts). The incremental compiler (incremental-compiler.ts) builds
 *   the same parts from the same functions, and must give the same result as this one.
 */
import type { V1EndpointSlice, V1Ingress, V1Secret, V1Service } from '@kubernetes/client-node';
import type {
  Backend,
  Certificate,
  HealthCheckSettings,
  RouteTable,
  SealedKey,
  VirtualHost,
} from '@pier/shared';
import { virtualHostKey } from '@pier/shared';
import type { AuthSecretLookup } from '../ingress/auth-secret.ts';
import { planIngress } from '../ingress/ingress-plan.ts';
import type { NginxDialect } from '../ingress/nginx-annotations.ts';
import { compareByAge, compareStrings } from '../kube/object-age.ts';
import { type AliasView, aliasKeysOf, aliasProblems, isServed } from './alias-problems.ts';
import { backendEntry } from './backend-entry.ts';
import { BackendResolver, type ServiceBackend } from './backend-resolver.ts';
import { certificateEntry } from './certificate-entry.ts';
import {
  type CompileProblem,
  compareProblems,
  ingressProblem,
  problemKey,
} from './compile-problems.ts';
import {
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
import { type CheckedCertificate, TlsResolver } from './tls-resolver.ts';

export { REASON_INVALID_ANNOTATION, REASON_INVALID_RULE } from '../ingress/ingress-plan.ts';
export { REASON_BACKEND_SETTINGS_CONFLICT } from './backend-entry.ts';
export { REASON_KEY_SEAL_FAILED } from './certificate-entry.ts';
export type { CompileProblem } from './compile-problems.ts';
export type { HealthCheckPolicy, PolicyStatus } from './health-policy-resolver.ts';
export {
  REASON_DEFAULT_BACKEND_CONFLICT,
  REASON_ROUTE_CONFLICT,
  REASON_TLS_CONFLICT,
} from './host-placement.ts';

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
   * Seals a private key for a certificate id, or basic-auth users for their Secret's
   * `basicAuthAad`. The caller memoises it, so unchanged input gives identical output (sealing
   * draws a random nonce). Called once per certificate in the table and per Ingress with users.
   */
  sealKey: (certificateId: string, keyPem: string) => SealedKey;
  /** Whether ingress-nginx's defaults apply to an Ingress; Pier's own when absent. */
  dialectOf?: (ingress: V1Ingress) => NginxDialect;
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

/** Compiles the route table; see the module comment for the rules. */
export function compileRoutes(input: CompileInput): CompileOutput {
  const problems = new Map<string, CompileProblem>();
  const addProblem = (problem: CompileProblem): void => {
    problems.set(problemKey(problem), problem);
  };
  const reportOn: ReportOn = (plan, reason, message) =>
    addProblem(ingressProblem(plan.namespace, plan.name, reason, message));
  const resolver = new BackendResolver(input.services, input.endpointSlices);
  const tlsResolver = new TlsResolver(input.secrets);
  const secretsByKey = new Map<string, V1Secret>();
  for (const secret of input.secrets) {
    const { namespace, name } = secret.metadata ?? {};
    if (namespace && name) secretsByKey.set(`${namespace}/${name}`, secret);
  }
  const authSecrets: AuthSecretLookup = {
    secret: (namespace, name) => secretsByKey.get(`${namespace}/${name}`),
    seal: input.sealKey,
  };
  const checkTls: CheckTls = (namespace, name) => tlsResolver.check(namespace, name);
  const health = resolveHealthPolicies(
    input.policies,
    (namespace, name) => resolver.hasService(namespace, name),
    input.defaultHealthCheck,
  );

  // Who asks for each virtual host, oldest first: Ingresses are planned in age order.
  const candidates = new Map<string, { address: string; host: string; placed: PlacedIngress[] }>();
  for (const ingress of [...input.ingresses].sort(compareByAge)) {
    const { namespace, name } = ingress.metadata ?? {};
    if (!namespace || !name) continue;
    const addresses = servedAddresses(input.addressesOf(ingress));
    if (addresses.length === 0) continue;
    const plan = planIngress(
      ingress,
      resolver,
      (reason, message) => addProblem(ingressProblem(namespace, name, reason, message)),
      input.dialectOf?.(ingress),
      authSecrets,
    );
    reportTlsProblems(plan, checkTls, reportOn);
    const placed: PlacedIngress = { ingress, plan };
    for (const address of addresses) {
      for (const host of hostsOf(plan)) {
        const key = virtualHostKey(address, host);
        let entry = candidates.get(key);
        if (entry === undefined) {
          entry = { address, host, placed: [] };
          candidates.set(key, entry);
        }
        entry.placed.push(placed);
      }
    }
  }

  const placements = new Map<string, HostPlacement>();
  const users = new Map<string, { backend: ServiceBackend; users: Map<string, PlacedIngress> }>();
  const served = new Set<string>();
  for (const [key, { address, host, placed }] of candidates) {
    const placement = placeHost(address, host, placed, checkTls, reportOn);
    placements.set(key, placement);
    for (const { user, backend } of placement.uses) {
      let use = users.get(backend.id);
      if (use === undefined) {
        use = { backend, users: new Map() };
        users.set(backend.id, use);
      }
      use.users.set(user.plan.key, user);
    }
    for (const owner of placement.contributors) served.add(owner);
  }

  const claims = new Map<string, string[]>();
  for (const placement of placements.values()) {
    for (const key of aliasKeysOf(placement)) {
      const hosts = claims.get(key);
      if (hosts === undefined) claims.set(key, [placement.host]);
      else hosts.push(placement.host);
    }
  }
  const aliasView: AliasView = {
    served: (key) => isServed(placements.get(key)),
    claimants: (key) => claims.get(key) ?? [],
  };
  for (const placement of placements.values()) {
    for (const problem of aliasProblems(placement, aliasView)) addProblem(problem);
  }

  const wanted = new Map<string, CheckedCertificate>();
  for (const placement of placements.values()) {
    if (placement.certificate !== undefined) {
      wanted.set(placement.certificate.id, placement.certificate);
    }
  }
  const certificates: Record<string, Certificate> = {};
  for (const id of [...wanted.keys()].sort(compareStrings)) {
    const sealed = certificateEntry(wanted.get(id) as CheckedCertificate, input.sealKey);
    if (sealed.ok) certificates[id] = sealed.certificate;
    else addProblem(sealed.problem);
  }

  const virtualHosts: Record<string, VirtualHost> = {};
  for (const key of [...placements.keys()].sort(compareStrings)) {
    const entry = virtualHostEntry(placements.get(key) as HostPlacement, (id) =>
      Object.hasOwn(certificates, id),
    );
    if (entry !== undefined) virtualHosts[key] = entry;
  }

  const backends: Record<string, Backend> = {};
  for (const id of [...users.keys()].sort(compareStrings)) {
    const use = users.get(id) as { backend: ServiceBackend; users: Map<string, PlacedIngress> };
    const { namespace, name } = use.backend.service;
    backends[id] = backendEntry(
      use.backend,
      [...use.users.values()],
      (port) => resolver.endpoints(namespace, name, port),
      health.settingsFor(namespace, name),
      reportOn,
    );
  }

  for (const problem of policyProblems(health.statuses)) addProblem(problem);

  return {
    table: { virtualHosts, backends, certificates },
    problems: [...problems.values()].sort(compareProblems),
    policyStatuses: health.statuses,
    servedIngresses: [...served].sort(compareStrings),
  };
}

/** Warnings for the conditions of policies that are not True. */
export function policyProblems(statuses: readonly PolicyStatus[]): CompileProblem[] {
  const out: CompileProblem[] = [];
  for (const status of statuses) {
    const object = {
      kind: 'HealthCheckPolicy' as const,
      namespace: status.namespace,
      name: status.name,
    };
    for (const condition of [status.accepted, status.resolvedRefs]) {
      if (condition.status === 'True') continue;
      out.push({ object, type: 'Warning', reason: condition.reason, message: condition.message });
    }
  }
  return out;
}
