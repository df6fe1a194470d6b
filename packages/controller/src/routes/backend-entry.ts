/**
 * One backend of the route table: a Service port some kept route uses, its endpoints, health
 * check and balancing. Pure. Built the same way by the full and the incremental compiler.
 *
 * Balancing comes from `pier.dev/` annotations ({@link parseBalancingAnnotations}); where the
 * Ingresses that use a backend and set them disagree, the oldest wins and the others are told
 * (`BackendSettingsConflict`). A backend therefore depends on its Service's port, its
 * EndpointSlices, the policies targeting its Service, and which Ingresses use it.
 */
import type { V1ServicePort } from '@kubernetes/client-node';
import type { Backend, BalancingSettings, Endpoint, HealthCheckSettings } from '@pier/shared';
import { describeBalancing, sameBalancing } from '../ingress/balancing-annotations.ts';
import { compareByAge } from '../kube/object-age.ts';
import type { ServiceBackend } from './backend-resolver.ts';
import type { PlacedIngress, ReportOn } from './host-placement.ts';

export const REASON_BACKEND_SETTINGS_CONFLICT = 'BackendSettingsConflict';

/**
 * The entry of `backend`, used by `users` (each Ingress once, any order; at least one).
 * `endpointsOf` lists the endpoints of the resolved Service port; `healthCheck` is the
 * Service's, owned by the entry from now on.
 */
export function backendEntry(
  backend: ServiceBackend,
  users: readonly PlacedIngress[],
  endpointsOf: (port: V1ServicePort) => Endpoint[],
  healthCheck: HealthCheckSettings,
  report: ReportOn,
): Backend {
  const winner = oldest(users, (user) => user.plan.balancing !== undefined);
  const settings = winner?.plan.balancing;
  if (winner !== undefined && settings !== undefined) {
    for (const { plan } of users) {
      if (plan.balancing === undefined || sameBalancing(settings, plan.balancing)) continue;
      report(
        plan,
        REASON_BACKEND_SETTINGS_CONFLICT,
        `backend ${backend.id} keeps balancing '${describeBalancing(settings)}' from the older Ingress ${winner.plan.key}; this Ingress's '${describeBalancing(plan.balancing)}' is ignored for it`,
      );
    }
  }
  const protocol = backendProtocol(backend, users, report);
  const { namespace, name } = backend.service;
  const entry: Backend = {
    id: backend.id,
    service: { namespace, name },
    servicePort: backend.servicePort,
    endpoints: backend.port === undefined ? [] : endpointsOf(backend.port),
    healthCheck:
      protocol === 'https'
        ? { ...healthCheck, http: { ...healthCheck.http, tls: true } }
        : healthCheck,
    balancing: cloneBalancing(settings ?? { algorithm: 'p2c' }),
  };
  if (protocol === 'https') entry.protocol = 'https';
  return entry;
}

/**
 * What the endpoints speak (ingress-nginx's `backend-protocol`): the oldest user's choice, HTTP
 * unless it says HTTPS. In ingress-nginx the protocol is a location's; here it is the backend's
 * (its pools and its health check), so a user that says otherwise is told.
 */
function backendProtocol(
  backend: ServiceBackend,
  users: readonly PlacedIngress[],
  report: ReportOn,
): 'https' | 'http' {
  const decides = oldest(users, () => true);
  const protocol = decides?.plan.nginx.backendProtocol ?? 'http';
  for (const { plan } of users) {
    if ((plan.nginx.backendProtocol ?? 'http') === protocol) continue;
    report(
      plan,
      REASON_BACKEND_SETTINGS_CONFLICT,
      `backend ${backend.id} speaks ${protocol.toUpperCase()} as the older Ingress ${decides?.plan.key} says; this Ingress's backend-protocol is ignored for it`,
    );
  }
  return protocol;
}

/** The oldest of `users` that `counts`, by creation (the uid breaks ties). */
function oldest(
  users: readonly PlacedIngress[],
  counts: (user: PlacedIngress) => boolean,
): PlacedIngress | undefined {
  let found: PlacedIngress | undefined;
  for (const user of users) {
    if (!counts(user)) continue;
    if (found === undefined || compareByAge(user.ingress, found.ingress) < 0) found = user;
  }
  return found;
}

function cloneBalancing(settings: BalancingSettings): BalancingSettings {
  const { algorithm, affinity, hashBy } = settings;
  const clone: BalancingSettings = { algorithm };
  if (hashBy !== undefined) clone.hashBy = hashBy;
  if (affinity !== undefined) clone.affinity = structuredClone(affinity);
  return clone;
}
