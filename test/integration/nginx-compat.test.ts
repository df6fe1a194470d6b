/**
 * Moving from ingress-nginx, end to end: Ingresses written for ingress-nginx (class `nginx` by
 * `ingressClassName` and by the deprecated annotation, with no IngressClass object for it) are
 * served by pier-controller started with `--ingress-class-compat=nginx` and a real dataplane,
 * against the real API server and Redis. Each test names the section of ingress-nginx's
 * annotation docs (docs/user-guide/nginx-configuration/annotations.md) whose behaviour it checks
 * on real requests; what Pier does not honour is checked in `kubectl describe` and /metrics.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { run, waitUntil } from '../lib/child-process.ts';
import type { EchoPod } from '../lib/echo-pod.ts';
import { ingressManifest, listDocument, tlsSecretManifest } from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { opensslCertificate } from '../lib/route-tables.ts';
import { kubectl, REPO_ROOT } from '../lib/test-cluster.ts';

const certDir = mkdtempSync(join(tmpdir(), 'pier-nginx-certs-'));
let stand: NginxStand;
let pod: EchoPod | undefined;
const host = (name: string) => stand.host(name);
const get: NginxStand['get'] = (...args) => stand.get(...args);

function withTls(ingress: Record<string, unknown>, name: string): Record<string, unknown> {
  (ingress.spec as Record<string, unknown>).tls = [
    { hosts: [host(name)], secretName: `${name}-tls` },
  ];
  return ingress;
}

before(async () => {
  stand = await NginxStand.open('nginx', '203.0.113.224/30');
  const ns = stand.namespace;
  const nginxIngress = (name: string, annotations: Record<string, string> = {}) =>
    stand.ingress(name, annotations);
  [pod] = await stand.service('web', ['192.0.2.221']);
  await stand.service('pair', ['192.0.2.222', '192.0.2.223']);
  // Balancing is per backend: the sticky Ingress gets a Service of its own over other pods.
  const stickyPods = await stand.service('pair-sticky', ['192.0.2.224', '192.0.2.225']);
  // The Ingresses with other cookie attributes, each over the same pods by a Service of its own.
  await stand.alias('pair-attrs', stickyPods);
  await stand.alias('pair-tls', stickyPods);
  const secrets = [];
  for (const name of ['legacy', 'optout', 'keepslash', 'native', 'sticky-tls']) {
    const pair = await opensslCertificate(certDir, name, host(name));
    secrets.push(tlsSecretManifest(ns, `${name}-tls`, pair.certPem, pair.keyPem));
  }
  const legacy = withTls(
    ingressManifest(ns, 'legacy', {
      host: host('legacy'),
      annotations: {
        'pier.dev/address-pool': stand.pool,
        'kubernetes.io/ingress.class': 'nginx',
        [`${N}configuration-snippet`]: 'more_set_headers "X-Snippet: ran";',
        [`${N}proxy-buffering`]: 'off',
      },
    }),
    'legacy',
  );
  // An ACME HTTP-01 challenge path beside it, as cert-manager adds one.
  const acme = (legacy.spec as { rules: Array<{ http: { paths: unknown[] } }> }).rules[0];
  acme?.http.paths.push({
    path: '/.well-known/acme-challenge/token',
    pathType: 'Exact',
    backend: { service: { name: 'web', port: { number: 80 } } },
  });
  // ingress-nginx's own rewrite example (annotations.md#rewrite).
  const regexIngress = nginxIngress('rewrite', {
    [`${N}use-regex`]: 'true',
    [`${N}rewrite-target`]: '/$2',
  });
  (
    regexIngress.spec as { rules: Array<{ http: { paths: unknown[] } }> }
  ).rules[0]?.http.paths.splice(0, 1, {
    path: '/something(/|$)(.*)',
    pathType: 'ImplementationSpecific',
    backend: { service: { name: 'web', port: { number: 80 } } },
  });
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      ...secrets,
      legacy,
      withTls(nginxIngress('optout', { [`${N}ssl-redirect`]: 'false' }), 'optout'),
      withTls(nginxIngress('keepslash', { [`${N}preserve-trailing-slash`]: 'true' }), 'keepslash'),
      nginxIngress('forced', {
        [`${N}force-ssl-redirect`]: 'true',
        [`${N}use-port-in-redirects`]: 'true',
      }),
      nginxIngress('moved', {
        [`${N}permanent-redirect`]: 'https://new.example.test/welcome',
        [`${N}permanent-redirect-code`]: '308',
      }),
      nginxIngress('away', { [`${N}temporal-redirect`]: 'https://maintenance.example.test/' }),
      nginxIngress('away307', {
        [`${N}temporal-redirect`]: 'https://maintenance.example.test/later',
        [`${N}temporal-redirect-code`]: '307',
      }),
      nginxIngress('app', { [`${N}app-root`]: '/app1' }),
      nginxIngress('office', { [`${N}whitelist-source-range`]: '127.0.0.1/32, 192.0.2.0/24' }),
      nginxIngress('blocked', {
        [`${N}allowlist-source-range`]: '0.0.0.0/0',
        [`${N}denylist-source-range`]: '127.0.0.0/8',
      }),
      nginxIngress('uploads', { [`${N}proxy-body-size`]: '1k' }),
      regexIngress,
      nginxIngress('cors', {
        [`${N}enable-cors`]: 'true',
        [`${N}cors-allow-origin`]: 'https://app.example.com, https://*.example.org',
        [`${N}cors-expose-headers`]: 'X-Total-Count',
      }),
      // Any origin (the default), with every other CORS setting changed.
      nginxIngress('cors-custom', {
        [`${N}enable-cors`]: 'true',
        [`${N}cors-allow-methods`]: 'GET, POST',
        [`${N}cors-allow-headers`]: 'X-Api-Key,Content-Type',
        [`${N}cors-allow-credentials`]: 'false',
        [`${N}cors-max-age`]: '600',
      }),
      ingressManifest(ns, 'spread', {
        className: 'nginx',
        host: host('spread'),
        service: 'pair',
        annotations: { 'pier.dev/address-pool': stand.pool, [`${N}load-balance`]: 'round_robin' },
      }),
      ingressManifest(ns, 'sticky', {
        className: 'nginx',
        host: host('sticky'),
        service: 'pair-sticky',
        annotations: {
          'pier.dev/address-pool': stand.pool,
          [`${N}affinity`]: 'cookie',
          [`${N}session-cookie-name`]: 'route',
          [`${N}session-cookie-max-age`]: '172800',
          [`${N}session-cookie-samesite`]: 'Strict',
        },
      }),
      ingressManifest(ns, 'sticky-attrs', {
        className: 'nginx',
        host: host('sticky-attrs'),
        service: 'pair-attrs',
        annotations: {
          'pier.dev/address-pool': stand.pool,
          [`${N}affinity`]: 'cookie',
          [`${N}session-cookie-path`]: '/app',
          [`${N}session-cookie-domain`]: 'example.test',
          [`${N}session-cookie-expires`]: '3600',
          [`${N}session-cookie-secure`]: 'true',
        },
      }),
      withTls(
        ingressManifest(ns, 'sticky-tls', {
          className: 'nginx',
          host: host('sticky-tls'),
          service: 'pair-tls',
          annotations: {
            'pier.dev/address-pool': stand.pool,
            [`${N}ssl-redirect`]: 'false',
            [`${N}affinity`]: 'cookie',
            [`${N}session-cookie-secure`]: 'false',
          },
        }),
        'sticky-tls',
      ),
      // Pier's own class: ingress-nginx's defaults do not apply, its annotations do.
      withTls(
        ingressManifest(ns, 'native', {
          className: 'pier',
          host: host('native'),
          annotations: { 'pier.dev/address-pool': stand.pool },
        }),
        'native',
      ),
    ]),
  });
  const names = [
    'legacy',
    'optout',
    'keepslash',
    'forced',
    'moved',
    'away',
    'away307',
    'app',
    'office',
    'blocked',
    'uploads',
    'rewrite',
    'spread',
    'sticky',
    'sticky-attrs',
    'sticky-tls',
    'cors',
    'cors-custom',
    'native',
  ];
  await stand.serve(names, (name) => (name === 'rewrite' ? '/something/probe' : '/probe'));
});

after(async () => {
  await stand?.close();
  rmSync(certDir, { recursive: true, force: true });
});

test('class nginx by ingressClassName and by the deprecated annotation: addressed and served', async () => {
  const { stdout } = await kubectl(stand.env.kubeconfig, [
    'get',
    'ingress',
    '-n',
    stand.namespace,
    'legacy',
    'forced',
  ]);
  for (const name of ['legacy', 'forced']) {
    assert.match(
      stdout,
      new RegExp(`^${name}\\s+.*\\s${stand.address.replaceAll('.', '\\.')}\\s`, 'm'),
      stdout,
    );
  }
  assert.deepEqual(await get('https', 'legacy', '/shop?x=1'), { status: 200, seen: '/shop?x=1' });
});

test('annotations.md#server-side-https-enforcement-through-redirect: ssl-redirect by default with TLS, 308', async () => {
  assert.deepEqual(await get('http', 'legacy', '/cart/?id=7'), {
    status: 308,
    location: `https://${host('legacy')}/cart/?id=7`,
  });
  assert.deepEqual(
    await get('http', 'legacy', '/dir/'),
    { status: 308, location: `https://${host('legacy')}/dir` },
    'the trailing slash is dropped, as ingress-nginx does',
  );
  assert.deepEqual(
    await get('http', 'legacy', '/.well-known/acme-challenge/token'),
    { status: 200, seen: '/.well-known/acme-challenge/token' },
    'ACME challenges stay on plain HTTP (no-tls-redirect-locations)',
  );
  assert.deepEqual(
    await get('http', 'optout', '/a'),
    { status: 200, seen: '/a' },
    'ssl-redirect: "false"',
  );
  assert.deepEqual(await get('http', 'keepslash', '/dir/'), {
    status: 308,
    location: `https://${host('keepslash')}/dir/`,
  });
  assert.deepEqual(
    await get('http', 'native', '/a'),
    { status: 200, seen: '/a' },
    'a Pier-class Ingress keeps plain HTTP unless it asks',
  );
});

test('annotations.md#server-side-https-enforcement-through-redirect: force-ssl-redirect without a certificate', async () => {
  const dp = stand.dataplane;
  assert.deepEqual(await get('http', 'forced', '/x'), {
    status: 308,
    location: `https://${host('forced')}:${dp.httpsPort}/x`,
  });
});

test('annotations.md#permanent-redirect and #temporal-redirect: every request answered, nothing proxied', async () => {
  const before = pod?.requests ?? 0;
  assert.deepEqual(await get('http', 'moved', '/anything'), {
    status: 308,
    location: 'https://new.example.test/welcome',
  });
  assert.deepEqual(await get('https', 'moved', '/'), {
    status: 308,
    location: 'https://new.example.test/welcome',
  });
  assert.deepEqual(await get('http', 'away', '/x'), {
    status: 302,
    location: 'https://maintenance.example.test/',
  });
  assert.equal(pod?.requests, before, 'the backend saw none of them');
});

test('annotations.md#temporal-redirect-code: the temporal redirect answered with the code set, 307', async () => {
  const before = pod?.requests ?? 0;
  assert.deepEqual(await get('http', 'away307', '/x?y=1'), {
    status: 307,
    location: 'https://maintenance.example.test/later',
  });
  assert.deepEqual(
    await get('http', 'away307', '/upload', { method: 'POST', body: 'data' }),
    { status: 307, location: 'https://maintenance.example.test/later' },
    'a POST too: 307 tells the client to repeat its method and body there',
  );
  assert.equal(pod?.requests, before, 'the backend saw none of them');
});

test('annotations.md#rewrite (app-root): / answers 302 to the app root, other paths are proxied', async () => {
  assert.deepEqual(
    await get('http', 'app', '/?from=bookmark'),
    { status: 302, location: `http://${host('app')}/app1` },
    'same scheme and Host as sent ($scheme://$http_host)',
  );
  assert.deepEqual(await get('https', 'app', '/'), {
    status: 302,
    location: `https://${host('app')}/app1`,
  });
  assert.deepEqual(await get('http', 'app', '/app1'), { status: 200, seen: '/app1' });
});

test('annotations Pier does not honour: kubectl describe says which and why, /metrics counts them', async () => {
  const described = await waitUntil('the AnnotationIgnored Events', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'legacy',
    ]);
    return /AnnotationIgnored/.test(stdout) && /proxy-buffering/.test(stdout) ? stdout : undefined;
  });
  assert.match(
    described.replace(/\s+/g, ' '),
    /AnnotationIgnored .*nginx\.ingress\.kubernetes\.io\/configuration-snippet: a snippet of nginx configuration; Pier never executes snippets; the Ingress is served without it/,
  );
  const res = await get('https', 'legacy', '/');
  assert.equal(res.status, 200, 'served without the snippet');
  const metrics = await (
    await request(`http://127.0.0.1:${stand.controller.opsPort}/metrics`)
  ).body.text();
  assert.match(
    metrics,
    /^pier_ingress_annotations_ignored\{annotation="nginx\.ingress\.kubernetes\.io\/configuration-snippet"\} 1$/m,
  );
  assert.match(
    metrics,
    /^pier_ingress_annotations_ignored\{annotation="nginx\.ingress\.kubernetes\.io\/proxy-buffering"\} 1$/m,
  );
});

/** The `pier.dev/ignored-annotations` mark of Ingress `name` ('' when it has none). */
async function markOf(name: string): Promise<string> {
  const { stdout } = await kubectl(stand.env.kubeconfig, [
    'get',
    'ingress',
    '-n',
    stand.namespace,
    name,
    '-o',
    'jsonpath={.metadata.annotations.pier\\.dev/ignored-annotations}',
  ]);
  return stdout.trim();
}

test('annotations Pier does not honour: a script reads them from the pier.dev/ignored-annotations mark, kept true as they change', async () => {
  assert.equal(
    await waitUntil('the mark on legacy', async () => (await markOf('legacy')) || undefined),
    `${N}configuration-snippet,${N}proxy-buffering`,
  );
  assert.equal(await markOf('app'), '', 'an Ingress with nothing ignored has no mark');
  const kc = stand.env.kubeconfig;
  const ns = stand.namespace;
  const marked = ingressManifest(ns, 'marked', {
    className: 'nginx',
    host: host('marked'),
    annotations: {
      'pier.dev/address-pool': stand.pool,
      [`${N}server-snippet`]: 'return 418;',
      [`${N}proxy-buffering`]: 'on',
    },
  });
  await kubectl(kc, ['apply', '-f', '-'], { input: JSON.stringify(marked) });
  try {
    await waitUntil('the mark on a new Ingress', async () =>
      (await markOf('marked')) === `${N}proxy-buffering,${N}server-snippet` ? true : undefined,
    );
    await kubectl(kc, ['annotate', '-n', ns, 'ingress', 'marked', `${N}server-snippet-`]);
    await waitUntil('the mark without the removed annotation', async () =>
      (await markOf('marked')) === `${N}proxy-buffering` ? true : undefined,
    );
    await kubectl(kc, ['annotate', '-n', ns, 'ingress', 'marked', `${N}proxy-buffering-`]);
    await waitUntil('no mark once nothing is ignored', async () =>
      (await markOf('marked')) === '' ? true : undefined,
    );
    await kubectl(kc, [
      'annotate',
      '-n',
      ns,
      'ingress',
      'marked',
      `${N}server-snippet=return 418;`,
    ]);
    await waitUntil('the mark back', async () =>
      (await markOf('marked')) === `${N}server-snippet` ? true : undefined,
    );
    // Moved to a class Pier does not serve: Pier's mark goes with Pier.
    await kubectl(kc, [
      'patch',
      '-n',
      ns,
      'ingress',
      'marked',
      '--type=merge',
      '-p',
      '{"spec":{"ingressClassName":"someone-else"}}',
    ]);
    await waitUntil('no mark on an Ingress of another class', async () =>
      (await markOf('marked')) === '' ? true : undefined,
    );
  } finally {
    await kubectl(kc, ['delete', '-n', ns, 'ingress', 'marked', '--ignore-not-found']);
  }
});

test('pier migrate-check --kubeconfig: the cluster’s nginx Ingresses, as the controller serves them', async () => {
  const { code, stdout } = await run(
    join(REPO_ROOT, 'pier'),
    ['migrate-check', '--kubeconfig', stand.env.kubeconfig, '--output', 'json'],
    { allowFailure: true },
  );
  assert.equal(code, 1, 'something would change: exit 1');
  const report = JSON.parse(stdout) as {
    ingresses: Array<{
      namespace: string;
      name: string;
      verdict: string;
      neverRun: Array<{ annotation: string }>;
    }>;
  };
  const mine = report.ingresses.filter((i) => i.namespace === stand.namespace);
  assert.deepEqual(
    mine.map((i) => [i.name, i.verdict]),
    [
      ['app', 'unchanged'],
      ['away', 'unchanged'],
      ['away307', 'unchanged'],
      ['blocked', 'unchanged'],
      ['cors', 'unchanged'],
      ['cors-custom', 'unchanged'],
      ['forced', 'unchanged'],
      ['keepslash', 'unchanged'],
      ['legacy', 'changes'],
      ['moved', 'unchanged'],
      ['office', 'unchanged'],
      ['optout', 'unchanged'],
      ['rewrite', 'unchanged'],
      ['spread', 'unchanged'],
      ['sticky', 'unchanged'],
      ['sticky-attrs', 'unchanged'],
      ['sticky-tls', 'unchanged'],
      ['uploads', 'unchanged'],
    ],
    'the Pier-class Ingress is not checked',
  );
  assert.deepEqual(
    mine.find((i) => i.name === 'legacy')?.neverRun.map((a) => a.annotation),
    [`${N}configuration-snippet`],
  );
});

test('annotations.md#whitelist-source-range and #denylist-source-range: 403 for a client outside or denied', async () => {
  assert.deepEqual(await get('http', 'office', '/a', { from: stand.fromLoopback }), {
    status: 200,
    seen: '/a',
  });
  assert.deepEqual(
    await get('http', 'office', '/a'),
    { status: 403, error: 'PIER_FORBIDDEN' },
    `a client from ${stand.address} is outside the allowlist`,
  );
  assert.deepEqual(await get('http', 'blocked', '/a'), { status: 200, seen: '/a' });
  assert.deepEqual(
    await get('http', 'blocked', '/a', { from: stand.fromLoopback }),
    { status: 403, error: 'PIER_FORBIDDEN' },
    'the denylist wins over the allowlist',
  );
});

test('annotations.md#custom-max-body-size: 413 above proxy-body-size, with a length or chunked', async () => {
  const small = 'x'.repeat(512);
  const large = 'x'.repeat(2048);
  assert.deepEqual(await get('http', 'uploads', '/up', { method: 'POST', body: small }), {
    status: 200,
    seen: '/up',
  });
  assert.deepEqual(await get('http', 'uploads', '/up', { method: 'POST', body: large }), {
    status: 413,
    error: 'PIER_BODY_TOO_LARGE',
  });
  // A chunked body: the limit is counted while it streams. Sent whole in one write, so the
  // client is not still writing when the early answer closes the connection (an HTTP client
  // writing on then may see EPIPE before it reads the 413, as it may with nginx).
  const chunk = `${large.length.toString(16)}\r\n${large}\r\n`;
  const head = `POST /up HTTP/1.1\r\nHost: ${host('uploads')}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const url = new URL(stand.url('http', '/'));
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (d: Buffer) => {
    answer += d.toString('latin1');
  });
  socket.setTimeout(5_000, () => socket.destroy());
  socket.write(`${head}${chunk}${chunk}0\r\n\r\n`);
  await once(socket, 'close');
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /\r\nx-pier-error: PIER_BODY_TOO_LARGE\r\n/i);
  assert.deepEqual(
    await get('http', 'legacy', '/up', { method: 'POST', body: large }),
    { status: 308, location: `https://${host('legacy')}/up` },
    'without the annotation the dataplane’s own limit applies (ingress-nginx’s ConfigMap is not read)',
  );
});

test('annotations.md#rewrite: rewrite-target with capture groups, case-insensitive regex paths', async () => {
  const rows: Array<[string, string]> = [
    ['/something', '/'],
    ['/something/', '/'],
    ['/something/new', '/new'],
    ['/SomeThing/new/deeper?x=1', '/new/deeper?x=1'],
  ];
  for (const [sent, seen] of rows) {
    assert.deepEqual(await get('http', 'rewrite', sent), { status: 200, seen }, sent);
  }
  assert.deepEqual(
    await get('http', 'rewrite', '/somethingelse'),
    { status: 404, error: 'PIER_NO_ROUTE' },
    '(/|$) keeps /somethingelse out',
  );
});

/** A GET to `name` with an optional Cookie; the pod that answered and the Set-Cookie sent. */
async function podOf(
  name: string,
  cookie?: string,
  scheme: 'http' | 'https' = 'http',
): Promise<{ pod: string; setCookie?: string }> {
  const res = await request(stand.url(scheme, '/'), {
    headers: { host: host(name), connection: 'close', ...(cookie === undefined ? {} : { cookie }) },
    dispatcher: stand.agent,
    ...(scheme === 'https' ? { servername: host(name) } : {}),
  } as Parameters<typeof request>[1]);
  const reply = (await res.body.json()) as { pod: string };
  const setCookie = res.headers['set-cookie'];
  return { pod: reply.pod, ...(typeof setCookie === 'string' ? { setCookie } : {}) };
}

test('annotations.md#custom-nginx-load-balancing: round_robin alternates over the endpoints', async () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const { pod: name, setCookie } = await podOf('spread');
    assert.equal(setCookie, undefined, 'no affinity, no cookie');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  assert.deepEqual([...counts.values()], [10, 10], JSON.stringify([...counts]));
});

test('annotations.md#cookie-affinity: the cookie’s name and attributes, and a client kept on its pod', async () => {
  const first = await podOf('sticky');
  assert.match(
    first.setCookie ?? '',
    /^route=[^;]+; Path=\/; Max-Age=172800; HttpOnly; SameSite=Strict$/,
  );
  const cookie = (first.setCookie ?? '').split(';')[0] ?? '';
  for (let i = 0; i < 20; i++) {
    const next = await podOf('sticky', cookie);
    assert.equal(next.pod, first.pod, `request ${i} stays on ${first.pod}`);
  }
  // Without the cookie, round robin (ingress-nginx's default) reaches the other pod too.
  const others = new Set<string>();
  for (let i = 0; i < 4; i++) others.add((await podOf('sticky')).pod);
  assert.equal(others.size, 2);
});

/** A request to the host of `name`; its status, its access-control-* headers and whether the pod saw it. */
async function corsRequest(method: 'GET' | 'OPTIONS', origin?: string, name = 'cors') {
  const dp = stand.dataplane;
  const before = pod?.requests ?? 0;
  const res = await request(`http://${stand.address}:${dp.httpPort}/items`, {
    method,
    headers: {
      host: host(name),
      connection: 'close',
      ...(origin === undefined ? {} : { origin }),
      ...(method === 'OPTIONS' ? { 'access-control-request-method': 'PUT' } : {}),
    },
    dispatcher: stand.agent,
  });
  await res.body.dump();
  const cors = Object.fromEntries(
    Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')),
  );
  return { status: res.statusCode, cors, proxied: (pod?.requests ?? 0) > before };
}

test('annotations.md#enable-cors: the preflight answered 204, responses to allowed origins carry the headers', async () => {
  const expected = {
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
    'access-control-allow-headers':
      'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
    'access-control-expose-headers': 'X-Total-Count',
    'access-control-max-age': '1728000',
  };
  assert.deepEqual(await corsRequest('OPTIONS', 'https://app.example.com'), {
    status: 204,
    cors: expected,
    proxied: false,
  });
  assert.deepEqual(await corsRequest('GET', 'https://app.example.com'), {
    status: 200,
    cors: expected,
    proxied: true,
  });
  const wildcard = await corsRequest('GET', 'https://shop.example.org');
  assert.equal(wildcard.cors['access-control-allow-origin'], 'https://shop.example.org');
  assert.deepEqual(
    await corsRequest('GET', 'https://evil.example.net'),
    { status: 200, cors: {}, proxied: true },
    'an origin not allowed gets no CORS headers',
  );
  assert.deepEqual(
    await corsRequest('OPTIONS', 'https://evil.example.net'),
    { status: 200, cors: {}, proxied: true },
    'nor a preflight: its OPTIONS goes to the application',
  );
});

test('annotations.md#enable-cors: cors-allow-methods, -headers and -max-age as set; cors-allow-credentials "false" sends no Allow-Credentials', async () => {
  // Any origin (cors-allow-origin unset): ingress-nginx answers with *, not the Origin sent.
  const expected = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, POST',
    'access-control-allow-headers': 'X-Api-Key,Content-Type',
    'access-control-max-age': '600',
  };
  assert.deepEqual(await corsRequest('OPTIONS', 'https://any.example.net', 'cors-custom'), {
    status: 204,
    cors: expected,
    proxied: false,
  });
  assert.deepEqual(await corsRequest('GET', 'https://any.example.net', 'cors-custom'), {
    status: 200,
    cors: expected,
    proxied: true,
  });
});

test('annotations.md#cookie-affinity: session-cookie-path, -domain, -expires and -secure on the cookie', async () => {
  const sent = Date.now();
  const first = await podOf('sticky-attrs');
  const done = Date.now();
  const match =
    /^INGRESSCOOKIE=[^;]+; Path=\/app; Expires=([^;]+); Domain=example\.test; HttpOnly; Secure$/.exec(
      first.setCookie ?? '',
    );
  assert.ok(match, `no Max-Age, Secure over plain HTTP: ${first.setCookie}`);
  // sticky.lua: Expires is the response time plus the seconds (the date has whole seconds).
  const expires = Date.parse(match[1] as string);
  assert.ok(
    expires >= sent + 3_599_000 && expires <= done + 3_600_000,
    `Expires ${match[1]}, sent at ${new Date(sent).toUTCString()}`,
  );
  const cookie = (first.setCookie ?? '').split(';')[0] ?? '';
  for (let i = 0; i < 10; i++) {
    const next = await podOf('sticky-attrs', cookie);
    assert.equal(next.pod, first.pod, `request ${i} stays on ${first.pod}`);
    assert.equal(next.setCookie, undefined, 'a pinned client is not sent the cookie again');
  }
});

test('annotations.md#cookie-affinity: session-cookie-secure "false" is the default, Secure over HTTPS only', async () => {
  assert.match(
    (await podOf('sticky-tls', undefined, 'https')).setCookie ?? '',
    /^INGRESSCOOKIE=[^;]+; Path=\/; HttpOnly; Secure$/,
  );
  assert.match(
    (await podOf('sticky-tls')).setCookie ?? '',
    /^INGRESSCOOKIE=[^;]+; Path=\/; HttpOnly$/,
    'a session cookie, not Secure over plain HTTP',
  );
});
