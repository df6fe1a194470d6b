/**
 * The incremental compiler gives exactly what the full compiler gives over the same objects:
 * random sequences of changes (seeded; a failure names its seed and step), compared after each
 * step as published (canonical JSON), with problems, policy statuses and served Ingresses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  V1EndpointSlice,
  V1HTTPIngressPath,
  V1Ingress,
  V1IngressBackend,
  V1IngressRule,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import {
  canonicalJson,
  DEFAULT_HEALTH_CHECK,
  encodeRouteTable,
  ROUTE_SECTIONS,
  type RouteEntries,
  routeEntriesOf,
  routeTableOf,
} from '@pier/shared';
import type { HealthCheckPolicy } from './health-policy-resolver.ts';
import {
  IncrementalCompiler,
  type IncrementalOutput,
  type InputChange,
} from './incremental-compiler.ts';
import { compileRoutes } from './route-compiler.ts';
import {
  A_CERT,
  A_KEY,
  B_CERT,
  B_KEY,
  fakeSealer,
  ingress,
  OTHER_KEY,
  policy,
  service,
  slice,
  tlsSecret,
} from './route-fixtures.test.ts';

/** mulberry32: a small seeded generator, so a failing sequence can be replayed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number): boolean => next() < p;
  return { int, pick, chance };
}
type Random = ReturnType<typeof generator>;

const NAMESPACES = ['a', 'b'];
const SERVICES = ['s1', 's2', 's3', 's4'];
const HOSTS = [undefined, 'x.test', 'y.test', '*.w.test', 'a.example.test'];
const PATHS = ['/', '/a', '/a/', '/b', '/a/b', ''];
const PATH_TYPES = ['Prefix', 'Exact', 'ImplementationSpecific', 'Prefix', 'Bogus'];
const SECRETS = ['tls-a', 'tls-b', 'tls-c'];
const ADDRESS_SETS: string[][] = [
  [],
  ['203.0.113.10'],
  ['203.0.113.10'],
  ['203.0.113.10', '203.0.113.11'],
  ['203.0.113.11'],
  ['*'],
  ['2001:DB8::1'],
  ['not-an-ip'],
];

function randomBackend(r: Random): V1IngressBackend {
  if (r.chance(0.04)) return { resource: { apiGroup: 'x.test', kind: 'Bucket', name: 'b' } };
  const name = r.pick(SERVICES);
  const port = r.pick<number | string>([80, 80, 81, 'http', 'admin', 0]);
  return { service: { name, port: typeof port === 'number' ? { number: port } : { name: port } } };
}

function randomIngress(r: Random, name: string, namespace: string): V1Ingress {
  const rules: V1IngressRule[] = [];
  for (let i = r.int(4); i > 0; i--) {
    const paths: V1HTTPIngressPath[] = [];
    for (let j = 1 + r.int(3); j > 0; j--) {
      const p = r.pick(PATHS);
      paths.push({
        ...(p === '' ? {} : { path: p }),
        pathType: r.pick(PATH_TYPES),
        backend: randomBackend(r),
      });
    }
    const host = r.pick(HOSTS);
    rules.push(host === undefined ? { http: { paths } } : { host, http: { paths } });
  }
  const hosts = rules.map((rule) => rule.host).filter((h): h is string => h !== undefined);
  const tls = [];
  for (let i = r.int(3); i > 0; i--) {
    const some = hosts.length > 0 && r.chance(0.8) ? [r.pick(hosts)] : [r.pick(HOSTS) ?? 'z.test'];
    tls.push(r.chance(0.1) ? { hosts: [] } : { hosts: some, secretName: r.pick(SECRETS) });
  }
  const annotations: Record<string, string> = {};
  if (r.chance(0.3)) annotations['pier.dev/load-balance'] = r.pick(['round-robin', 'p2c', 'bogus']);
  if (r.chance(0.15)) annotations['pier.dev/affinity'] = 'cookie';
  if (r.chance(0.25)) {
    // ingress-nginx's canaries join other Ingresses' routes: a dependency across Ingresses.
    const canary = 'nginx.ingress.kubernetes.io/canary';
    annotations[canary] = r.pick(['true', 'true', 'false']);
    if (r.chance(0.6)) annotations[`${canary}-weight`] = r.pick(['0', '20', '100', 'x']);
    if (r.chance(0.4)) annotations[`${canary}-by-header`] = 'x-canary';
    if (r.chance(0.2)) annotations[`${canary}-by-cookie`] = 'canary';
  }
  if (r.chance(0.3)) {
    // Server aliases: a virtual host's problems depend on other virtual hosts of the address.
    annotations['nginx.ingress.kubernetes.io/server-alias'] = r.pick([
      'q.test',
      'q.test, x.test',
      'y.test',
      'a.example.test,r.test',
      '*.w.test',
      'bad;',
    ]);
  }
  if (r.chance(0.2)) {
    // Basic authentication: its Secret's changes must replan the Ingress.
    annotations['nginx.ingress.kubernetes.io/auth-type'] = 'basic';
    annotations['nginx.ingress.kubernetes.io/auth-secret'] = r.pick(SECRETS);
  }
  if (r.chance(0.25)) {
    // ingress-nginx's default-backend names a Service outside the rules: its changes (ports,
    // existence, endpoints) must replan the Ingress and rebuild that backend.
    const nginx = 'nginx.ingress.kubernetes.io/';
    if (r.chance(0.7)) annotations[`${nginx}default-backend`] = r.pick([...SERVICES, 'Bad/name']);
    if (r.chance(0.6))
      annotations[`${nginx}custom-http-errors`] = r.pick(['404,503', '503', '302']);
    if (r.chance(0.3)) annotations[`${nginx}disable-proxy-intercept-errors`] = 'true';
  }
  return ingress(name, {
    namespace,
    age: r.int(4),
    rules,
    ...(r.chance(0.3) ? { defaultBackend: randomBackend(r) } : {}),
    ...(tls.length > 0 ? { tls } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  });
}

function randomService(r: Random, name: string, namespace: string): V1Service {
  const ports = r.pick([
    [{ name: 'http', port: 80, targetPort: 8080 }],
    [
      { name: 'http', port: 80, targetPort: 8080 },
      { name: 'admin', port: 81, targetPort: 9090 },
    ],
    [{ port: 80, targetPort: 8080 }],
    [{ name: 'http', port: 80, protocol: 'UDP' }],
  ]);
  return service(name, ports, { namespace, type: r.chance(0.08) ? 'ExternalName' : 'ClusterIP' });
}

function randomSlice(r: Random, name: string, namespace: string): V1EndpointSlice {
  const ports = r.pick([
    [{ name: 'http', port: 8080 }],
    [
      { name: 'http', port: 8080 },
      { name: 'admin', port: 9090 },
    ],
    [{ port: 8080 }],
  ]);
  const endpoints: Array<[string | string[], Record<string, boolean | string>]> = [];
  for (let i = r.int(4); i > 0; i--) {
    const address = `192.0.2.${1 + r.int(5)}`;
    const conditions: Record<string, boolean | string> = {};
    if (r.chance(0.3)) conditions.ready = r.chance(0.5);
    if (r.chance(0.3)) conditions.serving = r.chance(0.5);
    if (r.chance(0.3)) conditions.terminating = r.chance(0.5);
    if (r.chance(0.3)) conditions.nodeName = r.pick(['n1', 'n2']);
    endpoints.push([address, conditions]);
  }
  return slice(name, r.pick(SERVICES), ports, endpoints, {
    namespace,
    addressType: r.chance(0.1) ? 'FQDN' : 'IPv4',
  });
}

function randomSecret(r: Random, name: string, namespace: string): V1Secret {
  if (r.chance(0.2)) {
    const users = r.pick([
      'foo:{PLAIN}bar\n',
      'foo:{PLAIN}baz\nbob:{PLAIN}x\n',
      'old:DESdadlpaoiV\n',
    ]);
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace, name },
      type: 'Opaque',
      data: r.chance(0.8) ? { auth: Buffer.from(users).toString('base64') } : {},
    };
  }
  const [crt, key] = r.pick([
    [A_CERT, A_KEY],
    [B_CERT, B_KEY],
    [A_CERT, OTHER_KEY],
    [A_CERT, undefined],
  ]);
  return tlsSecret(
    name,
    { crt, ...(key === undefined ? {} : { key }) },
    { namespace, type: r.chance(0.1) ? 'Opaque' : 'kubernetes.io/tls' },
  );
}

function randomPolicy(r: Random, name: string, namespace: string): HealthCheckPolicy {
  const spec = r.pick<Partial<HealthCheckPolicy['spec']>>([
    {},
    { interval: '3s' },
    { http: { path: '/healthz' } },
    { timeout: '9s', interval: '2s' },
    { healthyThreshold: 0 },
  ]);
  return policy(name, r.pick(SERVICES), spec, { namespace, age: r.int(3) });
}

interface ObjectRef {
  kind: InputChange['kind'];
  namespace: string;
  name: string;
}

/** The cluster as the test keeps it: every object by kind and namespace/name. */
class World {
  readonly ingresses = new Map<string, V1Ingress>();
  readonly services = new Map<string, V1Service>();
  readonly slices = new Map<string, V1EndpointSlice>();
  readonly secrets = new Map<string, V1Secret>();
  readonly policies = new Map<string, HealthCheckPolicy>();
  readonly addresses = new Map<string, readonly string[]>();

  addressesOf = (ing: V1Ingress): readonly string[] =>
    this.addresses.get(`${ing.metadata?.namespace}/${ing.metadata?.name}`) ?? [];

  /** One random change to the world; which object to tell the compiler about, if any. */
  change(r: Random): ObjectRef | undefined {
    const namespace = r.pick(NAMESPACES);
    const roll = r.int(100);
    const remove = r.chance(0.2);
    if (roll < 30) {
      const name = `i${r.int(7)}`;
      const key = `${namespace}/${name}`;
      if (remove) this.ingresses.delete(key);
      else this.ingresses.set(key, randomIngress(r, name, namespace));
      if (!this.addresses.has(key) || r.chance(0.3)) this.addresses.set(key, r.pick(ADDRESS_SETS));
      return { kind: 'Ingress', namespace, name };
    }
    if (roll < 40) {
      // An allocation moves without any event: the compiler must notice by itself.
      const keys = [...this.ingresses.keys()];
      if (keys.length > 0) this.addresses.set(r.pick(keys), r.pick(ADDRESS_SETS));
      return undefined;
    }
    if (roll < 52) {
      const name = r.pick(SERVICES);
      const object = remove ? undefined : randomService(r, name, namespace);
      setOrDelete(this.services, `${namespace}/${name}`, object);
      return { kind: 'Service', namespace, name };
    }
    if (roll < 75) {
      const name = `e${r.int(6)}`;
      const object = remove ? undefined : randomSlice(r, name, namespace);
      setOrDelete(this.slices, `${namespace}/${name}`, object);
      return { kind: 'EndpointSlice', namespace, name };
    }
    if (roll < 87) {
      const name = r.pick(SECRETS);
      const object = remove ? undefined : randomSecret(r, name, namespace);
      setOrDelete(this.secrets, `${namespace}/${name}`, object);
      return { kind: 'Secret', namespace, name };
    }
    const name = `p${r.int(3)}`;
    const object = remove ? undefined : randomPolicy(r, name, namespace);
    setOrDelete(this.policies, `${namespace}/${name}`, object);
    return { kind: 'HealthCheckPolicy', namespace, name };
  }

  /** The change to tell the compiler for `ref`, read when compiling (as the controller does). */
  inputChange(ref: ObjectRef): InputChange {
    const { kind, namespace, name } = ref;
    const key = `${namespace}/${name}`;
    switch (kind) {
      case 'Ingress': {
        const object = this.ingresses.get(key);
        const addresses = object === undefined ? [] : this.addressesOf(object);
        return { kind, namespace, name, object, addresses };
      }
      case 'Service':
        return { kind, namespace, name, object: this.services.get(key) };
      case 'EndpointSlice':
        return { kind, namespace, name, object: this.slices.get(key) };
      case 'Secret':
        return { kind, namespace, name, object: this.secrets.get(key) };
      case 'HealthCheckPolicy':
        return { kind, namespace, name, object: this.policies.get(key) };
    }
  }

  objects() {
    return {
      ingresses: [...this.ingresses.values()],
      addressesOf: this.addressesOf,
      services: [...this.services.values()],
      endpointSlices: [...this.slices.values()],
      secrets: [...this.secrets.values()],
      policies: [...this.policies.values()],
    };
  }
}

function setOrDelete<T>(map: Map<string, T>, key: string, value: T | undefined): void {
  if (value === undefined) map.delete(key);
  else map.set(key, value);
}

/** Sealing as the controller's: deterministic, and failing for one Secret (KeySealFailed). */
function sealKey(id: string, pem: string) {
  if (id === 'b/tls-b') throw new Error('the key ring refuses it');
  return fakeSealer().sealKey(id, pem);
}

/** Asserts the incremental output is the full compile's, and its changed keys are honest. */
/** A copy of the entries as they are now (the compiler changes its own in place). */
function copyOf(entries: RouteEntries): RouteEntries {
  return {
    virtualHosts: new Map(entries.virtualHosts),
    backends: new Map(entries.backends),
    certificates: new Map(entries.certificates),
  };
}

function assertSame(
  world: World,
  before: RouteEntries,
  out: IncrementalOutput,
  where: string,
): void {
  const full = compileRoutes({
    ...world.objects(),
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey,
  });
  const expected = routeEntriesOf(full.table);
  for (const section of ROUTE_SECTIONS) {
    // Entry by entry first, so that a failure shows the one entry that differs.
    const keys = new Set([...expected[section].keys(), ...out.entries[section].keys()]);
    for (const key of keys) {
      const got = out.entries[section].get(key);
      const want = expected[section].get(key);
      assert.equal(
        got === undefined ? undefined : canonicalJson(got),
        want === undefined ? undefined : canonicalJson(want),
        `${where}: ${section} ${key}`,
      );
    }
  }
  assert.equal(
    encodeRouteTable(routeTableOf(out.entries, 1)),
    encodeRouteTable({ revision: 1, ...full.table }),
    `${where}: the table`,
  );
  assert.deepEqual(out.problems, full.problems, `${where}: problems`);
  assert.deepEqual(out.policyStatuses, full.policyStatuses, `${where}: policy statuses`);
  assert.deepEqual(out.servedIngresses, full.servedIngresses, `${where}: served Ingresses`);
  for (const section of ROUTE_SECTIONS) {
    const keys = new Set([...before[section].keys(), ...out.entries[section].keys()]);
    for (const key of keys) {
      const was = before[section].get(key);
      const now = out.entries[section].get(key);
      if (out.changed[section].has(key)) continue;
      assert.ok(was === now, `${where}: ${section} ${key} is unchanged, so the same object`);
    }
    for (const key of out.changed[section]) {
      const was = before[section].get(key);
      const now = out.entries[section].get(key);
      const same =
        was !== undefined && now !== undefined && canonicalJson(was) === canonicalJson(now);
      assert.ok(!same, `${where}: ${section} ${key} is listed as changed but is equal`);
    }
  }
}

function run(seed: number, steps: number): void {
  const r = generator(seed);
  const world = new World();
  const compiler = new IncrementalCompiler({ defaultHealthCheck: DEFAULT_HEALTH_CHECK, sealKey });
  let out = compiler.compileAll(world.objects());
  for (let step = 1; step <= steps; step++) {
    const before = copyOf(out.entries);
    const where = `seed ${seed} step ${step}`;
    if (r.chance(0.03)) {
      // A full compile over a known state (a class change): equal entries keep their objects.
      world.change(r);
      out = compiler.compileAll(world.objects());
    } else {
      // A burst coalesced into one compile, as the controller's debounce gives.
      const refs: ObjectRef[] = [];
      for (let n = r.chance(0.25) ? 2 + r.int(4) : 1; n > 0; n--) {
        const ref = world.change(r);
        if (ref !== undefined) refs.push(ref);
      }
      out = compiler.update(
        refs.map((ref) => world.inputChange(ref)),
        world.addressesOf,
      );
    }
    assertSame(world, before, out, where);
  }
}

const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
const STEPS = 150;

test(`incremental compile = full compile: ${SEEDS.length} seeds × ${STEPS} random changes`, () => {
  for (const seed of SEEDS) run(seed, STEPS);
});

test('incremental compile: an EndpointSlice change rewrites its backend only', () => {
  const world = new World();
  world.services.set('a/s1', service('s1', undefined, { namespace: 'a' }));
  world.services.set('a/s2', service('s2', undefined, { namespace: 'a' }));
  for (const [name, svc] of [
    ['i1', 's1'],
    ['i2', 's2'],
  ] as const) {
    world.ingresses.set(
      `a/${name}`,
      ingress(name, {
        namespace: 'a',
        rules: [
          {
            host: `${name}.test`,
            http: { paths: [{ path: '/', pathType: 'Prefix', backend: backendOf(svc) }] },
          },
        ],
      }),
    );
    world.addresses.set(`a/${name}`, ['203.0.113.10']);
  }
  const compiler = new IncrementalCompiler({ defaultHealthCheck: DEFAULT_HEALTH_CHECK, sealKey });
  const first = compiler.compileAll(world.objects());
  const firstEntries = copyOf(first.entries);
  const endpoints = slice('s1-x', 's1', [{ name: 'http', port: 8080 }], [['192.0.2.7']], {
    namespace: 'a',
  });
  world.slices.set('a/s1-x', endpoints);
  const out = compiler.update(
    [{ kind: 'EndpointSlice', namespace: 'a', name: 's1-x', object: endpoints }],
    world.addressesOf,
  );
  assertSame(world, firstEntries, out, 'one slice');
  assert.deepEqual([...out.changed.backends], ['a/s1:80']);
  assert.deepEqual([...out.changed.virtualHosts], []);
  for (const [key, vhost] of firstEntries.virtualHosts) {
    assert.equal(out.entries.virtualHosts.get(key), vhost, `virtual host ${key}: same object`);
  }
  assert.equal(out.entries.backends.get('a/s2:80'), firstEntries.backends.get('a/s2:80'));
  assert.notEqual(out.entries.backends.get('a/s1:80'), firstEntries.backends.get('a/s1:80'));
  assert.equal(out.servedIngresses, first.servedIngresses, 'the same served list');
  assert.equal(out.problems, first.problems, 'the same problem list');
});

function backendOf(name: string): V1IngressBackend {
  return { service: { name, port: { number: 80 } } };
}
