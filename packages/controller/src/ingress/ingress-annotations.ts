/**
 * Pier's Ingress annotations, parsed and checked. Pure.
 */
import { isIP } from 'node:net';
import type { V1Ingress } from '@kubernetes/client-node';
import { DEFAULT_SHARING_KEY } from '../addresses/ip-allocator.ts';

export const ADDRESS_POOL_ANNOTATION = 'pier.dev/address-pool';
export const LOAD_BALANCER_IPS_ANNOTATION = 'pier.dev/load-balancer-ips';
export const SHARING_KEY_ANNOTATION = 'pier.dev/ip-sharing-key';

export interface AddressRequest {
  /** Ingresses with the same key share an address. */
  key: string;
  pool?: string;
  requested?: string[];
}

export type ParsedAnnotations =
  | { ok: true; request: AddressRequest }
  | { ok: false; annotation: string; message: string };

const KEY_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** Reads the address annotations of `ingress`; a bad one is named in the result. */
export function parseAddressAnnotations(ingress: V1Ingress): ParsedAnnotations {
  const annotations = ingress.metadata?.annotations ?? {};
  const request: AddressRequest = { key: DEFAULT_SHARING_KEY };

  const key = annotations[SHARING_KEY_ANNOTATION]?.trim();
  if (key !== undefined && key !== '') {
    if (!KEY_PATTERN.test(key)) {
      return {
        ok: false,
        annotation: SHARING_KEY_ANNOTATION,
        message: `"${key}" must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
      };
    }
    request.key = key;
  }

  const pool = annotations[ADDRESS_POOL_ANNOTATION]?.trim();
  if (pool !== undefined && pool !== '') request.pool = pool;

  const ips = annotations[LOAD_BALANCER_IPS_ANNOTATION];
  if (ips !== undefined && ips.trim() !== '') {
    const list = ips
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const bad = list.find((ip) => isIP(ip) === 0);
    if (bad !== undefined) {
      return {
        ok: false,
        annotation: LOAD_BALANCER_IPS_ANNOTATION,
        message: `"${bad}" is not an IP address`,
      };
    }
    if (new Set(list).size !== list.length) {
      return {
        ok: false,
        annotation: LOAD_BALANCER_IPS_ANNOTATION,
        message: 'lists an address twice',
      };
    }
    const families = list.map((ip) => isIP(ip));
    if (list.length > 2 || (list.length === 2 && families[0] === families[1])) {
      return {
        ok: false,
        annotation: LOAD_BALANCER_IPS_ANNOTATION,
        message: 'takes one address, or one IPv4 and one IPv6 address',
      };
    }
    request.requested = list;
  }
  return { ok: true, request };
}
