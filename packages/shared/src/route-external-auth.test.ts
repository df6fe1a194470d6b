import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import {
  authCookieOnStatus,
  authUrlProblem,
  checkExternalAuth,
  externalAuthDecision,
} from './route-external-auth.ts';

test('authUrlProblem: http(s) URLs with a host, variables allowed', () => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth', undefined],
    ['https://$host/oauth2/auth', undefined],
    ['http://10.0.0.1:4180/auth?rd=$escaped_request_uri', undefined],
    ['oauth2-proxy/auth', /must start with http/],
    ['ftp://files/auth', /scheme ftp/],
    ['http://$upstream_addr/', /not a variable Pier knows/],
    ['http:///path', /no valid host|not a URL/],
    ['', /must be 1-2048/],
  ];
  for (const [url, want] of cases) {
    const why = authUrlProblem(url);
    if (want === undefined) assert.equal(why, undefined, url);
    else assert.match(String(why), want, url);
  }
});

test("externalAuthDecision: nginx auth_request's reading of the auth service's status", () => {
  const cases: Array<[number, boolean, string]> = [
    [200, false, 'allow'],
    [202, true, 'allow'],
    [204, false, 'allow'],
    [401, false, 'unauthorized'],
    [401, true, 'signin'],
    [403, true, 'forbidden'],
    [302, false, 'error'],
    [404, false, 'error'],
    [500, true, 'error'],
  ];
  for (const [status, signin, want] of cases)
    assert.equal(externalAuthDecision(status, signin), want, `${status} ${signin}`);
});

test("authCookieOnStatus: add_header's statuses, or every status with always", () => {
  for (const status of [200, 201, 204, 206, 301, 302, 303, 304, 307, 308])
    assert.equal(authCookieOnStatus(status, false), true, String(status));
  for (const status of [401, 403, 404, 500, 502])
    assert.equal(authCookieOnStatus(status, false), false, String(status));
  assert.equal(authCookieOnStatus(401, true), true);
});

test('checkExternalAuth keeps a good entry and fails a bad one closed', () => {
  const problems: string[] = [];
  const report = reporter((field, message) => problems.push(`${field}: ${message}`));
  const good = {
    url: 'https://$host/oauth2/auth',
    method: 'POST',
    signin: 'https://$host/oauth2/start?rd=$escaped_request_uri',
    responseHeaders: ['X-Auth-Request-User'],
    alwaysSetCookie: true,
    zone: 'default/app',
  };
  assert.deepEqual(checkExternalAuth(good, 'externalAuth.', report), {
    ...good,
    responseHeaders: ['x-auth-request-user'],
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(checkExternalAuth({ zone: 'default/app' }, 'externalAuth.', report), {
    zone: 'default/app',
  });
  for (const bad of [
    { ...good, url: 'ftp://x/' },
    { ...good, method: 'BREW' },
    { ...good, responseHeaders: ['bad header'] },
    { ...good, alwaysSetCookie: 'yes' },
  ]) {
    assert.deepEqual(checkExternalAuth(bad, 'externalAuth.', report), { zone: 'default/app' });
  }
  assert.equal(problems.length, 4);
  assert.deepEqual(checkExternalAuth('x', 'externalAuth.', report), { zone: '' });
});
