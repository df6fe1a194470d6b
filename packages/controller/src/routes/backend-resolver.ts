/**
 * Resolves Ingress backends to Service ports, and Service ports to endpoints from
 * `discovery.k8s.io/v1` EndpointSlices. Pure: built from listed objects, no client inside.
 */
import type {
  V1EndpointSlice,
  V1IngressBackend,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';
import type { Endpoint, ObjectRef } from '@pier/shared';
import { backendId, canonicalIp } from '@pier/shared';
import { compareStrings } from '../kube/object-age.ts';

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * An Ingress backend that names a Service port. `port` is the Service port it resolved to;
 * absent when the Service or the port is missing, in which case `problem` says which and the
 * backend has no endpoints (the dataplane answers 503 until it appears).
 */
export interface ServiceBackend {
  ok: true;
  /** {@link backendId}(namespace, service, port as the Ingress names it). */
  id: string;
  service: ObjectRef;
  /** The port as the Ingress names it: a number, or a Service port name. */
  servicePort: number | string;
  port?: V1ServicePort;
  problem?: { reason: 'ServiceNotFound' | 'ServicePortNotFound'; message: string };
}

/** An Ingress backend Pier cannot serve at all: the path that names it is dropped. */
export interface RejectedBackend {
  ok: false;
  reason: 'UnsupportedBackend' | 'InvalidRule';
  message: string;
}

export type BackendResolution = ServiceBackend | RejectedBackend;

/** Ranks copies of one address:port across slices: a ready copy beats a terminating one. */
interface Candidate {
  endpoint: Endpoint;
  rank: number;
}

/** Services and their EndpointSlices, indexed once per compile. */
export class BackendResolver {
  readonly #services = new Map<string, V1Service>();
  /** Slices by `namespace/service`, in slice-name order so "first copy wins" is stable. */
  readonly #slices = new Map<string, V1EndpointSlice[]>();
  readonly #endpoints = new Map<string, Endpoint[]>();

  constructor(services: readonly V1Service[], endpointSlices: readonly V1EndpointSlice[]) {
    for (const service of services) {
      const { namespace, name } = service.metadata ?? {};
      if (namespace && name) this.#services.set(`${namespace}/${name}`, service);
    }
    const sorted = [...endpointSlices].sort((a, b) =>
      compareStrings(a.metadata?.name ?? '', b.metadata?.name ?? ''),
    );
    for (const slice of sorted) {
      const namespace = slice.metadata?.namespace;
      const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!namespace || !service) continue;
      const key = `${namespace}/${service}`;
      const list = this.#slices.get(key);
      if (list === undefined) this.#slices.set(key, [slice]);
      else list.push(slice);
    }
  }

  /** The Service, if it exists. */
  service(namespace: string, name: string): V1Service | undefined {
    return this.#services.get(`${namespace}/${name}`);
  }

  /** Whether the Service exists. */
  hasService(namespace: string, name: string): boolean {
    return this.#services.has(`${namespace}/${name}`);
  }

  /**
   * Resolves an Ingress backend in the Ingress's namespace. `resource` backends and
   * ExternalName Services are rejected; a missing Service or port still yields a backend (with
   * `problem`), so its routes keep answering (503) and start working when it appears.
   */
  resolve(namespace: string, backend: V1IngressBackend): BackendResolution {
    return resolveServiceBackend(namespace, backend, (ns, name) =>
      this.#services.get(`${ns}/${name}`),
    );
  }

  /**
   * The endpoints of a Service port, sorted by address then port. The EndpointSlice port
   * whose name equals the Service port's name gives the target port (an unnamed Service port
   * matches an unnamed slice port), so named `targetPort`s resolve per pod.
   *
   * An endpoint is kept when ready (`ready` absent counts as ready), or when it is terminating
   * but still serving (kept for draining). FQDN slices are ignored. Copies of one address:port
   * in several slices are merged; a ready copy wins over a terminating one.
   */
  endpoints(namespace: string, service: string, port: V1ServicePort): Endpoint[] {
    const portName = port.name ?? '';
    const memoKey = `${namespace}/${service}/${portName}`;
    const memo = this.#endpoints.get(memoKey);
    if (memo !== undefined) return [...memo];

    const endpoints = sliceEndpoints(
      this.#slices.get(`${namespace}/${service}`) ?? [],
      namespace,
      port,
    );
    this.#endpoints.set(memoKey, endpoints);
    return [...endpoints];
  }
}

/** Looks a Service up by namespace and name. */
export type ServiceLookup = (namespace: string, name: string) => V1Service | undefined;

/**
 * Resolves an Ingress backend in the Ingress's namespace against the Services `lookup` finds.
 * `resource` backends and ExternalName Services are rejected; a missing Service or port still
 * yields a backend (with `problem`), so its routes keep answering (503) and start working when
 * it appears.
 */
export function resolveServiceBackend(
  namespace: string,
  backend: V1IngressBackend,
  lookup: ServiceLookup,
): BackendResolution {
  if (backend.resource !== undefined) {
    const kind = backend.resource.kind || 'resource';
    return {
      ok: false,
      reason: 'UnsupportedBackend',
      message: `backend ${kind} '${backend.resource.name}' is a resource backend, which Pier does not serve`,
    };
  }
  const name = backend.service?.name;
  if (typeof name !== 'string' || name === '') {
    return { ok: false, reason: 'InvalidRule', message: 'backend names no Service' };
  }
  const { number, name: portName } = backend.service?.port ?? {};
  const hasNumber = number !== undefined && number !== null;
  const hasName = typeof portName === 'string' && portName !== '';
  if (hasNumber === hasName) {
    return {
      ok: false,
      reason: 'InvalidRule',
      message: `backend Service '${name}' must name its port by number or by name (exactly one)`,
    };
  }
  if (hasNumber && !(Number.isInteger(number) && number >= 1 && number <= 65535)) {
    return {
      ok: false,
      reason: 'InvalidRule',
      message: `backend Service '${name}' port ${String(number)} is not 1-65535`,
    };
  }
  const servicePort = hasNumber ? (number as number) : (portName as string);
  const resolved: ServiceBackend = {
    ok: true,
    id: backendId(namespace, name, servicePort),
    service: { namespace, name },
    servicePort,
  };
  const service = lookup(namespace, name);
  if (service === undefined) {
    resolved.problem = {
      reason: 'ServiceNotFound',
      message: `Service ${namespace}/${name} not found; its routes answer 503 until it exists`,
    };
    return resolved;
  }
  if (service.spec?.type === 'ExternalName') {
    return {
      ok: false,
      reason: 'UnsupportedBackend',
      message: `Service ${namespace}/${name} is of type ExternalName, which Pier does not proxy to`,
    };
  }
  // Ingress proxies HTTP over TCP; a UDP or SCTP port of the same number is not it.
  const port = (service.spec?.ports ?? []).find(
    (p) => (p.protocol ?? 'TCP') === 'TCP' && (hasNumber ? p.port === number : p.name === portName),
  );
  if (port === undefined) {
    resolved.problem = {
      reason: 'ServicePortNotFound',
      message: `Service ${namespace}/${name} has no TCP port ${hasNumber ? servicePort : `named '${servicePort}'`}; its routes answer 503 until it does`,
    };
    return resolved;
  }
  resolved.port = port;
  return resolved;
}

/**
 * The endpoints of a Service port from the Service's EndpointSlices, which must be in
 * slice-name order (so "first copy wins" is stable); sorted by address then port. See
 * {@link BackendResolver.endpoints} for the rules.
 */
export function sliceEndpoints(
  slices: readonly V1EndpointSlice[],
  namespace: string,
  port: V1ServicePort,
): Endpoint[] {
  const portName = port.name ?? '';
  const found = new Map<string, Candidate>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const target = slice.ports?.find((p) => (p.name ?? '') === portName)?.port;
    if (target === undefined || !Number.isInteger(target) || target < 1 || target > 65535) {
      continue;
    }
    for (const item of slice.endpoints ?? []) {
      const conditions = item.conditions ?? {};
      const ready = conditions.ready !== false;
      const draining = conditions.serving === true && conditions.terminating === true;
      if (!ready && !draining) continue;
      const rank = ready ? 2 : 1;
      for (const raw of item.addresses ?? []) {
        const address = canonicalIp(raw);
        if (address === undefined) continue;
        const key = `${address}|${target}`;
        const seen = found.get(key);
        if (seen !== undefined && seen.rank >= rank) continue;
        const endpoint: Endpoint = {
          address,
          port: target,
          ready,
          serving: conditions.serving ?? ready,
          terminating: conditions.terminating === true,
        };
        if (item.nodeName) endpoint.nodeName = item.nodeName;
        if (item.zone) endpoint.zone = item.zone;
        if (item.targetRef?.name) {
          endpoint.targetRef = {
            namespace: item.targetRef.namespace || namespace,
            name: item.targetRef.name,
          };
        }
        found.set(key, { endpoint, rank });
      }
    }
  }
  const endpoints = [...found.values()]
    .map((c) => c.endpoint)
    .sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
  return endpoints;
}
