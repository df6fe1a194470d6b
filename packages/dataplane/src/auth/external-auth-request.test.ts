import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyAuthResponseHeaders,
  authRequestHeaders,
  signinLocation,
} from './external-auth-request.ts';

const source = {
  rawHeaders: [
    'Host',
    'app.example.test:8080',
    'Authorization',
    'Bearer t',
    'Content-Length',
    '5',
    'Connection',
    'Upgrade',
    'Upgrade',
    'websocket',
    'X-Forwarded-Proto',
    'https',
    'X-Original-URL',
    'forged',
    'Cookie',
    'a=1',
  ],
  method: 'POST',
  requestUri: '/p?q=1',
  scheme: 'http',
  remoteAddress: '192.0.2.7',
};

test("authRequestHeaders: the client's headers but hop-by-hop, body and forged ones, then ingress-nginx's", () => {
  assert.deepEqual(authRequestHeaders({ url: 'http://auth/', zone: 'z' }, 'auth', source), [
    'host',
    'auth',
    'Authorization',
    'Bearer t',
    'Cookie',
    'a=1',
    'x-original-url',
    'http://app.example.test:8080/p?q=1',
    'x-original-method',
    'POST',
    'x-sent-from',
    'nginx-ingress-controller',
    'x-real-ip',
    '192.0.2.7',
    'x-forwarded-for',
    '192.0.2.7',
    'x-auth-request-redirect',
    '/p?q=1',
  ]);
  const withMethod = authRequestHeaders(
    { url: 'http://auth/', method: 'POST', requestRedirect: 'https://back/', zone: 'z' },
    'auth',
    source,
  );
  assert.equal(withMethod[withMethod.indexOf('x-auth-request-redirect') + 1], 'https://back/');
  assert.equal(withMethod[withMethod.indexOf('x-original-uri') + 1], '/p?q=1');
  assert.equal(withMethod[withMethod.indexOf('x-scheme') + 1], 'http');
});

test("applyAuthResponseHeaders replaces the client's, and drops those the auth service did not send", () => {
  const headers = ['host', 'a', 'X-User', 'mallory', 'x-groups', 'admin', 'accept', '*/*'];
  applyAuthResponseHeaders(headers, ['x-user', 'x-groups', 'x-email'], {
    'x-user': 'alice',
    'x-email': ['a@x', 'b@x'],
  });
  assert.deepEqual(headers, [
    'host',
    'a',
    'accept',
    '*/*',
    'x-user',
    'alice',
    'x-email',
    'a@x, b@x',
  ]);
});

test('signinLocation takes absolute http(s) URLs of visible ASCII only', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    ['https://login/start?rd=http://h%2F', 'https://login/start?rd=http://h%2F'],
    ['https:///start', undefined],
    ['/start', undefined],
    ['https://login/a b', undefined],
    [undefined, undefined],
  ];
  for (const [filled, want] of cases) assert.equal(signinLocation(filled), want, String(filled));
});
