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
      'session-cookie-samesite': 'lax',
      'session-cookie-max-age': 'a day',
    }),
  );
  assert.deepEqual(
    bad.problems.map((p) => p.message),
    [
      "'chash' is not round_robin or ewma; using round_robin",
      "'a day' is not a whole number of seconds; ignored",
      "'lax' is not None, Lax or Strict; ignored",
    ],
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
