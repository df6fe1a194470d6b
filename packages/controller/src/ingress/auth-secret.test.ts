import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import type { SealedKey } from '@pier/shared';
import { type AuthSecretLookup, resolveBasicAuth } from './auth-secret.ts';
import type { NginxAuthRequest } from './nginx-auth.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const A = '$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.';
const B = '$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO';
const S = '{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=';

function secret(name: string, data: Record<string, string>, type = 'Opaque'): V1Secret {
  return { metadata: { namespace: 'shop', name }, type, data };
}

/** A lookup over `secrets` whose seal records what it sealed. */
function lookup(secrets: V1Secret[], sealed: Array<[string, string]>, fails = false) {
  const byKey = new Map(secrets.map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
  return {
    secret: (namespace, name) => byKey.get(`${namespace}/${name}`),
    seal: (aad, text) => {
      if (fails) throw new Error('no key ring');
      sealed.push([aad, text]);
      return { alg: 'AES-256-GCM', keyId: 'k', iv: 'i', tag: 't', ciphertext: aad } as SealedKey;
    },
  } satisfies AuthSecretLookup;
}

const request = (more: Partial<NginxAuthRequest> = {}): NginxAuthRequest => ({
  realm: 'Staff',
  secret: { name: 'basic-auth' },
  secretType: 'auth-file',
  ...more,
});

const AUTH = 'nginx.ingress.kubernetes.io/auth-secret';
const CLOSED = "every request to the Ingress's paths is answered 503 until it is fixed";

// annotations.md#authentication; examples/auth/basic ("otherwise the ingress-controller returns a 503").
const rows: Array<{
  name: string;
  request: NginxAuthRequest;
  secrets: V1Secret[];
  users?: string;
  secretKey?: string;
  problems?: string[];
}> = [
  {
    name: 'auth-file: the htpasswd of key auth, first line of a user, comments dropped',
    request: request(),
    secrets: [secret('basic-auth', { auth: b64(`# team\nfoo:${A}\nbob:${B}\nfoo:${S}\n`) })],
    users: `foo:${A}\nbob:${B}\n`,
    secretKey: 'shop/basic-auth',
  },
  {
    name: 'auth-map: each key a user, its value the hash (trailing newline as in a file)',
    request: request({ secretType: 'auth-map' }),
    secrets: [secret('basic-auth', { zed: b64(`${S}\n`), amy: b64(B) })],
    users: `amy:${B}\nzed:${S}\n`,
    secretKey: 'shop/basic-auth',
  },
  {
    name: 'users whose hash Pier cannot check are named; the others sign in',
    request: request(),
    secrets: [secret('basic-auth', { auth: b64(`old:dadlpaoiVliX6\nplain:bar\nfoo:${A}`) })],
    users: `foo:${A}\n`,
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretInvalid ${AUTH}: Secret shop/basic-auth: 2 user(s) cannot sign in: old: its hash is a DES crypt(3) hash, which Pier does not check; use bcrypt (htpasswd -B); plain: its hash is not a bcrypt, apr1, MD5-crypt, SHA-crypt, {SHA}, {SSHA} or {PLAIN} hash`,
    ],
  },
  {
    name: 'a Secret without users: every request 401',
    request: request(),
    secrets: [secret('basic-auth', { auth: b64('# nobody\n') })],
    users: '',
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretInvalid ${AUTH}: Secret shop/basic-auth holds no user; every request is answered 401`,
    ],
  },
  {
    name: 'a missing Secret fails closed',
    request: request(),
    secrets: [],
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretNotFound ${AUTH}: Secret shop/basic-auth not found (Pier reads users from Opaque Secrets); ${CLOSED}`,
    ],
  },
  {
    name: 'auth-file without key auth fails closed (the example’s 503)',
    request: request(),
    secrets: [secret('basic-auth', { users: b64(`foo:${A}`) })],
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretInvalid ${AUTH}: Secret shop/basic-auth has no key 'auth' (auth-secret-type auth-file reads an htpasswd file there); ${CLOSED}`,
    ],
  },
  {
    name: 'a TLS Secret is no user list',
    request: request(),
    secrets: [secret('basic-auth', { auth: b64(`foo:${A}`) }, 'kubernetes.io/tls')],
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretInvalid ${AUTH}: Secret shop/basic-auth is of type kubernetes.io/tls, not Opaque; ${CLOSED}`,
    ],
  },
  {
    name: 'another namespace is refused, as ingress-nginx without allow-cross-namespace-resources',
    request: request({ secret: { namespace: 'other', name: 'basic-auth' } }),
    secrets: [],
    problems: [
      `InvalidAnnotation ${AUTH}: Secret other/basic-auth is in another namespace; ingress-nginx allows that only with allow-cross-namespace-resources, Pier never does; ${CLOSED}`,
    ],
  },
  {
    name: 'namespace/name in the Ingress’s own namespace is fine',
    request: request({ secret: { namespace: 'shop', name: 'basic-auth' } }),
    secrets: [secret('basic-auth', { auth: b64(`foo:${A}`) })],
    users: `foo:${A}\n`,
    secretKey: 'shop/basic-auth',
  },
  {
    name: 'more users than a route carries fail closed',
    request: request(),
    secrets: [secret('basic-auth', { auth: b64(`foo:${'{PLAIN}'.padEnd(300_000, 'x')}`) })],
    secretKey: 'shop/basic-auth',
    problems: [
      `AuthSecretInvalid ${AUTH}: Secret shop/basic-auth holds 300004 bytes of users, more than the 262144 Pier serves; ${CLOSED}`,
    ],
  },
  {
    name: 'annotations that cannot be used: no Secret is read',
    request: { realm: '', secretType: 'auth-file' },
    secrets: [],
  },
];

for (const row of rows) {
  test(`auth secret: ${row.name}`, () => {
    const sealed: Array<[string, string]> = [];
    const problems: string[] = [];
    const resolved = resolveBasicAuth(row.request, 'shop', lookup(row.secrets, sealed), (r, m) =>
      problems.push(`${r} ${m}`),
    );
    assert.deepEqual(problems, row.problems ?? []);
    assert.equal(resolved.secretKey, row.secretKey);
    assert.equal(resolved.auth.realm, row.request.realm);
    if (row.users === undefined) {
      assert.deepEqual(resolved.auth, { realm: row.request.realm }, 'fails closed: no users');
      assert.deepEqual(sealed, []);
    } else {
      assert.deepEqual(sealed, [['basic-auth:shop/basic-auth', row.users]]);
      assert.deepEqual(resolved.auth.secret, { namespace: 'shop', name: 'basic-auth' });
      assert.equal(resolved.auth.users?.ciphertext, 'basic-auth:shop/basic-auth');
    }
  });
}

test('auth secret: users that cannot be sealed fail closed', () => {
  const problems: string[] = [];
  const resolved = resolveBasicAuth(
    request(),
    'shop',
    lookup([secret('basic-auth', { auth: b64(`foo:${A}`) })], [], true),
    (r, m) => problems.push(`${r} ${m}`),
  );
  assert.deepEqual(resolved.auth, { realm: 'Staff' });
  assert.deepEqual(problems, [
    `KeySealFailed ${AUTH}: the users of Secret shop/basic-auth could not be sealed (no key ring); ${CLOSED}`,
  ]);
});
