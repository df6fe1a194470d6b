/**
 * ingress-nginx's basic authentication (annotations.md#authentication and its example,
 * docs/examples/auth/basic), end to end: Opaque Secrets made with kubectl as the example makes
 * them, Ingresses of class `nginx`, pier-controller with `--ingress-class-compat=nginx` and a
 * real dataplane, against the real API server and Redis. Each test checks what a user sees on
 * real requests: statuses, the challenge, whether the pod saw the request and its headers.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import type { EchoPod } from '../lib/echo-pod.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { kubectl } from '../lib/test-cluster.ts';

// Made with `htpasswd -nbB -C 5`, `htpasswd -nbm`, `htpasswd -nbs` and `openssl passwd -1`.
const BCRYPT_BAR = '$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO';
const APR1_BAR = '$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.';
const SHA_BAR = '{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=';
const MD5_SECRET = '$1$xyz$Qia9Wq6FxQkYcwNWMk/RM0';
const REALM = 'Authentication Required - foo';

let stand: NginxStand;
let pods: EchoPod[] = [];
/** Requests the pods have seen so far, health probes aside. */
const served = () =>
  pods.reduce(
    (sum, pod) => sum + pod.seen.filter((r) => !r.userAgent.startsWith('pier-health')).length,
    0,
  );

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function opaqueSecret(name: string, data: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: stand.namespace },
    type: 'Opaque',
    stringData: data,
  };
}

async function apply(...objects: Array<Record<string, unknown>>): Promise<void> {
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

/** A request to Ingress `name`'s host: status, challenge, cause, and what the pod saw of it. */
async function ask(name: string, authorization?: string) {
  const before = served();
  const res = await fetchWithHeaders(name, authorization);
  return { ...res, reached: served() > before };
}

/** As {@link NginxStand.get}, with the WWW-Authenticate header and the headers the pod saw. */
async function fetchWithHeaders(name: string, authorization?: string) {
  const res = await request(stand.url('http', '/private'), {
    headers: {
      host: stand.host(name),
      connection: 'close',
      ...(authorization === undefined ? {} : { authorization }),
    },
    dispatcher: stand.agent,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  const text = await res.body.text();
  const challenge = res.headers['www-authenticate'];
  const error = res.headers['x-pier-error'];
  return {
    status: res.statusCode,
    challenge: typeof challenge === 'string' ? challenge : undefined,
    error: typeof error === 'string' ? error : undefined,
    podHeaders:
      res.statusCode === 200
        ? (JSON.parse(text) as { headers: Record<string, string> }).headers
        : undefined,
  };
}

before(async () => {
  stand = await NginxStand.open('nginx-auth', '203.0.113.228/30');
  pods = await stand.service('web', ['192.0.2.231', '192.0.2.232']);
  const auth = (secret: string, more: Record<string, string> = {}) => ({
    [`${N}auth-type`]: 'basic',
    [`${N}auth-secret`]: secret,
    [`${N}auth-realm`]: REALM,
    ...more,
  });
  await apply(
    // The example's Secret: an htpasswd file under key `auth`.
    opaqueSecret('basic-auth', {
      auth: `alice:${BCRYPT_BAR}\nbob:${APR1_BAR}\ncarol:${SHA_BAR}\n`,
    }),
    opaqueSecret('map-auth', { dave: BCRYPT_BAR, erin: `${SHA_BAR}\n` }),
    opaqueSecret('rotating', { auth: `alice:${BCRYPT_BAR}\n` }),
    stand.ingress('file', auth('basic-auth')),
    stand.ingress('map', auth('map-auth', { [`${N}auth-secret-type`]: 'auth-map' })),
    stand.ingress('rotate', auth('rotating')),
    stand.ingress('missing', auth('no-such-secret')),
    stand.ingress('digest', auth('basic-auth', { [`${N}auth-type`]: 'digest' })),
  );
  await stand.serve(['file', 'map', 'rotate', 'missing', 'digest']);
});

after(async () => {
  await stand?.close();
});

test('annotations.md#authentication: without valid credentials, 401 with the realm; the pod sees nothing', async () => {
  for (const authorization of [
    undefined,
    basic('alice', 'wrong'),
    basic('bob', 'wrong'),
    basic('nobody', 'bar'),
    'Bearer abc',
  ]) {
    const res = await ask('file', authorization);
    assert.equal(res.status, 401, String(authorization));
    assert.equal(res.challenge, `Basic realm="${REALM}"`);
    assert.equal(res.error, 'PIER_UNAUTHORIZED');
    assert.equal(res.reached, false, `${authorization}: never reaches the pod`);
  }
});

test('examples/auth/basic: bcrypt, apr1 and {SHA} users get through, without their Authorization header', async () => {
  for (const user of ['alice', 'bob', 'carol']) {
    const res = await ask('file', basic(user, 'bar'));
    assert.equal(res.status, 200, user);
    assert.equal(res.reached, true);
    assert.equal(res.podHeaders?.authorization, undefined, 'ingress-nginx clears Authorization');
  }
  // Again, now from the dataplane's cache of accepted credentials.
  assert.equal((await ask('file', basic('alice', 'bar'))).status, 200);
});

test('annotations.md#authentication: auth-secret-type auth-map, a key per user and its hash as value', async () => {
  assert.equal((await ask('map', basic('dave', 'bar'))).status, 200);
  assert.equal((await ask('map', basic('erin', 'bar'))).status, 200);
  const wrong = await ask('map', basic('dave', 'nope'));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.reached, false);
});

test('annotations.md#authentication: a changed Secret takes effect, the old password stops working', async () => {
  assert.equal((await ask('rotate', basic('alice', 'bar'))).status, 200);
  await apply(opaqueSecret('rotating', { auth: `alice:${MD5_SECRET}\n` }));
  await waitUntil('the new password to be published', async () =>
    (await ask('rotate', basic('alice', 'secret'))).status === 200 ? true : undefined,
  );
  const old = await ask('rotate', basic('alice', 'bar'));
  assert.equal(old.status, 401, 'the old password, accepted and cached before, is refused');
  assert.equal(old.reached, false);
});

test('annotations.md#authentication: a missing Secret, or digest, fails closed with an Event in kubectl describe', async () => {
  for (const name of ['missing', 'digest']) {
    const res = await ask(name, basic('alice', 'bar'));
    assert.equal(res.status, 503, name);
    assert.equal(res.error, 'PIER_AUTH_UNAVAILABLE');
    assert.equal(res.reached, false, `${name}: never served unauthenticated`);
  }
  const described = await waitUntil('the AuthSecretNotFound Event', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'missing',
    ]);
    return /AuthSecretNotFound/.test(stdout) ? stdout.replace(/\s+/g, ' ') : undefined;
  });
  assert.match(
    described,
    new RegExp(
      `AuthSecretNotFound .*nginx\\.ingress\\.kubernetes\\.io/auth-secret: Secret ${stand.namespace}/no-such-secret not found`,
    ),
  );
  // Created afterwards, it is read: the Ingress is served with it.
  await apply(opaqueSecret('no-such-secret', { auth: `alice:${SHA_BAR}\n` }));
  await waitUntil('the Secret to be read', async () =>
    (await ask('missing', basic('alice', 'bar'))).status === 200 ? true : undefined,
  );
  const digest = await waitUntil('the InvalidAnnotation Event on digest', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'digest',
    ]);
    return /InvalidAnnotation/.test(stdout) ? stdout.replace(/\s+/g, ' ') : undefined;
  });
  assert.match(digest, /auth-type: digest authentication is not supported by Pier/);
});

/** An upgrade request on a raw connection; the first bytes of the answer. */
function upgrade(name: string, authorization?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(stand.dataplane.httpPort, stand.address);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      // The pod answers the upgrade as a plain request (it has no upgrade handler): its JSON.
      if (text.includes('}\n')) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(text);
    });
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${stand.host(name)}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${
        authorization === undefined ? '' : `Authorization: ${authorization}\r\n`
      }\r\n`,
    );
  });
}

test('annotations.md#authentication: upgrades (WebSocket) are refused 401 without credentials too', async () => {
  const before = served();
  const refused = await upgrade('file');
  assert.match(refused, /^HTTP\/1\.1 401 Unauthorized\r\n/);
  assert.match(refused, new RegExp(`\r\nwww-authenticate: Basic realm="${REALM}"\r\n`));
  assert.equal(served(), before, 'the pod saw nothing');
  const passed = await upgrade('file', basic('alice', 'bar'));
  assert.equal(served(), before + 1, 'with credentials it reaches the pod');
  assert.match(passed, /"upgrade":"websocket"/, 'the pod saw the upgrade request');
  assert.doesNotMatch(passed.toLowerCase(), /"authorization"/, 'without its Authorization header');
});
