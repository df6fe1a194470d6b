import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { before, describe, test } from 'node:test';
import type { SecureContext } from 'node:tls';
import {
  type Certificate,
  createLogger,
  isPierError,
  KeyRing,
  RouteIndex,
  type RouteTable,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import { type CertificatePair, generateDefaultCertificate } from './default-certificate.ts';
import { DEFAULT_CIPHERS, type SniCallback, TlsStore, type TlsStoreOptions } from './tls-store.ts';

const keyRing = new KeyRing({ current: 'k1', keys: { k1: randomBytes(32) } });

let defaults: CertificatePair;
let pairA: CertificatePair;
let pairA2: CertificatePair;
let pairB: CertificatePair;

before(async () => {
  [defaults, pairA, pairA2, pairB] = await Promise.all([
    generateDefaultCertificate(),
    generateDefaultCertificate({ commonName: 'a.example.test' }),
    generateDefaultCertificate({ commonName: 'a.example.test' }),
    generateDefaultCertificate({ commonName: 'any.b.example.test' }),
  ]);
});

function certificate(id: string, pair: CertificatePair, ring = keyRing): Certificate {
  return {
    id,
    secret: { namespace: 'shop', name: id.split('/')[1] ?? id },
    certificatePem: pair.certPem,
    key: ring.seal(pair.keyPem, id),
  };
}

/** A table of TLS virtual hosts: [address, host, certificate id]. */
function table(
  revision: number,
  certificates: Certificate[],
  hosts: Array<[string, string, string]>,
): RouteTable {
  const virtualHosts: Record<string, VirtualHost> = {};
  for (const [address, host, cert] of hosts) {
    virtualHosts[virtualHostKey(address, host)] = {
      address,
      host,
      tls: { certificate: cert },
      routes: [],
    };
  }
  return {
    revision,
    virtualHosts,
    backends: {},
    certificates: Object.fromEntries(certificates.map((c) => [c.id, c])),
  };
}

function apply(store: TlsStore, t: RouteTable) {
  return store.update(t, new RouteIndex(t));
}

/** Runs the SNI callback as Node does, optionally with a socket-like `this`. */
function pick(
  callback: SniCallback,
  servername: string,
  socket?: { localAddress?: string },
): SecureContext | undefined {
  let result: SecureContext | undefined;
  let called = 0;
  callback.call(socket, servername, (err, ctx) => {
    assert.equal(err, null);
    called++;
    result = ctx;
  });
  assert.equal(called, 1, 'the callback answers synchronously, once');
  return result;
}

function newStore(options: Partial<TlsStoreOptions> = {}): TlsStore {
  return new TlsStore({ keyRing, defaultCertificate: defaults, ...options });
}

function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'debug', destination }), lines };
}

describe('TlsStore', () => {
  test('picks exact, then wildcard certificates; unknown and empty names get the default', () => {
    const store = newStore();
    const a = certificate('shop/a', pairA);
    const b = certificate('shop/b', pairB);
    const problems = apply(
      store,
      table(
        1,
        [a, b],
        [
          ['*', 'a.example.test', 'shop/a'],
          ['*', '*.b.example.test', 'shop/b'],
        ],
      ),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual([...store.loaded].sort(), ['shop/a', 'shop/b']);
    const ctxA = pick(store.sniCallback, 'a.example.test');
    const ctxB = pick(store.sniCallback, 'x.b.example.test');
    assert.ok(ctxA !== undefined && ctxB !== undefined);
    assert.notEqual(ctxA, ctxB);
    assert.equal(pick(store.sniCallback, 'A.Example.Test.'), ctxA, 'SNI is normalized');
    const defaultsCases = ['unknown.test', 'b.example.test', 'y.x.b.example.test', ''];
    for (const name of defaultsCases) {
      assert.equal(pick(store.sniCallback, name), undefined, `'${name}' gets the default`);
    }
  });

  test('keeps the context of an unchanged certificate, rebuilds a changed one, drops a removed one', () => {
    const store = newStore();
    const a = certificate('shop/a', pairA);
    const b = certificate('shop/b', pairB);
    const hosts: Array<[string, string, string]> = [
      ['*', 'a.example.test', 'shop/a'],
      ['*', '*.b.example.test', 'shop/b'],
    ];
    apply(store, table(1, [a, b], hosts));
    const ctxA = pick(store.sniCallback, 'a.example.test');
    const ctxB = pick(store.sniCallback, 'x.b.example.test');

    // Same content as a fresh object (as a decoded Redis snapshot would be): same context.
    apply(store, table(2, [structuredClone(a), structuredClone(b)], hosts));
    assert.equal(pick(store.sniCallback, 'a.example.test'), ctxA);
    assert.equal(pick(store.sniCallback, 'x.b.example.test'), ctxB);

    // a.example.test gets a new certificate; b's is untouched.
    const a2 = certificate('shop/a', pairA2);
    apply(store, table(3, [a2, b], hosts));
    const ctxA2 = pick(store.sniCallback, 'a.example.test');
    assert.ok(ctxA2 !== undefined);
    assert.notEqual(ctxA2, ctxA);
    assert.equal(pick(store.sniCallback, 'x.b.example.test'), ctxB);

    // Re-sealing the same key (new nonce) counts as a change too: the sealed bytes differ.
    apply(store, table(4, [certificate('shop/a', pairA2), b], hosts));
    assert.notEqual(pick(store.sniCallback, 'a.example.test'), ctxA2);

    apply(store, table(5, [b], [['*', '*.b.example.test', 'shop/b']]));
    assert.deepEqual([...store.loaded], ['shop/b']);
    assert.equal(pick(store.sniCallback, 'a.example.test'), undefined);
  });

  test('patch: a table changed in place reloads only the certificates named', () => {
    const store = newStore();
    const a = certificate('shop/a', pairA);
    const b = certificate('shop/b', pairB);
    const live = table(
      1,
      [a, b],
      [
        ['*', 'a.example.test', 'shop/a'],
        ['*', '*.b.example.test', 'shop/b'],
      ],
    );
    const index = new RouteIndex(live);
    apply(store, live);
    const ctxA = pick(store.sniCallback, 'a.example.test');
    const ctxB = pick(store.sniCallback, 'x.b.example.test');

    // a gets a new key pair; b is rewritten too but not named, so it is not looked at.
    live.certificates['shop/a'] = certificate('shop/a', pairA2);
    live.certificates['shop/b'] = { ...b, certificatePem: 'not a certificate' };
    const next = { ...live, revision: 2 };
    index.patch(next, {
      virtualHosts: new Set(),
      backends: new Set(),
      certificates: new Set(['shop/a']),
    });
    assert.equal(store.patch(next, index, new Set(['shop/a'])), 0);
    const ctxA2 = pick(store.sniCallback, 'a.example.test');
    assert.ok(ctxA2 !== undefined && ctxA2 !== ctxA, 'a has a context of its new pair');
    assert.equal(pick(store.sniCallback, 'x.b.example.test'), ctxB);

    // A broken certificate counts as not served; a removed one leaves the store.
    live.certificates['shop/b'] = { ...b, key: keyRing.seal(pairA.keyPem, 'shop/b') };
    delete live.certificates['shop/a'];
    const third = { ...live, revision: 3 };
    const changed = new Set(['shop/a', 'shop/b']);
    index.patch(third, { virtualHosts: new Set(), backends: new Set(), certificates: changed });
    assert.equal(store.patch(third, index, changed), 1);
    assert.deepEqual([...store.loaded], []);
    assert.equal(pick(store.sniCallback, 'a.example.test'), undefined);
    assert.equal(pick(store.sniCallback, 'x.b.example.test'), undefined);
  });

  const broken: Array<[string, () => Certificate, RegExp]> = [
    [
      'a tampered sealed key',
      () => {
        const c = certificate('shop/a', pairA);
        const bytes = Buffer.from(c.key.ciphertext, 'base64');
        bytes[0] = (bytes[0] as number) ^ 1;
        return { ...c, key: { ...c.key, ciphertext: bytes.toString('base64') } };
      },
      /cannot be opened.*failed authentication/,
    ],
    [
      'a key sealed for another certificate id',
      () => ({ ...certificate('shop/a', pairA), key: keyRing.seal(pairA.keyPem, 'shop/other') }),
      /cannot be opened/,
    ],
    [
      'a key sealed with a key the ring does not have',
      () =>
        certificate('shop/a', pairA, new KeyRing({ current: 'k9', keys: { k9: randomBytes(32) } })),
      /cannot be opened.*unknown key id 'k9'/,
    ],
    [
      'a key that does not match the certificate',
      () => ({ ...certificate('shop/a', pairA), key: keyRing.seal(pairB.keyPem, 'shop/a') }),
      /does not match the certificate/,
    ],
    [
      'a sealed text that is not a key',
      () => ({ ...certificate('shop/a', pairA), key: keyRing.seal('hello', 'shop/a') }),
      /private key cannot be parsed/,
    ],
    [
      'a certificate PEM that does not parse',
      () => ({
        ...certificate('shop/a', pairA),
        certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      }),
      /certificate cannot be parsed/,
    ],
  ];
  for (const [name, make, message] of broken) {
    test(`reports ${name}, serves the default for its hosts and the others as usual`, () => {
      const { logger, lines } = capture();
      const store = newStore({ logger });
      const bad = make();
      const b = certificate('shop/b', pairB);
      const t = table(
        1,
        [bad, b],
        [
          ['*', 'a.example.test', 'shop/a'],
          ['*', '*.b.example.test', 'shop/b'],
        ],
      );
      const problems = apply(store, t);
      assert.equal(problems.length, 1);
      assert.equal(problems[0]?.certificate, 'shop/a');
      assert.match(problems[0]?.message ?? '', message);
      assert.deepEqual([...store.loaded], ['shop/b']);
      assert.equal(pick(store.sniCallback, 'a.example.test'), undefined);
      assert.ok(pick(store.sniCallback, 'x.b.example.test') !== undefined);

      // The next revision reports it again (it is still not served) but logs it only once.
      assert.deepEqual(apply(store, { ...t, revision: 2 }), problems);
      const warnings = lines.filter((l) => l.includes('"level":40'));
      assert.equal(warnings.length, 1, lines.join(''));
      assert.match(warnings[0] ?? '', /"certificate":"shop\/a".*"namespace":"shop"/);
      for (const line of lines) {
        assert.ok(!line.includes('PRIVATE KEY'), 'no key material in logs');
        for (const pair of [pairA, pairB]) {
          const body = pair.keyPem.split('\n')[1] ?? '';
          assert.ok(!line.includes(body), 'no key material in logs');
        }
      }
    });
  }

  test('a certificate fixed in a later revision is loaded then', () => {
    const store = newStore();
    const hosts: Array<[string, string, string]> = [['*', 'a.example.test', 'shop/a']];
    const mismatched = {
      ...certificate('shop/a', pairA),
      key: keyRing.seal(pairB.keyPem, 'shop/a'),
    };
    assert.equal(apply(store, table(1, [mismatched], hosts)).length, 1);
    assert.deepEqual(apply(store, table(2, [certificate('shop/a', pairA)], hosts)), []);
    assert.ok(pick(store.sniCallback, 'a.example.test') !== undefined);
  });

  test('with the socket as `this`, the local address picks among per-address certificates', () => {
    const store = newStore();
    const a = certificate('shop/a', pairA);
    const a2 = certificate('shop/a2', pairA2);
    apply(
      store,
      table(
        1,
        [a, a2],
        [
          ['192.0.2.10', 'a.example.test', 'shop/a'],
          ['192.0.2.20', 'a.example.test', 'shop/a2'],
        ],
      ),
    );
    const on10 = pick(store.sniCallback, 'a.example.test', { localAddress: '192.0.2.10' });
    const on20 = pick(store.sniCallback, 'a.example.test', { localAddress: '::ffff:192.0.2.20' });
    assert.ok(on10 !== undefined && on20 !== undefined);
    assert.notEqual(on10, on20);
    assert.equal(
      pick(store.sniCallback, 'a.example.test', { localAddress: '192.0.2.99' }),
      undefined,
    );
    // Without an address (no socket as `this`), some certificate of the host still serves.
    const anywhere = pick(store.sniCallback, 'a.example.test');
    assert.ok(anywhere === on10 || anywhere === on20);
  });

  test('never throws from update, even on an entry without a sealed key', () => {
    const store = newStore();
    const t = table(1, [certificate('shop/a', pairA)], [['*', 'a.example.test', 'shop/a']]);
    const entry = t.certificates['shop/a'] as unknown as Record<string, unknown>;
    delete entry.key;
    const problems = apply(store, t);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.certificate, 'shop/a');
  });

  test('serverOptions carry the default certificate, protocol floor, ciphers and SNI callback', () => {
    const store = newStore({ minVersion: 'TLSv1.3' });
    const options = store.serverOptions();
    assert.equal(options.cert, defaults.certPem);
    assert.equal(options.key, defaults.keyPem);
    assert.equal(options.minVersion, 'TLSv1.3');
    assert.equal(options.ciphers, DEFAULT_CIPHERS);
    assert.equal(options.honorCipherOrder, true);
    assert.equal(options.sessionTimeout, 300);
    assert.equal(options.SNICallback, store.sniCallback);
    for (const suite of DEFAULT_CIPHERS.split(':')) {
      // TLS 1.3 suites, or forward-secret AEAD suites for TLS 1.2.
      assert.match(suite, /^(TLS_|ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305))/);
    }
  });

  const badOptions: Array<[string, () => Partial<TlsStoreOptions>]> = [
    ['a minVersion of TLSv1.1', () => ({ minVersion: 'TLSv1.1' as 'TLSv1.2' })],
    ['a cipher list OpenSSL rejects', () => ({ ciphers: 'NOT-A-CIPHER' })],
    [
      'a default key that does not match its certificate',
      () => ({ defaultCertificate: { certPem: defaults.certPem, keyPem: pairA.keyPem } }),
    ],
    [
      'a default certificate that is not PEM',
      () => ({ defaultCertificate: { certPem: 'nope', keyPem: defaults.keyPem } }),
    ],
    ['a key ring that is not a KeyRing', () => ({ keyRing: {} as KeyRing })],
  ];
  for (const [name, options] of badOptions) {
    test(`refuses ${name} with PIER_INVALID_CONFIG`, () => {
      assert.throws(
        () => newStore(options()),
        (err) => isPierError(err, 'PIER_INVALID_CONFIG'),
      );
    });
  }
});
