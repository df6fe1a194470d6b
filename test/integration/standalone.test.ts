/**
 * `./pier standalone` as a newcomer runs it: a real child process on its default ports (the suite
 * runs in a private network namespace, so fixed ports are free), real sockets, real TLS, and the
 * real `curl`. The README's commands are read from the README itself and run one by one, so the
 * README and the behaviour cannot drift apart. Then, on a copy of the examples: an edited
 * manifest is live within a bound, a broken one is reported by file, object and field while the
 * rest is still served, and a failing health endpoint moves traffic within the probe interval.
 * Last, with REDIS_URL and KUBECONFIG, the same command runs the real controller and dataplane
 * against the suite's API server and Redis.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { run, waitUntil } from '../lib/child-process.ts';
import { controllerKubeconfig, testKeyRingFile } from '../lib/controller-process.ts';
import { createService, exposeAsEndpointSlice, startEchoPod } from '../lib/echo-pod.ts';
import { testEnv } from '../lib/env.ts';
import { ingressManifest, listDocument, waitForAddresses } from '../lib/ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from '../lib/kube.ts';
import { readmeCommands } from '../lib/readme-commands.ts';
import { freePort } from '../lib/redis-server.ts';
import { standaloneEnv, startStandalone } from '../lib/standalone-process.ts';
import { kubectl, REPO_ROOT } from '../lib/test-cluster.ts';

const env = testEnv();

async function sh(command: string): Promise<string> {
  return (await run('bash', ['-c', command], { cwd: REPO_ROOT, allowFailure: true })).stdout;
}

/** A request through the standalone proxy: the body, or `HTTP <status>` for a connection error. */
async function get(port: number, host: string, path = '/', address = '127.0.0.1'): Promise<string> {
  const out = await run(
    'curl',
    ['-s', '--max-time', '5', '-H', `Host: ${host}`, `http://${address}:${port}${path}`],
    { allowFailure: true },
  );
  return out.code === 0 ? out.stdout.trim() : `curl exit ${out.code}`;
}

test('every command of the README standalone section prints what the README says', async () => {
  const commands = readmeCommands(join(REPO_ROOT, 'README.md'), 'standalone-readme-commands');
  assert.ok(commands.length >= 10, `found only ${commands.length} README commands`);
  assert.ok(commands.every((c) => c.command.startsWith('curl ') || /^sleep \d+$/.test(c.command)));
  const pier = await startStandalone([], { name: 'standalone-readme' });
  try {
    // The start-up summary names what the README relies on.
    const summary = pier.output();
    for (const text of [
      '127.0.0.1:8080',
      '127.0.0.1:8443',
      'default/web  192.0.2.10 (pool demo)',
      'dashboard  http://127.0.0.1:9092/  (read-only, live)',
    ]) {
      assert.ok(summary.includes(text), `the summary lacks "${text}":\n${summary}`);
    }
    for (const { command, expected, line } of commands) {
      const output = await sh(command);
      assert.equal(output, expected, `README.md:${line}: ${command}`);
    }
  } finally {
    const started = Date.now();
    await pier.stop();
    assert.equal(await pier.process.exited, 0, 'Ctrl-C (SIGTERM here) ends it cleanly');
    assert.ok(Date.now() - started < 10_000, 'it stops within the drain grace and a little');
  }
});

test('a second pier standalone on taken ports stops with one line naming the port', async () => {
  const first = await startStandalone([], { name: 'standalone-first' });
  try {
    const second = await startStandalone(['--demo-backends', 'off'], {
      name: 'standalone-second',
      ready: false,
    });
    assert.equal(await second.process.exited, 2);
    assert.match(
      second.output(),
      /pier standalone: cannot listen on 127\.0\.0\.1:8080: another process is using it/,
    );
    const third = await startStandalone([], { name: 'standalone-third', ready: false });
    assert.equal(await third.process.exited, 2);
    assert.match(
      third.output(),
      /demo backend web-1 cannot listen on 127\.0\.0\.1:9101 \(EADDRINUSE\)/,
    );
  } finally {
    await first.stop();
  }
});

test('REDIS_URL without KUBECONFIG is refused with one clear line', async () => {
  const pier = await startStandalone([], {
    name: 'standalone-half',
    ready: false,
    env: standaloneEnv({ REDIS_URL: 'redis://127.0.0.1:1' }),
  });
  assert.equal(await pier.process.exited, 2);
  assert.match(pier.output(), /REDIS_URL is set but KUBECONFIG is not/);
});

/** `pier standalone` with demo backends on a copy of examples/standalone, removed after the file. */
async function standaloneOnCopy(
  name: string,
  listen: { http: number; https: string; ops: string },
): Promise<{ dir: string; pier: Awaited<ReturnType<typeof startStandalone>> }> {
  const dir = mkdtempSync(join(env.stateDir, `${name}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(REPO_ROOT, 'examples', 'standalone'), dir, { recursive: true });
  const pier = await startStandalone(
    [
      '--manifests',
      dir,
      '--demo-backends',
      'on',
      '--http-listen',
      `127.0.0.1:${listen.http}`,
      '--https-listen',
      listen.https,
      '--ops-listen',
      listen.ops,
      '--state-dir',
      join(dir, '.state'),
    ],
    { name },
  );
  return { dir, pier };
}

test('a copy of the examples: edits are live, mistakes are reported and cost only themselves, health moves traffic', async () => {
  const http = 18080;
  const { dir, pier } = await standaloneOnCopy('standalone-copy', {
    http,
    https: '127.0.0.1:18443',
    ops: '127.0.0.1:19090',
  });
  try {
    assert.match(await get(http, 'web.example.test', '/api/orders'), /^api-1: /);
    assert.equal(
      (await run('curl', ['-s', 'http://127.0.0.1:19090/readyz'])).stdout,
      'ok\n',
      'the ops listener says ready',
    );

    // An edit: /api becomes /v2. Live within a bound, with the old path now going to `web`.
    const webFile = join(dir, 'web.yaml');
    const original = readFileSync(webFile, 'utf8');
    const edited = Date.now();
    writeFileSync(webFile, original.replace('path: /api', 'path: /v2'));
    while ((await get(http, 'web.example.test', '/v2/orders')).startsWith('api-1') === false) {
      assert.ok(Date.now() - edited < 5_000, 'the edited path is served within 5 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const liveMs = Date.now() - edited;
    assert.match(await get(http, 'web.example.test', '/api/orders'), /^web-[12]: /);

    // Mistakes: a bad field in a new file, and a file whose YAML stops parsing. Each is reported
    // with file, object and field; everything else, the broken file's last good objects
    // included, is still served.
    let from = pier.output().length;
    writeFileSync(
      join(dir, 'broken.yaml'),
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: Ingress',
        'metadata: { name: broken }',
        'spec:',
        '  rules:',
        '    - host: broken.example.test',
        '      http:',
        '        paths:',
        '          - path: /',
        '            pathType: Sometimes',
        '            backend: { service: { name: web, port: { number: 80 } } }',
        '',
      ].join('\n'),
    );
    await pier.waitFor(
      `${relative(REPO_ROOT, join(dir, 'broken.yaml'))}: Ingress default/broken: spec.rules[0].http.paths[0].pathType: must be Exact, Prefix or ImplementationSpecific`,
      5_000,
      from,
    );
    assert.equal(
      await get(http, 'broken.example.test'),
      '404 Not Found: no route for this host and path',
    );
    assert.match(await get(http, 'web.example.test'), /^web-[12]: /);

    from = pier.output().length;
    writeFileSync(
      join(dir, 'shop.yaml'),
      `${readFileSync(join(dir, 'shop.yaml'), 'utf8')}\n  bad: [\n`,
    );
    await pier.waitFor(
      'shop.yaml: YAML does not parse; still serving the 4 object(s) it held before',
      5_000,
      from,
    );
    const tls = await run('curl', [
      '-s',
      '--cacert',
      join(dir, '.state', 'shop.example.test.crt'),
      '--resolve',
      'shop.example.test:18443:127.0.0.1',
      'https://shop.example.test:18443/',
    ]);
    assert.equal(tls.stdout, 'shop-1: GET https://shop.example.test:18443/\n');

    // Health: web-2 fails its health endpoint. The policy probes every 1 s (±10 %) and takes an
    // endpoint out after 2 failures, so within 2.2 s + slack every request goes to web-1.
    const answered = new Set<string>();
    for (let i = 0; i < 4; i++)
      answered.add((await get(http, 'web.example.test')).split(':')[0] as string);
    assert.deepEqual([...answered].sort(), ['web-1', 'web-2'], 'both endpoints answer at first');
    assert.equal(
      (await run('curl', ['-s', '-X', 'POST', 'http://127.0.0.1:9102/fail'])).stdout,
      'web-2 now fails its health checks\n',
    );
    const failed = Date.now();
    let onlyWeb1 = 0;
    while (onlyWeb1 < 6) {
      const body = await get(http, 'web.example.test');
      onlyWeb1 = body.startsWith('web-1:') ? onlyWeb1 + 1 : 0;
      assert.ok(Date.now() - failed < 5_000, 'web-2 is out of rotation within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const outMs = Date.now() - failed;
    await pier.waitFor('health: 127.0.0.1:9102 of default/web:80 is unhealthy (was', 1_000, from);
    // The dashboard (on by default) shows it: the pool and its address, the routes, the failing
    // endpoint on its backend's page, and the printed problems as events.
    const page = async (path: string): Promise<string> => {
      const res = await fetch(`http://127.0.0.1:9092${path}`);
      assert.equal(res.status, 200, path);
      return res.text();
    };
    const overview = await page('/');
    assert.match(overview, /<tr data-key="demo"><td data-label="Pool">demo<\/td>/);
    assert.match(overview, /Ingress default\/web/);
    assert.match(await page('/routes'), /web\.example\.test/);
    const backend = await page(`/backends?id=${encodeURIComponent('default/web:80')}`);
    assert.match(
      backend,
      /<tr data-key="127\.0\.0\.1:9102" class="bad">.*?state-unhealthy">unhealthy</,
      'the failing endpoint is shown unhealthy',
    );
    assert.match(backend, /<tr data-key="127\.0\.0\.1:9101">.*?state-healthy">healthy</);
    const events = await page('/events');
    assert.match(events, /EndpointUnhealthy/);
    assert.match(events, /broken\.yaml: Ingress default\/broken: spec\.rules\[0\]/);
    console.log(
      `edit live after ${liveMs} ms; unhealthy endpoint out of rotation after ${outMs} ms`,
    );
  } finally {
    await pier.stop();
  }
});

test('an invalid edit of a serving Ingress keeps its last good version serving until it is fixed or deleted (issue 17)', async () => {
  const http = 28080;
  const { dir, pier } = await standaloneOnCopy('standalone-last-good', {
    http,
    https: 'off',
    ops: '127.0.0.1:29090',
  });
  const webFile = join(dir, 'web.yaml');
  const shown = relative(REPO_ROOT, webFile);
  const original = readFileSync(webFile, 'utf8');
  const apiPath = 'path: /api\n            pathType: Prefix\n';
  assert.ok(original.includes(apiPath), 'web.yaml has the /api path of the README');
  /** Polls until `host` at `path` answers as `expected` says, within 5 s. */
  const answers = async (path: string, expected: RegExp): Promise<void> => {
    const since = Date.now();
    let body = await get(http, 'web.example.test', path);
    while (!expected.test(body)) {
      assert.ok(Date.now() - since < 5_000, `${path} answers ${expected} within 5 s; got ${body}`);
      await new Promise((r) => setTimeout(r, 50));
      body = await get(http, 'web.example.test', path);
    }
  };
  try {
    assert.match(await get(http, 'web.example.test', '/api/orders'), /^api-1: /);

    // The edit of the issue, with /api moved to /v2 so that the version that answers shows.
    let from = pier.output().length;
    writeFileSync(webFile, original.replace(apiPath, 'path: /v2\n            pathType: Prefixx\n'));
    await pier.waitFor(
      `problem: ${shown}: Ingress default/web: spec.rules[0].http.paths[1].pathType: must be Exact, Prefix or ImplementationSpecific (still serving the last good version)`,
      5_000,
      from,
    );
    // The table would change at once, in the same reload as the line: give it time to show.
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(pier.output().slice(from), /routes: revision/, 'the routes are unchanged');
    assert.match(await get(http, 'web.example.test', '/api/orders'), /^api-1: /, 'old /api');
    assert.match(await get(http, 'web.example.test', '/'), /^web-[12]: /);
    assert.match(await get(http, 'web.example.test', '/v2/orders'), /^web-[12]: /, 'no /v2 yet');

    // Fixed: the new version is live, /v2 to api and /api to web.
    from = pier.output().length;
    writeFileSync(webFile, original.replace(apiPath, 'path: /v2\n            pathType: Prefix\n'));
    await answers('/v2/orders', /^api-1: /);
    await answers('/api/orders', /^web-[12]: /);
    await pier.waitFor('problems: none left', 5_000, from);

    // Invalid again, then the Ingress document deleted: its host has no route any more.
    from = pier.output().length;
    writeFileSync(webFile, original.replace(apiPath, 'path: /v2\n            pathType: Prefixx\n'));
    await pier.waitFor('(still serving the last good version)', 5_000, from);
    assert.match(await get(http, 'web.example.test', '/v2/orders'), /^api-1: /);
    writeFileSync(webFile, original.slice(original.indexOf('---\n') + 4));
    await answers('/', /^404 Not Found: no route for this host and path$/);
    await answers('/v2/orders', /^404 Not Found: no route for this host and path$/);
  } finally {
    await pier.stop();
  }
});

test('with REDIS_URL and KUBECONFIG, the real controller and dataplane run in one process against the cluster', async () => {
  const kc = adminKubeConfig();
  const ns = await createTestNamespace(kc, 'standalone-cluster');
  const pool = `standalone-${ns.name.slice(-6)}`;
  after(async () => {
    await kubectl(env.kubeconfig, ['delete', 'ipaddresspool', pool, '--ignore-not-found']);
    await ns.remove();
  });
  const pod = await startEchoPod('web-1', '192.0.2.201');
  after(() => pod.close());
  await kubectl(env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'IPAddressPool',
        metadata: { name: pool },
        spec: { addresses: ['198.51.100.248/29'], autoAssign: false },
      },
      ingressManifest(ns.name, 'web', {
        className: 'pier',
        host: 'web.example.test',
        annotations: { 'pier.dev/address-pool': pool },
      }),
    ]),
  });
  await createService(kc, ns.name, 'web', { port: 80, targetPort: pod.port });
  await exposeAsEndpointSlice(kc, ns.name, 'web', [pod]);

  const http = await freePort();
  const pier = await startStandalone([], {
    name: 'standalone-cluster',
    ready: false,
    env: standaloneEnv({
      KUBECONFIG: await controllerKubeconfig(),
      REDIS_URL: env.redisUrl,
      PIER_KEY_RING_FILE: testKeyRingFile(),
      PIER_LISTEN: '127.0.0.1:0',
      NODE_NAME: 'standalone-node',
      // The routes are for the Ingress's address: listen on every address to receive them.
      PIER_HTTP_LISTEN: `0.0.0.0:${http}`,
      PIER_HTTPS_LISTEN: 'off',
      PIER_OPS_LISTEN: '127.0.0.1:0',
      PIER_STATE_FILE: join(env.stateDir, `${pool}-routes.json`),
    }),
  });
  try {
    await pier.waitFor('controller and dataplane (node standalone-node) in one process', 60_000);
    // A Lease left by another suite's controller may need to expire first (15 s).
    const [address] = (await waitForAddresses(kc, ns.name, ['web'], 60_000)).get('web') ?? [];
    assert.match(
      address ?? '',
      /^198\.51\.100\.(24[89]|25[0-5])$/,
      'the real controller wrote status',
    );
    const body = await waitUntil('the dataplane to route to the pod', async () => {
      const out = await get(http, 'web.example.test', '/', address);
      return out.startsWith('{') ? out : undefined;
    });
    assert.equal((JSON.parse(body) as { pod: string }).pod, 'web-1');
  } finally {
    await pier.stop();
    assert.equal(await pier.process.exited, 0);
  }
});
