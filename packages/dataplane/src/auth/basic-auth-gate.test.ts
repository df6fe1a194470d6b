import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type BasicAuth, basicAuthAad, KeyRing } from '@pier/shared';
import { type AuthOutcome, BasicAuthGate } from './basic-auth-gate.ts';
import { CredentialCache } from './credential-cache.ts';
import { PasswordThread } from './password-thread.ts';

const ring = new KeyRing({ current: 'k1', keys: { k1: new Uint8Array(32).fill(7) } });
const secret = { namespace: 'shop', name: 'basic-auth' };
const users = [
  'foo:$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.',
  'bob:$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO',
  'sha:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00=',
].join('\n');
const route = (text = users): BasicAuth => ({
  realm: 'Staff',
  secret,
  users: ring.seal(text, basicAuthAad(secret)),
});
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const thread = new PasswordThread();
after(() => thread.close());

function gate(cache = new CredentialCache()) {
  const outcomes: AuthOutcome[] = [];
  const failures: unknown[] = [];
  const g = new BasicAuthGate({
    keyRing: ring,
    thread,
    cache,
    onOutcome: (o) => outcomes.push(o),
    onOpenFailed: (_auth, err) => failures.push(err),
  });
  return { g, outcomes, failures };
}

test('basic auth gate: right passwords pass (bcrypt and apr1 on the thread, {SHA} inline), others do not', async () => {
  const { g, outcomes } = gate();
  const auth = route();
  assert.equal(await g.check(auth, basic('bob', 'bar')), 'allow');
  assert.equal(await g.check(auth, basic('foo', 'bar')), 'allow');
  assert.equal(g.check(auth, basic('sha', 'bar')), 'allow', '{SHA} answers at once');
  assert.equal(await g.check(auth, basic('bob', 'wrong')), 'deny');
  assert.equal(g.check(auth, basic('nobody', 'bar')), 'deny', 'an unknown user answers at once');
  assert.equal(g.check(auth, undefined), 'deny');
  assert.equal(g.check(auth, 'Bearer abc'), 'deny');
  assert.deepEqual(outcomes, [
    'accepted',
    'accepted',
    'accepted',
    'rejected',
    'rejected',
    'rejected',
    'rejected',
  ]);
});

test('basic auth gate: an accepted credential is remembered, a refused one never', async () => {
  const { g, outcomes } = gate();
  const auth = route();
  assert.equal(await g.check(auth, basic('bob', 'bar')), 'allow');
  assert.equal(g.check(auth, basic('bob', 'bar')), 'allow', 'answered at once from the cache');
  // Another table with the same sealing (a new object) keeps the cache.
  assert.equal(g.check({ ...auth }, basic('bob', 'bar')), 'allow');
  assert.equal(await g.check(auth, basic('bob', 'nope')), 'deny');
  assert.equal(await g.check(auth, basic('bob', 'nope')), 'deny');
  assert.deepEqual(outcomes, ['accepted', 'cached', 'cached', 'rejected', 'rejected']);
});

test('basic auth gate: a changed Secret (sealed anew) forgets what the old one accepted', async () => {
  const { g } = gate();
  assert.equal(await g.check(route(), basic('bob', 'bar')), 'allow');
  const changed = route('bob:{PLAIN}new');
  assert.equal(g.check(changed, basic('bob', 'bar')), 'deny', 'the old password stops working');
  assert.equal(g.check(changed, basic('bob', 'new')), 'allow');
});

test('basic auth gate: no users, or users that do not open, fail closed', () => {
  const { g, outcomes, failures } = gate();
  assert.equal(g.check({ realm: 'x' }, basic('bob', 'bar')), 'unavailable');
  const other = { namespace: 'shop', name: 'other' };
  const moved: BasicAuth = { ...route(), secret: other };
  assert.equal(g.check(moved, basic('bob', 'bar')), 'unavailable', 'sealed for another Secret');
  assert.equal(g.check(moved, basic('bob', 'bar')), 'unavailable');
  assert.equal(failures.length, 1, 'said once per sealing');
  assert.deepEqual(outcomes, ['unavailable', 'unavailable', 'unavailable']);
});

test('basic auth gate: checks beyond the waiting limit are refused as busy', async () => {
  const small = new PasswordThread({ maxPending: 1 });
  try {
    const g = new BasicAuthGate({ keyRing: ring, thread: small });
    const auth = route();
    const first = g.check(auth, basic('bob', 'bar'));
    assert.equal(g.check(auth, basic('bob', 'other')), 'busy');
    assert.equal(await first, 'allow');
    assert.equal(small.pending, 0);
  } finally {
    await small.close();
  }
});

test('credential cache: bounded, least recently used out, entries expire', () => {
  let now = 0;
  const cache = new CredentialCache({ maxEntries: 2, ttlMs: 100, now: () => now });
  const [a, b, c] = ['a', 'b', 'c'].map((s) => cache.key('set', s)) as [string, string, string];
  assert.notEqual(cache.key('set', 'a'), cache.key('other', 'a'));
  cache.add(a);
  cache.add(b);
  assert.equal(cache.has(a), true);
  cache.add(c);
  assert.equal(cache.size, 2);
  assert.equal(cache.has(b), false, 'b was the least recently used');
  assert.equal(cache.has(a), true);
  now = 100;
  assert.equal(cache.has(a), false, 'expired');
  assert.equal(cache.size, 1);
});
