/**
 * What a script waits on, with the real `kubectl wait` against the real API server and the
 * controller under its own RBAC (docs/operations.md, "Waiting in scripts"): a pool's Accepted
 * condition (False while its addresses do not parse, for the generation the script wrote), a
 * policy's ResolvedRefs and Accepted, a Service's pier.dev/AddressAssigned (False with the error
 * code while its pool is exhausted, True with the address once there is one), and an Ingress's
 * address (its status has no conditions).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { testEnv } from '../lib/env.ts';
import { ingressManifest, listDocument, poolDocument } from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { loadBalancerService } from '../lib/service-fixtures.ts';
import { kubectl } from '../lib/test-cluster.ts';

const kc = adminKubeConfig();
const { kubeconfig } = testEnv();
const suffix = randomBytes(3).toString('hex');
const badPool = `cond-bad-${suffix}`;
const servicePool = `cond-svc-${suffix}`;
const ingressPool = `cond-ing-${suffix}`;
const ADDRESS_ASSIGNED = 'pier.dev/AddressAssigned';
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess;

function k(args: readonly string[], options: { input?: string; allowFailure?: boolean } = {}) {
  return kubectl(kubeconfig, args, options);
}

async function apply(doc: string): Promise<void> {
  await k(['apply', '-f', '-'], { input: doc });
}

/** `kubectl wait --for=<what> <resource>` as a script would run it; rejects when it times out. */
async function wait(what: string, resource: string, namespaced = true): Promise<string> {
  const { stdout } = await k([
    'wait',
    `--for=${what}`,
    '--timeout=30s',
    ...(namespaced ? ['-n', ns.name] : []),
    resource,
  ]);
  return stdout.trim();
}

async function jsonpath(resource: string, path: string, namespaced = true): Promise<string> {
  const { stdout } = await k([
    'get',
    ...(namespaced ? ['-n', ns.name] : []),
    resource,
    '-o',
    `jsonpath=${path}`,
  ]);
  return stdout;
}

/** A condition's fields, as `kubectl get -o jsonpath` reads them. */
async function condition(
  resource: string,
  type: string,
  namespaced = true,
): Promise<{ status: string; reason: string; message: string; observedGeneration: string }> {
  const at = `{.status.conditions[?(@.type=="${type}")]`;
  const [status = '', reason = '', message = '', observedGeneration = ''] = (
    await jsonpath(
      resource,
      `${at}.status}|${at}.reason}|${at}.message}|${at}.observedGeneration}`,
      namespaced,
    )
  ).split('|');
  return { status, reason, message, observedGeneration };
}

function policyDocument(name: string, target: string): string {
  return JSON.stringify({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'HealthCheckPolicy',
    metadata: { name, namespace: ns.name },
    spec: { targetRef: { name: target } },
  });
}

before(async () => {
  ns = await createTestNamespace(kc, 'cond');
  controller = await startController({ identity: `cond-${suffix}` });
  await controller.waitForLeadership();
});

after(async () => {
  await controller?.stop();
  await k(['delete', 'ippool', badPool, servicePool, ingressPool, '--ignore-not-found']);
  await ns?.remove();
});

test('a pool whose addresses do not parse: Accepted=false, then Accepted once fixed, for the generation written', async () => {
  // The schema lets a range through whose start lies after its end; the controller refuses it.
  await apply(poolDocument(badPool, ['192.0.2.199-192.0.2.190'], { autoAssign: false }));
  assert.equal(
    await wait('condition=Accepted=false', `ippool/${badPool}`, false),
    `ipaddresspool.pier.dev/${badPool} condition met`,
  );
  const refused = await condition(`ippool/${badPool}`, 'Accepted', false);
  assert.equal(refused.reason, 'InvalidAddresses');
  assert.match(refused.message, /192\.0\.2\.199-192\.0\.2\.190/);
  assert.equal(refused.observedGeneration, '1');

  await apply(poolDocument(badPool, ['192.0.2.190-192.0.2.199'], { autoAssign: false }));
  // kubectl wait compares the condition's observedGeneration with metadata.generation: the
  // False condition of generation 1 cannot satisfy a wait on generation 2, nor a stale True one.
  await wait('condition=Accepted', `ippool/${badPool}`, false);
  const accepted = await condition(`ippool/${badPool}`, 'Accepted', false);
  assert.deepEqual(
    {
      status: accepted.status,
      reason: accepted.reason,
      observedGeneration: accepted.observedGeneration,
    },
    { status: 'True', reason: 'Valid', observedGeneration: '2' },
  );
  assert.equal(await jsonpath(`ippool/${badPool}`, '{.metadata.generation}', false), '2');
  await wait('condition=Overlapping=false', `ippool/${badPool}`, false);
});

test('a policy whose Service is missing: ResolvedRefs=false, then ResolvedRefs once it exists; a second policy: Accepted=false', async () => {
  await apply(policyDocument('probe', 'later'));
  assert.equal(
    await wait('condition=ResolvedRefs=false', 'hcp/probe'),
    'healthcheckpolicy.pier.dev/probe condition met',
  );
  assert.equal((await condition('hcp/probe', 'ResolvedRefs')).reason, 'ServiceNotFound');

  await apply(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'later', namespace: ns.name },
      spec: { selector: { app: 'later' }, ports: [{ port: 80 }] },
    }),
  );
  await wait('condition=ResolvedRefs', 'hcp/probe');
  await wait('condition=Accepted', 'hcp/probe');

  // A younger policy for the same Service is not in force.
  await apply(policyDocument('probe-again', 'later'));
  await wait('condition=Accepted=false', 'hcp/probe-again');
  assert.equal((await condition('hcp/probe-again', 'Accepted')).reason, 'Conflicted');
});

test('a Service whose pool is exhausted: pier.dev/AddressAssigned=false with the code, true with the address once the pool grows', async () => {
  await apply(poolDocument(servicePool, ['192.0.2.160/32'], { autoAssign: false }));
  const annotations = { 'pier.dev/address-pool': servicePool };
  await apply(listDocument([loadBalancerService(ns.name, 'first', { annotations })]));
  await wait(`condition=${ADDRESS_ASSIGNED}`, 'svc/first');
  assert.equal(await jsonpath('svc/first', '{.status.loadBalancer.ingress[0].ip}'), '192.0.2.160');

  await apply(listDocument([loadBalancerService(ns.name, 'second', { annotations })]));
  assert.equal(
    await wait(`condition=${ADDRESS_ASSIGNED}=false`, 'svc/second'),
    'service/second condition met',
  );
  const exhausted = await condition('svc/second', ADDRESS_ASSIGNED);
  assert.equal(exhausted.reason, 'PIER_POOL_EXHAUSTED');
  assert.notEqual(exhausted.message, '');
  assert.equal(await jsonpath('svc/second', '{.status.loadBalancer.ingress}'), '');

  await apply(poolDocument(servicePool, ['192.0.2.160/31'], { autoAssign: false }));
  await wait(`condition=${ADDRESS_ASSIGNED}`, 'svc/second');
  // The address and the condition arrive in one write: a script that waited sees the address.
  assert.equal(await jsonpath('svc/second', '{.status.loadBalancer.ingress[0].ip}'), '192.0.2.161');
  assert.deepEqual(await condition('svc/second', ADDRESS_ASSIGNED), {
    status: 'True',
    reason: 'Assigned',
    message: `Assigned 192.0.2.161 from pool ${servicePool}`,
    observedGeneration: '',
  });

  // Pier's own later status writes keep the condition: a new address is written with it.
  await apply(poolDocument(servicePool, ['192.0.2.160/30'], { autoAssign: false }));
  await apply(
    listDocument([
      loadBalancerService(ns.name, 'second', {
        annotations: { ...annotations, 'pier.dev/load-balancer-ips': '192.0.2.162' },
      }),
    ]),
  );
  await wait(`jsonpath={.status.loadBalancer.ingress[0].ip}=192.0.2.162`, 'svc/second');
  assert.deepEqual(await condition('svc/second', ADDRESS_ASSIGNED), {
    status: 'True',
    reason: 'Assigned',
    message: `Assigned 192.0.2.162 from pool ${servicePool}`,
    observedGeneration: '',
  });

  // A Service that stops being Pier's loses Pier's condition with its address.
  await k([
    'patch',
    'svc',
    '-n',
    ns.name,
    'second',
    '--type=merge',
    '-p',
    '{"spec":{"type":"ClusterIP"}}',
  ]);
  await waitUntil("Pier's condition to leave the Service", async () =>
    (await jsonpath('svc/second', '{.status.conditions}')) === '' ? true : undefined,
  );
});

test('an Ingress has no conditions field: a script waits for its address', async () => {
  await apply(poolDocument(ingressPool, ['192.0.2.176/32'], { autoAssign: false }));
  await apply(
    listDocument([
      ingressManifest(ns.name, 'web', { annotations: { 'pier.dev/address-pool': ingressPool } }),
    ]),
  );
  assert.equal(
    await wait('jsonpath={.status.loadBalancer.ingress[0].ip}', 'ingress/web'),
    'ingress.networking.k8s.io/web condition met',
  );
  assert.equal(
    await jsonpath('ingress/web', '{.status.loadBalancer.ingress[0].ip}'),
    '192.0.2.176',
  );
});
