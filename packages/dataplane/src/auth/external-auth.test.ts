import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ExternalAuth } from '@pier/shared';
import { type ExternalAuthAnswer, ExternalAuthClient } from './external-auth.ts';

// A real auth service on loopback: the answer is chosen by the path.
let server: Server;
let base = '';
const decisions: string[] = [];
let resets = 0;
let asked = 0;
const client = new ExternalAuthClient({
  responseTimeoutMs: 300,
  onDecision: (zone, outcome) => decisions.push(`${zone} ${outcome}`),
});

before(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    if (path.startsWith('/ok')) {
      res.writeHead(200, { 'x-user': 'alice', 'set-cookie': ['a=1', 'b=2'] });
      res.end('x'.repeat(1_000_000)); // far past the body cap: dropped, never held
    } else if (path.startsWith('/kept')) {
      asked++;
      res.writeHead(req.headers['x-token'] === 'good' ? 200 : 401, { 'x-user': 'alice' }).end();
    } else if (path.startsWith('/reset-once')) {
      // The first time, the connection closes under the request, as a stale kept-alive one.
      resets++;
      if (resets === 1) req.socket.destroy();
      else res.writeHead(204).end();
    } else if (path.startsWith('/slow')) {
      setTimeout(() => res.writeHead(200).end(), 2_000).unref();
    } else {
      const status = Number(path.slice(1, 4));
      res.writeHead(status, { 'www-authenticate': 'Bearer', 'set-cookie': 'c=3' }).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A stand-in for the client's request: what the client reads of an IncomingMessage. */
function clientRequest(url: string): IncomingMessage {
  return {
    url,
    method: 'GET',
    headers: { host: 'app.example.test' },
    rawHeaders: ['Host', 'app.example.test'],
    socket: { remoteAddress: '192.0.2.9' },
  } as unknown as IncomingMessage;
}

const ask = (auth: Omit<ExternalAuth, 'zone'>, url = '/p?q=1'): Promise<ExternalAuthAnswer> =>
  client.check({ ...auth, zone: 'ns/app' }, clientRequest(url));

test('ExternalAuthClient: what the client gets for each answer of a real auth service', async () => {
  const ok = await ask({ url: `${base}/ok` });
  assert.equal(ok.kind, 'allow');
  assert.equal(ok.kind === 'allow' && ok.response['x-user'], 'alice');
  assert.deepEqual(ok.kind === 'allow' && ok.cookies, ['a=1', 'b=2']);

  assert.deepEqual(await ask({ url: `${base}/401` }), {
    kind: 'refuse',
    code: 'PIER_AUTH_SERVICE_UNAUTHORIZED',
    headers: ['www-authenticate', 'Bearer'],
  });
  assert.deepEqual(await ask({ url: `${base}/401`, alwaysSetCookie: true }), {
    kind: 'refuse',
    code: 'PIER_AUTH_SERVICE_UNAUTHORIZED',
    headers: ['www-authenticate', 'Bearer', 'set-cookie', 'c=3'],
  });
  assert.deepEqual(await ask({ url: `${base}/403` }), {
    kind: 'refuse',
    code: 'PIER_AUTH_SERVICE_FORBIDDEN',
    headers: [],
  });
  assert.deepEqual(
    await ask({ url: `${base}/401`, signin: 'https://$host/start?rd=$escaped_request_uri' }),
    {
      kind: 'signin',
      location: 'https://app.example.test/start?rd=%2Fp%3Fq%3D1',
      headers: ['set-cookie', 'c=3'],
    },
  );
  for (const url of [`${base}/302`, `${base}/500`, `${base}/slow`, 'http://127.0.0.1:9/down']) {
    const answer = await ask({ url });
    assert.equal(answer.kind === 'refuse' && answer.code, 'PIER_AUTH_SERVICE_FAILED', url);
  }
  const retried = await ask({ url: `${base}/reset-once` });
  assert.equal(retried.kind, 'allow', 'a connection closed under the request is tried once more');
  assert.equal(resets, 2);
  assert.deepEqual(await ask({}), {
    kind: 'refuse',
    code: 'PIER_AUTH_SERVICE_INVALID',
    headers: [],
  });
  assert.deepEqual(decisions, [
    'ns/app allowed',
    'ns/app denied',
    'ns/app denied',
    'ns/app denied',
    'ns/app denied',
    'ns/app error',
    'ns/app error',
    'ns/app error',
    'ns/app error',
    'ns/app allowed',
    'ns/app error',
  ]);
});

test('ExternalAuthClient: with auth-cache-key, a kept answer decides without asking again', async () => {
  let now = 0;
  const kept = new ExternalAuthClient({ now: () => now });
  const auth: ExternalAuth = {
    url: `${base}/kept`,
    responseHeaders: ['x-user'],
    zone: 'ns/app',
    cache: {
      scope: 'ns/app Prefix /',
      key: '$http_x_token',
      valid: [{ statuses: [200], ms: 1000 }],
    },
  };
  const withToken = (token: string) => {
    const req = clientRequest('/p');
    req.headers['x-token'] = token;
    req.rawHeaders.push('X-Token', token);
    return req;
  };
  const first = await kept.check(auth, withToken('good'));
  const second = await kept.check(auth, withToken('good'));
  assert.equal(asked, 1, 'the second was decided by the kept answer');
  assert.deepEqual(
    second,
    first.kind === 'allow' ? { ...first, response: { 'x-user': 'alice' }, cookies: [] } : undefined,
  );
  await kept.check(auth, withToken('bad'));
  await kept.check(auth, withToken('bad'));
  assert.equal(asked, 3, 'another key is asked; a 401 is not in the durations, so never kept');
  now = 1000;
  await kept.check(auth, withToken('good'));
  assert.equal(asked, 4, 'expired, it is asked again');
  await kept.close();
});
