import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NGINX_ANNOTATION_PREFIX,
  NGINX_ANNOTATIONS,
  nginxAnnotationInfo,
} from './nginx-annotation-catalogue.ts';
import {
  NGINX_DIALECT,
  type NginxActions,
  PIER_DIALECT,
  parseNginxAnnotations,
} from './nginx-annotations.ts';
import { CORS_DEFAULTS } from './nginx-cors.ts';

const P = NGINX_ANNOTATION_PREFIX;
const on = (entries: Record<string, string>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [P + k, v]));

const https = (
  onlyWithCertificate: boolean,
  more: Partial<NginxActions['httpsRedirect']> = {},
) => ({
  onlyWithCertificate,
  statusCode: 308,
  preserveTrailingSlash: false,
  usePort: false,
  ...more,
});

/** ingress-nginx's `proxy-next-upstream` defaults (`error timeout`, 3 tries, no time limit). */
const NGINX_RETRY = {
  tries: 3,
  timeoutMs: 0,
  onError: true,
  onTimeout: true,
  onInvalidHeader: false,
  statuses: [],
  nonIdempotent: false,
};

// ingress-nginx docs, "Server-side HTTPS enforcement through redirect", "Permanent Redirect",
// "Temporal Redirect" and "Rewrite" (app-root).
const rows: Array<{
  name: string;
  annotations: Record<string, string> | undefined;
  nginxClass: boolean;
  actions: NginxActions;
  problems?: string[];
}> = [
  {
    name: 'Pier class, nothing set: no redirect',
    annotations: undefined,
    nginxClass: false,
    actions: {},
  },
  {
    name: 'ingress-nginx class, nothing set: ssl-redirect is on',
    annotations: undefined,
    nginxClass: true,
    actions: { httpsRedirect: https(true) },
  },
  {
    name: 'ingress-nginx class, ssl-redirect false',
    annotations: on({ 'ssl-redirect': 'false' }),
    nginxClass: true,
    actions: {},
  },
  {
    name: 'Pier class asks for ssl-redirect',
    annotations: on({ 'ssl-redirect': 'True' }),
    nginxClass: false,
    actions: { httpsRedirect: https(true) },
  },
  {
    name: 'force-ssl-redirect: whether or not there is a certificate',
    annotations: on({ 'force-ssl-redirect': '1', 'ssl-redirect': 'false' }),
    nginxClass: true,
    actions: { httpsRedirect: https(false) },
  },
  {
    name: 'preserve-trailing-slash and use-port-in-redirects',
    annotations: on({ 'preserve-trailing-slash': 'true', 'use-port-in-redirects': 't' }),
    nginxClass: true,
    actions: { httpsRedirect: https(true, { preserveTrailingSlash: true, usePort: true }) },
  },
  {
    name: 'a bad boolean keeps the default, and says so',
    annotations: on({ 'ssl-redirect': 'yes' }),
    nginxClass: true,
    actions: { httpsRedirect: https(true) },
    problems: [`${P}ssl-redirect: 'yes' is not true or false; using true`],
  },
  {
    name: 'permanent-redirect: 301 by default',
    annotations: on({ 'permanent-redirect': 'https://www.example.com/new' }),
    nginxClass: false,
    actions: { redirect: { statusCode: 301, url: 'https://www.example.com/new' } },
  },
  {
    name: 'permanent-redirect-code 308',
    annotations: on({
      'permanent-redirect': 'https://a.example/',
      'permanent-redirect-code': '308',
    }),
    nginxClass: false,
    actions: { redirect: { statusCode: 308, url: 'https://a.example/' } },
  },
  {
    name: 'a code out of range: the default, and a problem',
    annotations: on({
      'permanent-redirect': 'https://a.example/',
      'permanent-redirect-code': '404',
    }),
    nginxClass: false,
    actions: { redirect: { statusCode: 301, url: 'https://a.example/' } },
    problems: [
      `${P}permanent-redirect-code: '404' is not a redirect code from 300 to 308; using 301`,
    ],
  },
  {
    name: 'temporal-redirect wins over permanent-redirect; 307 allowed',
    annotations: on({
      'permanent-redirect': 'https://p.example/',
      'temporal-redirect': 'http://t.example/x?y=1',
      'temporal-redirect-code': '307',
    }),
    nginxClass: false,
    actions: { redirect: { statusCode: 307, url: 'http://t.example/x?y=1' } },
  },
  {
    name: 'temporal-redirect-code 308 is out of its range',
    annotations: on({ 'temporal-redirect': 'http://t.example/', 'temporal-redirect-code': '308' }),
    nginxClass: false,
    actions: { redirect: { statusCode: 302, url: 'http://t.example/' } },
    problems: [
      `${P}temporal-redirect-code: '308' is not a redirect code from 300 to 307; using 302`,
    ],
  },
  {
    name: 'a redirect that is not an http(s) URL: proxied, and a problem',
    annotations: on({ 'permanent-redirect': 'ftp://files.example/' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}permanent-redirect: 'ftp://files.example/' must be an absolute http or https URL; requests are proxied instead`,
    ],
  },
  {
    name: 'app-root',
    annotations: on({ 'app-root': '/app1' }),
    nginxClass: false,
    actions: { appRoot: '/app1' },
  },
  {
    name: 'app-root must be a path',
    annotations: on({ 'app-root': 'https://elsewhere.example/' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}app-root: 'https://elsewhere.example/' must be a path starting with one '/'; no app-root redirect`,
    ],
  },
  {
    name: 'whitelist-source-range (the older name) and denylist-source-range, ingress-nginx #whitelist-source-range',
    annotations: on({
      'whitelist-source-range': '10.0.0.0/8, 192.0.2.7',
      'denylist-source-range': '10.1.0.0/16',
    }),
    nginxClass: true,
    actions: {
      httpsRedirect: https(true),
      sourceRanges: { allow: ['10.0.0.0/8', '192.0.2.7/32'], deny: ['10.1.0.0/16'] },
    },
  },
  {
    name: 'allowlist-source-range wins over its older name',
    annotations: on({
      'allowlist-source-range': '198.51.100.0/24',
      'whitelist-source-range': '10.0.0.0/8',
    }),
    nginxClass: false,
    actions: { sourceRanges: { allow: ['198.51.100.0/24'] } },
  },
  {
    name: 'a bad source range fails closed: no client is allowed',
    annotations: on({ 'denylist-source-range': '10.0.0.0/8,office-lan' }),
    nginxClass: false,
    actions: { sourceRanges: { allow: [] } },
    problems: [
      `${P}denylist-source-range: 'office-lan' is not an address or CIDR; every client is refused`,
    ],
  },
  {
    name: 'proxy-body-size, ingress-nginx #custom-max-body-size',
    annotations: on({ 'proxy-body-size': '8m' }),
    nginxClass: false,
    actions: { maxBodyBytes: 8 * 1024 * 1024 },
  },
  {
    name: 'proxy-body-size 0: no limit',
    annotations: on({ 'proxy-body-size': '0' }),
    nginxClass: false,
    actions: { maxBodyBytes: 0 },
  },
  {
    name: 'a bad proxy-body-size keeps the dataplane’s limit',
    annotations: on({ 'proxy-body-size': '8 MB' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}proxy-body-size: '8 MB' is not a size like 8m, 512k or 0; the dataplane's limit applies`,
    ],
  },
  {
    name: 'server-alias: trimmed, empty names skipped, lowercased, repeats dropped, sorted',
    annotations: on({ 'server-alias': ' www.Example.com,, api.example.com ,www.example.com,' }),
    nginxClass: false,
    actions: { serverAliases: ['api.example.com', 'www.example.com'] },
  },
  {
    name: 'server-alias: a wildcard or regex name is dropped alone',
    annotations: on({ 'server-alias': '*.example.com, b.example.com, ~^w\\d+\\.example\\.com$' }),
    nginxClass: false,
    actions: { serverAliases: ['b.example.com'] },
    problems: [
      `${P}server-alias: '*.example.com' is a wildcard; Pier serves exact alias names only; dropped`,
      `${P}server-alias: '~^w\\d+\\.example\\.com$' is a regular expression; Pier serves exact alias names only; dropped`,
    ],
  },
  {
    name: 'server-alias: a name ingress-nginx refuses drops the whole list, as it does',
    annotations: on({ 'server-alias': 'a.example.com, b.example.com;' }),
    nginxClass: false,
    actions: {},
    problems: [`${P}server-alias: 'b.example.com;' is not a server name; no alias is served`],
  },
  {
    name: 'server-alias: at most 64 names, the first 64 in order served',
    annotations: on({
      'server-alias': Array.from({ length: 70 }, (_, i) => `h${100 + i}.example`).join(','),
    }),
    nginxClass: false,
    actions: { serverAliases: Array.from({ length: 64 }, (_, i) => `h${100 + i}.example`) },
    problems: [`${P}server-alias: names 70 aliases; only the first 64 are served`],
  },
  {
    name: 'server-alias: an IP address is no alias',
    annotations: on({ 'server-alias': '192.0.2.1' }),
    nginxClass: false,
    actions: {},
    problems: [`${P}server-alias: '192.0.2.1' must be a DNS name, not an IP address; dropped`],
  },
  {
    name: 'enable-cors with ingress-nginx’s defaults',
    annotations: on({ 'enable-cors': 'true' }),
    nginxClass: false,
    actions: {
      cors: {
        origins: ['*'],
        methods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
        headers:
          'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
        credentials: true,
        maxAgeSeconds: 1728000,
      },
    },
  },
  {
    name: 'the cors-* settings, and a bad one keeping its default',
    annotations: on({
      'enable-cors': 'true',
      'cors-allow-origin': 'https://app.example.com, https://*.example.org',
      'cors-allow-methods': 'PUT, GET',
      'cors-allow-headers': 'X-Forwarded-For, X-app123-XPTO',
      'cors-expose-headers': '*, X-CustomResponseHeader',
      'cors-allow-credentials': 'false',
      'cors-max-age': 'ten',
    }),
    nginxClass: false,
    actions: {
      cors: {
        origins: ['https://app.example.com', 'https://*.example.org'],
        methods: 'PUT, GET',
        headers: 'X-Forwarded-For, X-app123-XPTO',
        exposeHeaders: '*, X-CustomResponseHeader',
        credentials: false,
        maxAgeSeconds: 1728000,
      },
    },
    problems: [`${P}cors-max-age: 'ten' is not a number of seconds; using 1728000`],
  },
  {
    name: 'enable-cors and cors-allow-credentials read as strconv.ParseBool; another word keeps CORS off',
    annotations: on({ 'enable-cors': 'True', 'cors-allow-credentials': '0' }),
    nginxClass: false,
    actions: { cors: { ...CORS_DEFAULTS, origins: ['*'], credentials: false } },
  },
  {
    name: 'enable-cors that is no boolean',
    annotations: on({ 'enable-cors': 'yes' }),
    nginxClass: false,
    actions: {},
    problems: [`${P}enable-cors: 'yes' is not true or false; CORS stays off`],
  },
  // annotations.md#backend-protocol
  {
    name: 'backend-protocol HTTPS, any case',
    annotations: on({ 'backend-protocol': 'https' }),
    nginxClass: false,
    actions: { backendProtocol: 'https' },
  },
  {
    name: 'backend-protocol HTTP and AUTO_HTTP are the default',
    annotations: on({ 'backend-protocol': 'AUTO_HTTP' }),
    nginxClass: false,
    actions: {},
  },
  {
    name: 'backend-protocol GRPC is said not to be served',
    annotations: on({ 'backend-protocol': 'GRPC' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}backend-protocol: GRPC is not supported by Pier, which speaks HTTP/1.1 (or HTTPS) to pods: requests go to them over HTTP/1.1, which a gRPC server refuses`,
    ],
  },
  {
    name: 'an unknown backend-protocol falls back to HTTP',
    annotations: on({ 'backend-protocol': 'h2c' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}backend-protocol: 'h2c' is not HTTP, HTTPS, AUTO_HTTP, GRPC, GRPCS or FCGI; using HTTP`,
    ],
  },
  // annotations.md#x-forwarded-prefix-header
  {
    name: 'x-forwarded-prefix',
    annotations: on({ 'x-forwarded-prefix': '/shop' }),
    nginxClass: false,
    actions: { forwardedPrefix: '/shop' },
  },
  {
    name: 'an x-forwarded-prefix with a space or a quote is refused',
    annotations: on({ 'x-forwarded-prefix': '/a b"' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}x-forwarded-prefix: '/a b"' must be a path of letters, digits and -._~/:$ (at most 256); no X-Forwarded-Prefix is sent`,
    ],
  },
  // annotations.md#custom-nginx-upstream-vhost
  {
    name: 'upstream-vhost, trimmed, variables kept for the dataplane',
    annotations: on({ 'upstream-vhost': ' $http_x_tenant.shop.svc.cluster.local ' }),
    nginxClass: false,
    actions: { upstreamHost: '$http_x_tenant.shop.svc.cluster.local' },
  },
  {
    name: 'an upstream-vhost that is no host is refused: the client’s Host is sent',
    annotations: on({ 'upstream-vhost': 'shop.svc/api' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}upstream-vhost: 'shop.svc/api' is not a host: letters, digits, '.', '-', '_', '~', ':', an IPv6 address's brackets and nginx variables; the client's Host is sent`,
    ],
  },
  // annotations.md#custom-timeouts and the proxy-next-upstream family.
  {
    name: 'proxy-connect-timeout, proxy-read-timeout and proxy-send-timeout, whole seconds',
    annotations: on({
      'proxy-connect-timeout': '2',
      'proxy-read-timeout': '120',
      'proxy-send-timeout': '1',
    }),
    nginxClass: false,
    actions: {
      upstream: { connectTimeoutMs: 2_000, readTimeoutMs: 120_000, sendTimeoutMs: 1_000 },
    },
  },
  {
    name: 'a timeout with a unit is not an integer: the default stays',
    annotations: on({
      'proxy-read-timeout': '30s',
      'proxy-connect-timeout': '0',
      'proxy-send-timeout': '-5',
    }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}proxy-connect-timeout: '0' is not a whole number of seconds from 1 to 3600; ingress-nginx's default applies`,
      `${P}proxy-read-timeout: '30s' is not a whole number of seconds from 1 to 3600; ingress-nginx's default applies`,
      `${P}proxy-send-timeout: '-5' is not a whole number of seconds from 1 to 3600; no send timeout applies (the listener's request timeout bounds the upload)`,
    ],
  },
  {
    name: 'proxy-send-timeout past an hour is refused',
    annotations: on({ 'proxy-send-timeout': '7200' }),
    nginxClass: false,
    actions: {},
    problems: [
      `${P}proxy-send-timeout: '7200' is not a whole number of seconds from 1 to 3600; no send timeout applies (the listener's request timeout bounds the upload)`,
    ],
  },
  {
    name: 'proxy-next-upstream with statuses and non_idempotent, tries and timeout',
    annotations: on({
      'proxy-next-upstream': 'error http_502 http_503 non_idempotent',
      'proxy-next-upstream-tries': '5',
      'proxy-next-upstream-timeout': '10',
    }),
    nginxClass: false,
    actions: {
      upstream: {
        retry: {
          ...NGINX_RETRY,
          tries: 5,
          timeoutMs: 10_000,
          onTimeout: false,
          statuses: [502, 503],
          nonIdempotent: true,
        },
      },
    },
  },
  {
    name: 'proxy-next-upstream off',
    annotations: on({ 'proxy-next-upstream': 'off' }),
    nginxClass: true,
    actions: {
      httpsRedirect: https(true),
      upstream: { retry: { ...NGINX_RETRY, onError: false, onTimeout: false } },
    },
  },
  {
    name: 'a bad proxy-next-upstream word: the default conditions',
    annotations: on({ 'proxy-next-upstream': 'error http_501', 'proxy-next-upstream-tries': 'x' }),
    nginxClass: false,
    actions: { upstream: { retry: NGINX_RETRY } },
    problems: [
      `${P}proxy-next-upstream: 'http_501' is not one of error, timeout, invalid_header, non_idempotent, off, http_500, http_502, http_503, http_504, http_403, http_404, http_429; using 'error timeout'`,
      `${P}proxy-next-upstream-tries: 'x' is not a whole number of tries from 0 to 100; ingress-nginx's default applies`,
    ],
  },
  // annotations.md#authentication.
  {
    name: 'auth-type basic with its Secret, an auth-file by default, the realm as written',
    annotations: on({
      'auth-type': 'basic',
      'auth-secret': 'basic-auth',
      'auth-realm': 'Authentication Required - foo',
    }),
    nginxClass: false,
    actions: {
      auth: {
        realm: 'Authentication Required - foo',
        secret: { name: 'basic-auth' },
        secretType: 'auth-file',
      },
    },
  },
  {
    name: 'auth-secret as namespace/name, auth-map, no realm',
    annotations: on({
      'auth-type': 'basic',
      'auth-secret': 'shop/users',
      'auth-secret-type': 'auth-map',
    }),
    nginxClass: false,
    actions: {
      auth: { realm: '', secret: { namespace: 'shop', name: 'users' }, secretType: 'auth-map' },
    },
  },
  {
    name: 'auth-secret without auth-type: no authentication, as ingress-nginx',
    annotations: on({ 'auth-secret': 'basic-auth' }),
    nginxClass: false,
    actions: {},
  },
  {
    name: 'digest authentication fails closed: no Secret, every request 503',
    annotations: on({ 'auth-type': 'digest', 'auth-secret': 'basic-auth' }),
    nginxClass: false,
    actions: { auth: { realm: '', secretType: 'auth-file' } },
    problems: [
      `${P}auth-type: digest authentication is not supported by Pier; every request to its paths is answered 503`,
    ],
  },
  {
    name: 'bad auth-type, auth-secret-type or auth-secret fail closed; a bad realm is emptied',
    annotations: on({ 'auth-type': 'Basic', 'auth-realm': 'say "hi"' }),
    nginxClass: false,
    actions: { auth: { realm: '', secretType: 'auth-file' } },
    problems: [
      `${P}auth-realm: 'say "hi"' is not a realm ingress-nginx accepts (at most 256 letters, digits, spaces, - . _ ~ : /); using an empty realm`,
      `${P}auth-type: 'Basic' is not basic or digest; every request to its paths is answered 503`,
    ],
  },
  {
    name: 'auth-secret-type must be auth-file or auth-map',
    annotations: on({ 'auth-type': 'basic', 'auth-secret': 'x', 'auth-secret-type': 'file' }),
    nginxClass: false,
    actions: { auth: { realm: '', secretType: 'auth-file' } },
    problems: [
      `${P}auth-secret-type: 'file' is not auth-file or auth-map; every request to its paths is answered 503`,
    ],
  },
  {
    name: 'auth-type basic without auth-secret, or with a bad one',
    annotations: on({ 'auth-type': 'basic', 'auth-secret': 'a/b/c' }),
    nginxClass: false,
    actions: { auth: { realm: '', secretType: 'auth-file' } },
    problems: [
      `${P}auth-secret: 'a/b/c' is not a Secret name or namespace/name; every request to its paths is answered 503`,
    ],
  },
];

for (const row of rows) {
  test(`nginx annotations: ${row.name}`, () => {
    const parsed = parseNginxAnnotations(
      row.annotations,
      row.nginxClass ? NGINX_DIALECT : PIER_DIALECT,
    );
    // ingress-nginx's retry defaults apply to every Ingress of its classes.
    const expected =
      row.nginxClass && row.actions.upstream === undefined
        ? { ...row.actions, upstream: { retry: NGINX_RETRY } }
        : row.actions;
    assert.deepEqual(parsed.actions, expected);
    assert.deepEqual(
      parsed.problems.map((p) => `${p.annotation}: ${p.message}`),
      row.problems ?? [],
    );
    assert.deepEqual(parsed.ignored, []);
  });
}

test('nginx annotations: every one not honoured is named, with why, in name order', () => {
  const parsed = parseNginxAnnotations(
    {
      ...on({
        'configuration-snippet': 'more_set_headers "X: y";',
        'proxy-buffering': 'off',
        'ssl-redirect': 'false',
        'no-such-annotation': 'x',
        constructor: 'x',
      }),
      'pier.dev/load-balance': 'round-robin',
      'example.com/other': 'x',
    },
    NGINX_DIALECT,
  );
  assert.deepEqual(parsed.ignored, [
    {
      annotation: `${P}configuration-snippet`,
      note: 'a snippet of nginx configuration; Pier never executes snippets',
    },
    { annotation: `${P}constructor`, note: 'not an ingress-nginx annotation Pier knows' },
    { annotation: `${P}no-such-annotation`, note: 'not an ingress-nginx annotation Pier knows' },
    {
      annotation: `${P}proxy-buffering`,
      note: 'Pier streams responses; there is nothing to buffer',
    },
  ]);
});

test('nginx annotation catalogue: every snippet is refused, and lookups see own entries only', () => {
  for (const name of [
    'configuration-snippet',
    'server-snippet',
    'auth-snippet',
    'stream-snippet',
  ]) {
    assert.equal(NGINX_ANNOTATIONS[name]?.support, 'refused', name);
  }
  assert.equal(
    nginxAnnotationInfo(`${P}toString`).note,
    'not an ingress-nginx annotation Pier knows',
  );
  assert.equal(nginxAnnotationInfo(`${P}app-root`).support, 'honoured');
});
