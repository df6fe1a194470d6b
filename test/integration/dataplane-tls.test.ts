/**
 * The dataplane's TLS termination against real sockets and real clients: certificates from a
 * route table whose keys are sealed, chosen by SNI, swapped live, with broken ones isolated.
 * Clients are `openssl s_client`, as a user would check a server, and node:tls / node:https.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import {
  type Certificate,
  KeyRing,
  RouteIndex,
  type RouteTable,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import {
  type CertificatePair,
  generateDefaultCertificate,
} from '../../packages/dataplane/src/tls/default-certificate.ts';
import { TlsStore } from '../../packages/dataplane/src/tls/tls-store.ts';
import { run } from '../lib/child-process.ts';
import { opensslCertificate } from '../lib/route-tables.ts';

const keyRing = new KeyRing({ current: 'test', keys: { test: randomBytes(32) } });
let dir: string;
const pairs: Record<string, CertificatePair> = {};
let store: TlsStore;
const servers: https.Server[] = [];
let port: number;
let otherAddressPort: number;

/** Makes a self-signed certificate with openssl and keeps it under `name`. */
async function makeCertificate(name: string, subject: string, dns: string): Promise<void> {
  const { certPem, keyPem } = await opensslCertificate(dir, name, dns, subject);
  pairs[name] = { certPem, keyPem };
}

function pair(name: string): CertificatePair {
  const found = pairs[name];
  assert.ok(found, `certificate ${name} was made`);
  return found;
}

/** A route-table certificate with its key sealed as the controller does (AAD = id). */
function certificate(id: string, certName: string, keyName = certName): Certificate {
  return {
    id,
    secret: { namespace: 'shop', name: id.slice(id.indexOf('/') + 1) },
    certificatePem: pair(certName).certPem,
    key: keyRing.seal(pair(keyName).keyPem, id),
  };
}

let revision = 0;

/** Applies a table of TLS hosts ([address, host, certificate id]) and returns the problems. */
function applyTable(certificates: Certificate[], hosts: Array<[string, string, string]>) {
  const virtualHosts: Record<string, VirtualHost> = {};
  for (const [address, host, cert] of hosts) {
    virtualHosts[virtualHostKey(address, host)] = {
      address,
      host,
      tls: { certificate: cert },
      routes: [],
    };
  }
  const table: RouteTable = {
    revision: ++revision,
    virtualHosts,
    backends: {},
    certificates: Object.fromEntries(certificates.map((c) => [c.id, c])),
  };
  return store.update(table, new RouteIndex(table));
}

const STANDARD_HOSTS: Array<[string, string, string]> = [
  ['*', 'a.example.test', 'shop/a'],
  ['*', '*.b.example.test', 'shop/b'],
];

interface SClientResult {
  ok: boolean;
  subject: string | undefined;
  protocol: string | undefined;
  output: string;
}

/** `openssl s_client -connect 127.0.0.1:PORT [-servername NAME] ... </dev/null`. */
async function sClient(
  servername: string | undefined,
  extra: string[] = [],
  target = `127.0.0.1:${port}`,
): Promise<SClientResult> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername];
  const { code, stdout, stderr } = await run(
    'openssl',
    ['s_client', '-connect', target, ...sni, ...extra],
    { allowFailure: true },
  );
  return {
    ok: code === 0,
    subject: /^subject=(.*)$/m.exec(stdout)?.[1]?.trim(),
    protocol: /^New, (TLSv[\d.]+), Cipher is /m.exec(stdout)?.[1],
    output: `${stdout}\n${stderr}`,
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pier-dataplane-tls-'));
  await makeCertificate('a', '/CN=a.example.test', 'a.example.test');
  await makeCertificate('a-renewed', '/O=Renewed/CN=a.example.test', 'a.example.test');
  await makeCertificate('b', '/CN=*.b.example.test', '*.b.example.test');
  store = new TlsStore({ keyRing, defaultCertificate: await generateDefaultCertificate() });
  assert.deepEqual(
    applyTable([certificate('shop/a', 'a'), certificate('shop/b', 'b')], STANDARD_HOSTS),
    [],
  );
  const listen = async (address: string): Promise<number> => {
    const server = https.createServer(store.serverOptions(), (req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.headers.host ?? ''}\n`);
    });
    servers.push(server);
    server.listen(0, address);
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  port = await listen('127.0.0.1');
  // The whole of 127.0.0.0/8 answers on loopback: a second local address for per-address TLS.
  otherAddressPort = await listen('127.0.0.2');
});

after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('openssl s_client gets the certificate of the name it asks for, by SNI', async () => {
  const exact = await sClient('a.example.test');
  assert.ok(exact.ok, exact.output);
  assert.equal(exact.subject, 'CN = a.example.test');
  const wildcard = await sClient('x.b.example.test');
  assert.ok(wildcard.ok, wildcard.output);
  assert.equal(wildcard.subject, 'CN = *.b.example.test');
});

test('unknown names and clients without SNI get the default certificate', async () => {
  for (const name of ['unknown.test', 'b.example.test', 'y.x.b.example.test', undefined]) {
    const result = await sClient(name);
    assert.ok(result.ok, result.output);
    assert.equal(result.subject, 'CN = pier-default', `server name ${String(name)}`);
  }
});

test('TLS 1.2 and 1.3 are served; TLS 1.1 is refused by the server', async () => {
  const v13 = await sClient('a.example.test', ['-tls1_3']);
  assert.ok(v13.ok, v13.output);
  assert.equal(v13.protocol, 'TLSv1.3');
  const v12 = await sClient('a.example.test', ['-tls1_2']);
  assert.ok(v12.ok, v12.output);
  assert.equal(v12.protocol, 'TLSv1.2');
  assert.equal(v12.subject, 'CN = a.example.test');
  assert.match(v12.output, /Cipher is ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
  // SECLEVEL=0 lets the client offer TLS 1.1 at all, so the refusal is the server's.
  const v11 = await sClient('a.example.test', ['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  assert.equal(v11.ok, false);
  assert.match(v11.output, /alert protocol version/);
  assert.equal(v11.subject, undefined);
});

test('minVersion TLSv1.3 refuses TLS 1.2, also for names served from the route table', async () => {
  const strict = new TlsStore({
    keyRing,
    defaultCertificate: await generateDefaultCertificate(),
    minVersion: 'TLSv1.3',
  });
  const table: RouteTable = {
    revision: 1,
    virtualHosts: {
      [virtualHostKey('*', 'a.example.test')]: {
        address: '*',
        host: 'a.example.test',
        tls: { certificate: 'shop/a' },
        routes: [],
      },
    },
    backends: {},
    certificates: { 'shop/a': certificate('shop/a', 'a') },
  };
  assert.deepEqual(strict.update(table, new RouteIndex(table)), []);
  const server = https.createServer(strict.serverOptions(), (_req, res) => res.end());
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const v12 = await sClient('a.example.test', ['-tls1_2'], target);
  assert.equal(v12.ok, false);
  assert.match(v12.output, /alert protocol version/);
  const v13 = await sClient('a.example.test', ['-tls1_3'], target);
  assert.ok(v13.ok, v13.output);
  assert.equal(v13.subject, 'CN = a.example.test');
});

test('a host served on two addresses with two certificates gets the one of the address dialled', async () => {
  applyTable(
    [
      certificate('shop/a', 'a'),
      certificate('shop/a-other', 'a-renewed'),
      certificate('shop/b', 'b'),
    ],
    [...STANDARD_HOSTS, ['127.0.0.2', 'a.example.test', 'shop/a-other']],
  );
  try {
    const onDefault = await sClient('a.example.test');
    assert.equal(onDefault.subject, 'CN = a.example.test');
    const onOther = await sClient('a.example.test', [], `127.0.0.2:${otherAddressPort}`);
    assert.ok(onOther.ok, onOther.output);
    assert.equal(onOther.subject, 'O = Renewed, CN = a.example.test');
  } finally {
    applyTable([certificate('shop/a', 'a'), certificate('shop/b', 'b')], STANDARD_HOSTS);
  }
});

test('a replaced certificate serves the next handshake; an open connection keeps working', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (ca: string) =>
    new Promise<{ status: number; body: string; reused: boolean; subject: string }>(
      (resolve, reject) => {
        const req = https.get(
          {
            host: '127.0.0.1',
            port,
            servername: 'a.example.test',
            headers: { host: 'a.example.test' },
            path: '/',
            agent,
            ca,
          },
          (res) => {
            const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
            let body = '';
            res.setEncoding('utf8').on('data', (d: string) => {
              body += d;
            });
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body,
                reused: req.reusedSocket,
                subject: String(peer.subject.O ?? '-'),
              }),
            );
          },
        );
        req.on('error', reject);
      },
    );
  try {
    // Verified against the original certificate: this connection was set up with it.
    const first = await get(pair('a').certPem);
    assert.equal(first.status, 200);
    assert.equal(first.reused, false);

    applyTable([certificate('shop/a', 'a-renewed'), certificate('shop/b', 'b')], STANDARD_HOSTS);
    const fresh = await sClient('a.example.test');
    assert.equal(fresh.subject, 'O = Renewed, CN = a.example.test');

    const again = await get(pair('a').certPem);
    assert.equal(again.reused, true, 'the request went over the connection opened before');
    assert.equal(again.status, 200);
    assert.equal(again.body, 'hello a.example.test\n');
    assert.equal(again.subject, '-', 'that connection still has the old certificate');
  } finally {
    agent.destroy();
    applyTable([certificate('shop/a', 'a'), certificate('shop/b', 'b')], STANDARD_HOSTS);
  }
});

test('a tampered sealed key is reported and its host gets the default; others are unaffected', async () => {
  const a = certificate('shop/a', 'a');
  const ciphertext = Buffer.from(a.key.ciphertext, 'base64');
  ciphertext[ciphertext.length - 1] = (ciphertext.at(-1) as number) ^ 0x01;
  const tampered = { ...a, key: { ...a.key, ciphertext: ciphertext.toString('base64') } };
  try {
    const problems = applyTable([tampered, certificate('shop/b', 'b')], STANDARD_HOSTS);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.certificate, 'shop/a');
    assert.match(problems[0]?.message ?? '', /failed authentication/);
    assert.deepEqual([...store.loaded], ['shop/b']);
    assert.equal((await sClient('a.example.test')).subject, 'CN = pier-default');
    assert.equal((await sClient('x.b.example.test')).subject, 'CN = *.b.example.test');
  } finally {
    applyTable([certificate('shop/a', 'a'), certificate('shop/b', 'b')], STANDARD_HOSTS);
  }
});

test('a key that does not match its certificate is reported and the host gets the default', async () => {
  try {
    const problems = applyTable(
      [certificate('shop/a', 'a', 'b'), certificate('shop/b', 'b')],
      STANDARD_HOSTS,
    );
    assert.deepEqual(problems, [
      { certificate: 'shop/a', message: 'private key does not match the certificate' },
    ]);
    const result = await sClient('a.example.test');
    assert.ok(result.ok, result.output);
    assert.equal(result.subject, 'CN = pier-default');
  } finally {
    applyTable([certificate('shop/a', 'a'), certificate('shop/b', 'b')], STANDARD_HOSTS);
  }
});

test('sessions resume (TLS 1.3 and 1.2) for route-table and default certificates', async () => {
  const connect = (servername: string, maxVersion: tls.SecureVersion, session?: Buffer) =>
    new Promise<{ reused: boolean; session: Buffer | undefined }>((resolve, reject) => {
      let ticket: Buffer | undefined;
      let reused = false;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        servername,
        maxVersion,
        rejectUnauthorized: false,
        ...(session === undefined ? {} : { session }),
      });
      socket.on('session', (s: Buffer) => {
        ticket = s;
      });
      socket.on('error', reject);
      socket.on('secureConnect', () => {
        reused = socket.isSessionReused();
        // A request and its response make sure the TLS 1.3 ticket, sent after the handshake,
        // has arrived before the connection ends.
        socket.end(`GET / HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
      });
      socket.resume();
      socket.on('close', () => resolve({ reused, session: ticket }));
    });
  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    for (const name of ['a.example.test', 'x.b.example.test', 'unknown.test']) {
      const first = await connect(name, version);
      assert.equal(first.reused, false);
      assert.ok(first.session, `${version} ${name}: a session to resume`);
      const second = await connect(name, version, first.session);
      assert.equal(second.reused, true, `${version} ${name}: resumed`);
    }
  }
});
