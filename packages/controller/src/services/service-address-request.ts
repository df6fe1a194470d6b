/**
 * What a Service of type LoadBalancer asks of the allocator: the same annotations as an
 * Ingress (`pier.dev/address-pool`, `pier.dev/load-balancer-ips`, `pier.dev/ip-sharing-key`),
 * MetalLB's (`metallb.io/address-pool`, `/loadBalancerIPs`, `/allow-shared-ip`, also under the old
 * prefix `metallb.universe.tf/`) and
 * `spec.loadBalancerIP`, so that a MetalLB user moves unchanged; its families; and the terms
 * under which it shares an address. Pure.
 */
import type { V1Service } from '@kubernetes/client-node';
import type { ParsedClaim } from '../addresses/claim-kind.ts';
import type { IpFamily } from '../addresses/ip-address.ts';
import {
  ADDRESS_POOL_ANNOTATION,
  LOAD_BALANCER_IPS_ANNOTATION,
  parseAddressAnnotations,
  SHARING_KEY_ANNOTATION,
} from '../ingress/ingress-annotations.ts';

/** MetalLB's annotations, under its current prefix (`metallb.io/`, since 0.14.9) and the old one. */
export const METALLB_ADDRESS_POOL = 'metallb.io/address-pool';
export const METALLB_LOAD_BALANCER_IPS = 'metallb.io/loadBalancerIPs';
export const METALLB_ALLOW_SHARED_IP = 'metallb.io/allow-shared-ip';
const OLD_METALLB_PREFIX = 'metallb.universe.tf/';

function withOldPrefix(annotation: string): string {
  return OLD_METALLB_PREFIX + annotation.slice(annotation.indexOf('/') + 1);
}

/** Each of Pier's annotations with the MetalLB ones that mean the same, in order of precedence. */
const ALIASES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ADDRESS_POOL_ANNOTATION,
  LOAD_BALANCER_IPS_ANNOTATION,
  SHARING_KEY_ANNOTATION,
].map((pier, i) => {
  const metallb =
    [METALLB_ADDRESS_POOL, METALLB_LOAD_BALANCER_IPS, METALLB_ALLOW_SHARED_IP][i] ?? '';
  return [pier, [metallb, withOldPrefix(metallb)]] as const;
});

/** Sharing keys of Services live apart from Ingresses' (they never share with an Ingress). */
const SHARED_KEY_PREFIX = 'service-key:';
/** A Service without a sharing key shares with nobody. */
const OWN_KEY_PREFIX = 'service:';

function family(name: string): IpFamily | undefined {
  return name === 'IPv4' ? 4 : name === 'IPv6' ? 6 : undefined;
}

/** Reads what `service` asks for; a bad annotation or field is named in the result. */
export function parseServiceRequest(service: V1Service): ParsedClaim {
  const annotations = service.metadata?.annotations ?? {};
  const merged: Record<string, string> = {};
  /** Which annotation the user wrote, for the error message. */
  const source = new Map<string, string>();
  for (const [pier, metallb] of ALIASES) {
    const given = [pier, ...metallb]
      .map((name) => ({ name, value: annotations[name]?.trim() ?? '' }))
      .filter((a) => a.value !== '');
    const first = given[0];
    if (first === undefined) continue;
    const other = given.find((a) => a.value !== first.value);
    if (other !== undefined) {
      return {
        ok: false,
        code: 'PIER_INVALID_ANNOTATION',
        message: `annotation ${first.name}: says "${first.value}" but ${other.name} says "${other.value}"; set one`,
      };
    }
    merged[pier] = first.value;
    source.set(pier, first.name);
  }
  const legacy = service.spec?.loadBalancerIP?.trim();
  if (legacy) {
    const ips = merged[LOAD_BALANCER_IPS_ANNOTATION];
    if (
      ips !== undefined &&
      ips
        .split(',')
        .map((s) => s.trim())
        .join(',') !== legacy
    ) {
      return {
        ok: false,
        code: 'PIER_INVALID_ANNOTATION',
        message: `spec.loadBalancerIP (${legacy}) and annotation ${source.get(LOAD_BALANCER_IPS_ANNOTATION)} (${ips}) disagree; set one`,
      };
    }
    merged[LOAD_BALANCER_IPS_ANNOTATION] = legacy;
    if (!source.has(LOAD_BALANCER_IPS_ANNOTATION)) {
      source.set(LOAD_BALANCER_IPS_ANNOTATION, 'spec.loadBalancerIP');
    }
  }
  const parsed = parseAddressAnnotations({ metadata: { annotations: merged } });
  if (!parsed.ok) {
    const named = source.get(parsed.annotation) ?? parsed.annotation;
    const what = named.startsWith('spec.') ? named : `annotation ${named}`;
    return { ok: false, code: 'PIER_INVALID_ANNOTATION', message: `${what}: ${parsed.message}` };
  }
  const namespaceName = `${service.metadata?.namespace ?? ''}/${service.metadata?.name ?? ''}`;
  const sharedKey = merged[SHARING_KEY_ANNOTATION];
  const families = (service.spec?.ipFamilies ?? [])
    .map(family)
    .filter((f): f is IpFamily => f !== undefined);
  const policy = service.spec?.ipFamilyPolicy ?? 'SingleStack';
  const required =
    families.length === 0
      ? undefined
      : policy === 'RequireDualStack'
        ? families
        : families.slice(0, 1);
  const optional =
    policy === 'PreferDualStack'
      ? ([4, 6] as IpFamily[]).filter((f) => !(required ?? []).includes(f))
      : undefined;
  const selector = Object.entries(service.spec?.selector ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return {
    ok: true,
    request: {
      key: sharedKey === undefined ? OWN_KEY_PREFIX + namespaceName : SHARED_KEY_PREFIX + sharedKey,
      pool: parsed.request.pool,
      requested: parsed.request.requested,
      families: required,
      optionalFamilies: optional,
      sharing: {
        ports: (service.spec?.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${p.port}`).sort(),
        trafficPolicy: service.spec?.externalTrafficPolicy ?? 'Cluster',
        selector: JSON.stringify(selector),
      },
    },
  };
}
