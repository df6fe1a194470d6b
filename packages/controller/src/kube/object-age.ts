/**
 * The order in which claims of Kubernetes objects win: oldest first. Pure.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';

/** Anything with object metadata. */
export interface HasMetadata {
  metadata?: V1ObjectMeta;
}

/** `namespace/name` of an object ('' for a missing part). */
export function namespacedName(object: HasMetadata): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/**
 * Oldest first by `creationTimestamp`, then by namespace, name and uid, so the order is total
 * and independent of the order objects were listed in. A missing or unparsable timestamp counts
 * as the epoch (manifests read in standalone mode have none; they then order by name).
 *
 * Strings compare by code unit, never by locale, so every process orders alike.
 */
export function compareByAge(a: HasMetadata, b: HasMetadata): number {
  return (
    createdMs(a.metadata) - createdMs(b.metadata) ||
    compareStrings(a.metadata?.namespace ?? '', b.metadata?.namespace ?? '') ||
    compareStrings(a.metadata?.name ?? '', b.metadata?.name ?? '') ||
    compareStrings(a.metadata?.uid ?? '', b.metadata?.uid ?? '')
  );
}

/** Code-unit string order (the order of `Array.prototype.sort` without a comparator). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function createdMs(meta: V1ObjectMeta | undefined): number {
  const stamp: unknown = meta?.creationTimestamp;
  if (stamp === undefined || stamp === null) return 0;
  const ms = stamp instanceof Date ? stamp.getTime() : Date.parse(String(stamp));
  return Number.isNaN(ms) ? 0 : ms;
}
