import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import {
  A_CERT,
  A_KEY,
  B_CERT,
  B_KEY,
  CERT_NOT_AFTER,
  NS,
  OTHER_KEY,
  tlsSecret,
} from './route-fixtures.test.ts';
import { TlsResolver } from './tls-resolver.ts';

test('tls resolver: a valid Secret gives the public chain, the key and the leaf expiry', () => {
  const checked = new TlsResolver([tlsSecret('a-tls', { crt: A_CERT, key: A_KEY })]).check(
    NS,
    'a-tls',
  );
  assert.deepEqual(checked, {
    ok: true,
    id: 'shop/a-tls',
    secret: { namespace: NS, name: 'a-tls' },
    certificatePem: A_CERT,
    keyPem: A_KEY,
    notAfter: CERT_NOT_AFTER,
  });
});

test('tls resolver: a chain keeps every certificate in order, leaf first, and drops anything else', () => {
  const crt = `${A_CERT}${A_KEY}\n${B_CERT}`;
  const checked = new TlsResolver([tlsSecret('chain', { crt, key: A_KEY })]).check(NS, 'chain');
  assert.equal(checked.ok, true);
  if (!checked.ok) return;
  assert.equal(checked.certificatePem, `${A_CERT.trim()}\n${B_CERT.trim()}\n`);
  assert.doesNotMatch(checked.certificatePem, /PRIVATE KEY/);
});

test('tls resolver: stringData (plain text, as in manifests) is read too', () => {
  const secret: V1Secret = {
    metadata: { namespace: NS, name: 'plain' },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': B_CERT, 'tls.key': B_KEY },
  };
  const checked = new TlsResolver([secret]).check(NS, 'plain');
  assert.equal(checked.ok, true);
});

const bad: Array<[string, V1Secret[], string, RegExp]> = [
  ['missing Secret', [], 'TLSSecretNotFound', /not found/],
  [
    'Secret in another namespace',
    [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }, { namespace: 'other' })],
    'TLSSecretNotFound',
    /not found/,
  ],
  [
    'wrong type',
    [tlsSecret('a-tls', { crt: A_CERT, key: A_KEY }, { type: 'Opaque' })],
    'TLSSecretInvalid',
    /type 'Opaque'/,
  ],
  ['no tls.crt', [tlsSecret('a-tls', { key: A_KEY })], 'TLSSecretInvalid', /no tls\.crt/],
  ['no tls.key', [tlsSecret('a-tls', { crt: A_CERT })], 'TLSSecretInvalid', /no tls\.key/],
  [
    'tls.crt is not PEM',
    [tlsSecret('a-tls', { crt: 'hello', key: A_KEY })],
    'TLSSecretInvalid',
    /no PEM certificate/,
  ],
  [
    'tls.crt is garbage in PEM armour',
    [
      tlsSecret('a-tls', {
        crt: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        key: A_KEY,
      }),
    ],
    'TLSSecretInvalid',
    /unparsable certificate/,
  ],
  [
    'tls.key is not a key',
    [tlsSecret('a-tls', { crt: A_CERT, key: 'not a key' })],
    'TLSSecretInvalid',
    /private key/,
  ],
  [
    'tls.key belongs to another certificate',
    [tlsSecret('a-tls', { crt: A_CERT, key: OTHER_KEY })],
    'TLSSecretInvalid',
    /does not match/,
  ],
  [
    'tls.key of the second certificate, not the leaf',
    [tlsSecret('a-tls', { crt: `${A_CERT}${B_CERT}`, key: B_KEY })],
    'TLSSecretInvalid',
    /does not match/,
  ],
];

for (const [name, secrets, reason, message] of bad) {
  test(`tls resolver: ${name} → ${reason}`, () => {
    const checked = new TlsResolver(secrets).check(NS, 'a-tls');
    assert.equal(checked.ok, false);
    if (checked.ok) return;
    assert.equal(checked.reason, reason);
    assert.match(checked.message, message);
    assert.match(checked.message, /shop\/a-tls/);
    assert.doesNotMatch(checked.message, /BEGIN|MIG/, 'never quotes key material');
  });
}
