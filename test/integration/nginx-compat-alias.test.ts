/**
 * ingress-nginx's `server-alias` through the real stack (controller, Redis, dataplane, API
 * server): requests and TLS server names for an alias are served as the host's, with every path
 * of the host from every Ingress naming it; an alias that is another Ingress's host is left to
 * that host and reported; removing the annotation takes the alias away. Each test names the
 * section of ingress-nginx's annotations.md it follows.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { request } from 'undici';
import { waitUntil } from '../lib/child-process.ts';
import { ingressManifest, listDocument, tlsSecretManifest } from '../lib/ingress-fixtures.ts';
import { N, NginxStand } from '../lib/nginx-stand.ts';
import { opensslCertificate } from '../lib/route-tables.ts';
import { kubectl } from '../lib/test-cluster.ts';

const certDir = mkdtempSync(join(tmpdir(), 'pier-alias-certs-'));
let stand: NginxStand;
/** The names the site answers to besides its host. */
let alias = '';
let apex = '';

/** A request with this Host (and SNI, over https): status, Location, which pod and what it saw. */
async function ask(
  scheme: 'http' | 'https',
  host: string,
  path: string,
): Promise<{ status: number; location?: string; pod?: string; seen?: string }> {
  const res = await request(stand.url(scheme, path), {
    headers: { host, connection: 'close' },
    dispatcher: stand.agent,
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
    ...(scheme === 'https' ? { servername: host } : {}),
  } as Parameters<typeof request>[1]);
  const text = await res.body.text();
  const out: { status: number; location?: string; pod?: string; seen?: string } = {
    status: res.statusCode,
  };
  if (typeof res.headers.location === 'string') out.location = res.headers.location;
  if (res.statusCode === 200) {
    const reply = JSON.parse(text) as { pod: string; url: string };
    out.pod = reply.pod.split('-').slice(0, 2).join('-');
    out.seen = reply.url;
  }
  return out;
}

/** `pier_dataplane_server_aliases` of the stand's dataplane. */
async function aliasesMetric(): Promise<number | undefined> {
  const res = await request(`http://127.0.0.1:${stand.dataplane.opsPort}/metrics`);
  const match = /^pier_dataplane_server_aliases (\d+)$/m.exec(await res.body.text());
  return match === null ? undefined : Number(match[1]);
}

/** The subject CN of the certificate the dataplane presents for `servername`. */
function certificateFor(servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: stand.address,
      port: stand.dataplane.httpsPort,
      servername,
      rejectUnauthorized: false,
    });
    socket.once('secureConnect', () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(Array.isArray(cn) ? cn.join() : (cn ?? ''));
    });
    socket.once('error', reject);
  });
}

before(async () => {
  stand = await NginxStand.open('alias', '203.0.113.216/30');
  const ns = stand.namespace;
  alias = `www-${stand.suffix}.example.org`;
  apex = `apex-${stand.suffix}.example.org`;
  await stand.service('site', ['192.0.2.130']);
  await stand.service('more', ['192.0.2.131']);
  await stand.service('taken', ['192.0.2.132']);
  const pair = await opensslCertificate(certDir, 'site', stand.host('site'));
  const site = stand.ingress(
    'site',
    { [`${N}server-alias`]: ` ${alias.toUpperCase()}, ${stand.host('taken')},${apex} ` },
    { service: 'site' },
  );
  (site.spec as Record<string, unknown>).tls = [
    { hosts: [stand.host('site')], secretName: 'site-tls' },
  ];
  // A second Ingress on the same host, without the annotation: its path is the alias's too.
  const more = ingressManifest(ns, 'more', {
    className: 'nginx',
    host: stand.host('site'),
    annotations: { 'pier.dev/address-pool': stand.pool },
  });
  (
    more.spec as { rules: Array<{ http: { paths: Array<Record<string, unknown>> } }> }
  ).rules[0]?.http.paths.splice(0, 1, {
    path: '/more',
    pathType: 'Prefix',
    backend: { service: { name: 'more', port: { number: 80 } } },
  });
  await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
    input: listDocument([
      tlsSecretManifest(ns, 'site-tls', pair.certPem, pair.keyPem),
      site,
      more,
      stand.ingress('taken', {}, { service: 'taken' }),
    ]),
  });
  await stand.serve(['site', 'taken']);
  await waitUntil('the second Ingress of the host to serve', async () =>
    (await ask('https', stand.host('site'), '/more/probe')).pod === 'more-131' ? true : undefined,
  );
});

after(async () => {
  await stand?.close();
  rmSync(certDir, { recursive: true, force: true });
});

test('annotations.md#server-alias: an alias is served as the host, every path of every Ingress on it', async () => {
  for (const name of [alias, apex]) {
    assert.deepEqual(await ask('https', name, '/x?y=1'), {
      status: 200,
      pod: 'site-130',
      seen: '/x?y=1',
    });
    assert.deepEqual(
      await ask('https', name, '/more/page'),
      { status: 200, pod: 'more-131', seen: '/more/page' },
      'a path of another Ingress on the host, which does not set the annotation',
    );
  }
  assert.deepEqual(await ask('https', `nope-${stand.suffix}.example.org`, '/x'), { status: 404 });
  assert.equal(await aliasesMetric(), 3, 'the names claimed, the one a host wins included');
});

test('annotations.md#server-side-https-enforcement-through-redirect: ssl-redirect holds under an alias', async () => {
  assert.deepEqual(await ask('http', alias, '/cart/?id=7'), {
    status: 308,
    location: `https://${alias}/cart/?id=7`,
  });
});

test('annotations.md#server-alias: TLS for an alias presents the host’s certificate', async () => {
  assert.equal(await certificateFor(alias), stand.host('site'));
  assert.notEqual(
    await certificateFor(`nope-${stand.suffix}.example.org`),
    stand.host('site'),
    'a name nobody claims gets the default certificate',
  );
});

test('annotations.md#server-alias: an alias naming another Ingress’s host is ignored, and said so', async () => {
  assert.deepEqual(await ask('https', stand.host('taken'), '/x'), {
    status: 200,
    pod: 'taken-132',
    seen: '/x',
  });
  const described = await waitUntil('the AnnotationConflict Event on site', async () => {
    const { stdout } = await kubectl(stand.env.kubeconfig, [
      'describe',
      'ingress',
      '-n',
      stand.namespace,
      'site',
    ]);
    return /AnnotationConflict/.test(stdout) ? stdout.replace(/\s+/g, ' ') : undefined;
  });
  assert.ok(
    described.includes(
      `${N}server-alias '${stand.host('taken')}' is ignored for host '${stand.host('site')}': host '${stand.host('taken')}' is served by its own Ingress, which wins over an alias`,
    ),
    described,
  );
});

test('annotations.md#server-alias: removing the annotation takes the alias away (404)', async () => {
  await kubectl(stand.env.kubeconfig, [
    'annotate',
    'ingress',
    '-n',
    stand.namespace,
    'site',
    `${N}server-alias-`,
  ]);
  await waitUntil('the alias to go', async () =>
    (await ask('https', alias, '/x')).status === 404 ? true : undefined,
  );
  assert.deepEqual(await ask('https', apex, '/more/page'), { status: 404 });
  assert.equal((await ask('https', stand.host('site'), '/x')).pod, 'site-130', 'the host stays');
  assert.equal(await aliasesMetric(), 0);
});
