/**
 * ingress-nginx's canary Ingresses on one virtual host (`mergeAlternativeBackends` in its
 * controller): each path of a canary joins the kept route with the same path and path type as
 * its alternative backend (`Route.split`), instead of claiming the path. Pure; host-placement.ts
 * calls it once the host's routes are placed.
 *
 * As in ingress-nginx: one canary per route, the oldest (its alternatives list is in Ingress age
 * order, and its Lua uses only the first); a canary whose Service is the main route's own
 * changes nothing; a canary without a main route is not used, and its path is not served. Pier
 * says so in an Event on the canary where ingress-nginx only logs.
 */
import type { Route } from '@pier/shared';
import type { IngressPlan } from '../ingress/ingress-plan.ts';
import { REASON_INVALID_RULE } from '../ingress/ingress-plan.ts';
import { canarySplit } from '../ingress/nginx-canary.ts';
import type { ServiceBackend } from './backend-resolver.ts';
import {
  hostText,
  ownerText,
  REASON_CANARY_WITHOUT_MAIN,
  REASON_ROUTE_CONFLICT,
} from './placement-reasons.ts';

/**
 * Joins `canaries` (oldest first; each plan has `nginx.canary`) to `routes`, the kept routes of
 * `host`, setting their `split`. Returns each canary backend now used, with its Ingress.
 */
export function joinCanaries<U extends { plan: IngressPlan }>(
  routes: Route[],
  host: string,
  canaries: readonly U[],
  report: (plan: IngressPlan, reason: string, message: string) => void,
): Array<{ user: U; backend: ServiceBackend }> {
  const uses: Array<{ user: U; backend: ServiceBackend }> = [];
  const joined = new Map<Route, string>();
  for (const user of canaries) {
    const { plan } = user;
    const canary = plan.nginx.canary;
    if (canary === undefined) continue;
    if (host === '' && plan.defaultBackend !== undefined) {
      report(
        plan,
        REASON_INVALID_RULE,
        'spec.defaultBackend of a canary Ingress is not used: Pier joins canaries to path rules only',
      );
    }
    for (const path of plan.hosts.get(host) ?? []) {
      const what = `${path.pathType} path '${path.path}' on ${hostText(host)}`;
      const main = routes.find((r) => r.path === path.path && r.pathType === path.pathType);
      if (main === undefined) {
        report(
          plan,
          REASON_CANARY_WITHOUT_MAIN,
          `${what}: no main Ingress serves this host, path and path type on the address; the canary is not used, as in ingress-nginx`,
        );
        continue;
      }
      if (path.backend.id === main.backend) {
        report(
          plan,
          REASON_INVALID_RULE,
          `${what}: the canary's backend ${path.backend.id} is the main route's own; the canary changes nothing`,
        );
        continue;
      }
      const owner = joined.get(main);
      if (owner !== undefined) {
        report(
          plan,
          REASON_ROUTE_CONFLICT,
          `${what} is ignored as a canary: the route already has the canary of ${ownerText(owner, plan.key)}; ingress-nginx serves one canary per route`,
        );
        continue;
      }
      main.split = canarySplit(canary, main.backend, path.backend.id);
      joined.set(main, plan.key);
      uses.push({ user, backend: path.backend });
    }
  }
  return uses;
}
