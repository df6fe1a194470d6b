import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import {
  basicCredentials,
  checkBasicAuth,
  parseHtpasswd,
  passwordHashProblem,
  passwordScheme,
  realmProblem,
} from './route-basic-auth.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

// Hashes made with `htpasswd -n` (apache2-utils) and `openssl passwd`.
test('password schemes: what htpasswd and openssl make is known, DES and high costs are not', () => {
  const rows: Array<[string, string | undefined]> = [
    ['$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO', 'bcrypt'],
    ['$2a$10$6uysX/g1DG7ncfxGLs4NQ.85nlV5dD4is5CY/jKYmZnOguMJ1aSeG', 'bcrypt'],
    ['$2b$10$6uysX/g1DG7ncfxGLs4NQ.85nlV5dD4is5CY/jKYmZnOguMJ1aSeG', 'bcrypt'],
    ['$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.', 'apr1'],
    ['$1$xyz$Qia9Wq6FxQkYcwNWMk/RM0', 'md5-crypt'],
    ['$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5', 'sha256-crypt'],
    [
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
      'sha512-crypt',
    ],
    ['{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=', 'sha1'],
    ['{SSHA}dGhpcyBpcyBzb21lIHNoYTEgb3V0cHV0c2FsdA==', 'ssha'],
    ['{PLAIN}bar', 'plain'],
    ['dadlpaoiVliX6', undefined],
    ['$2y$15$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO', undefined],
    ['$2y$05$short', undefined],
    ['bar', undefined],
  ];
  for (const [hash, scheme] of rows) assert.equal(passwordScheme(hash), scheme, hash);
  assert.match(passwordHashProblem('dadlpaoiVliX6') ?? '', /DES crypt/);
  assert.match(
    passwordHashProblem('$2y$15$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO') ?? '',
    /cost 15, above the 14/,
  );
  assert.match(
    passwordHashProblem(
      '$5$rounds=900000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
    ) ?? '',
    /900000 SHA-crypt rounds/,
  );
});

test('htpasswd lines as nginx reads them: comments, CR, first line of a user wins, hash ends at : or CR', () => {
  const text = [
    '# users',
    'foo:$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.',
    '',
    '\rbar:skipped',
    'bar:{PLAIN}one:a comment',
    'foo:{PLAIN}second',
    'nocolon',
    ':nouser',
    'baz:{PLAIN}crlf\r',
  ].join('\n');
  assert.deepEqual(parseHtpasswd(text), [
    { user: 'foo', hash: '$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.', line: 2 },
    { user: 'bar', hash: '{PLAIN}one', line: 5 },
    { user: 'baz', hash: '{PLAIN}crlf', line: 9 },
  ]);
});

test('Authorization: Basic as nginx decodes it', () => {
  const rows: Array<[string | undefined, { user: string; password: string } | undefined]> = [
    [`Basic ${b64('foo:bar')}`, { user: 'foo', password: 'bar' }],
    [`basic   ${b64('foo:bar')}`, { user: 'foo', password: 'bar' }],
    [`BASIC ${b64('foo:a:b')}`, { user: 'foo', password: 'a:b' }],
    [`Basic ${b64('foo:')}`, { user: 'foo', password: '' }],
    [`Basic ${b64('foo:bar').replace(/=+$/, '')}`, { user: 'foo', password: 'bar' }],
    [`Basic ${b64(':bar')}`, undefined],
    [`Basic ${b64('foobar')}`, undefined],
    ['Basic ', undefined],
    ['Basic !!!!', undefined],
    ['Basic a', undefined],
    [`Bearer ${b64('foo:bar')}`, undefined],
    [`Basic${b64('foo:bar')}`, undefined],
    [undefined, undefined],
  ];
  for (const [header, want] of rows) {
    const got = basicCredentials(header);
    assert.deepEqual(
      got === undefined ? undefined : { user: got.user, password: got.password.toString('utf8') },
      want,
      String(header),
    );
  }
  const utf8 = basicCredentials(`Basic ${b64('jürgen:pässwörd')}`);
  assert.equal(utf8?.user, Buffer.from('jürgen', 'utf8').toString('latin1'), 'names are bytes');
  assert.deepEqual(utf8?.password, Buffer.from('pässwörd', 'utf8'));
});

test('route.basicAuth: realm checked, a bad entry fails closed (no users) instead of vanishing', () => {
  const sealed = {
    alg: 'AES-256-GCM',
    keyId: 'k1',
    iv: Buffer.alloc(12).toString('base64'),
    tag: Buffer.alloc(16).toString('base64'),
    ciphertext: 'AAAA',
  };
  const problems: string[] = [];
  const report = reporter((field, message) => problems.push(`${field}: ${message}`));
  const secret = { namespace: 'shop', name: 'basic-auth' };
  assert.deepEqual(checkBasicAuth({ realm: 'Staff only', secret, users: sealed }, 'a.', report), {
    realm: 'Staff only',
    secret,
    users: sealed,
  });
  assert.deepEqual(checkBasicAuth({ realm: '' }, 'a.', report), { realm: '' });
  assert.deepEqual(problems, []);
  assert.deepEqual(
    checkBasicAuth({ realm: 'x', secret, users: { ...sealed, iv: '' } }, 'a.', report),
    {
      realm: 'x',
    },
  );
  assert.deepEqual(checkBasicAuth('nope', 'a.', report), { realm: '' });
  assert.deepEqual(checkBasicAuth({ realm: 'say "hi"' }, 'a.', report), { realm: '' });
  assert.deepEqual(problems, [
    'a.users.iv: must be 12 bytes',
    'a: must be an object; every request is refused',
    'a.realm: must be visible ASCII or spaces, without " or \\',
  ]);
  assert.equal(realmProblem('x'.repeat(257)), 'must be at most 256 characters');
});
