/**
 * Which Ingresses are Pier's: the IngressClass rules of the Kubernetes
 * documentation. Pure: takes the objects, returns the verdict.
 */
import type { V1Ingress, V1IngressClass } from '@kubernetes/client-node';
import { NGINX_DIALECT, type NginxDialect, PIER_DIALECT } from './nginx-annotations.ts';

/** `spec.controller` of the IngressClasses Pier serves. */
export const PIER_CONTROLLER_NAME = 'pier.dev/ingress-controller';
/** Marks the cluster's default IngressClass. */
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The deprecated class annotation, still honoured when `ingressClassName` is unset. */
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export type ClassVerdict =
  | { ours: true; className: string; via: 'ingressClassName' | 'annotation' | 'default' }
  | { ours: false; reason: string };

/** The names of the IngressClasses whose controller is Pier's. */
export function pierClassNames(classes: readonly V1IngressClass[]): Set<string> {
  return new Set(
    classes
      .filter((c) => c.spec?.controller === PIER_CONTROLLER_NAME && c.metadata?.name)
      .map((c) => c.metadata?.name as string),
  );
}

/** No compatibility classes: `--ingress-class-compat` unset. */
export const NO_COMPAT_CLASSES: ReadonlySet<string> = new Set();

/**
 * How Pier serves `ingress`: with ingress-nginx's defaults when the class that makes it Pier's
 * is one of the `compat` classes and not an IngressClass of Pier's own.
 */
export function ingressDialect(
  ingress: V1Ingress,
  classes: readonly V1IngressClass[],
  compat: ReadonlySet<string>,
): NginxDialect {
  if (compat.size === 0) return PIER_DIALECT;
  const verdict = classifyIngress(ingress, classes, compat);
  const nginxClass =
    verdict.ours &&
    compat.has(verdict.className) &&
    !pierClassNames(classes).has(verdict.className);
  return nginxClass ? NGINX_DIALECT : PIER_DIALECT;
}

/**
 * Decides whether Pier serves `ingress`:
 * - `spec.ingressClassName` names a class whose controller is Pier's;
 * - else the deprecated `kubernetes.io/ingress.class` annotation names one;
 * - else (class-less) a Pier class is marked as the cluster default.
 *
 * A class named in `compat` (`--ingress-class-compat`) counts as Pier's, whatever its
 * IngressClass object says or whether there is one: clusters whose ingress-nginx predates
 * IngressClass objects name it only in the deprecated annotation.
 */
export function classifyIngress(
  ingress: V1Ingress,
  classes: readonly V1IngressClass[],
  compat: ReadonlySet<string> = NO_COMPAT_CLASSES,
): ClassVerdict {
  const ours = pierClassNames(classes);
  for (const name of compat) ours.add(name);
  const named = ingress.spec?.ingressClassName;
  if (named) {
    return ours.has(named)
      ? { ours: true, className: named, via: 'ingressClassName' }
      : { ours: false, reason: `ingressClassName ${named} is not a Pier class` };
  }
  const legacy = ingress.metadata?.annotations?.[LEGACY_CLASS_ANNOTATION];
  if (legacy) {
    return ours.has(legacy)
      ? { ours: true, className: legacy, via: 'annotation' }
      : {
          ours: false,
          reason: `annotation ${LEGACY_CLASS_ANNOTATION}=${legacy} is not a Pier class`,
        };
  }
  const defaults = classes
    .filter((c) => c.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true')
    .map((c) => c.metadata?.name as string)
    .sort();
  const pierDefault = defaults.find((name) => ours.has(name));
  if (pierDefault === undefined)
    return { ours: false, reason: 'no class, and no Pier class is the default' };
  return { ours: true, className: pierDefault, via: 'default' };
}
