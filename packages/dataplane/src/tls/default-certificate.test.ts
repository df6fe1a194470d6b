import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isPierError } from '@pier/shared';
import {
  assertDefaultCertificateOptions,
  type CertificatePair,
  generateDefaultCertificate,
  loadCertificateFiles,
} from './default-certificate.ts';

const DAY_MS = 86_400_000;

describe('generateDefaultCertificate', () => {
  test('makes a self-signed ECDSA P-256 server certificate named pier-default for a year', async () => {
    const started = Date.now();
    const { certPem, keyPem } = await generateDefaultCertificate();
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, 'CN=pier-default');
    assert.equal(cert.issuer, 'CN=pier-default');
    assert.equal(cert.subjectAltName, 'DNS:pier-default');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    const key = createPrivateKey(keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.checkPrivateKey(key));
    assert.match(
      keyPem,
      /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/,
    );
    assert.match(
      certPem,
      /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE-----\n$/,
    );
    const validFrom = Date.parse(cert.validFrom);
    const validTo = Date.parse(cert.validTo);
    assert.ok(validFrom <= started, 'valid from before now');
    assert.ok(Math.abs(validTo - (started + 365 * DAY_MS)) < 60_000, cert.validTo);
  });

  test('takes a common name and validity, and draws a new serial each time', async () => {
    const one = await generateDefaultCertificate({ commonName: 'edge.example.test', validDays: 2 });
    const two = await generateDefaultCertificate({ commonName: 'edge.example.test', validDays: 2 });
    const cert = new X509Certificate(one.certPem);
    assert.equal(cert.subject, 'CN=edge.example.test');
    assert.equal(cert.subjectAltName, 'DNS:edge.example.test');
    assert.ok(Math.abs(Date.parse(cert.validTo) - (Date.now() + 2 * DAY_MS)) < 60_000);
    assert.notEqual(cert.serialNumber, new X509Certificate(two.certPem).serialNumber);
    assert.ok(cert.serialNumber.length >= 30, `serial ${cert.serialNumber} is ~128 bits`);
    assert.notEqual(one.keyPem, two.keyPem);
  });

  const bad: Array<[string, string, number]> = [
    ['empty name', '', 365],
    ['wildcard name', '*.example.test', 365],
    ['name with a space', 'pier default', 365],
    ['name with a comma (would inject an RDN)', 'a,O=evil', 365],
    ['zero days', 'pier-default', 0],
    ['fractional days', 'pier-default', 1.5],
    ['more than ten years', 'pier-default', 3651],
    ['NaN days', 'pier-default', Number.NaN],
  ];
  for (const [name, commonName, validDays] of bad) {
    test(`refuses ${name} with PIER_INVALID_CONFIG`, async () => {
      assert.throws(
        () => assertDefaultCertificateOptions(commonName, validDays),
        (err) => isPierError(err, 'PIER_INVALID_CONFIG'),
      );
      await assert.rejects(generateDefaultCertificate({ commonName, validDays }), (err) =>
        isPierError(err, 'PIER_INVALID_CONFIG'),
      );
    });
  }
});

describe('loadCertificateFiles', () => {
  let dir: string;
  let pair: CertificatePair;
  let other: CertificatePair;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pier-default-cert-'));
    pair = await generateDefaultCertificate({ commonName: 'configured.example.test' });
    other = await generateDefaultCertificate();
    await writeFile(join(dir, 'tls.crt'), pair.certPem);
    await writeFile(join(dir, 'tls.key'), pair.keyPem);
    await writeFile(join(dir, 'other.key'), other.keyPem);
    await writeFile(join(dir, 'both.pem'), pair.certPem + pair.keyPem);
    await writeFile(join(dir, 'garbage'), 'not pem at all\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('returns a matching pair as read', async () => {
    const loaded = await loadCertificateFiles(join(dir, 'tls.crt'), join(dir, 'tls.key'));
    assert.deepEqual(loaded, pair);
  });

  const cases: Array<[string, string, string, string]> = [
    ['a key of another certificate', 'tls.crt', 'other.key', 'other.key'],
    ['a missing certificate file', 'missing.crt', 'tls.key', 'missing.crt'],
    ['a missing key file', 'tls.crt', 'missing.key', 'missing.key'],
    ['a certificate file that is not PEM', 'garbage', 'tls.key', 'garbage'],
    ['a key file that is not PEM', 'tls.crt', 'garbage', 'garbage'],
  ];
  test('accepts one combined file as both certificate and key', async () => {
    const combined = join(dir, 'both.pem');
    const loaded = await loadCertificateFiles(combined, combined);
    assert.ok(new X509Certificate(loaded.certPem).checkPrivateKey(createPrivateKey(loaded.keyPem)));
  });

  for (const [name, certFile, keyFile, named] of cases) {
    test(`refuses ${name}, naming the file`, async () => {
      await assert.rejects(loadCertificateFiles(join(dir, certFile), join(dir, keyFile)), (err) => {
        assert.ok(isPierError(err, 'PIER_INVALID_CONFIG'));
        assert.ok(err.message.includes(join(dir, named)), err.message);
        assert.ok(!err.message.includes('PRIVATE KEY'), 'no key material in the message');
        return true;
      });
    });
  }
});
