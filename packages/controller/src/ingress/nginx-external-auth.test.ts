import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { parseNginxExternalAuth, signinTemplate } from './nginx-external-auth.ts';

const N = 'nginx.ingress.kubernetes.io/';
const ORIGINAL = '$pass_access_scheme://$http_host$escaped_request_uri';

test("signinTemplate adds the redirect parameter as ingress-nginx's buildAuthSignURL", () => {
  const cases: Array<[string, string, string]> = [
    ['https://login/start', 'rd', `https://login/start?rd=${ORIGINAL}`],
    ['https://login/start?x=1', 'rd', `https://login/start?x=1&rd=${ORIGINAL}`],
    [
      'https://$host/oauth2/start?rd=$escaped_request_uri',
      'rd',
      'https://$host/oauth2/start?rd=$escaped_request_uri',
    ],
    ['https://login/start?rd=1', 'next', `https://login/start?rd=1&next=${ORIGINAL}`],
  ];
  for (const [signin, param, want] of cases)
    assert.equal(signinTemplate(signin, param), want, signin);
});

test('parseNginxExternalAuth reads the annotations, failing closed where ingress-nginx denies', () => {
  const cases: Array<[Record<string, string>, unknown, string[]]> = [
    [{}, undefined, []],
    [{ 'auth-url': 'http://auth.svc/check' }, { url: 'http://auth.svc/check' }, []],
    [
      {
        'auth-url': 'https://$host/oauth2/auth',
        'auth-method': 'POST',
        'auth-signin': 'https://$host/oauth2/start',
        'auth-signin-redirect-param': 'next',
        'auth-request-redirect': 'https://app.example.test/',
        'auth-response-headers': 'X-Auth-Request-User, x-auth-request-email,',
        'auth-always-set-cookie': 'true',
      },
      {
        url: 'https://$host/oauth2/auth',
        method: 'POST',
        signin: `https://$host/oauth2/start?next=${ORIGINAL}`,
        requestRedirect: 'https://app.example.test/',
        responseHeaders: ['x-auth-request-user', 'x-auth-request-email'],
        alwaysSetCookie: true,
      },
      [],
    ],
    [{ 'auth-url': 'oauth2-proxy/auth' }, {}, ['auth-url']],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an nginx variable, not a template
    [{ 'auth-url': 'http://a/${host}' }, {}, ['auth-url']],
    [{ 'auth-url': 'http://$nope/' }, {}, ['auth-url']],
    [{ 'auth-url': 'http://a/', 'auth-method': 'get' }, {}, ['auth-method']],
    [
      { 'auth-url': 'http://a/', 'auth-response-headers': 'X-Ok, X Bad' },
      {},
      ['auth-response-headers'],
    ],
    [{ 'auth-url': 'http://a/', 'auth-signin': 'login' }, { url: 'http://a/' }, ['auth-signin']],
    [
      { 'auth-url': 'http://a/', 'auth-signin': 'http://l/', 'auth-signin-redirect-param': 'a=b' },
      { url: 'http://a/', signin: `http://l/?rd=${ORIGINAL}` },
      ['auth-signin-redirect-param'],
    ],
    [
      { 'auth-url': 'http://a/', 'auth-request-redirect': 'x"y' },
      { url: 'http://a/' },
      ['auth-request-redirect'],
    ],
    [
      { 'auth-url': 'http://a/', 'auth-always-set-cookie': 'yes' },
      { url: 'http://a/' },
      ['auth-always-set-cookie'],
    ],
    [
      { 'auth-url': 'http://a/', 'auth-cache-key': '$remote_user$http_authorization' },
      {
        url: 'http://a/',
        cache: {
          key: '$remote_user$http_authorization',
          valid: [{ statuses: [200, 202, 401], ms: 300_000 }],
        },
      },
      [],
    ],
    [
      {
        'auth-url': 'http://a/',
        'auth-cache-key': '$http_x',
        'auth-cache-duration': '200 1m, 401 10s',
      },
      {
        url: 'http://a/',
        cache: {
          key: '$http_x',
          valid: [
            { statuses: [200], ms: 60_000 },
            { statuses: [401], ms: 10_000 },
          ],
        },
      },
      [],
    ],
    [{ 'auth-url': 'http://a/', 'auth-cache-key': '$k' }, { url: 'http://a/' }, ['auth-cache-key']],
    [
      { 'auth-url': 'http://a/', 'auth-cache-key': 'a.b' },
      { url: 'http://a/' },
      ['auth-cache-key'],
    ],
    [
      { 'auth-url': 'http://a/', 'auth-cache-key': '$http_x', 'auth-cache-duration': '200 10' },
      {},
      ['auth-cache-duration'],
    ],
    [
      { 'auth-url': 'http://a/', 'auth-cache-key': '$http_x', 'auth-cache-duration': '200 5m;' },
      {
        url: 'http://a/',
        cache: { key: '$http_x', valid: [{ statuses: [200, 202, 401], ms: 300_000 }] },
      },
      ['auth-cache-duration'],
    ],
  ];
  for (const [annotations, want, named] of cases) {
    const problems: AnnotationProblem[] = [];
    const full = Object.fromEntries(Object.entries(annotations).map(([k, v]) => [N + k, v]));
    assert.deepEqual(parseNginxExternalAuth(full, problems), want, JSON.stringify(annotations));
    assert.deepEqual(
      problems.map((p) => p.annotation),
      named.map((n) => N + n),
      JSON.stringify(annotations),
    );
  }
});
