/**
 * What the address controller needs to know about one kind of object that claims addresses
 * (Ingress, Service of type LoadBalancer): how to find it, whether it is Pier's, what it asks
 * for, and how to write its status. One adapter per kind keeps the controller kind-blind.
 */
import type { V1Condition } from '@kubernetes/client-node';
import type { EventSubject, StatusWrite } from '../kube/kube-writer.ts';
import type { ClaimKindName } from './ip-address-pool.ts';
import type { AllocationRequest } from './ip-allocator.ts';

/** What an object asks of the allocator, before the controller adds owner and pools. */
export type ClaimRequest = Omit<AllocationRequest, 'owner' | 'allowedPools'>;

export type ParsedClaim =
  | { ok: true; request: ClaimRequest }
  | { ok: false; code: string; message: string };

/** Read access to a watched resource. */
export interface ObjectSource<T> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
}

export interface ClaimKind<T> {
  readonly kind: ClaimKindName;
  /** Allocator owner of the object named `namespace/name`; distinct across kinds. */
  owner(namespaceName: string): string;
  /** The `namespace/name` of an allocator owner of this kind; undefined for another kind's. */
  namespaceNameOf(owner: string): string | undefined;
  /** The object from the watched cache. */
  get(namespace: string, name: string): T | undefined;
  list(): readonly T[];
  namespaceName(obj: T): string;
  /** undefined when the object is Pier's to serve; otherwise why not. */
  notOursBecause(obj: T): string | undefined;
  /** What the object asks for, or the field that is wrong and why. */
  request(obj: T): ParsedClaim;
  /** The addresses its status shows now. */
  statusAddresses(obj: T): string[];
  /**
   * Its `status.conditions`, for kinds whose status has them (Service), where the controller
   * keeps `pier.dev/AddressAssigned`; absent for Ingress, whose status has no such field.
   */
  conditions?(obj: T): readonly V1Condition[];
  /** Writes the addresses and/or the conditions, in one write. */
  writeStatus(obj: T, write: StatusWrite): Promise<unknown>;
  subject(obj: T): EventSubject;
  /** Whether status waits for the routes to be published (Ingress) or not (Service). */
  readonly waitsForRoutes: boolean;
  /** The metric label of status writes (`ingress-status`, `service-status`). */
  readonly statusWriteKind: string;
  /**
   * Whether an Event on the object names the node that announces its address in L2 mode
   * (Services: few share an address; Ingresses: thousands may, so they do not).
   */
  readonly reportsHolder: boolean;
}

/** The IPs in a `status.loadBalancer` (Ingress and Service have the same shape). */
export function loadBalancerIps(
  status: { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined,
): string[] {
  return (status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip)
    .filter((ip): ip is string => typeof ip === 'string' && ip !== '');
}
