import assert from 'node:assert/strict';
import { test } from 'node:test';
import { md5Crypt } from './md5-crypt.ts';
import { isCheapHash, verifyPassword } from './password-hash.ts';
import { shaCrypt } from './sha-crypt.ts';

const bytes = (s: string) => Buffer.from(s, 'utf8');

// Known vectors: `openssl passwd -apr1 / -1 -salt …` (OpenSSL 3.0) and `htpasswd -m`.
test('MD5-crypt and apr1 against openssl passwd and htpasswd', () => {
  const rows: Array<[string, string, '$1$' | '$apr1$', string]> = [
    ['bar', 'saltsalt', '$apr1$', '$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv.'],
    ['bar', 'elxsI/fT', '$apr1$', '$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.'],
    ['pässwörd', 'ab', '$apr1$', '$apr1$ab$J/pyQu7p0O5KCJfor.v6Y/'],
    ['x', '12345678', '$apr1$', '$apr1$12345678$zbBEMgfXu4mAHPrplrtNt.'],
    ['secret', 'xyz', '$1$', '$1$xyz$Qia9Wq6FxQkYcwNWMk/RM0'],
    ['secret', '', '$1$', '$1$$ysVNzQc4CTMkp5daOdZ.3/'],
    // A salt stops at `$` and at 8 characters.
    ['bar', 'saltsalt$HZb7DO9JU4769Nu3n58bv.', '$apr1$', '$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv.'],
    ['bar', 'saltsaltEXTRA', '$apr1$', '$apr1$saltsalt$HZb7DO9JU4769Nu3n58bv.'],
  ];
  for (const [password, salt, magic, want] of rows) {
    assert.equal(md5Crypt(bytes(password), salt, magic), want, `${magic}${salt}`);
  }
});

// The test vectors of Drepper's specification, and `openssl passwd -5 / -6`.
test('SHA-crypt against the specification’s vectors', () => {
  const rows: Array<[string, string, string]> = [
    ['Hello world!', '$5$saltstring', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    [
      'Hello world!',
      '$5$rounds=10000$saltstringsaltstring',
      '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
    ],
    [
      'Hello world!',
      '$6$saltstring',
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    [
      'Hello world!',
      '$6$rounds=10000$saltstringsaltstring',
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    ],
    [
      'This is just a test',
      '$5$rounds=5000$toolongsaltstring',
      '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5',
    ],
    [
      'we have a short salt string but not a short password',
      '$6$rounds=77777$short',
      '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
    ],
    [
      'the minimum number is still observed',
      '$5$rounds=10$roundstoolow',
      '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC',
    ],
  ];
  for (const [password, setting, want] of rows) {
    assert.equal(shaCrypt(bytes(password), setting), want, setting);
  }
  assert.equal(shaCrypt(bytes('x'), '$1$abc$'), undefined);
});

test('verifyPassword: right and wrong passwords in every accepted format', () => {
  const rows: Array<[string, string]> = [
    ['bar', '$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO'],
    ['secret', '$2b$10$6uysX/g1DG7ncfxGLs4NQ.85nlV5dD4is5CY/jKYmZnOguMJ1aSeG'],
    ['pässwörd', '$2y$04$j70eHE3.9fo7I6KBQlMqoeoe1QVFTFex6GRAWzuFoUhNNPy.YOAfm'],
    ['bar', '$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.'],
    ['secret', '$1$xyz$Qia9Wq6FxQkYcwNWMk/RM0'],
    ['Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
    [
      'Hello world!',
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    ['bar', '{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00='],
    ['bar', '{SSHA}I0gKknqM/L9gPhICGA8Mld46pIFzYWx0MTIzNA=='],
    ['bar', '{PLAIN}bar'],
  ];
  for (const [password, hash] of rows) {
    assert.equal(verifyPassword(bytes(password), hash), true, `right: ${hash}`);
    assert.equal(verifyPassword(bytes(`${password}x`), hash), false, `wrong: ${hash}`);
    assert.equal(verifyPassword(bytes(''), hash), false, `empty: ${hash}`);
  }
  assert.equal(verifyPassword(bytes('bar'), 'dadlpaoiVliX6'), false, 'DES is never accepted');
  assert.equal(verifyPassword(Buffer.from([0xff, 0xfe]), rows[0]?.[1] as string), false);
  assert.deepEqual(
    rows.map(([, hash]) => isCheapHash(hash)),
    [false, false, false, false, false, false, false, true, true, true],
  );
});
