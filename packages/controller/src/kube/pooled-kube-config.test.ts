import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import { POOL_RENEW_MS, PooledKubeConfig } from './pooled-kube-config.ts';

/** A config for an HTTPS server with a CA and a client token, as a ServiceAccount has. */
function config(now: () => number, server = 'https://192.0.2.1:6443'): PooledKubeConfig {
  const kc = new PooledKubeConfig(now);
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

async function dispatcherOf(kc: PooledKubeConfig): Promise<unknown> {
  const context = new RequestContext('https://192.0.2.1:6443/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

test('requests share one connection pool until it is renewed', async () => {
  let now = 1_000;
  const kc = config(() => now);
  const first = await dispatcherOf(kc);
  assert.ok(first !== undefined, 'an HTTPS config gets a dispatcher');
  assert.equal(await dispatcherOf(kc), first, 'the second request reuses the first pool');
  now += POOL_RENEW_MS - 1;
  assert.equal(await dispatcherOf(kc), first);
  now += 1;
  const renewed = await dispatcherOf(kc);
  assert.notEqual(renewed, first, 'after POOL_RENEW_MS new requests get a fresh pool');
  assert.equal(await dispatcherOf(kc), renewed);
});

test('changed credentials get a pool of their own at once', async () => {
  const kc = config(() => 0);
  const first = await dispatcherOf(kc);
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://192.0.2.2:6443', skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  assert.notEqual(await dispatcherOf(kc), first);
});
