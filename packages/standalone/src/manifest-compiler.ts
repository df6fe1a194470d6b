/**
 * What the controller does in a cluster, for a directory of manifests: give each Ingress an
 * address from the IPAddressPools (the controller's own `IpAllocator`, so addresses are stable
 * across reloads and follow the same annotations), then compile everything into a route table
 * with the controller's own route compiler. Problems of either become lines naming the file and
 * the object, as Events would in a cluster.
 *
 * Scope: standalone listens on localhost, not on the pool addresses, so every served Ingress is
 * compiled for the address `'*'` (every listener address). The address each got from its pool is
 * what `kubectl get ingress` would show, and is reported, but it does not select a listener.
 * IngressClass: standalone behaves like a cluster with Pier's shipped class `pier`
 * (deploy/ingressclass.yaml) as the default class, so class-less Ingresses and those of class
 * `pier` are served, and an Ingress of another class is reported and left alone.
 */
import type {
  V1EndpointSlice,
  V1Ingress,
  V1IngressClass,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import {
  classifyIngress,
  compileRoutes,
  DEFAULT_CLASS_ANNOTATION,
  type HealthCheckPolicy,
  type IPAddressPool,
  IpAllocator,
  KeySealer,
  PIER_CONTROLLER_NAME,
  type PoolSpec,
  parseAddressAnnotations,
  toPoolSpec,
} from '@pier/controller';
import { DEFAULT_HEALTH_CHECK, type KeyRing, type RouteTable } from '@pier/shared';
import type { ManifestProblem, SourcedObject } from './manifest-file.ts';
import { objectLabel } from './manifest-validation.ts';

/** The IngressClass a cluster gets from deploy/ingressclass.yaml: Pier's, and the default. */
const STANDALONE_CLASSES: readonly V1IngressClass[] = Object.freeze([
  {
    metadata: { name: 'pier', annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    spec: { controller: PIER_CONTROLLER_NAME },
  },
]);

/** The address an Ingress got, or why it got none (it is then not served). */
export type IngressAddress =
  | { ingress: string; addresses: string[]; pool: string }
  | { ingress: string; code: string; message: string };

/** One compile of the directory. */
export interface CompiledManifests {
  /** Without revision: the route source numbers the tables it serves. */
  table: Omit<RouteTable, 'revision'>;
  /** Pool and compile problems, on the file that defines the object to blame. */
  problems: ManifestProblem[];
  /** Per Ingress, sorted by namespace/name. */
  addresses: IngressAddress[];
}

/** Turns a Secret's `stringData` into `data`, as the API server does on write. */
function withStringData(secret: Record<string, unknown>): V1Secret {
  const stringData = secret.stringData as Record<string, string> | undefined;
  if (stringData === undefined) return secret as V1Secret;
  const data = { ...((secret.data as Record<string, string> | undefined) ?? {}) };
  for (const [key, value] of Object.entries(stringData)) {
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  const { stringData: _, ...rest } = secret;
  return { ...rest, data } as V1Secret;
}

/** Compiles manifest snapshots; holds the allocator so addresses survive reloads. */
export class ManifestCompiler {
  readonly #allocator = new IpAllocator();
  readonly #sealer: KeySealer;
  /** Ingresses (`namespace/name`) the allocator may hold addresses for. */
  #owners = new Set<string>();

  /** @param keyRing seals TLS keys for the table, as the controller does before publishing. */
  constructor(keyRing: KeyRing) {
    this.#sealer = new KeySealer(keyRing);
  }

  compile(objects: readonly SourcedObject[]): CompiledManifests {
    const problems: ManifestProblem[] = [];
    const fileOf = new Map<string, string>();
    const of = <T>(kind: SourcedObject['kind']): T[] =>
      objects.filter((o) => o.kind === kind).map((o) => o.object as T);
    for (const o of objects) fileOf.set(objectLabel(o.kind, o.namespace, o.name), o.file);
    const report = (label: string, field: string | undefined, message: string): void => {
      problems.push({
        file: fileOf.get(label) ?? '',
        object: label,
        ...(field === undefined ? {} : { field }),
        message,
      });
    };

    const specs: PoolSpec[] = [];
    for (const pool of of<IPAddressPool>('IPAddressPool')) {
      const converted = toPoolSpec(pool);
      if (converted.ok) specs.push(converted.spec);
      else
        report(
          objectLabel('IPAddressPool', '', converted.name),
          'spec.addresses',
          converted.errors.join('; '),
        );
    }
    for (const p of this.#allocator.setPools(specs)) {
      report(objectLabel('IPAddressPool', '', p.pool), p.code, p.message);
    }

    const ingresses: V1Ingress[] = [];
    for (const ingress of of<V1Ingress>('Ingress')) {
      const verdict = classifyIngress(ingress, STANDALONE_CLASSES);
      if (verdict.ours) ingresses.push(ingress);
      else
        report(
          `Ingress ${keyOf(ingress)}`,
          'spec.ingressClassName',
          `${verdict.reason}; not served`,
        );
    }
    ingresses.sort((a, b) => keyOf(a).localeCompare(keyOf(b), 'en'));
    const present = new Set(ingresses.map(keyOf));
    for (const owner of this.#owners) if (!present.has(owner)) this.#allocator.release(owner);
    this.#owners = present;
    const addresses: IngressAddress[] = [];
    const served = new Set<string>();
    for (const ingress of ingresses) {
      const key = keyOf(ingress);
      const label = `Ingress ${key}`;
      const parsed = parseAddressAnnotations(ingress);
      if (!parsed.ok) {
        this.#allocator.release(key);
        const message = `${parsed.message}; the Ingress gets no address and is not served`;
        report(label, `metadata.annotations["${parsed.annotation}"]`, message);
        addresses.push({ ingress: key, code: 'PIER_INVALID_ANNOTATION', message });
        continue;
      }
      const result = this.#allocator.assign({ owner: key, ...parsed.request });
      if (!result.ok) {
        const message = `${result.message}; the Ingress is not served`;
        report(label, result.code, message);
        addresses.push({ ingress: key, code: result.code, message });
        continue;
      }
      served.add(key);
      addresses.push({ ingress: key, addresses: result.addresses, pool: result.pool });
    }

    const out = compileRoutes({
      ingresses,
      addressesOf: (ingress) => (served.has(keyOf(ingress)) ? ['*'] : []),
      services: of<V1Service>('Service'),
      endpointSlices: of<V1EndpointSlice>('EndpointSlice'),
      secrets: of<Record<string, unknown>>('Secret').map(withStringData),
      policies: of<HealthCheckPolicy>('HealthCheckPolicy'),
      defaultHealthCheck: DEFAULT_HEALTH_CHECK,
      sealKey: (id, pem) => this.#sealer.seal(id, pem),
    });
    this.#sealer.sweep();
    for (const p of out.problems) {
      report(objectLabel(p.object.kind, p.object.namespace, p.object.name), p.reason, p.message);
    }
    return { table: out.table, problems, addresses };
  }
}

function keyOf(ingress: V1Ingress): string {
  return `${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}`;
}
