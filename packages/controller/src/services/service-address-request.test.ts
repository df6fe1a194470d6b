import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import type { ClaimRequest } from '../addresses/claim-kind.ts';
import { parseAddressAnnotations } from '../ingress/ingress-annotations.ts';
import { parseServiceRequest } from './service-address-request.ts';

function svc(
  options: {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    spec?: V1Service['spec'];
  } = {},
): V1Service {
  return {
    metadata: {
      name: options.name ?? 'web',
      namespace: options.namespace ?? 'shop',
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: { type: 'LoadBalancer', ...options.spec },
  };
}

/** The request, failing the test if the Service was refused. */
function requestOf(service: V1Service): ClaimRequest {
  const parsed = parseServiceRequest(service);
  assert.ok(parsed.ok, parsed.ok ? '' : `${parsed.code}: ${parsed.message}`);
  return parsed.request;
}

/** The refusal's message, failing the test if the Service was accepted. */
function refusal(service: V1Service): string {
  const parsed = parseServiceRequest(service);
  assert.equal(parsed.ok ? 'ok' : parsed.code, 'PIER_INVALID_ANNOTATION');
  return parsed.ok ? '' : parsed.message;
}

describe('annotations', () => {
  test('no annotation: no pool, no address', () => {
    const request = requestOf(svc());
    assert.equal(request.pool, undefined);
    assert.equal(request.requested, undefined);
  });

  test("MetalLB's annotations mean the same as Pier's", () => {
    const pier = svc({
      annotations: {
        'pier.dev/address-pool': 'public',
        'pier.dev/load-balancer-ips': '203.0.113.7, 2001:db8::7',
        'pier.dev/ip-sharing-key': 'front',
      },
    });
    const metallb = svc({
      annotations: {
        'metallb.universe.tf/address-pool': 'public',
        'metallb.universe.tf/loadBalancerIPs': '203.0.113.7, 2001:db8::7',
        'metallb.universe.tf/allow-shared-ip': 'front',
      },
    });
    const request = requestOf(pier);
    assert.equal(request.pool, 'public');
    assert.deepEqual(request.requested, ['203.0.113.7', '2001:db8::7']);
    assert.equal(request.key, 'service-key:front');
    assert.deepEqual(requestOf(metallb), request);
    // MetalLB's current prefix (since 0.14.9) means the same as its old one.
    const current = svc({
      annotations: {
        'metallb.io/address-pool': 'public',
        'metallb.io/loadBalancerIPs': '203.0.113.7, 2001:db8::7',
        'metallb.io/allow-shared-ip': 'front',
      },
    });
    assert.deepEqual(requestOf(current), request);
  });

  test("MetalLB's two prefixes that disagree are refused, naming both", () => {
    const message = refusal(
      svc({
        annotations: {
          'metallb.io/allow-shared-ip': 'a',
          'metallb.universe.tf/allow-shared-ip': 'b',
        },
      }),
    );
    assert.match(
      message,
      /metallb\.io\/allow-shared-ip: says "a" but metallb\.universe\.tf\/allow-shared-ip says "b"/,
    );
  });

  test('both spellings with the same value are fine', () => {
    const request = requestOf(
      svc({
        annotations: {
          'pier.dev/address-pool': 'public',
          'metallb.universe.tf/address-pool': ' public ',
        },
      }),
    );
    assert.equal(request.pool, 'public');
  });

  const disagreements: Array<[string, string, string]> = [
    ['pier.dev/address-pool', 'metallb.universe.tf/address-pool', 'a'],
    ['pier.dev/load-balancer-ips', 'metallb.universe.tf/loadBalancerIPs', '203.0.113.1'],
    ['pier.dev/ip-sharing-key', 'metallb.universe.tf/allow-shared-ip', 'k'],
  ];
  for (const [pier, metallb, value] of disagreements) {
    test(`${pier} and ${metallb} that disagree are refused, naming both`, () => {
      const message = refusal(svc({ annotations: { [pier]: value, [metallb]: `${value}9` } }));
      assert.ok(message.includes(pier), message);
      assert.ok(message.includes(metallb), message);
      assert.ok(message.includes(`"${value}9"`), message);
    });
  }

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    [
      'bad Pier address',
      { 'pier.dev/load-balancer-ips': '203.0.113.300' },
      /^annotation pier\.dev\/load-balancer-ips: "203\.0\.113\.300" is not an IP address/,
    ],
    [
      'bad MetalLB address names the MetalLB annotation',
      { 'metallb.universe.tf/loadBalancerIPs': 'lb.example.com' },
      /^annotation metallb\.universe\.tf\/loadBalancerIPs: "lb\.example\.com" is not an IP/,
    ],
    [
      'bad MetalLB sharing key names the MetalLB annotation',
      { 'metallb.universe.tf/allow-shared-ip': 'team a!' },
      /^annotation metallb\.universe\.tf\/allow-shared-ip: "team a!"/,
    ],
  ];
  for (const [name, annotations, message] of bad) {
    test(`refused: ${name}`, () => {
      assert.match(refusal(svc({ annotations })), message);
    });
  }
});

describe('spec.loadBalancerIP', () => {
  test('is honoured as the requested address', () => {
    const request = requestOf(svc({ spec: { loadBalancerIP: ' 203.0.113.7 ' } }));
    assert.deepEqual(request.requested, ['203.0.113.7']);
  });

  test('agreeing with the annotation is fine', () => {
    const request = requestOf(
      svc({
        annotations: { 'metallb.universe.tf/loadBalancerIPs': '203.0.113.7' },
        spec: { loadBalancerIP: '203.0.113.7' },
      }),
    );
    assert.deepEqual(request.requested, ['203.0.113.7']);
  });

  const disagreements: Array<[string, string]> = [
    ['pier.dev/load-balancer-ips', '203.0.113.8'],
    ['metallb.universe.tf/loadBalancerIPs', '203.0.113.8'],
    ['pier.dev/load-balancer-ips', '203.0.113.7, 2001:db8::7'],
  ];
  for (const [annotation, value] of disagreements) {
    test(`disagreeing with ${annotation}: ${value} is refused, naming both`, () => {
      const message = refusal(
        svc({ annotations: { [annotation]: value }, spec: { loadBalancerIP: '203.0.113.7' } }),
      );
      assert.ok(message.startsWith('spec.loadBalancerIP (203.0.113.7)'), message);
      assert.ok(message.includes(`annotation ${annotation} (${value})`), message);
    });
  }

  test('a bad address is reported against spec.loadBalancerIP', () => {
    const message = refusal(svc({ spec: { loadBalancerIP: 'nope' } }));
    assert.ok(message.startsWith('spec.loadBalancerIP: '), message);
    assert.match(message, /"nope" is not an IP address/);
  });
});

describe('sharing keys', () => {
  test('without a sharing key the key is the Service’s own', () => {
    const one = requestOf(svc({ namespace: 'a', name: 'x' }));
    const other = requestOf(svc({ namespace: 'b', name: 'x' }));
    assert.equal(one.key, 'service:a/x');
    assert.equal(other.key, 'service:b/x');
  });

  test('Services with the same sharing key get the same key, across namespaces', () => {
    const one = requestOf(
      svc({ namespace: 'a', name: 'dns', annotations: { 'pier.dev/ip-sharing-key': 'edge' } }),
    );
    const other = requestOf(
      svc({
        namespace: 'b',
        name: 'web',
        annotations: { 'metallb.universe.tf/allow-shared-ip': 'edge' },
      }),
    );
    assert.equal(one.key, 'service-key:edge');
    assert.equal(other.key, one.key);
  });

  test('a Service never shares a key with an Ingress', () => {
    const rows: Array<Record<string, string>> = [{}, { 'pier.dev/ip-sharing-key': 'edge' }];
    for (const annotations of rows) {
      const ingress = parseAddressAnnotations({
        metadata: { name: 'web', namespace: 'shop', annotations },
      });
      assert.ok(ingress.ok);
      const service = requestOf(svc({ annotations }));
      assert.notEqual(service.key, ingress.request.key, JSON.stringify(annotations));
    }
  });
});

describe('families', () => {
  const rows: Array<{
    name: string;
    spec: V1Service['spec'];
    families: number[] | undefined;
    optional: number[] | undefined;
  }> = [
    { name: 'no ipFamilies', spec: {}, families: undefined, optional: undefined },
    { name: 'IPv4, no policy', spec: { ipFamilies: ['IPv4'] }, families: [4], optional: undefined },
    {
      name: 'SingleStack takes the first family',
      spec: { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'SingleStack' },
      families: [6],
      optional: undefined,
    },
    {
      name: 'RequireDualStack takes both',
      spec: { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' },
      families: [4, 6],
      optional: undefined,
    },
    {
      name: 'PreferDualStack requires the first, the other optional',
      spec: { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' },
      families: [6],
      optional: [4],
    },
    {
      name: 'PreferDualStack on a single-stack cluster',
      spec: { ipFamilies: ['IPv4'], ipFamilyPolicy: 'PreferDualStack' },
      families: [4],
      optional: [6],
    },
    {
      name: 'unknown family names are ignored',
      spec: { ipFamilies: ['IPv5', 'IPv6'], ipFamilyPolicy: 'SingleStack' },
      families: [6],
      optional: undefined,
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const request = requestOf(svc({ spec: row.spec }));
      assert.deepEqual(request.families, row.families);
      assert.deepEqual(request.optionalFamilies, row.optional);
    });
  }
});

describe('sharing terms', () => {
  test('ports as PROTOCOL/port, sorted; protocol TCP and policy Cluster by default', () => {
    const request = requestOf(
      svc({
        spec: {
          ports: [{ port: 80 }, { port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
        },
      }),
    );
    assert.deepEqual(request.sharing?.ports, ['TCP/53', 'TCP/80', 'UDP/53']);
    assert.equal(request.sharing?.trafficPolicy, 'Cluster');
  });

  test('no ports: none used', () => {
    assert.deepEqual(requestOf(svc()).sharing?.ports, []);
  });

  test('externalTrafficPolicy Local is kept', () => {
    const request = requestOf(svc({ spec: { externalTrafficPolicy: 'Local' } }));
    assert.equal(request.sharing?.trafficPolicy, 'Local');
  });

  test('the selector is canonical whatever the order of its keys', () => {
    const selectorOf = (selector: Record<string, string> | undefined): string | undefined =>
      requestOf(svc({ spec: selector ? { selector } : {} })).sharing?.selector;
    const ab = selectorOf({ app: 'web', tier: 'front' });
    assert.equal(selectorOf({ tier: 'front', app: 'web' }), ab);
    assert.notEqual(selectorOf({ app: 'web', tier: 'back' }), ab);
    assert.notEqual(selectorOf({ app: 'web' }), ab);
    assert.equal(selectorOf(undefined), selectorOf({}));
  });
});
