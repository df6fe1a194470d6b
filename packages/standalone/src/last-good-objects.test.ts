import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LastGoodObjects, type ManifestSnapshot, STILL_SERVING } from './last-good-objects.ts';
import { formatProblem, parseManifestFile } from './manifest-file.ts';

/** A directory at one moment: file name → text. */
type Directory = Record<string, string>;

/** Each object as `Kind ns/name vN (file)`, N from the `version` annotation. */
interface Reload {
  served: string[];
  problems: string[];
}

function summary(snapshot: ManifestSnapshot): Reload {
  return {
    served: snapshot.objects.map((o) => {
      const metadata = o.object.metadata as { annotations?: Record<string, string> };
      const ns = o.namespace === '' ? '' : `${o.namespace}/`;
      return `${o.kind} ${ns}${o.name} v${metadata.annotations?.version} (${o.file})`;
    }),
    problems: snapshot.problems.map(formatProblem),
  };
}

/** Runs the directory through `steps`, one reload each, with one LastGoodObjects. */
function reloads(steps: Directory[]): Reload[] {
  const versions = new LastGoodObjects();
  return steps.map((dir) =>
    summary(
      versions.combine(
        Object.keys(dir)
          .sort()
          .map((file) => parseManifestFile(file, dir[file] as string)),
      ),
    ),
  );
}

const docs = (...list: object[]): string => list.map((d) => JSON.stringify(d)).join('\n---\n');

function service(name: string, version: number, port: unknown = 80): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, annotations: { version: String(version) } },
    spec: { ports: [{ port }] },
  };
}

/** Per kind standalone reads: a good document of version N, and a refused one. */
const KINDS: Array<{
  label: string;
  good: (version: number) => object;
  bad: object;
  problem: string;
}> = (() => {
  const meta = (name: string, version: number, extra: object = {}) => ({
    name,
    annotations: { version: String(version) },
    ...extra,
  });
  const ingress = (version: number, pathType: string) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta('web', version),
    spec: {
      rules: [
        {
          host: 'web.example.test',
          http: {
            paths: [
              { path: '/', pathType, backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  });
  const slice = (version: number, address: string) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta('web-1', version, { labels: { 'kubernetes.io/service-name': 'web' } }),
    addressType: 'IPv4',
    endpoints: [{ addresses: [address] }],
  });
  const secret = (version: number, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta('web-tls', version),
    type: 'kubernetes.io/tls',
    data,
  });
  const pool = (version: number, addresses: string[]) => ({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'IPAddressPool',
    metadata: meta('demo', version),
    spec: { addresses },
  });
  const policy = (version: number, targetRef: object | undefined) => ({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'HealthCheckPolicy',
    metadata: meta('web', version),
    spec: { targetRef },
  });
  return [
    {
      label: 'Ingress default/web',
      good: (v) => ingress(v, 'Prefix'),
      bad: ingress(9, 'Prefixx'),
      problem:
        'spec.rules[0].http.paths[0].pathType: must be Exact, Prefix or ImplementationSpecific',
    },
    {
      label: 'Service default/web',
      good: (v) => service('web', v),
      bad: service('web', 9, 'eighty'),
      problem: 'spec.ports[0].port: must be a port number 1-65535',
    },
    {
      label: 'EndpointSlice default/web-1',
      good: (v) => slice(v, '127.0.0.1'),
      bad: slice(9, '::1'),
      problem: "endpoints[0].addresses[0]: '::1' is not an IPv4 address",
    },
    {
      label: 'Secret default/web-tls',
      good: (v) => secret(v, { 'tls.crt': 'Y2VydA==' }),
      bad: secret(9, { 'tls.crt': 'not base64!' }),
      problem: 'data["tls.crt"]: must be base64',
    },
    {
      label: 'IPAddressPool demo',
      good: (v) => pool(v, ['192.0.2.0/28']),
      bad: pool(9, []),
      problem: 'spec.addresses: must not be empty',
    },
    {
      label: 'HealthCheckPolicy default/web',
      good: (v) => policy(v, { name: 'web' }),
      bad: policy(9, undefined),
      problem: 'spec.targetRef: is required',
    },
  ];
})();

describe('LastGoodObjects: a refused edit keeps the last good version serving, per object', () => {
  for (const kind of KINDS) {
    test(`${kind.label}: good, refused, good again, refused again, deleted`, () => {
      const [first, refused, fixed, refusedAgain, deleted] = reloads([
        { 'a.yaml': docs(kind.good(1)) },
        { 'a.yaml': docs(kind.bad) },
        { 'a.yaml': docs(kind.good(2)) },
        { 'a.yaml': docs(kind.bad) },
        { 'a.yaml': '' },
      ]);
      assert.deepEqual(first, { served: [`${kind.label} v1 (a.yaml)`], problems: [] });
      assert.deepEqual(refused, {
        served: [`${kind.label} v1 (a.yaml)`],
        problems: [`a.yaml: ${kind.label}: ${kind.problem} ${STILL_SERVING}`],
      });
      assert.deepEqual(fixed, { served: [`${kind.label} v2 (a.yaml)`], problems: [] });
      assert.deepEqual(refusedAgain?.served, [`${kind.label} v2 (a.yaml)`]);
      assert.deepEqual(deleted, { served: [], problems: [] });
    });
  }
});

describe('LastGoodObjects: what is not kept', () => {
  const cases: Array<{ name: string; steps: Directory[]; last: Reload }> = [
    {
      name: 'an object that was never valid is not served',
      steps: [{ 'a.yaml': docs(service('web', 1, 'eighty')) }],
      last: {
        served: [],
        problems: [
          'a.yaml: Service default/web: spec.ports[0].port: must be a port number 1-65535',
        ],
      },
    },
    {
      name: 'deleting the file of a refused document removes the object',
      steps: [
        { 'a.yaml': docs(service('web', 1)) },
        { 'a.yaml': docs(service('web', 2, 'eighty')) },
        {},
      ],
      last: { served: [], problems: [] },
    },
    {
      name: 'deleting the refused document removes its object, not the others',
      steps: [
        { 'a.yaml': docs(service('web', 1), service('api', 1)) },
        { 'a.yaml': docs(service('web', 2, 'eighty'), service('api', 1)) },
        { 'a.yaml': docs(service('api', 1)) },
      ],
      last: { served: ['Service default/api v1 (a.yaml)'], problems: [] },
    },
    {
      name: 'a rename is a new object: the old name is gone',
      steps: [{ 'a.yaml': docs(service('web', 1)) }, { 'a.yaml': docs(service('web2', 1)) }],
      last: { served: ['Service default/web2 v1 (a.yaml)'], problems: [] },
    },
    {
      name: 'an unreadable identity does not take over an object another document names',
      steps: [
        { 'a.yaml': docs(service('web', 1)), 'b.yaml': '' },
        {
          'a.yaml': docs({ ...service('web', 2), kind: 'Servic' }),
          'b.yaml': docs(service('web', 3)),
        },
      ],
      last: {
        served: ['Service default/web v3 (b.yaml)'],
        problems: [
          'a.yaml: document 1: kind: standalone mode reads Ingress, Service, EndpointSlice, Secret, IPAddressPool, HealthCheckPolicy; not Servic',
        ],
      },
    },
    {
      name: 'an unreadable identity in a file that gained a document stands for nothing',
      steps: [
        { 'a.yaml': docs(service('web', 1), service('api', 1)) },
        {
          'a.yaml': docs(
            { ...service('web', 2), kind: 'Servic' },
            service('api', 1),
            service('db', 1),
          ),
        },
      ],
      last: {
        served: ['Service default/api v1 (a.yaml)', 'Service default/db v1 (a.yaml)'],
        problems: [
          'a.yaml: document 1: kind: standalone mode reads Ingress, Service, EndpointSlice, Secret, IPAddressPool, HealthCheckPolicy; not Servic',
        ],
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(reloads(c.steps).at(-1), c.last);
    });
  }
});

describe('LastGoodObjects: what is kept', () => {
  const cases: Array<{ name: string; steps: Directory[]; last: Reload }> = [
    {
      name: 'a document whose kind or name breaks keeps the object that stood at its place',
      steps: [
        { 'a.yaml': docs(service('web', 1), service('api', 1)) },
        { 'a.yaml': docs({ ...service('web', 2), kind: 'Servic' }, service('api', 2)) },
      ],
      last: {
        served: ['Service default/web v1 (a.yaml)', 'Service default/api v2 (a.yaml)'],
        problems: [
          'a.yaml: document 1: kind: standalone mode reads Ingress, Service, EndpointSlice, Secret, IPAddressPool, HealthCheckPolicy; not Servic (still serving the last good version of Service default/web)',
        ],
      },
    },
    {
      name: 'an object moved to another file and refused there keeps its last good version',
      steps: [
        { 'a.yaml': docs(service('web', 1)) },
        { 'b.yaml': docs(service('web', 2, 'eighty')) },
      ],
      last: {
        served: ['Service default/web v1 (b.yaml)'],
        problems: [
          `b.yaml: Service default/web: spec.ports[0].port: must be a port number 1-65535 ${STILL_SERVING}`,
        ],
      },
    },
    {
      name: 'an object defined twice is kept from the first file and reported where it is repeated',
      steps: [{ 'a.yaml': docs(service('web', 1)), 'b.yaml': docs(service('web', 2)) }],
      last: {
        served: ['Service default/web v1 (a.yaml)'],
        problems: ['b.yaml: Service default/web: defined again; the one in a.yaml is used'],
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(reloads(c.steps).at(-1), c.last);
    });
  }
});

test('LastGoodObjects: a refused document keeps its object through a later YAML break of the file', () => {
  const broken = reloads([
    { 'a.yaml': docs(service('web', 1), service('api', 1)) },
    { 'a.yaml': docs(service('web', 2), service('api', 2, 'eighty')) },
    { 'a.yaml': `${docs(service('web', 3))}\nbad: [\n` },
  ]).at(-1) as Reload;
  assert.deepEqual(broken.served, [
    'Service default/web v2 (a.yaml)',
    'Service default/api v1 (a.yaml)',
  ]);
  // The YAML problem and the note only: the documents of the last good parse are not re-reported.
  assert.ok(broken.problems.slice(0, -1).every((p) => /^a\.yaml: line \d+: /.test(p)));
  assert.equal(
    broken.problems.at(-1),
    'a.yaml: YAML does not parse; still serving the 2 object(s) it held before',
  );
});
