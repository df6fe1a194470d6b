import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1IngressBackend } from '@kubernetes/client-node';
import type { Endpoint } from '@pier/shared';
import { BackendResolver } from './backend-resolver.ts';
import { backend, NS, service, slice } from './route-fixtures.test.ts';

const services = [
  service('web', [
    { name: 'http', port: 80, targetPort: 'web' },
    { name: 'dns-udp', port: 53, protocol: 'UDP' },
  ]),
  service('single', [{ port: 80, targetPort: 8080 }]),
  service('ext', [{ port: 80 }], { type: 'ExternalName' }),
];

const resolveCases: Array<[string, V1IngressBackend, object]> = [
  [
    'port by number',
    backend('web', 80),
    { ok: true, id: 'shop/web:80', servicePort: 80, portName: 'http' },
  ],
  [
    'port by name',
    backend('web', 'http'),
    { ok: true, id: 'shop/web:http', servicePort: 'http', portName: 'http' },
  ],
  [
    'missing Service: kept, no port, ServiceNotFound',
    backend('gone', 80),
    { ok: true, id: 'shop/gone:80', servicePort: 80, problem: 'ServiceNotFound' },
  ],
  [
    'port not in the Service',
    backend('web', 81),
    { ok: true, id: 'shop/web:81', servicePort: 81, problem: 'ServicePortNotFound' },
  ],
  [
    'a UDP port is not an HTTP backend',
    backend('web', 53),
    { ok: true, id: 'shop/web:53', servicePort: 53, problem: 'ServicePortNotFound' },
  ],
  [
    'name not in the Service',
    backend('web', 'metrics'),
    { ok: true, id: 'shop/web:metrics', servicePort: 'metrics', problem: 'ServicePortNotFound' },
  ],
  ['ExternalName Service', backend('ext', 80), { ok: false, reason: 'UnsupportedBackend' }],
  [
    'resource backend',
    { resource: { apiGroup: 'k8s.example.com', kind: 'StorageBucket', name: 'assets' } },
    { ok: false, reason: 'UnsupportedBackend' },
  ],
  ['no service', {}, { ok: false, reason: 'InvalidRule' }],
  ['no port', { service: { name: 'web' } }, { ok: false, reason: 'InvalidRule' }],
  [
    'both number and name',
    { service: { name: 'web', port: { number: 80, name: 'http' } } },
    { ok: false, reason: 'InvalidRule' },
  ],
  ['port out of range', backend('web', 70000), { ok: false, reason: 'InvalidRule' }],
];

for (const [name, input, expected] of resolveCases) {
  test(`backend resolver: ${name}`, () => {
    const r = new BackendResolver(services, []).resolve(NS, input);
    const got = r.ok
      ? {
          ok: true,
          id: r.id,
          servicePort: r.servicePort,
          ...(r.port === undefined ? {} : { portName: r.port.name }),
          ...(r.problem === undefined ? {} : { problem: r.problem.reason }),
        }
      : { ok: false, reason: r.reason };
    assert.deepEqual(got, expected);
    if (r.ok) assert.deepEqual(r.service, { namespace: NS, name: input.service?.name });
    if (!r.ok || r.problem) {
      const message = r.ok ? r.problem?.message : r.message;
      assert.ok(message !== undefined && message.length > 10, 'says why');
    }
  });
}

function ep(address: string, port: number, extra: Partial<Endpoint> = {}): Endpoint {
  return { address, port, ready: true, serving: true, terminating: false, ...extra };
}

const HTTP = { name: 'http', port: 80 };
const endpointCases: Array<[string, ReturnType<typeof slice>[], Endpoint[]]> = [
  [
    'conditions: absent and true are ready; terminating-but-serving kept; the rest left out',
    [
      slice(
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [
          ['192.0.2.1'],
          ['192.0.2.2', { ready: true, serving: true, terminating: false }],
          ['192.0.2.3', { ready: false, serving: true, terminating: true }],
          ['192.0.2.4', { ready: false, serving: false, terminating: true }],
          ['192.0.2.5', { ready: false }],
          ['192.0.2.6', { ready: false, serving: true, terminating: false }],
        ],
      ),
    ],
    [
      ep('192.0.2.1', 8080),
      ep('192.0.2.2', 8080),
      ep('192.0.2.3', 8080, { ready: false, serving: true, terminating: true }),
    ],
  ],
  [
    'the slice port named like the Service port gives the target port',
    [
      slice(
        'web-1',
        'web',
        [
          { name: 'metrics', port: 9090 },
          { name: 'http', port: 8081 },
        ],
        [['192.0.2.1']],
      ),
      slice('web-2', 'web', [{ name: 'metrics', port: 9090 }], [['192.0.2.9']]),
    ],
    [ep('192.0.2.1', 8081)],
  ],
  [
    'node, zone and pod are carried',
    [
      slice(
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [['192.0.2.1', { nodeName: 'node-a', zone: 'z1', pod: 'web-abc' }]],
      ),
    ],
    [
      ep('192.0.2.1', 8080, {
        nodeName: 'node-a',
        zone: 'z1',
        targetRef: { namespace: NS, name: 'web-abc' },
      }),
    ],
  ],
  [
    'hand-made slices merge; a ready copy wins over a terminating one, whatever the order',
    [
      slice(
        'a-manual',
        'web',
        [{ name: 'http', port: 8080 }],
        [['192.0.2.7', { ready: false, serving: true, terminating: true }], ['192.0.2.8']],
      ),
      slice(
        'b-manual',
        'web',
        [{ name: 'http', port: 8080 }],
        [['192.0.2.7'], ['192.0.2.8', { ready: false, serving: true, terminating: true }]],
      ),
    ],
    [ep('192.0.2.7', 8080), ep('192.0.2.8', 8080)],
  ],
  [
    'IPv6 addresses are canonicalised and sorted; FQDN slices ignored; several addresses per endpoint',
    [
      slice(
        'web-v6',
        'web',
        [{ name: 'http', port: 8080 }],
        [[['2001:DB8:0:0::2', '2001:db8::1']]],
        {
          addressType: 'IPv6',
        },
      ),
      slice('web-fqdn', 'web', [{ name: 'http', port: 8080 }], [['pod.example.test']], {
        addressType: 'FQDN',
      }),
      slice('web-v4', 'web', [{ name: 'http', port: 8080 }], [['198.51.100.1']]),
    ],
    [ep('198.51.100.1', 8080), ep('2001:db8::1', 8080), ep('2001:db8::2', 8080)],
  ],
  [
    'slices of other Services or namespaces are not used',
    [
      slice('api-1', 'api', [{ name: 'http', port: 8080 }], [['192.0.2.1']]),
      slice('web-1', 'web', [{ name: 'http', port: 8080 }], [['192.0.2.2']], {
        namespace: 'other',
      }),
    ],
    [],
  ],
  [
    'a slice without the port contributes nothing',
    [slice('web-1', 'web', [{ name: 'http' }], [['192.0.2.1']])],
    [],
  ],
];

for (const [name, slices, expected] of endpointCases) {
  test(`backend endpoints: ${name}`, () => {
    const resolver = new BackendResolver(services, slices);
    assert.deepEqual(resolver.endpoints(NS, 'web', HTTP), expected);
    assert.deepEqual(resolver.endpoints(NS, 'web', HTTP), expected, 'memoised answer is the same');
    const reversed = new BackendResolver(services, [...slices].reverse());
    assert.deepEqual(reversed.endpoints(NS, 'web', HTTP), expected, 'slice order does not matter');
  });
}

test('backend endpoints: an unnamed Service port matches an unnamed or empty-named slice port', () => {
  for (const slicePort of [{ port: 8080 }, { name: '', port: 8080 }]) {
    const resolver = new BackendResolver(services, [
      slice('single-1', 'single', [slicePort], [['192.0.2.1']]),
    ]);
    assert.deepEqual(resolver.endpoints(NS, 'single', { port: 80 }), [ep('192.0.2.1', 8080)]);
  }
});

test('backend endpoints: the returned array is the caller’s own', () => {
  const resolver = new BackendResolver(services, [
    slice('web-1', 'web', [{ name: 'http', port: 8080 }], [['192.0.2.1']]),
  ]);
  resolver.endpoints(NS, 'web', HTTP).pop();
  assert.equal(resolver.endpoints(NS, 'web', HTTP).length, 1);
});
