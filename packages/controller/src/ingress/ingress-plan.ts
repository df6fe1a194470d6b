/**
 * Reads one Ingress into what it asks for, before it meets other Ingresses: its hosts and
 * their path rules with resolved backends, its default backend, the hosts it wants TLS for and
 * its balancing annotations. Bad parts are reported and dropped one by one. Pure.
 */
import type { V1Ingress, V1IngressBackend } from '@kubernetes/client-node';
import type { BalancingSettings, BasicAuth, PathType } from '@pier/shared';
import { PATH_TYPES, validateIngressHost, validateIngressPath } from '@pier/shared';
import type { BackendResolver, ServiceBackend } from '../routes/backend-resolver.ts';

/** What planning needs of a resolver: {@link BackendResolver.resolve} and its Services. */
export type BackendLookup = Pick<BackendResolver, 'resolve' | 'service'>;

import { type AuthSecretLookup, resolveBasicAuth } from './auth-secret.ts';
import { parseBalancingAnnotations } from './balancing-annotations.ts';
import {
  type NginxActions,
  type NginxDialect,
  PIER_DIALECT,
  parseNginxAnnotations,
} from './nginx-annotations.ts';
import { parseNginxBalancing } from './nginx-balancing.ts';
import { resolveErrorBackend } from './nginx-errors.ts';

/** Event reason for a rule, path or TLS entry Pier cannot use as written. */
export const REASON_INVALID_RULE = 'InvalidRule';
/** Event reason for a bad annotation value (its default is used). */
export const REASON_INVALID_ANNOTATION = 'InvalidAnnotation';
/** Event reason for an ingress-nginx annotation Pier does not honour (the Ingress is served without it). */
export const REASON_ANNOTATION_IGNORED = 'AnnotationIgnored';

/** The message of an `AnnotationIgnored` problem; {@link ignoredAnnotationOf} reads it back. */
export function annotationIgnoredMessage(annotation: string, note: string): string {
  return `${annotation}: ${note}; the Ingress is served without it`;
}

/** The annotation an `AnnotationIgnored` message names (for the metric of ignored annotations). */
export function ignoredAnnotationOf(message: string): string {
  const colon = message.indexOf(': ');
  return colon < 0 ? message : message.slice(0, colon);
}

/** One path rule, checked, with its backend resolved. */
export interface PlannedRoute {
  path: string;
  pathType: PathType;
  backend: ServiceBackend;
}

/** What one Ingress asks for. */
export interface IngressPlan {
  namespace: string;
  name: string;
  /** `namespace/name`. */
  key: string;
  /**
   * Path rules by host ('' for rules without host), in the order written; several rules of one
   * host are merged. A host whose paths were all dropped is still here: it still takes its
   * requests away from the any-host rules, as its rule says.
   */
  hosts: Map<string, PlannedRoute[]>;
  defaultBackend?: ServiceBackend;
  /** Hosts of `spec.tls` that are also rule hosts of this Ingress, with their Secret. */
  tls: Array<{ host: string; secretName: string }>;
  /** From the annotations; undefined when the Ingress sets none of them. */
  balancing?: BalancingSettings;
  /** Redirects from the ingress-nginx annotations (and, for its classes, its defaults). */
  nginx: NginxActions;
  /** Basic authentication of every route (`auth-type: basic`), its users read and sealed. */
  basicAuth?: BasicAuth;
  /** `namespace/name` of the Secret `basicAuth` was read from (its changes replan the Ingress). */
  authSecret?: string;
  /** The Service port of ingress-nginx's `default-backend`, resolved (nginx-errors.ts). */
  errorBackend?: ServiceBackend;
}

/** Reports one problem with the Ingress being planned. */
export type ReportProblem = (reason: string, message: string) => void;

/**
 * Reads `ingress` (which has a namespace and a name); problems go to `report`. `dialect` says
 * whether ingress-nginx's defaults apply (an Ingress of a compatibility class); `secrets` reads
 * and seals the users of basic authentication (without it, their Secret is not found).
 */
export function planIngress(
  ingress: V1Ingress,
  resolver: BackendLookup,
  report: ReportProblem,
  dialect: NginxDialect = PIER_DIALECT,
  secrets?: AuthSecretLookup,
): IngressPlan {
  const namespace = ingress.metadata?.namespace ?? '';
  const name = ingress.metadata?.name ?? '';
  const spec = ingress.spec ?? {};
  const plan: IngressPlan = {
    namespace,
    name,
    key: `${namespace}/${name}`,
    hosts: new Map(),
    tls: [],
    nginx: {},
  };

  const backendOf = (at: string, backend: V1IngressBackend | undefined) => {
    if (backend === undefined || backend === null) {
      report(REASON_INVALID_RULE, `${at}: no backend; dropped`);
      return undefined;
    }
    const resolved = resolver.resolve(namespace, backend);
    if (!resolved.ok) {
      report(resolved.reason, `${at}: ${resolved.message}; dropped`);
      return undefined;
    }
    // Said once per Service, not per path: the same message for every path dedupes.
    if (resolved.problem !== undefined) report(resolved.problem.reason, resolved.problem.message);
    return resolved;
  };

  for (const [i, rule] of (spec.rules ?? []).entries()) {
    const host = rule.host ?? '';
    const hostProblem = validateIngressHost(host);
    if (hostProblem !== undefined) {
      report(REASON_INVALID_RULE, `spec.rules[${i}].host '${host}' ${hostProblem}; rule dropped`);
      continue;
    }
    let routes = plan.hosts.get(host);
    if (routes === undefined) {
      routes = [];
      plan.hosts.set(host, routes);
    }
    for (const [j, item] of (rule.http?.paths ?? []).entries()) {
      const at = `spec.rules[${i}].http.paths[${j}]`;
      const pathType = item.pathType as PathType;
      if (!PATH_TYPES.includes(pathType)) {
        report(
          REASON_INVALID_RULE,
          `${at}: pathType '${String(item.pathType ?? '')}' is not Exact, Prefix or ImplementationSpecific; dropped`,
        );
        continue;
      }
      const written = item.path ?? '';
      const pathProblem = validateIngressPath(pathType, written);
      if (pathProblem !== undefined) {
        report(REASON_INVALID_RULE, `${at}: path '${written}' ${pathProblem}; dropped`);
        continue;
      }
      const backend = backendOf(at, item.backend);
      // Only ImplementationSpecific may be empty; it then matches everything, as '/' does.
      if (backend !== undefined) routes.push({ path: written || '/', pathType, backend });
    }
  }

  if (spec.defaultBackend !== undefined && spec.defaultBackend !== null) {
    const backend = backendOf('spec.defaultBackend', spec.defaultBackend);
    if (backend !== undefined) plan.defaultBackend = backend;
  }

  for (const [i, entry] of (spec.tls ?? []).entries()) {
    const hosts = entry.hosts ?? [];
    if (hosts.length === 0 && entry.secretName) {
      // As Contour: certificates are chosen by SNI host name, so an entry without hosts
      // cannot select any. Said out loud, since the user surely expected HTTPS from it.
      report(
        REASON_INVALID_RULE,
        `spec.tls[${i}] lists no hosts; Pier picks certificates by host name, so Secret '${entry.secretName}' is not used`,
      );
      continue;
    }
    // No secretName: the hosts use the default certificate, as the Ingress API allows.
    if (!entry.secretName) continue;
    for (const host of hosts) {
      if (plan.hosts.has(host)) plan.tls.push({ host, secretName: entry.secretName });
    }
  }

  // Pier's own balancing annotations win over ingress-nginx's when an Ingress has both.
  let balancing = parseBalancingAnnotations(ingress.metadata?.annotations);
  if (balancing.settings === undefined) {
    const nginxBalancing = parseNginxBalancing(ingress.metadata?.annotations);
    balancing = {
      settings: nginxBalancing.settings,
      problems: [...balancing.problems, ...nginxBalancing.problems],
    };
  }
  for (const problem of balancing.problems) {
    report(REASON_INVALID_ANNOTATION, `${problem.annotation}: ${problem.message}`);
  }
  if (balancing.settings !== undefined) plan.balancing = balancing.settings;

  const nginx = parseNginxAnnotations(ingress.metadata?.annotations, dialect);
  for (const problem of nginx.problems) {
    report(REASON_INVALID_ANNOTATION, `${problem.annotation}: ${problem.message}`);
  }
  for (const { annotation, note } of nginx.ignored) {
    report(REASON_ANNOTATION_IGNORED, annotationIgnoredMessage(annotation, note));
  }
  plan.nginx = nginx.actions;
  const errorService = nginx.actions.errors?.defaultBackend;
  if (errorService !== undefined) {
    const resolved = resolveErrorBackend(namespace, errorService, (ns, n) =>
      resolver.service(ns, n),
    );
    if ('backend' in resolved) plan.errorBackend = resolved.backend;
    else report(resolved.reason, resolved.message);
  }
  if (nginx.actions.auth !== undefined) {
    const resolved = resolveBasicAuth(nginx.actions.auth, namespace, secrets, report);
    plan.basicAuth = resolved.auth;
    if (resolved.secretKey !== undefined) plan.authSecret = resolved.secretKey;
  }
  return plan;
}
