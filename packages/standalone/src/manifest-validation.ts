/**
 * Checks one manifest document the way the API server's schema would before it stores it: the
 * kinds standalone mode reads, their apiVersion, names, and the type and presence of the fields
 * Pier reads. The first mistake is reported with its field path
 * (`spec.rules[0].http.paths[0].pathType`), and with the object once its kind, namespace and
 * name have passed; the document is then refused, as the API server refuses such an update, and
 * `LastGoodObjects` keeps that object's last good version serving. What the schema cannot see
 * (a Service that does not exist, two Ingresses claiming one path) is left to the route
 * compiler, which reports it the same way as in a cluster. Pure.
 */
import { isIP } from 'node:net';
import { parsePoolAddresses } from '@pier/controller';
import { PATH_TYPES, validateIngressHost } from '@pier/shared';

/** The kinds standalone mode reads, with the apiVersion each must have. */
export const MANIFEST_KINDS = Object.freeze({
  Ingress: 'networking.k8s.io/v1',
  Service: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
  Secret: 'v1',
  IPAddressPool: 'pier.dev/v1alpha1',
  HealthCheckPolicy: 'pier.dev/v1alpha1',
} as const);

export type ManifestKind = keyof typeof MANIFEST_KINDS;

/** Kinds without a namespace. */
const CLUSTER_SCOPED: ReadonlySet<ManifestKind> = new Set(['IPAddressPool']);

/** Namespace of a namespaced object that names none, as kubectl assumes. */
export const DEFAULT_NAMESPACE = 'default';

/**
 * Standalone's own annotation on a `kubernetes.io/tls` Secret: fill `tls.crt`/`tls.key` at
 * start with a self-signed certificate for the host named in the value, so the example ships no
 * private key.
 */
export const SELF_SIGNED_ANNOTATION = 'pier.dev/standalone-self-signed';

/** A checked document: which object it is, and the object itself (namespace filled in). */
export interface ManifestObject {
  kind: ManifestKind;
  /** '' for cluster-scoped kinds. */
  namespace: string;
  name: string;
  /** The document as parsed (a plain object), with `metadata.namespace` set when namespaced. */
  object: Record<string, unknown>;
}

/** Why a document was skipped. `object` is absent while the document's identity is unknown. */
export interface DocumentProblem {
  /** `Ingress default/shop`, or `IPAddressPool demo` for cluster-scoped kinds. */
  object?: string;
  field: string;
  message: string;
}

export type DocumentCheck =
  | { ok: true; object: ManifestObject }
  | { ok: false; problem: DocumentProblem };

/** `Kind namespace/name`, or `Kind name` without a namespace. */
export function objectLabel(kind: string, namespace: string, name: string): string {
  return namespace === '' ? `${kind} ${name}` : `${kind} ${namespace}/${name}`;
}

/** The first mistake found, thrown inside this module only. */
class FieldError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

type Json = Record<string, unknown>;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(field: string, message: string): never {
  throw new FieldError(field, message);
}

/** `value` at `field` as an object; absent (undefined/null) gives undefined unless required. */
function object(value: unknown, field: string, required = false): Json | undefined {
  if (value === undefined || value === null)
    return required ? fail(field, 'is required') : undefined;
  return isObject(value) ? value : fail(field, 'must be a mapping');
}

function array(value: unknown, field: string, required = false): unknown[] {
  if (value === undefined || value === null) return required ? fail(field, 'is required') : [];
  return Array.isArray(value) ? value : fail(field, 'must be a list');
}

function string(value: unknown, field: string, required = false): string | undefined {
  if (value === undefined || value === null)
    return required ? fail(field, 'is required') : undefined;
  return typeof value === 'string' ? value : fail(field, 'must be a string');
}

function boolean(value: unknown, field: string): void {
  if (value !== undefined && value !== null && typeof value !== 'boolean') {
    fail(field, 'must be true or false');
  }
}

function port(value: unknown, field: string, required = false): void {
  if (value === undefined || value === null) {
    if (required) fail(field, 'is required');
    return;
  }
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) {
    fail(field, 'must be a port number 1-65535');
  }
}

function integer(value: unknown, field: string): void {
  if (value !== undefined && value !== null && !Number.isInteger(value)) {
    fail(field, 'must be a whole number');
  }
}

function oneOf(value: unknown, field: string, allowed: readonly string[], required = false): void {
  if ((value === undefined || value === null) && !required) return;
  if (typeof value !== 'string' || !allowed.includes(value)) {
    const list =
      allowed.length === 2
        ? `${allowed[0]} or ${allowed[1]}`
        : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
    fail(field, `must be ${list}`);
  }
}

function checkIngressBackend(value: unknown, at: string): void {
  const backend = object(value, at, true) as Json;
  if (backend.resource !== undefined) fail(`${at}.resource`, 'resource backends are not supported');
  const service = object(backend.service, `${at}.service`, true) as Json;
  string(service.name, `${at}.service.name`, true);
  const p = object(service.port, `${at}.service.port`, true) as Json;
  const hasNumber = p.number !== undefined && p.number !== null;
  const hasName = p.name !== undefined && p.name !== null;
  if (hasNumber === hasName) fail(`${at}.service.port`, 'must have exactly one of number and name');
  if (hasNumber) port(p.number, `${at}.service.port.number`);
  else string(p.name, `${at}.service.port.name`);
}

function checkIngress(doc: Json): void {
  const spec = object(doc.spec, 'spec', true) as Json;
  string(spec.ingressClassName, 'spec.ingressClassName');
  if (spec.defaultBackend !== undefined)
    checkIngressBackend(spec.defaultBackend, 'spec.defaultBackend');
  for (const [i, raw] of array(spec.rules, 'spec.rules').entries()) {
    const at = `spec.rules[${i}]`;
    const rule = object(raw, at, true) as Json;
    const host = string(rule.host, `${at}.host`);
    const hostProblem = host === undefined ? undefined : validateIngressHost(host);
    if (hostProblem !== undefined) fail(`${at}.host`, hostProblem);
    const http = object(rule.http, `${at}.http`);
    if (http === undefined) continue;
    for (const [j, rawPath] of array(http.paths, `${at}.http.paths`, true).entries()) {
      const pat = `${at}.http.paths[${j}]`;
      const path = object(rawPath, pat, true) as Json;
      oneOf(path.pathType, `${pat}.pathType`, PATH_TYPES, true);
      const text = string(path.path, `${pat}.path`, path.pathType !== 'ImplementationSpecific');
      if (text !== undefined && text !== '' && !text.startsWith('/')) {
        fail(`${pat}.path`, "must be an absolute path (start with '/')");
      }
      checkIngressBackend(path.backend, `${pat}.backend`);
    }
  }
  for (const [i, raw] of array(spec.tls, 'spec.tls').entries()) {
    const tls = object(raw, `spec.tls[${i}]`, true) as Json;
    for (const [j, host] of array(tls.hosts, `spec.tls[${i}].hosts`).entries()) {
      string(host, `spec.tls[${i}].hosts[${j}]`, true);
    }
    string(tls.secretName, `spec.tls[${i}].secretName`);
  }
}

function checkService(doc: Json): void {
  const spec = object(doc.spec, 'spec', true) as Json;
  oneOf(spec.type, 'spec.type', ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']);
  for (const [i, raw] of array(spec.ports, 'spec.ports', spec.type !== 'ExternalName').entries()) {
    const p = object(raw, `spec.ports[${i}]`, true) as Json;
    string(p.name, `spec.ports[${i}].name`);
    port(p.port, `spec.ports[${i}].port`, true);
    oneOf(p.protocol, `spec.ports[${i}].protocol`, ['TCP', 'UDP', 'SCTP']);
    const target = p.targetPort;
    if (typeof target === 'number') port(target, `spec.ports[${i}].targetPort`);
    else string(target, `spec.ports[${i}].targetPort`);
  }
}

function checkEndpointSlice(doc: Json): void {
  const labels = object(object(doc.metadata, 'metadata')?.labels, 'metadata.labels');
  string(
    labels?.['kubernetes.io/service-name'],
    'metadata.labels["kubernetes.io/service-name"]',
    true,
  );
  oneOf(doc.addressType, 'addressType', ['IPv4', 'IPv6', 'FQDN'], true);
  const family = doc.addressType === 'IPv4' ? 4 : doc.addressType === 'IPv6' ? 6 : 0;
  for (const [i, raw] of array(doc.endpoints, 'endpoints').entries()) {
    const endpoint = object(raw, `endpoints[${i}]`, true) as Json;
    const addresses = array(endpoint.addresses, `endpoints[${i}].addresses`, true);
    if (addresses.length === 0) fail(`endpoints[${i}].addresses`, 'must not be empty');
    for (const [j, address] of addresses.entries()) {
      const text = string(address, `endpoints[${i}].addresses[${j}]`, true) as string;
      if (family !== 0 && isIP(text) !== family) {
        fail(`endpoints[${i}].addresses[${j}]`, `'${text}' is not an ${doc.addressType} address`);
      }
    }
    const conditions = object(endpoint.conditions, `endpoints[${i}].conditions`);
    for (const c of ['ready', 'serving', 'terminating']) {
      boolean(conditions?.[c], `endpoints[${i}].conditions.${c}`);
    }
  }
  for (const [i, raw] of array(doc.ports, 'ports').entries()) {
    const p = object(raw, `ports[${i}]`, true) as Json;
    string(p.name, `ports[${i}].name`);
    port(p.port, `ports[${i}].port`);
    oneOf(p.protocol, `ports[${i}].protocol`, ['TCP', 'UDP', 'SCTP']);
  }
}

function checkSecret(doc: Json): void {
  string(doc.type, 'type');
  const data = object(doc.data, 'data');
  for (const [key, value] of Object.entries(data ?? {})) {
    const text = string(value, `data["${key}"]`, true) as string;
    if (!BASE64.test(text.replace(/\s/g, ''))) fail(`data["${key}"]`, 'must be base64');
  }
  for (const [key, value] of Object.entries(object(doc.stringData, 'stringData') ?? {})) {
    string(value, `stringData["${key}"]`, true);
  }
  const annotations = object(object(doc.metadata, 'metadata')?.annotations, 'metadata.annotations');
  const selfSigned = annotations?.[SELF_SIGNED_ANNOTATION];
  if (selfSigned !== undefined) {
    const field = `metadata.annotations["${SELF_SIGNED_ANNOTATION}"]`;
    const host = string(selfSigned, field, true) as string;
    const problem = host === '' ? 'must name a host' : validateIngressHost(host);
    if (problem !== undefined) fail(field, problem);
    if (host.startsWith('*.')) fail(field, 'must not be a wildcard');
  }
}

function checkPool(doc: Json): void {
  const spec = object(doc.spec, 'spec', true) as Json;
  const entries = array(spec.addresses, 'spec.addresses', true);
  if (entries.length === 0) fail('spec.addresses', 'must not be empty');
  for (const [i, entry] of entries.entries()) {
    const text = string(entry, `spec.addresses[${i}]`, true) as string;
    const problem = parsePoolAddresses([text]).errors[0];
    if (problem !== undefined) fail(`spec.addresses[${i}]`, problem);
  }
  boolean(spec.autoAssign, 'spec.autoAssign');
  boolean(spec.avoidBuggyIPs, 'spec.avoidBuggyIPs');
}

function checkPolicy(doc: Json): void {
  const spec = object(doc.spec, 'spec', true) as Json;
  const ref = object(spec.targetRef, 'spec.targetRef', true) as Json;
  string(ref.name, 'spec.targetRef.name', true);
  string(ref.kind, 'spec.targetRef.kind');
  string(ref.group, 'spec.targetRef.group');
  port(spec.port, 'spec.port');
  const http = object(spec.http, 'spec.http');
  for (const f of ['path', 'host', 'expectedStatuses']) string(http?.[f], `spec.http.${f}`);
  string(spec.interval, 'spec.interval');
  string(spec.timeout, 'spec.timeout');
  integer(spec.healthyThreshold, 'spec.healthyThreshold');
  integer(spec.unhealthyThreshold, 'spec.unhealthyThreshold');
  const passive = object(spec.passive, 'spec.passive');
  integer(passive?.consecutiveFailures, 'spec.passive.consecutiveFailures');
  string(passive?.ejectionTime, 'spec.passive.ejectionTime');
  integer(passive?.maxEjectionPercent, 'spec.passive.maxEjectionPercent');
}

const CHECKS: Record<ManifestKind, (doc: Json) => void> = {
  Ingress: checkIngress,
  Service: checkService,
  EndpointSlice: checkEndpointSlice,
  Secret: checkSecret,
  IPAddressPool: checkPool,
  HealthCheckPolicy: checkPolicy,
};

/** Checks one parsed YAML document; see the module comment. */
export function checkManifestDocument(doc: unknown): DocumentCheck {
  let label: string | undefined;
  try {
    if (!isObject(doc)) fail('', 'a manifest must be a mapping with apiVersion, kind and metadata');
    const kind = string(doc.kind, 'kind', true) as string;
    if (!Object.hasOwn(MANIFEST_KINDS, kind)) {
      fail('kind', `standalone mode reads ${Object.keys(MANIFEST_KINDS).join(', ')}; not ${kind}`);
    }
    const known = kind as ManifestKind;
    const apiVersion = string(doc.apiVersion, 'apiVersion', true);
    if (apiVersion !== MANIFEST_KINDS[known]) {
      fail('apiVersion', `must be ${MANIFEST_KINDS[known]} for a ${kind}`);
    }
    const metadata = object(doc.metadata, 'metadata', true) as Json;
    const name = string(metadata.name, 'metadata.name', true) as string;
    if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      fail('metadata.name', 'must be lowercase letters, digits, "-" and "." (a DNS subdomain)');
    }
    let namespace = '';
    if (!CLUSTER_SCOPED.has(known)) {
      namespace = string(metadata.namespace, 'metadata.namespace') ?? DEFAULT_NAMESPACE;
      if (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
        fail('metadata.namespace', 'must be lowercase letters, digits and "-" (a DNS label)');
      }
    }
    label = objectLabel(kind, namespace, name);
    for (const f of ['labels', 'annotations']) {
      const map = object(metadata[f], `metadata.${f}`);
      for (const [key, value] of Object.entries(map ?? {}))
        string(value, `metadata.${f}["${key}"]`, true);
    }
    CHECKS[known](doc);
    const object_ = namespace === '' ? doc : { ...doc, metadata: { ...metadata, namespace } };
    return { ok: true, object: { kind: known, namespace, name, object: object_ } };
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    const problem: DocumentProblem = { field: err.field, message: err.message };
    if (label !== undefined) problem.object = label;
    return { ok: false, problem };
  }
}
