import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBalancing } from './nginx-balancing.ts';

const on = (entries: Record<string, string>) =>
  Object.fromEntries(Object.entries(entries).map(([k, v]) => [NGINX_ANNOTATION_PREFIX + k, v]));

// ingress-nginx docs, annotations.md#session-affinity, #cookie-affinity, #custom-nginx-load-balancing.
test('nginx balancing: load-balance and cookie affinity, with ingress-nginx’s defaults', () => {
  assert.deepEqual(parseNginxBalancing(undefined), { settings: undefined, problems: [] });
  assert.deepEqual(parseNginxBalancing(on({ 'load-balance': 'round_robin' })).settings, {
    algorithm: 'round-robin',
  });
  assert.deepEqual(parseNginxBalancing(on({ 'load-balance': 'ewma' })).settings, {
    algorithm: 'p2c',
  });
  assert.deepEqual(parseNginxBalancing(on({ affinity: 'cookie' })).settings, {
    algorithm: 'round-robin',
    affinity: {
      cookieName: 'INGRESSCOOKIE',
      ttlSeconds: 3600,
      cookie: { path: '/', session: true },
    },
  });
  assert.deepEqual(
    parseNginxBalancing(
      on({
        affinity: 'cookie',
        'session-cookie-name': 'route',
        'session-cookie-path': '/shop',
        'session-cookie-max-age': '172800',
        'session-cookie-expires': '60',
        'session-cookie-samesite': 'Strict',
        'session-cookie-secure': 'true',
        'session-cookie-domain': 'example.com',
      }),
    ).settings,
    {
      algorithm: 'round-robin',
      affinity: {
        cookieName: 'route',
        ttlSeconds: 172800,
        cookie: {
          path: '/shop',
          session: false,
          expiresSeconds: 60,
          domain: 'example.com',
          sameSite: 'Strict',
          secure: true,
        },
      },
    },
  );
  const bad = parseNginxBalancing(
    on({
      'load-balance': 'chash',
      affinity: 'cookie',
      'session-cookie-samesite': 'lenient',
      'session-cookie-max-age': 'a day',
    }),
  );
  assert.deepEqual(
    bad.problems.map((p) => p.message),
    [
      "'chash' is not round_robin or ewma; using round_robin",
      "'a day' is not a whole number of seconds; ignored",
      "'lenient' is not None, Lax or Strict; ignored",
    ],
  );
});

// ingress-nginx's sticky.lua: Expires and Max-Age are separate attributes; a false `secure` is
// left out of its Lua config, so the cookie is Secure over HTTPS as when unset.
test('nginx balancing: session-cookie-expires alone is an Expires, session-cookie-secure "false" the default', () => {
  const cookieOf = (entries: Record<string, string>) =>
    parseNginxBalancing(on({ affinity: 'cookie', ...entries })).settings?.affinity;
  const rows: Array<[Record<string, string>, unknown]> = [
    [
      { 'session-cookie-expires': '3600' },
      { ttlSeconds: 3600, cookie: { path: '/', session: true, expiresSeconds: 3600 } },
    ],
    [
      { 'session-cookie-max-age': '600', 'session-cookie-expires': '3600' },
      { ttlSeconds: 600, cookie: { path: '/', session: false, expiresSeconds: 3600 } },
    ],
    [
      { 'session-cookie-secure': 'false' },
      { ttlSeconds: 3600, cookie: { path: '/', session: true } },
    ],
    [
      { 'session-cookie-secure': 'true' },
      { ttlSeconds: 3600, cookie: { path: '/', session: true, secure: true } },
    ],
    // strconv.ParseBool's spellings; SameSite in any case, sent as browsers write it.
    [
      { 'session-cookie-secure': 'True', 'session-cookie-samesite': 'lax' },
      { ttlSeconds: 3600, cookie: { path: '/', session: true, sameSite: 'Lax', secure: true } },
    ],
    [
      { 'session-cookie-secure': '0', 'session-cookie-samesite': 'NONE' },
      { ttlSeconds: 3600, cookie: { path: '/', session: true, sameSite: 'None' } },
    ],
  ];
  for (const [entries, expected] of rows) {
    assert.deepEqual(cookieOf(entries), { cookieName: 'INGRESSCOOKIE', ...(expected as object) });
  }
  const bad = parseNginxBalancing(
    on({
      affinity: 'cookie',
      'session-cookie-expires': 'soon',
      'session-cookie-samesite': 'constructor',
      'session-cookie-secure': 'yes',
    }),
  );
  assert.deepEqual(bad.settings?.affinity?.cookie, { path: '/', session: true });
  assert.deepEqual(
    bad.problems.map((p) => p.annotation.slice(NGINX_ANNOTATION_PREFIX.length)),
    ['session-cookie-expires', 'session-cookie-samesite', 'session-cookie-secure'],
  );
});

// ingress-nginx docs, annotations.md#custom-nginx-upstream-hashing.
test('nginx balancing: upstream-hash-by keeps its nginx key; a key Pier cannot fill in is reported', () => {
  assert.deepEqual(parseNginxBalancing(on({ 'upstream-hash-by': '$request_uri' })), {
    settings: { algorithm: 'round-robin', hashBy: '$request_uri' },
    problems: [],
  });
  assert.deepEqual(parseNginxBalancing(on({ 'upstream-hash-by': '$upstream_addr' })), {
    settings: { algorithm: 'round-robin' },
    problems: [
      {
        annotation: `${NGINX_ANNOTATION_PREFIX}upstream-hash-by`,
        message:
          "'$upstream_addr' $upstream_addr is not a variable Pier knows (request_uri, escaped_request_uri, uri, args, remote_addr, remote_user, host, scheme, request_method, http_*, cookie_*, arg_*); not used",
      },
    ],
  });
});

test('session-cookie-conditional-samesite-none: true sets it, false or absent not, another value is a problem', () => {
  const cookieOf = (value?: string) =>
    parseNginxBalancing(
      on({
        affinity: 'cookie',
        'session-cookie-samesite': 'None',
        ...(value === undefined ? {} : { 'session-cookie-conditional-samesite-none': value }),
      }),
    );
  assert.equal(cookieOf('true').settings?.affinity?.cookie?.conditionalSameSiteNone, true);
  assert.equal(cookieOf('false').settings?.affinity?.cookie?.conditionalSameSiteNone, undefined);
  assert.equal(cookieOf().settings?.affinity?.cookie?.conditionalSameSiteNone, undefined);
  assert.deepEqual(
    cookieOf('yes').problems.map((p) => p.message),
    ["'yes' is not true or false; SameSite=None is sent to every browser"],
  );
});
