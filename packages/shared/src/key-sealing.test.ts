import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import type { SealedKey } from './key-sealing.ts';
import { KeyRing, parseKeyRingSpec, sealedKeyProblem } from './key-sealing.ts';

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
const PEM =
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
const CERT_ID = 'shop/shop-tls';

const ring = () => new KeyRing({ current: 'a', keys: { a: KEY_A } });

function flipFirstByte(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

const openFails = (code: RegExp) => (err: unknown) =>
  isPierError(err, 'PIER_KEY_OPEN_FAILED') && code.test(err.message);

test('a sealed key opens back to the same PEM', () => {
  const keys = ring();
  const sealed = keys.seal(PEM, CERT_ID);
  assert.equal(sealed.alg, 'AES-256-GCM');
  assert.equal(sealed.keyId, 'a');
  assert.equal(Buffer.from(sealed.iv, 'base64').length, 12);
  assert.equal(Buffer.from(sealed.tag, 'base64').length, 16);
  assert.equal(sealedKeyProblem(sealed), undefined);
  assert.equal(keys.open(sealed, CERT_ID), PEM);
});

test('nothing readable of the key is in what gets stored', () => {
  const stored = JSON.stringify(ring().seal(PEM, CERT_ID));
  assert.ok(!stored.includes('PRIVATE KEY'));
  assert.ok(!stored.includes('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'));
  assert.ok(!Buffer.from(JSON.parse(stored).ciphertext, 'base64').toString().includes('PRIVATE'));
});

test('every seal uses a fresh nonce', () => {
  const keys = ring();
  assert.notEqual(keys.seal(PEM, CERT_ID).iv, keys.seal(PEM, CERT_ID).iv);
});

test('tampering, a wrong certificate id or an unknown key id fail to open', () => {
  const keys = ring();
  const sealed = keys.seal(PEM, CERT_ID);
  const rows: Array<[string, SealedKey, string, RegExp]> = [
    [
      'ciphertext flipped',
      { ...sealed, ciphertext: flipFirstByte(sealed.ciphertext) },
      CERT_ID,
      /authentication/,
    ],
    ['tag flipped', { ...sealed, tag: flipFirstByte(sealed.tag) }, CERT_ID, /authentication/],
    ['iv flipped', { ...sealed, iv: flipFirstByte(sealed.iv) }, CERT_ID, /authentication/],
    ['swapped onto another certificate', sealed, 'shop/other-tls', /authentication/],
    ['unknown key id', { ...sealed, keyId: 'zz' }, CERT_ID, /unknown key id 'zz'/],
    ['truncated tag', { ...sealed, tag: sealed.tag.slice(0, 8) }, CERT_ID, /malformed/],
    ['not base64', { ...sealed, ciphertext: '!!!' }, CERT_ID, /malformed/],
  ];
  for (const [name, input, aad, message] of rows) {
    assert.throws(() => keys.open(input, aad), openFails(message), name);
  }
});

test('rotation: old keys still open, new seals use the current key', () => {
  const before = new KeyRing({ current: 'a', keys: { a: KEY_A } });
  const sealedBefore = before.seal(PEM, CERT_ID);
  const after = new KeyRing({ current: 'b', keys: { a: KEY_A, b: KEY_B } });
  assert.equal(after.open(sealedBefore, CERT_ID), PEM);
  const sealedAfter = after.seal(PEM, CERT_ID);
  assert.equal(sealedAfter.keyId, 'b');
  assert.deepEqual(after.keyIds, ['b', 'a']);
  // A node that has not received the new key yet reports it precisely.
  assert.throws(() => before.open(sealedAfter, CERT_ID), openFails(/unknown key id 'b'/));
});

test('sealing without a certificate id is refused', () => {
  assert.throws(
    () => ring().seal(PEM, ''),
    (err) => isPierError(err, 'PIER_KEY_SEAL_FAILED'),
  );
});

test('the key ring constructor names what is wrong', () => {
  const rows: Array<[string, unknown, RegExp]> = [
    ['short key', { current: 'a', keys: { a: Buffer.alloc(16) } }, /key 'a' is 16 bytes/],
    ['not bytes', { current: 'a', keys: { a: 'secret' } }, /key 'a' is string/],
    ['no keys', { current: 'a', keys: {} }, /no keys/],
    [
      'current missing',
      { current: 'c', keys: { a: KEY_A } },
      /current key id 'c' is not one of the keys \(a\)/,
    ],
    ['bad id', { current: 'a b', keys: { 'a b': KEY_A } }, /key id 'a b'/],
    ['no spec', null, /must be an object/],
  ];
  for (const [name, spec, message] of rows) {
    assert.throws(
      () => new KeyRing(spec as never),
      (err) => isPierError(err, 'PIER_INVALID_CONFIG') && message.test(err.message),
      name,
    );
  }
});

test('the ring keeps its own copy of the key bytes', () => {
  const key = Buffer.from(KEY_A);
  const keys = new KeyRing({ current: 'a', keys: { a: key } });
  const sealed = keys.seal(PEM, CERT_ID);
  key.fill(0);
  assert.equal(keys.open(sealed, CERT_ID), PEM);
});

test('parseKeyRingSpec reads keyId=base64 lines, first is current', () => {
  const text = `# rotated 2025-01\n\nk2=${KEY_B.toString('base64')}\r\nk1 = ${KEY_A.toString('base64')}\n`;
  const spec = parseKeyRingSpec(text);
  assert.equal(spec.current, 'k2');
  assert.deepEqual(Object.keys(spec.keys), ['k2', 'k1']);
  assert.deepEqual(Buffer.from(spec.keys.k1 ?? []), KEY_A);
  const keys = KeyRing.fromSpecText(text);
  assert.equal(keys.open(keys.seal(PEM, CERT_ID), CERT_ID), PEM);
});

test('parseKeyRingSpec errors name the line and key, never the key material', () => {
  const short = Buffer.alloc(16, 7).toString('base64');
  const rows: Array<[string, RegExp]> = [
    ['', /no keys/],
    ['# only a comment\n', /no keys/],
    [`k1=${short}`, /line 1: key 'k1' is 16 bytes; AES-256-GCM needs exactly 32/],
    [
      `k1=${KEY_A.toString('base64')}\nk1=${KEY_B.toString('base64')}`,
      /line 2: duplicate key id 'k1'/,
    ],
    [`\nk1`, /line 2: expected keyId=base64key/],
    [`=${KEY_A.toString('base64')}`, /line 1: expected keyId=base64key/],
    ['k1=not*base64', /line 1: key 'k1' is not valid base64/],
  ];
  for (const [text, message] of rows) {
    assert.throws(
      () => parseKeyRingSpec(text),
      (err) =>
        isPierError(err, 'PIER_INVALID_CONFIG') &&
        message.test(err.message) &&
        !err.message.includes(short),
      JSON.stringify(text),
    );
  }
});

test('sealedKeyProblem names the broken field', () => {
  const good = ring().seal(PEM, CERT_ID);
  const rows: Array<[unknown, string | undefined]> = [
    [good, undefined],
    [null, ''],
    [{ ...good, alg: 'AES-128-GCM' }, 'alg'],
    [{ ...good, keyId: '' }, 'keyId'],
    [{ ...good, iv: Buffer.alloc(8).toString('base64') }, 'iv'],
    [{ ...good, tag: 42 }, 'tag'],
    [{ ...good, ciphertext: '' }, 'ciphertext'],
  ];
  for (const [value, field] of rows) assert.equal(sealedKeyProblem(value)?.field, field);
});
