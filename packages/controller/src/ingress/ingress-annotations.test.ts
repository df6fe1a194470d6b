import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { parseAddressAnnotations } from './ingress-annotations.ts';

function ing(annotations: Record<string, string>): V1Ingress {
  return { metadata: { name: 'i', namespace: 'n', annotations } };
}

const ok: Array<[string, Record<string, string>, object]> = [
  ['no annotations: default key', {}, { key: '' }],
  ['sharing key', { 'pier.dev/ip-sharing-key': 'team-a' }, { key: 'team-a' }],
  ['pool', { 'pier.dev/address-pool': ' public ' }, { key: '', pool: 'public' }],
  [
    'one IP',
    { 'pier.dev/load-balancer-ips': '203.0.113.7' },
    { key: '', requested: ['203.0.113.7'] },
  ],
  [
    'dual-stack pair',
    { 'pier.dev/load-balancer-ips': '203.0.113.7, 2001:db8::7' },
    { key: '', requested: ['203.0.113.7', '2001:db8::7'] },
  ],
  [
    'empty values are ignored',
    { 'pier.dev/load-balancer-ips': ' ', 'pier.dev/ip-sharing-key': '' },
    { key: '' },
  ],
];
for (const [name, annotations, request] of ok) {
  test(`annotations: ${name}`, () => {
    assert.deepEqual(parseAddressAnnotations(ing(annotations)), { ok: true, request });
  });
}

const bad: Array<[string, Record<string, string>, string, RegExp]> = [
  [
    'not an IP',
    { 'pier.dev/load-balancer-ips': '203.0.113.300' },
    'pier.dev/load-balancer-ips',
    /not an IP/,
  ],
  [
    'hostname',
    { 'pier.dev/load-balancer-ips': 'lb.example.com' },
    'pier.dev/load-balancer-ips',
    /not an IP/,
  ],
  [
    'two IPv4',
    { 'pier.dev/load-balancer-ips': '203.0.113.1,203.0.113.2' },
    'pier.dev/load-balancer-ips',
    /one IPv4 and one IPv6/,
  ],
  [
    'duplicate',
    { 'pier.dev/load-balancer-ips': '203.0.113.1,203.0.113.1' },
    'pier.dev/load-balancer-ips',
    /twice/,
  ],
  [
    'bad key',
    { 'pier.dev/ip-sharing-key': 'team a!' },
    'pier.dev/ip-sharing-key',
    /letters, digits/,
  ],
];
for (const [name, annotations, annotation, message] of bad) {
  test(`annotations refused: ${name}`, () => {
    const parsed = parseAddressAnnotations(ing(annotations));
    assert.equal(parsed.ok, false);
    if (!parsed.ok) {
      assert.equal(parsed.annotation, annotation);
      assert.match(parsed.message, message);
    }
  });
}
