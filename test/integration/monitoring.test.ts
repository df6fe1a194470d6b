/**
 * deploy/monitoring (PodMonitors, the PrometheusRule, the Grafana dashboard) against what it
 * watches: the component builds with the real `kubectl kustomize` when enabled in deploy/, its
 * scrape targets are the pods and ports deploy/ runs, Debian's `promtool` accepts the rules and
 * proves with unit tests (monitoring-alerts.promtool.yaml) that the alerts fire when they
 * should, every alert links to a runbook in docs/operations.md, and every metric the dashboard
 * and the alerts query is one the real controller and dataplane export. The two processes run
 * against the suite's API server and a Redis of this file's own, with an Ingress routed to one
 * live stand-in pod and one that refuses connections, so that the series the panels read carry
 * values (requests by host, upstream errors, a passive ejection). A replica that steps down
 * stops exporting what only the leader keeps; stopping that Redis shows in both processes'
 * connection gauges.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { parseAllDocuments, parseDocument, stringify } from 'yaml';
import { run, waitUntil } from '../lib/child-process.ts';
import { type ControllerProcess, startController } from '../lib/controller-process.ts';
import { type DataplaneProcess, startDataplane } from '../lib/dataplane-process.ts';
import {
  createService,
  type EchoPod,
  exposeAsEndpointSlice,
  startEchoPod,
} from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import {
  ingressManifest,
  listDocument,
  poolDocument,
  waitForAddresses,
} from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { metricValue, scrape, seriesNames } from '../lib/prometheus-text.ts';
import { startRedis, type TestRedis } from '../lib/redis-server.ts';
import { KUBECTL_BIN, kubectl, REPO_ROOT } from '../lib/test-cluster.ts';

const env = testEnv();
const kc = adminKubeConfig();
const suffix = randomBytes(3).toString('hex');
const DIR = join(env.stateDir, `monitoring-${suffix}`);
mkdirSync(DIR, { recursive: true });
const MONITORING = join(REPO_ROOT, 'deploy', 'monitoring');
const RUNBOOKS = 'https://github.com/pier-dev/pier/blob/main/docs/operations.md';
const pool = `monitoring-${suffix}`;
const HOST = 'shop.example.test';
/** Series names in PromQL: Pier's all start so (label names and values here never do). */
const PIER_NAME = /\bpier_[a-z0-9_]+/g;

// ---- the shipped files ----

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}
interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleSpec {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  templating: { list: Array<{ name: string; type: string; query?: string }> };
  panels: Panel[];
}

const ruleSpec = (
  parseDocument(readFileSync(join(MONITORING, 'prometheus-rule.yaml'), 'utf8')).toJSON() as {
    spec: RuleSpec;
  }
).spec;
const dashboardText = readFileSync(join(MONITORING, 'pier-dashboard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as Dashboard;
const rules = ruleSpec.groups.flatMap((g) => g.rules);
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');

/** Every PromQL expression the dashboard and the rules hold, with where it is. */
function expressions(): Array<{ where: string; expr: string }> {
  return [
    ...queryPanels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
    ),
    ...dashboard.templating.list
      .filter((v) => v.type === 'query' && typeof v.query === 'string')
      .map((v) => ({ where: `variable ${v.name}`, expr: v.query as string })),
    ...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
  ];
}

async function render(dir: string): Promise<KubeObject[]> {
  const { stdout } = await run(KUBECTL_BIN, ['kustomize', dir]);
  return parseAllDocuments(stdout).map((d) => d.toJSON() as KubeObject);
}

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

// ---- the running processes ----

let redis: TestRedis | undefined;
let ns: Awaited<ReturnType<typeof createTestNamespace>> | undefined;
let controller: ControllerProcess | undefined;
let dataplane: DataplaneProcess | undefined;
let live: EchoPod | undefined;
const agent = new Agent({ pipelining: 0 });
let address = '';

async function get(path: string): Promise<number> {
  const dp = dataplane as DataplaneProcess;
  const res = await request(`http://${address}:${dp.httpPort}${path}`, {
    headers: { host: HOST, connection: 'close' },
    dispatcher: agent,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  await res.body.dump();
  return res.statusCode;
}

before(async () => {
  redis = await startRedis(join(DIR, 'redis'));
  ns = await createTestNamespace(kc, 'monitoring');
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: poolDocument(pool, ['203.0.113.200/30'], { autoAssign: false }),
  });
  // One pod that answers and one address where nothing listens (connections refused): the
  // second is ejected after a few failed requests, and its failures are upstream errors.
  live = await startEchoPod(`web-${suffix}`, '192.0.2.171');
  const refusing = { ...live, name: `gone-${suffix}`, address: '192.0.2.172' } as EchoPod;
  await createService(kc, ns.name, 'web', { port: 80, targetPort: live.port });
  await exposeAsEndpointSlice(kc, ns.name, 'web', [live, refusing]);
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      ingressManifest(ns.name, 'shop', {
        host: HOST,
        annotations: { 'pier.dev/address-pool': pool },
      }),
    ]),
  });
  controller = await startController({
    identity: `monitoring-${suffix}`,
    args: ['--redis-url', redis.url],
  });
  await controller.waitForLeadership();
  address = (await waitForAddresses(kc, ns.name, ['shop'])).get('shop')?.[0] ?? '';
  assert.match(address, /^203\.0\.113\.20[0-3]$/);
  // Two workers, as deploy/ runs it: /metrics is then the primary's sum over them.
  dataplane = await startDataplane({
    node: `edge-${suffix}`,
    host: address,
    redisUrl: redis.url,
    workers: 2,
  });
  await waitUntil('the dataplane to route the Ingress', async () =>
    (await get('/')) === 200 ? true : undefined,
  );
});

after(async () => {
  await agent.close();
  await dataplane?.stop();
  await controller?.stop();
  await live?.close();
  await redis?.stop();
  await kubectl(env.kubeconfig, ['delete', 'ippool', pool, '--ignore-not-found']);
  await ns?.remove();
});

// ---- the component ----

test('kubectl kustomize builds deploy/ with the monitoring component, adding only its objects', async () => {
  // As the docs say to enable it: one line in deploy/kustomization.yaml (of a copy here).
  const copy = join(DIR, 'deploy');
  await run('cp', ['-r', join(REPO_ROOT, 'deploy'), copy]);
  writeFileSync(
    join(copy, 'kustomization.yaml'),
    `${readFileSync(join(copy, 'kustomization.yaml'), 'utf8')}components: [monitoring]\n`,
  );
  const base = await render(join(REPO_ROOT, 'deploy'));
  const rendered = await render(copy);
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const added = rendered.filter((o) => !base.some((b) => key(b) === key(o)));
  assert.deepEqual(added.map(key).sort(), [
    'ConfigMap/pier-system/pier-dashboard',
    'PodMonitor/pier-system/pier-controller',
    'PodMonitor/pier-system/pier-dataplane',
    'PrometheusRule/pier-system/pier',
  ]);
  for (const b of base) {
    assert.deepEqual(
      rendered.find((o) => key(o) === key(b)),
      b,
      `${key(b)} is unchanged by the component`,
    );
  }

  const configMap = added.find((o) => o.kind === 'ConfigMap') as KubeObject;
  assert.equal(configMap.metadata.labels?.grafana_dashboard, '1', 'the Grafana sidecar label');
  assert.equal(configMap.data?.['pier-dashboard.json'], dashboardText);
  const rule = added.find((o) => o.kind === 'PrometheusRule') as KubeObject;
  assert.deepEqual(rule.spec, ruleSpec);

  // Each PodMonitor selects the pods of its workload, on a container port of that name.
  for (const [monitor, workload] of [
    ['pier-controller', 'Deployment'],
    ['pier-dataplane', 'DaemonSet'],
  ] as const) {
    const pm = added.find((o) => o.kind === 'PodMonitor' && o.metadata.name === monitor);
    const owner = base.find((o) => o.kind === workload && o.metadata.name === monitor);
    assert.ok(pm && owner, `${monitor}: PodMonitor and ${workload}`);
    const spec = pm.spec as {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      podMetricsEndpoints: Array<{ port: string; path: string }>;
    };
    const template = (
      owner.spec as {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: Array<{ ports?: Array<{ name?: string; containerPort: number }> }> };
        };
      }
    ).template;
    for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
      assert.equal(template.metadata.labels[k], v, `${monitor} selects its pods by ${k}`);
    }
    assert.deepEqual(spec.namespaceSelector.matchNames, [owner.metadata.namespace]);
    const ports = template.spec.containers.flatMap((c) => c.ports ?? []);
    for (const endpoint of spec.podMetricsEndpoints) {
      const port = ports.find((p) => p.name === endpoint.port);
      assert.ok(port, `${monitor} scrapes a port the pods name ${endpoint.port}`);
      assert.equal(endpoint.path, '/metrics');
      assert.equal(port.containerPort, monitor === 'pier-controller' ? 9090 : 9091);
    }
  }
});

// ---- the rules ----

test('promtool check rules accepts the rule groups of the PrometheusRule', async () => {
  const file = join(DIR, 'check', 'rules.yaml');
  mkdirSync(join(DIR, 'check'), { recursive: true });
  writeFileSync(file, stringify(ruleSpec));
  const { stdout } = await run('promtool', ['check', 'rules', file]);
  assert.match(stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool test rules: the alerts fire when they should, and only then', async () => {
  const dir = join(DIR, 'unit');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rules.yaml'), stringify(ruleSpec));
  const tests = join(dir, 'alerts.test.yaml');
  copyFileSync(join(import.meta.dirname, 'monitoring-alerts.promtool.yaml'), tests);
  const result = await run('promtool', ['test', 'rules', tests], { allowFailure: true });
  assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /SUCCESS/);
});

test('every alert has a duration, a severity, a summary, a description and a runbook section', () => {
  const headings = new Set(
    [...readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8').matchAll(/^#+ (.+)$/gm)].map(
      (m) => anchor(m[1] as string),
    ),
  );
  const alerts = rules.filter((r) => r.alert !== undefined);
  assert.ok(alerts.length >= 9, 'the alerts are there');
  for (const r of alerts) {
    const name = r.alert as string;
    assert.match(r.for ?? '', /^\d+[smh]$/, `${name}: for`);
    assert.match(r.labels?.severity ?? '', /^(critical|warning)$/, `${name}: severity`);
    assert.ok(r.annotations?.summary, `${name}: summary`);
    assert.ok(r.annotations?.description, `${name}: description`);
    assert.equal(r.annotations?.runbook_url, `${RUNBOOKS}#${name.toLowerCase()}`, name);
    assert.ok(headings.has(name.toLowerCase()), `docs/operations.md has a section ${name}`);
  }
});

// ---- the dashboard ----

test('the dashboard reads its data source from a variable, in every panel and query', () => {
  const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
  assert.equal(variable?.query, 'prometheus');
  const uid = `\${${variable?.name}}`;
  assert.ok(queryPanels.length >= 10, 'the panels are there');
  const ids = panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of queryPanels) {
    assert.equal(p.datasource?.uid, uid, `panel "${p.title}"`);
    assert.ok(p.description, `panel "${p.title}" says what it shows`);
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    for (const t of p.targets ?? []) assert.equal(t.datasource?.uid, uid, `panel "${p.title}"`);
  }
});

// ---- what the processes export ----

test('every metric the dashboard and the alerts query is exported by the controller or the dataplane', async () => {
  const exported = new Set([
    ...seriesNames(await scrape((controller as ControllerProcess).opsPort)),
    ...seriesNames(await scrape((dataplane as DataplaneProcess).opsPort)),
  ]);
  const used = new Map<string, string>();
  for (const { where, expr } of expressions()) {
    for (const [name] of expr.matchAll(PIER_NAME)) used.set(name, used.get(name) ?? where);
  }
  assert.ok(used.size >= 20, `the queries name Pier's metrics (${used.size} found)`);
  const missing = [...used].filter(([name]) => !exported.has(name));
  assert.deepEqual(
    missing.map(([name, where]) => `${name} (${where})`),
    [],
    'metrics queried but not exported',
  );
});

test('the panels for requests, upstream errors and ejected endpoints have series', async () => {
  const dp = dataplane as DataplaneProcess;
  // The refusing endpoint takes its share of requests until it is ejected (each of its failures
  // is retried on the live one, so every request still gets 200).
  const ejected = await waitUntil(
    'the refusing endpoint to be ejected',
    async () => {
      for (let i = 0; i < 10; i++) assert.equal(await get('/'), 200);
      const m = /^pier_dataplane_endpoints_ejected\{backend="([^"]+)"\} (\S+)$/m.exec(
        await scrape(dp.opsPort),
      );
      return m ? { backend: m[1] as string, count: Number(m[2]) } : undefined;
    },
    20_000,
    0,
  );
  assert.equal(ejected.count, 1, 'one of the two endpoints (maxEjectionPercent 50)');
  const text = await scrape(dp.opsPort);
  const ok = metricValue(text, 'pier_dataplane_requests_total', {
    host: HOST,
    status: '200',
    backend: ejected.backend,
  });
  assert.ok((ok ?? 0) >= 10, `requests counted by host (${ok})`);
  const errors = metricValue(text, 'pier_dataplane_upstream_errors_total', {
    backend: ejected.backend,
  });
  assert.ok((errors ?? 0) >= 1, `upstream errors counted (${errors})`);
  const headers = metricValue(text, 'pier_dataplane_request_duration_seconds_count', {
    backend: ejected.backend,
  });
  assert.ok((headers ?? 0) >= 10, `durations observed by backend (${headers})`);
  const assigned = metricValue(
    await scrape((controller as ControllerProcess).opsPort),
    'pier_pool_addresses_assigned',
    { pool },
  );
  assert.equal(assigned, 1, 'the pool counts the Ingress address');
});

test('a replica that stops leading drops the series only the leader keeps, and leading brings them back', async () => {
  const c = controller as ControllerProcess;
  const assigned = async (text?: string) =>
    metricValue(text ?? (await scrape(c.opsPort)), 'pier_pool_addresses_assigned', { pool });
  assert.equal(await assigned(), 1);
  // Another holder renews the Lease (as a partitioned leader would find it): this replica
  // steps down after its renew deadline and stays up as a standby.
  const lease = ['-n', 'pier-system', 'lease', 'pier-controller'];
  const renewTime = new Date().toISOString().replace(/Z$/, '000Z');
  const spec = { holderIdentity: `elsewhere-${suffix}`, renewTime, leaseDurationSeconds: 3600 };
  await kubectl(env.kubeconfig, [
    'patch',
    ...lease,
    '--type=merge',
    '-p',
    JSON.stringify({ spec }),
  ]);
  await waitUntil(
    'the replica to step down and stop reporting the pool',
    async () => {
      const text = await scrape(c.opsPort);
      const standby = metricValue(text, 'pier_controller_leader') === 0;
      return standby && (await assigned(text)) === undefined ? true : undefined;
    },
    15_000,
  );
  await kubectl(env.kubeconfig, ['delete', ...lease]);
  await waitUntil(
    'the replica to lead again and report the pool',
    async () => ((await assigned()) === 1 ? true : undefined),
    30_000,
  );
});

test('Redis connection state: 1 in both processes while connected, 0 in both once Redis is gone', async () => {
  const c = controller as ControllerProcess;
  const dp = dataplane as DataplaneProcess;
  const connected = async () => [
    metricValue(await scrape(c.opsPort), 'pier_controller_redis_connected'),
    metricValue(await scrape(dp.opsPort), 'pier_dataplane_redis_connected'),
  ];
  assert.deepEqual(await connected(), [1, 1]);
  await redis?.stop();
  redis = undefined;
  await waitUntil(
    'both processes to report Redis lost',
    async () => ((await connected()).every((v) => v === 0) ? true : undefined),
    15_000,
  );
  // The dataplane keeps serving its last table meanwhile.
  assert.equal(await get('/'), 200);
});
