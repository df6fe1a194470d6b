/**
 * What the watched caches keep of each object: only the fields some part of the controller
 * reads. A watched object carries much that Pier never looks at (`metadata.managedFields`,
 * kubectl's last-applied copy of the whole object, a Node's image list, the Service fields only
 * kube-proxy uses); at 10,000 Ingresses, Services and EndpointSlices that is most of the
 * controller's memory. Pure functions: each returns a new object and leaves its input as it was.
 *
 * A trimmed object is read-only state for the controller and must never be sent back to the
 * API server whole: a replace would erase every field dropped here. The writers (kube-writer.ts)
 * send merge patches of the fields Pier sets, or replace the status subresource of custom
 * resources, which ignores everything but `status`.
 *
 * When a reader starts using a field that is dropped here, keep it here too; object-trim.test.ts
 * lists, per resource, the fields that must survive.
 */
import type {
  KubernetesObject,
  V1Endpoint,
  V1EndpointSlice,
  V1Ingress,
  V1IngressClass,
  V1Namespace,
  V1Node,
  V1ObjectMeta,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';

/** kubectl's copy of the last applied manifest: as large as the object, read by kubectl only. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The label that ties an EndpointSlice to its Service (the only label of a slice Pier reads). */
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The Secret entries of a TLS certificate (tls-resolver.ts). */
const TLS_SECRET_KEYS = ['tls.crt', 'tls.key'] as const;

/** Copies the listed keys of `from` that are set; unset ones stay absent (not `undefined`). */
function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) {
    if (from[key] !== undefined) out[key] = from[key];
  }
  return out;
}

/** The identity every reader, the informer and the writers' preconditions need. */
const IDENTITY_KEYS = [
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
] as const satisfies ReadonlyArray<keyof V1ObjectMeta>;

interface MetaOptions {
  /** Keep the labels (all of them, or only these). */
  labels?: true | readonly string[];
  /** Keep the annotations, except kubectl's last-applied copy. */
  annotations?: true;
}

/**
 * The identity of `meta`, and its labels and annotations when asked. Always dropped:
 * `managedFields`, `ownerReferences`, `finalizers`, `generateName`, `selfLink` and kubectl's
 * last-applied annotation.
 */
export function trimMetadata(
  meta: V1ObjectMeta | undefined,
  options: MetaOptions = {},
): V1ObjectMeta {
  if (meta === undefined) return {};
  const out: V1ObjectMeta = pick(meta, IDENTITY_KEYS);
  if (options.labels !== undefined && meta.labels !== undefined) {
    const labels =
      options.labels === true ? meta.labels : pick(meta.labels, options.labels as string[]);
    if (Object.keys(labels).length > 0) out.labels = labels;
  }
  if (options.annotations && meta.annotations !== undefined) {
    const { [LAST_APPLIED_ANNOTATION]: _lastApplied, ...annotations } = meta.annotations;
    if (Object.keys(annotations).length > 0) out.annotations = annotations;
  }
  return out;
}

/** apiVersion and kind, present on watch events and absent on list items. */
function typeMeta(obj: KubernetesObject): KubernetesObject {
  return pick(obj, ['apiVersion', 'kind']);
}

/**
 * Ingress: the whole spec (the compiler reads all of it), labels, annotations (Pier's,
 * ingress-nginx's, the legacy class) and `status.loadBalancer`, from which addresses are
 * restored.
 */
export function trimIngress(ingress: V1Ingress): V1Ingress {
  const out: V1Ingress = {
    ...typeMeta(ingress),
    metadata: trimMetadata(ingress.metadata, { labels: true, annotations: true }),
  };
  if (ingress.spec !== undefined) out.spec = ingress.spec;
  if (ingress.status?.loadBalancer !== undefined) {
    out.status = { loadBalancer: ingress.status.loadBalancer };
  }
  return out;
}

/** The Service spec fields Pier reads (service-class, service-address-request, backend-resolver, local-endpoints). */
const SERVICE_SPEC_KEYS = [
  'type',
  'loadBalancerClass',
  'loadBalancerIP',
  'ipFamilies',
  'ipFamilyPolicy',
  'externalTrafficPolicy',
  'selector',
  'ports',
] as const satisfies ReadonlyArray<keyof NonNullable<V1Service['spec']>>;

/**
 * Service: what decides whether it is Pier's and what it asks for (type, class, addresses,
 * families, traffic policy, selector and ports for address sharing), its ports by name, number
 * and protocol, labels, annotations, and its whole status (`loadBalancer`, and the conditions,
 * which a status write keeps).
 */
export function trimService(service: V1Service): V1Service {
  const out: V1Service = {
    ...typeMeta(service),
    metadata: trimMetadata(service.metadata, { labels: true, annotations: true }),
  };
  if (service.spec !== undefined) {
    const spec = pick(service.spec, SERVICE_SPEC_KEYS);
    if (spec.ports !== undefined) {
      spec.ports = spec.ports.map((p) => pick(p, ['name', 'port', 'protocol']));
    }
    out.spec = spec;
  }
  if (service.status !== undefined)
    out.status = pick(service.status, ['loadBalancer', 'conditions']);
  return out;
}

/**
 * EndpointSlice: its Service (the `kubernetes.io/service-name` label), address type, ports,
 * and per endpoint the addresses, conditions, node, zone and target. No annotations.
 */
export function trimEndpointSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const out: V1EndpointSlice = {
    ...typeMeta(slice),
    metadata: trimMetadata(slice.metadata, { labels: [SERVICE_NAME_LABEL] }),
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map((e) => {
      const endpoint: V1Endpoint = pick(e, ['addresses', 'conditions', 'nodeName', 'zone']);
      if (e.targetRef !== undefined) {
        endpoint.targetRef = pick(e.targetRef, ['kind', 'namespace', 'name']);
      }
      return endpoint;
    }),
  };
  if (slice.ports != null)
    out.ports = slice.ports.map((p) => pick(p, ['name', 'port', 'protocol']));
  return out;
}

/** Secret: its type and the certificate and key entries; no labels, annotations or other keys. */
export function trimSecret(secret: V1Secret): V1Secret {
  const out: V1Secret = { ...typeMeta(secret), metadata: trimMetadata(secret.metadata) };
  if (secret.type !== undefined) out.type = secret.type;
  if (secret.data !== undefined) out.data = pick(secret.data, TLS_SECRET_KEYS);
  if (secret.stringData !== undefined) out.stringData = pick(secret.stringData, TLS_SECRET_KEYS);
  return out;
}

/** The htpasswd file of an `auth-file` Secret (ingress/auth-secret.ts). */
const AUTH_FILE_KEY = 'auth';
/** The longest value of an `auth-map` entry kept: a password hash is far shorter. */
const MAX_HASH_BYTES = 512;

/**
 * Secret of type Opaque, as basic authentication reads it (ingress/auth-secret.ts): key `auth`
 * when its content has a `:` (an htpasswd line has one), and of the other keys (an `auth-map`'s
 * users) the name, with the value only when it looks like a password hash (starts with `$` or
 * `{`, at most 512 bytes); other values are kept as ''. So the cache of every Opaque Secret in
 * the cluster holds key names and hashes, never application secrets.
 */
export function trimAuthSecret(secret: V1Secret): V1Secret {
  const out: V1Secret = { ...typeMeta(secret), metadata: trimMetadata(secret.metadata) };
  if (secret.type !== undefined) out.type = secret.type;
  if (secret.data === undefined || secret.data === null) return out;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data)) {
    const bytes = Buffer.from(value ?? '', 'base64');
    if (key === AUTH_FILE_KEY) {
      if (bytes.includes(0x3a)) data[key] = value;
      continue;
    }
    const first = bytes[0];
    const hashLike = bytes.length <= MAX_HASH_BYTES && (first === 0x24 || first === 0x7b);
    data[key] = hashLike ? value : '';
  }
  out.data = data;
  return out;
}

/** Node: its name and labels (which edge nodes may announce an L2 pool); no spec or status. */
export function trimNode(node: V1Node): V1Node {
  return { ...typeMeta(node), metadata: trimMetadata(node.metadata, { labels: true }) };
}

/** Namespace: its name and labels (pools' namespace selectors). */
export function trimNamespace(namespace: V1Namespace): V1Namespace {
  return { ...typeMeta(namespace), metadata: trimMetadata(namespace.metadata, { labels: true }) };
}

/** IngressClass: its spec (controller, parameters) and annotations (the default-class mark). */
export function trimIngressClass(cls: V1IngressClass): V1IngressClass {
  const out: V1IngressClass = {
    ...typeMeta(cls),
    metadata: trimMetadata(cls.metadata, { labels: true, annotations: true }),
  };
  if (cls.spec !== undefined) out.spec = cls.spec;
  return out;
}

/**
 * Pier's own resources (IPAddressPool, HealthCheckPolicy): spec and status whole, the metadata
 * trimmed. Their status is replaced through the status subresource, which ignores all but
 * `status`, so a trimmed metadata is never written.
 */
export function trimCustomObject<T extends KubernetesObject & { spec?: unknown; status?: unknown }>(
  obj: T,
): T {
  const out = {
    ...obj,
    metadata: trimMetadata(obj.metadata, { labels: true, annotations: true }),
  };
  return out;
}
