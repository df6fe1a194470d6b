/**
 * The dashboard in a real browser against the real stack: the API server, Redis, pier-controller
 * (under its RBAC, dashboard on) and a pier-dataplane probing two stand-in pods, one of them
 * failing its health check. Headless Chromium (Debian's package, driven by puppeteer-core)
 * walks every page, checks what it shows against the state in the API and Redis, watches a new
 * Ingress and an endpoint going down appear without a reload, and saves a screenshot of each
 * page under the run's state directory (`dashboard/`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { healthKey, ownerOf, parseHealthState, probeKey, routesRevisionKey } from '@pier/shared';
import { Redis } from 'ioredis';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { type DataplaneProcess, startDataplane } from '../lib/dataplane-process.ts';
import { createService, type EchoPod, exposeAsPod, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import {
  ingressManifest,
  listDocument,
  tlsSecretManifest,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { opensslCertificate, publishedTable } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';

/**
 * The little of the DOM the checks use, typed here: the suite compiles without the DOM library
 * (its globals clash with Node's). Functions given to page.evaluate run in the page.
 */
interface InPageElement {
  readonly textContent: string | null;
  readonly hidden: boolean;
  getAttribute(name: string): string | null;
  querySelector(selector: string): InPageElement | null;
  querySelectorAll(selector: string): Iterable<InPageElement>;
}
interface InPage {
  document: {
    querySelector(selector: string): InPageElement | null;
    querySelectorAll(selector: string): Iterable<InPageElement>;
    documentElement: { scrollWidth: number; clientWidth: number };
  };
}

const CHROMIUM = process.env.PIER_TEST_CHROMIUM ?? '/usr/bin/chromium';
const kc = adminKubeConfig();
const env = testEnv();
const suffix = randomBytes(3).toString('hex');
const pool = `dash-${suffix}`;
const node = `dash-edge-${suffix}`;
const host = `site-${suffix}.example.test`;
const shots = join(env.stateDir, 'dashboard');
const certDir = mkdtempSync(join(tmpdir(), 'pier-dash-certs-'));
let ns: Awaited<ReturnType<typeof createTestNamespace>>;
let controller: ControllerProcess | undefined;
let dataplane: DataplaneProcess | undefined;
let redis: Redis;
let browser: Browser;
let page: Page;
let base: string;
const pods: EchoPod[] = [];

async function apply(doc: unknown): Promise<void> {
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: typeof doc === 'string' ? doc : JSON.stringify(doc),
  });
}

/** The text of every cell of the table row whose data-key is `key`, or undefined. */
function row(table: string, key: string): Promise<string[] | undefined> {
  return page.evaluate(
    (id, k) => {
      const tr = [
        ...(globalThis as unknown as InPage).document.querySelectorAll(`#${id}-table tbody tr`),
      ].find((r) => r.getAttribute('data-key') === k);
      return tr ? [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '') : undefined;
    },
    table,
    key,
  );
}

function fact(name: string): Promise<string | undefined> {
  return page.evaluate(
    (n) =>
      (globalThis as unknown as InPage).document.querySelector(`[data-fact="${n}"]`)?.textContent ??
      undefined,
    name,
  );
}

/** Waits until `check` holds on the open page, without reloading it; returns how long it took. */
async function onPage<T>(what: string, check: () => Promise<T | undefined>, ms = 2_000) {
  const started = performance.now();
  const value = await waitUntil(what, check, ms, 50);
  return { value, ms: performance.now() - started };
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Marks the page; `stillSamePage` proves later that it was never reloaded. */
async function mark(): Promise<void> {
  await page.evaluate(() => {
    (globalThis as unknown as { pierMark: number }).pierMark = 1;
  });
}
async function stillSamePage(): Promise<boolean> {
  return page.evaluate(() => (globalThis as unknown as { pierMark?: number }).pierMark === 1);
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  ns = await createTestNamespace(kc, 'dashboard');
  redis = new Redis({ host: env.redisHost, port: env.redisPort, password: env.redisPassword });
  await apply({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'IPAddressPool',
    metadata: { name: pool },
    spec: { addresses: ['203.0.113.96/29'] },
  });
  for (const [i, address] of ['198.51.100.61', '198.51.100.62'].entries()) {
    const pod = await startEchoPod(`web-${i}`, address);
    pods.push(pod);
    await exposeAsPod(kc, ns.name, pod, { app: 'web' });
  }
  await createService(kc, ns.name, 'web', { port: 80, targetPort: 'http' }, { app: 'web' });
  const pair = await opensslCertificate(certDir, 'site', host);
  await apply(tlsSecretManifest(ns.name, 'site-tls', pair.certPem, pair.keyPem));
  await apply({
    apiVersion: 'pier.dev/v1alpha1',
    kind: 'HealthCheckPolicy',
    metadata: { name: 'web', namespace: ns.name },
    spec: {
      targetRef: { name: 'web' },
      http: { path: '/healthz' },
      interval: '500ms',
      timeout: '400ms',
      healthyThreshold: 1,
      unhealthyThreshold: 1,
    },
  });
  const site = ingressManifest(ns.name, 'site', {
    host,
    annotations: { 'pier.dev/address-pool': pool },
  });
  (site.spec as Record<string, unknown>).tls = [{ hosts: [host], secretName: 'site-tls' }];
  // A rejection for the Events page: its Service does not exist.
  const broken = ingressManifest(ns.name, 'broken', {
    host: `broken-${suffix}.example.test`,
    service: 'missing',
    annotations: { 'pier.dev/address-pool': pool },
  });
  await apply(listDocument([site, broken]));
  controller = await startController({
    identity: `dash-${suffix}`,
    args: ['--dashboard-listen', '127.0.0.1:0'],
  });
  await controller.waitForLeadership();
  base = await waitUntil('the dashboard to listen', () => {
    const line = controller?.logs().find((l) => l.msg === 'dashboard listening');
    return typeof line?.url === 'string' ? line.url : undefined;
  });
  await waitForAddresses(kc, ns.name, ['site', 'broken']);
  dataplane = await startDataplane({ node });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The suite runs as root in its own user namespace, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
});

after(async () => {
  await browser?.close();
  await dataplane?.stop();
  await controller?.stop();
  redis?.disconnect();
  await Promise.all(pods.map((p) => p.close()));
  await kubectl(env.kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
  rmSync(certDir, { recursive: true, force: true });
  await ns?.remove();
});

test('overview: pools, addresses with their holders, edge nodes with their revision, health', async () => {
  // One endpoint fails its probe before the page is opened.
  (pods[1] as EchoPod).healthy = false;
  await page.goto(base, { waitUntil: 'load' });
  await onPage('the live stream to connect', async () =>
    (await page.$eval('#live-state', (e) => e.textContent ?? '')).startsWith('live')
      ? true
      : undefined,
  );
  assert.equal(await fact('controller'), `dash-${suffix} (leader)`);
  assert.equal(await fact('state-store'), 'Redis, connected');
  const [ip] = (await waitForAddresses(kc, ns.name, ['site'])).get('site') ?? [];
  assert.ok(ip);
  // Every value against the API (pool status) and Redis (revision, the node's report).
  const status = (
    (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
      group: 'pier.dev',
      version: 'v1alpha1',
      plural: 'ipaddresspools',
      name: pool,
    })) as { status?: { assigned?: number; available?: number } }
  ).status;
  const poolRow = await onPage('the pool to show its status', async () => {
    const r = await row('pools', pool);
    return r?.[2] === String(status?.assigned) ? r : undefined;
  });
  assert.deepEqual(poolRow.value.slice(0, 5), [
    pool,
    '8',
    String(status?.assigned),
    String(status?.available),
    'no',
  ]);
  const address = await row('addresses', ip);
  assert.deepEqual(address?.slice(0, 2), [ip, pool]);
  assert.match(address?.[2] ?? '', new RegExp(`Ingress ${ns.name}/site`));
  const revision = await redis.get(routesRevisionKey());
  const nodeRow = await onPage(`edge node ${node} at revision ${revision}`, async () => {
    const r = await row('nodes', node);
    return r?.[1] === (await redis.get(routesRevisionKey())) ? r : undefined;
  });
  assert.equal(nodeRow.value[2], 'up to date');
  const unhealthy = await onPage(
    'the failing endpoint to count as unhealthy',
    async () => (Number(await fact('unhealthy')) >= 1 ? true : undefined),
    10_000,
  );
  assert.ok(unhealthy.value);
  await shot('overview');
});

test('routes: hosts, paths, backends and the certificate with its expiry; the search filters', async (t) => {
  await page.goto(`${base}routes`, { waitUntil: 'load' });
  const table = await publishedTable(redis);
  assert.ok(table);
  const certificate = Object.values(table.certificates).find((c) => c.secret.name === 'site-tls');
  assert.ok(certificate?.notAfter, 'the published table carries the expiry');
  const cells = await page.evaluate((h) => {
    return [
      ...(globalThis as unknown as InPage).document.querySelectorAll('#routes-table tbody tr'),
    ]
      .filter((r) => r.querySelector('td')?.textContent === h)
      .map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? ''));
  }, host);
  assert.equal(cells.length, 1);
  const [cellHost, , path, match, backend, source, secret, expires] = cells[0] ?? [];
  assert.deepEqual(
    [cellHost, path, match, backend, source, secret],
    [host, '/', 'Prefix', `${ns.name}/web:80`, `${ns.name}/site`, `${ns.name}/site-tls`],
  );
  assert.match(
    expires ?? '',
    new RegExp(`^${certificate.notAfter.slice(0, 10)} \\(\\d+ days?\\)$`),
  );
  // Typing filters the rows in place (and keeps the query in the URL).
  await page.type('#route-filter', `broken-${suffix}`);
  const visible = await onPage('the search to leave only the broken host', async () => {
    const hosts = await page.evaluate(() =>
      [...(globalThis as unknown as InPage).document.querySelectorAll('#routes-table tbody tr')]
        .filter((r) => !r.hidden)
        .map((r) => r.querySelector('td')?.textContent ?? ''),
    );
    return hosts.length === 1 ? hosts : undefined;
  });
  assert.deepEqual(visible.value, [`broken-${suffix}.example.test`]);
  assert.match(page.url(), new RegExp(`q=broken-${suffix}`));
  await shot('routes');
  // A new Ingress appears on the open page without a reload.
  await page.click('#route-filter', { count: 3 });
  await page.keyboard.press('Backspace');
  await mark();
  const newHost = `new-${suffix}.example.test`;
  const created = performance.now();
  await apply(
    ingressManifest(ns.name, 'newcomer', {
      host: newHost,
      annotations: { 'pier.dev/address-pool': pool },
    }),
  );
  const seen = await onPage(
    `${newHost} to appear on the open routes page`,
    async () => {
      const hosts = await page.evaluate(() =>
        [
          ...(globalThis as unknown as InPage).document.querySelectorAll('#routes-table tbody tr'),
        ].map((r) => r.querySelector('td')?.textContent ?? ''),
      );
      return hosts.includes(newHost) ? true : undefined;
    },
    5_000,
  );
  const ms = performance.now() - created;
  assert.ok(await stillSamePage(), 'the page was updated in place, not reloaded');
  t.diagnostic(`new Ingress on the open page after ${ms.toFixed(0)} ms`);
  assert.ok(seen.value && ms < 2_000, `a new Ingress shows within 2 s (took ${ms.toFixed(0)} ms)`);
});

test('a backend: endpoints with health, who probes each, the last results; going down shows live', async (t) => {
  await page.goto(`${base}backends`, { waitUntil: 'load' });
  await page.click(`a[href="/backends?id=${encodeURIComponent(`${ns.name}/web:80`)}"]`);
  await page.waitForSelector('#endpoints-table');
  const backendId = `${ns.name}/web:80`;
  const hc = (await publishedTable(redis))?.backends[backendId]?.healthCheck;
  assert.ok(hc);
  const [healthyPod, failingPod] = pods as [EchoPod, EchoPod];
  const healthyId = `${healthyPod.address}:${healthyPod.port}`;
  const failingId = `${failingPod.address}:${failingPod.port}`;
  const failing = await onPage(
    'the failing endpoint to show unhealthy',
    async () => {
      const r = await row('endpoints', failingId);
      return r?.[3] === 'unhealthy' ? r : undefined;
    },
    10_000,
  );
  const state = parseHealthState((await redis.hget(healthKey(backendId), failingId)) ?? '');
  assert.equal(state?.status, 'unhealthy', 'Redis agrees');
  assert.equal(failing.value[1], `${ns.name}/web-1`);
  assert.equal(failing.value[6], node, 'decided by the probing node');
  assert.equal(
    failing.value[7],
    ownerOf(probeKey({ address: failingPod.address, port: failingPod.port }, hc), [node]),
  );
  assert.match(failing.value[5] ?? '', /^failed \(\d+ in a row\)$/);
  assert.equal((await row('endpoints', healthyId))?.[3], 'healthy');
  await shot('backend');
  // The healthy one goes down: the open page follows within 2 s of Redis knowing it.
  await mark();
  healthyPod.healthy = false;
  const known = await waitUntil(
    'Redis to record the endpoint as unhealthy',
    async () => {
      const s = parseHealthState((await redis.hget(healthKey(backendId), healthyId)) ?? '');
      return s?.status === 'unhealthy' ? performance.now() : undefined;
    },
    10_000,
    20,
  );
  await onPage('the endpoint to show unhealthy on the open page', async () =>
    (await row('endpoints', healthyId))?.[3] === 'unhealthy' ? true : undefined,
  );
  const ms = performance.now() - known;
  assert.ok(await stillSamePage(), 'updated in place');
  t.diagnostic(`endpoint down on the open page ${ms.toFixed(0)} ms after Redis had it`);
  assert.ok(ms < 2_000, `an endpoint going down shows within 2 s (took ${ms.toFixed(0)} ms)`);
  healthyPod.healthy = true;
});

test('events: the rejections Pier reported, newest first, nothing secret anywhere', async () => {
  await page.goto(`${base}events`, { waitUntil: 'load' });
  const found = await onPage(
    'the ServiceNotFound rejection',
    async () => {
      const rows = await page.evaluate(() =>
        [
          ...(globalThis as unknown as InPage).document.querySelectorAll('#events-table tbody tr'),
        ].map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
      return rows.find((r) => r[2] === 'ServiceNotFound' && r[3] === `Ingress ${ns.name}/broken`);
    },
    10_000,
  );
  assert.equal(found.value[1], 'Warning');
  await shot('events');
  // Read-only and nothing secret: no key material, no password on any page or in the state.
  for (const path of [
    '',
    'routes',
    `backends?id=${encodeURIComponent(`${ns.name}/web:80`)}`,
    'events',
    'api/state',
  ]) {
    const res = await fetch(`${base}${path}`);
    const body = await res.text();
    assert.doesNotMatch(body, /PRIVATE KEY|"key":|sealed/i, path);
    assert.ok(!body.includes(env.redisPassword), `${path} shows no Redis password`);
    assert.equal((await fetch(`${base}${path}`, { method: 'POST' })).status, 405);
  }
});

test('on a phone-sized screen the pages still read: no horizontal overflow of the page', async () => {
  await page.setViewport({ width: 390, height: 844, isMobile: true });
  for (const path of ['', 'routes', 'events']) {
    await page.goto(`${base}${path}`, { waitUntil: 'load' });
    const overflow = await page.evaluate(
      () =>
        (globalThis as unknown as InPage).document.documentElement.scrollWidth -
        (globalThis as unknown as InPage).document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `${path || 'overview'} fits the width (${overflow}px over)`);
    await shot(`${path || 'overview'}-phone`);
  }
});

test('a follower replica serves the same dashboard, saying that it follows', async () => {
  const follower = await startController({
    identity: `dash-follower-${suffix}`,
    args: ['--dashboard-listen', '127.0.0.1:0'],
  });
  try {
    const url = await waitUntil('the follower dashboard to listen', () => {
      const line = follower.logs().find((l) => l.msg === 'dashboard listening');
      return typeof line?.url === 'string' ? line.url : undefined;
    });
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: 'load' });
    assert.equal(await fact('controller'), `dash-follower-${suffix} (follower)`);
    assert.equal(await fact('newest-revision'), await redis.get(routesRevisionKey()));
    assert.ok(await row('nodes', node), 'the edge node is listed by the follower too');
    await page.goto(`${url}routes?q=${encodeURIComponent(host)}`, { waitUntil: 'load' });
    const shown = await page.evaluate(() =>
      [...(globalThis as unknown as InPage).document.querySelectorAll('#routes-table tbody tr')]
        .filter((r) => !r.hidden)
        .map((r) => r.querySelector('td')?.textContent ?? ''),
    );
    assert.deepEqual(shown, [host]);
  } finally {
    await follower.stop();
  }
});
