import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corsHeaders, corsOriginAllowed, corsOriginProblem } from './route-cors.ts';
import type { CorsPolicy } from './route-table.ts';

const policy = (origins: string[], more: Partial<CorsPolicy> = {}): CorsPolicy => ({
  origins,
  methods: 'GET, POST',
  headers: 'Content-Type',
  credentials: true,
  maxAgeSeconds: 600,
  ...more,
});

// ingress-nginx docs, annotations.md#enable-cors.
test('CORS origins: *, exact (case-insensitive), and one-label wildcards anchored at both ends', () => {
  const listed = policy(['https://origin-site.com:4443', 'http://*.origin-site.com']);
  const rows: Array<[string | undefined, boolean]> = [
    ['https://origin-site.com:4443', true],
    ['HTTPS://Origin-Site.com:4443', true],
    ['https://origin-site.com', false],
    ['http://app.origin-site.com', true],
    ['http://a.b.origin-site.com', false],
    ['http://origin-site.com', false],
    ['http://evil.example.http://app.origin-site.com', false],
    [undefined, false],
  ];
  for (const [origin, allowed] of rows)
    assert.equal(corsOriginAllowed(listed, origin), allowed, String(origin));
  assert.equal(
    corsOriginAllowed(policy(['*']), undefined),
    true,
    '* admits every request, as ingress-nginx',
  );
  assert.equal(corsOriginProblem('https://*.foo.bar:8080'), undefined);
  assert.equal(
    corsOriginProblem('origin-site.com'),
    'must be * or scheme://host[:port], with *. for one label',
  );
});

test('CORS headers: the Origin echoed (or *), credentials only when on, expose only when set', () => {
  assert.deepEqual(corsHeaders(policy(['https://a.example']), 'https://a.example'), [
    'access-control-allow-origin',
    'https://a.example',
    'access-control-allow-credentials',
    'true',
    'access-control-allow-methods',
    'GET, POST',
    'access-control-allow-headers',
    'Content-Type',
    'access-control-max-age',
    '600',
  ]);
  assert.deepEqual(
    corsHeaders(
      policy(['*'], { credentials: false, exposeHeaders: 'X-Total' }),
      'https://b.example',
    ),
    [
      'access-control-allow-origin',
      '*',
      'access-control-allow-methods',
      'GET, POST',
      'access-control-allow-headers',
      'Content-Type',
      'access-control-expose-headers',
      'X-Total',
      'access-control-max-age',
      '600',
    ],
  );
  assert.equal(corsHeaders(policy(['https://a.example']), 'https://b.example'), undefined);
});
