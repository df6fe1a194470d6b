/**
 * Which watch events can change the route table: what of an Ingress, Service or
 * HealthCheckPolicy the compiler reads, as a digest per object. Writing an address or a condition
 * to an object's status changes the object too; that must not cost a compile (it would, once per
 * object of a burst: 10,000 at a first start). Pure, no I/O.
 */
import { hash } from 'node:crypto';
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** The kinds of object whose route-relevant fields are tracked. */
export type RouteInputResource = 'ingress' | 'service' | 'policy';

/** An Ingress, Service or HealthCheckPolicy: its metadata, and for a Service its spec. */
export interface RouteInputObject {
  metadata?: V1ObjectMeta;
  spec?: unknown;
}

/** JSON with every object's keys sorted, so that field order does not matter. */
function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export class RouteInputs {
  /** A SHA-256 of the route-relevant fields, by resource/namespace/name. */
  readonly #digests = new Map<string, string>();

  /**
   * Records `object` after a watch event of `kind` ('add', 'update' or 'delete'); true when
   * what the compiler reads of it differs from what was recorded before (always on a delete).
   */
  changed(resource: RouteInputResource, kind: string, object: RouteInputObject): boolean {
    const key = `${resource}/${object.metadata?.namespace}/${object.metadata?.name}`;
    if (kind === 'delete') {
      this.#digests.delete(key);
      return true;
    }
    // Independent of key order: the API server bumps an Ingress's or a custom resource's
    // generation on every spec change (a Service's it does not: its spec is compared, keys
    // sorted); annotations are compared with sorted keys.
    const annotations = Object.entries(object.metadata?.annotations ?? {}).sort(([a], [b]) =>
      a.localeCompare(b),
    );
    // Kept as a digest: one per Ingress, Service and policy (a Service's sorted spec is long).
    const digest = hash(
      'sha256',
      JSON.stringify([
        resource === 'service' ? sortedJson(object.spec) : (object.metadata?.generation ?? 0),
        annotations,
        new Date(object.metadata?.creationTimestamp ?? 0).getTime(),
      ]),
      'base64',
    );
    if (this.#digests.get(key) === digest) return false;
    this.#digests.set(key, digest);
    return true;
  }
}
