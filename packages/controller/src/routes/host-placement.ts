/**
 * One virtual host of the route table, placed from the Ingresses that ask for it: which
 * Ingress keeps which path, the default backend and the certificate, and who is told that an
 * older Ingress came first. Pure. The full compile (route-compiler.ts) and the incremental one
 * (incremental-compiler.ts) both build every virtual host with {@link placeHost}, so they cannot
 * disagree on the rules (docs/route-model.md):
 *
 * - ingress-nginx's canary Ingresses claim no path: each joins the kept route with its host,
 *   path and path type as that route's alternative backend (canary-placement.ts).
 * - Ingresses on one host merge. Where two claim the same path, the oldest Ingress
 *   (creationTimestamp, then namespace/name) keeps it and the other is told (`RouteConflict`).
 *   "The same" is what the dataplane cannot tell apart: equal Exact paths, or Prefix and
 *   ImplementationSpecific paths with equal elements (`/a`, `/a/`). The same holds for two
 *   default backends on one address (`DefaultBackendConflict`) and two certificates for one
 *   host (`TLSConflict`). Routes are listed oldest Ingress first, as the dataplane expects.
 *
 * A virtual host depends only on the plans of the Ingresses that name its host on its address
 * (and, for the any-host one, set a default backend there), and on their TLS Secrets.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import type { PathType, Route, VirtualHost } from '@pier/shared';
import { canonicalIp, pathElements, regexPathProblem } from '@pier/shared';
import {
  type IngressPlan,
  type PlannedRoute,
  REASON_INVALID_RULE,
} from '../ingress/ingress-plan.ts';
import { NGINX_ANNOTATION_PREFIX } from '../ingress/nginx-annotation-catalogue.ts';
import type { ServiceBackend } from './backend-resolver.ts';
import { joinCanaries } from './canary-placement.ts';
import {
  hostText,
  ownerText,
  REASON_ANNOTATION_CONFLICT,
  REASON_DEFAULT_BACKEND_CONFLICT,
  REASON_ROUTE_CONFLICT,
  REASON_TLS_CONFLICT,
} from './placement-reasons.ts';
import { placeNginxPolicies } from './route-nginx-policies.ts';
import type { CertificateCheck, CheckedCertificate } from './tls-resolver.ts';

export {
  REASON_ANNOTATION_CONFLICT,
  REASON_CANARY_WITHOUT_MAIN,
  REASON_DEFAULT_BACKEND_CONFLICT,
  REASON_ROUTE_CONFLICT,
  REASON_TLS_CONFLICT,
} from './placement-reasons.ts';

const APP_ROOT_ANNOTATION = `${NGINX_ANNOTATION_PREFIX}app-root`;
const SERVER_ALIAS_ANNOTATION = `${NGINX_ANNOTATION_PREFIX}server-alias`;

/** An Ingress's plan with the Ingress itself, whose age decides who wins a conflict. */
export interface PlacedIngress {
  ingress: V1Ingress;
  plan: IngressPlan;
}

/** Reports a problem on the Ingress of `plan`. */
export type ReportOn = (plan: IngressPlan, reason: string, message: string) => void;

/** Checks the TLS Secret `namespace/name`; memoised by the caller. */
export type CheckTls = (namespace: string, secretName: string) => CertificateCheck;

/** A backend a kept route (or the default backend) uses, and the Ingress that keeps it. */
export interface BackendUse {
  user: PlacedIngress;
  backend: ServiceBackend;
}

/** A placed virtual host, before its certificate is known to be sealed. */
export interface HostPlacement {
  address: string;
  host: string;
  routes: Route[];
  /** Backend id of the address's default backend (any-host virtual host only). */
  defaultBackend?: string;
  /** From the oldest Ingress on the host that sets ingress-nginx's `app-root`. */
  appRoot?: string;
  /** ingress-nginx's regex mode, asked for by an Ingress on the host (`use-regex`, a rewrite). */
  pathRegex?: boolean;
  /** From the oldest Ingress on the host that sets ingress-nginx's `server-alias`, the host left out. */
  aliases?: string[];
  /** The Ingress whose `server-alias` gave {@link HostPlacement.aliases}. */
  aliasOwner?: string;
  certificate?: CheckedCertificate;
  /** Every kept route's backend and the default backend, in placement order. */
  uses: BackendUse[];
  /** `namespace/name` of the Ingresses that kept a route or the default backend here. */
  contributors: Set<string>;
  /**
   * Only canary Ingresses ask for the host: it is no virtual host (as ingress-nginx makes no
   * server for it), so its requests go where they would without them.
   */
  onlyCanaries?: boolean;
}

/** A claim on a path of one virtual host: who made it, as what. */
interface PathClaim {
  owner: string;
  pathType: PathType;
  path: string;
}

/** The hosts a plan asks for on each of its addresses: its rule hosts, and '' for a default backend. */
export function hostsOf(plan: IngressPlan): string[] {
  const hosts = [...plan.hosts.keys()];
  if (plan.defaultBackend !== undefined && !plan.hosts.has('')) hosts.push('');
  return hosts;
}

/**
 * Places the virtual host `host` on `address` from `candidates`, oldest first: every Ingress
 * whose plan asks for the host there ({@link hostsOf}). Conflicts are reported on the younger
 * Ingress. Secrets that do not check are skipped silently: {@link reportTlsProblems} says so
 * once per Ingress.
 */
export function placeHost(
  address: string,
  host: string,
  candidates: readonly PlacedIngress[],
  checkTls: CheckTls,
  report: ReportOn,
): HostPlacement {
  const placement: HostPlacement = {
    address,
    host,
    routes: [],
    uses: [],
    contributors: new Set(),
  };
  const claims = new Map<string, PathClaim>();
  let defaultOwner = '';
  let tlsOwner = '';
  let appRootOwner = '';
  const canaries: PlacedIngress[] = [];
  for (const placed of candidates) {
    const { plan } = placed;
    // A canary makes no route of its own: it joins a kept one, once they are all placed.
    if (plan.nginx.canary !== undefined) {
      canaries.push(placed);
      continue;
    }
    const source = { namespace: plan.namespace, name: plan.name };
    for (const route of plan.hosts.get(host) ?? []) {
      const key = matchKey(route.pathType, route.path);
      const claim = claims.get(key);
      if (claim !== undefined) {
        report(plan, REASON_ROUTE_CONFLICT, routeConflictMessage(route, host, claim, plan.key));
        continue;
      }
      claims.set(key, { owner: plan.key, pathType: route.pathType, path: route.path });
      placement.routes.push(tableRoute(route, plan, source));
      placement.uses.push({ user: placed, backend: route.backend });
      if (plan.errorBackend !== undefined)
        placement.uses.push({ user: placed, backend: plan.errorBackend });
      placement.contributors.add(plan.key);
    }

    const appRoot = plan.nginx.appRoot;
    if (appRoot !== undefined && plan.hosts.has(host)) {
      if (placement.appRoot === undefined) {
        placement.appRoot = appRoot;
        appRootOwner = plan.key;
      } else if (placement.appRoot !== appRoot) {
        report(
          plan,
          REASON_ANNOTATION_CONFLICT,
          `${APP_ROOT_ANNOTATION} '${appRoot}' is ignored for ${hostText(host)}: it already has app root '${placement.appRoot}' from ${ownerText(appRootOwner, plan.key)}`,
        );
      }
    }

    if (asksForRegex(plan, host)) placement.pathRegex = true;
    placeAliases(placement, plan, report);

    if (host === '' && plan.defaultBackend !== undefined) {
      if (placement.defaultBackend === undefined) {
        placement.defaultBackend = plan.defaultBackend.id;
        defaultOwner = plan.key;
        placement.uses.push({ user: placed, backend: plan.defaultBackend });
        placement.contributors.add(plan.key);
      } else {
        report(
          plan,
          REASON_DEFAULT_BACKEND_CONFLICT,
          `spec.defaultBackend is ignored: the older Ingress ${defaultOwner} already sets the default backend (${placement.defaultBackend}) on an address both are served on`,
        );
      }
    }

    for (const tls of plan.tls) {
      if (tls.host !== host) continue;
      const checked = checkTls(plan.namespace, tls.secretName);
      if (!checked.ok) continue;
      const taken = placement.certificate;
      if (taken === undefined) {
        placement.certificate = checked;
        tlsOwner = plan.key;
      } else if (taken.id !== checked.id) {
        report(
          plan,
          REASON_TLS_CONFLICT,
          `Secret ${checked.id} is ignored for ${hostText(host)}: it already uses Secret ${taken.id} from ${ownerText(tlsOwner, plan.key)}`,
        );
      }
    }
  }
  if (placement.pathRegex === true) keepRegexRoutes(placement, candidates, report);
  if (canaries.length > 0) {
    if (canaries.length === candidates.length) placement.onlyCanaries = true;
    for (const use of joinCanaries(placement.routes, host, canaries, report)) {
      placement.uses.push(use);
      placement.contributors.add(use.user.plan.key);
    }
  }
  return placement;
}

/**
 * ingress-nginx's `server-alias` belongs to the server: the oldest Ingress naming the host that
 * sets it decides; another's different list is reported and ignored (ingress-nginx logs
 * "Aliases already configured"). An alias equal to the host is no alias.
 */
function placeAliases(placement: HostPlacement, plan: IngressPlan, report: ReportOn): void {
  const asked = plan.nginx.serverAliases;
  if (asked === undefined || !plan.hosts.has(placement.host)) return;
  const aliases = asked.filter((alias) => alias !== placement.host);
  if (placement.aliasOwner === undefined) {
    placement.aliasOwner = plan.key;
    if (aliases.length > 0) placement.aliases = aliases;
  } else if (aliases.join() !== (placement.aliases ?? []).join()) {
    report(
      plan,
      REASON_ANNOTATION_CONFLICT,
      `${SERVER_ALIAS_ANNOTATION} '${asked.join(',')}' is ignored for ${hostText(placement.host)}: it already has the aliases of ${ownerText(placement.aliasOwner, plan.key)}`,
    );
  }
}

/**
 * ingress-nginx's `enforceRegexModifier`: a host is in regex mode when one of its Ingresses says
 * `use-regex`, or rewrites a path to something else.
 */
function asksForRegex(plan: IngressPlan, host: string): boolean {
  const { useRegex, rewriteTarget } = plan.nginx;
  const routes = plan.hosts.get(host) ?? [];
  if (routes.length === 0) return false;
  return (
    useRegex === true ||
    (rewriteTarget !== undefined && routes.some((r) => r.path !== rewriteTarget))
  );
}

/**
 * Regex mode: routes whose path is no regular expression are dropped and reported, the rest
 * ordered as ingress-nginx orders locations (longest path first, then by path, descending), so
 * that the first regex to match is the one nginx would pick.
 */
function keepRegexRoutes(
  placement: HostPlacement,
  candidates: readonly PlacedIngress[],
  report: ReportOn,
): void {
  const planOf = new Map(candidates.map((c) => [c.plan.key, c.plan]));
  const kept: Route[] = [];
  for (const route of placement.routes) {
    const problem = regexPathProblem(route.path);
    if (problem === undefined) {
      kept.push(route);
      continue;
    }
    const plan = planOf.get(`${route.source.namespace}/${route.source.name}`);
    if (plan !== undefined) {
      report(
        plan,
        REASON_INVALID_RULE,
        `path '${route.path}' ${problem} (the host uses regex paths); dropped`,
      );
    }
  }
  kept.sort(
    (a, b) => b.path.length - a.path.length || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0),
  );
  placement.routes = kept;
}

/** The table entry of a kept path rule, with its Ingress's ingress-nginx policies. */
function tableRoute(route: PlannedRoute, plan: IngressPlan, source: Route['source']): Route {
  const entry: Route = {
    path: route.path,
    pathType: route.pathType,
    backend: route.backend.id,
    source: { ...source },
  };
  placeNginxPolicies(entry, route, plan);
  return entry;
}

/** Reports each TLS Secret of the plan that gives no certificate (the host keeps its routes). */
export function reportTlsProblems(plan: IngressPlan, checkTls: CheckTls, report: ReportOn): void {
  for (const { secretName } of plan.tls) {
    const checked = checkTls(plan.namespace, secretName);
    if (!checked.ok) report(plan, checked.reason, checked.message);
  }
}

/**
 * The table entry of a placed virtual host, or undefined when it is none (only canaries ask for
 * it). Its certificate is kept only when `sealed` says the table holds it; else the host falls
 * back to the default certificate.
 */
export function virtualHostEntry(
  placement: HostPlacement,
  sealed: (certificateId: string) => boolean,
): VirtualHost | undefined {
  if (placement.onlyCanaries === true) return undefined;
  const vhost: VirtualHost = {
    address: placement.address,
    host: placement.host,
    routes: placement.routes,
  };
  const certificate = placement.certificate?.id;
  if (certificate !== undefined && sealed(certificate)) vhost.tls = { certificate };
  if (placement.defaultBackend !== undefined) vhost.defaultBackend = placement.defaultBackend;
  if (placement.appRoot !== undefined) vhost.appRoot = placement.appRoot;
  if (placement.pathRegex === true) vhost.pathRegex = true;
  if (placement.aliases !== undefined) vhost.aliases = [...placement.aliases];
  return vhost;
}

/** The Ingress's addresses in canonical form, without repeats; '*' stands for every address. */
export function servedAddresses(addresses: readonly string[]): string[] {
  const out = new Set<string>();
  for (const address of addresses) {
    const canonical = address === '*' ? '*' : canonicalIp(address);
    if (canonical !== undefined) out.add(canonical);
  }
  return [...out];
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
