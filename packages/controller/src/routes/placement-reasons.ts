/**
 * The Event reasons of placing Ingresses on a virtual host, and how their messages name hosts
 * and owners. Stable: the reasons are documented for users (docs/operations.md).
 */

/** An older Ingress already serves the host and path (or, among canaries, already joined it). */
export const REASON_ROUTE_CONFLICT = 'RouteConflict';
export const REASON_DEFAULT_BACKEND_CONFLICT = 'DefaultBackendConflict';
export const REASON_TLS_CONFLICT = 'TLSConflict';
/** Two Ingresses on one host ask for different values of a host-wide annotation. */
export const REASON_ANNOTATION_CONFLICT = 'AnnotationConflict';
/** A canary Ingress's path has no main Ingress route to join: the canary is not used. */
export const REASON_CANARY_WITHOUT_MAIN = 'CanaryWithoutMain';

/** A host as messages name it. */
export function hostText(host: string): string {
  return host === '' ? 'any host' : `host '${host}'`;
}

/** The Ingress `owner` as the message to Ingress `self` names it. */
export function ownerText(owner: string, self: string): string {
  return owner === self ? 'an earlier entry of this Ingress' : `the older Ingress ${owner}`;
}
