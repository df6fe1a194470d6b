import assert from 'node:assert/strict';
import { test } from 'node:test';
import { html, renderContent, renderDocument } from './dashboard-pages.ts';
import { type DashboardState, healthSummary, type RouteView } from './dashboard-state.ts';

const route = (host: string, daysLeft?: number): RouteView => ({
  address: '192.0.2.10',
  host,
  path: '/',
  pathType: 'Prefix',
  backend: 'shop/web:80',
  source: 'shop/web',
  tls:
    daysLeft === undefined
      ? undefined
      : { secret: 'shop/tls', notAfter: '2027-01-01T00:00:00.000Z', daysLeft },
});

function state(routes: RouteView[]): DashboardState {
  return {
    mode: 'standalone',
    at: 0,
    store: 'memory',
    revision: 1,
    pools: [],
    addresses: [],
    nodes: [],
    health: healthSummary([]),
    routes,
    backends: [],
    events: [],
  };
}

test('text from the cluster is escaped wherever it lands', () => {
  assert.equal(
    html(`<a href="x">'&'</a>`),
    '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
  );
  const content = renderContent(
    state([route('<b>evil</b>.example.test')]),
    '/routes',
    new URLSearchParams('q="><script>'),
  );
  assert.ok(content);
  assert.doesNotMatch(content, /<b>evil|"><script>/);
  assert.match(content, /&lt;b&gt;evil&lt;\/b&gt;/);
});

test('the search applies on the server too: rows that do not match are hidden', () => {
  const content = renderContent(
    state([route('shop.example.test'), route('blog.example.test')]),
    '/routes',
    new URLSearchParams('q=BLOG'),
  );
  const rows = [
    ...(content ?? '').matchAll(/<tr data-key="[^"]*" data-search="([^"]*)"( hidden)?/g),
  ];
  assert.deepEqual(
    rows.map((m) => [m[1]?.split(' ')[0], m[2] === ' hidden']),
    [
      ['shop.example.test', true],
      ['blog.example.test', false],
    ],
  );
});

test('certificate expiry: days left, a warning under 14 days, and expired ones say so', () => {
  const rows = [
    [route('a.example.test', 30), /\(30 days\)/, false],
    [route('b.example.test', 1), /\(1 day\)/, true],
    [route('c.example.test', -3), /\(expired 3 days ago\)/, true],
  ] as const;
  for (const [r, text, warned] of rows) {
    const content = renderContent(state([r]), '/routes', new URLSearchParams()) ?? '';
    assert.match(content, text, r.host);
    assert.equal(/<tr [^>]*class="bad"/.test(content), warned, r.host);
  }
});

test('unknown pages and gone backends are not found; the document marks the current page', () => {
  const s = state([]);
  assert.equal(renderContent(s, '/nope', new URLSearchParams()), undefined);
  assert.equal(renderContent(s, '/backends', new URLSearchParams('id=gone/x:80')), undefined);
  const doc = renderDocument('/routes', new URLSearchParams('q=a'), '<h1>x</h1>');
  assert.match(doc, /<a href="\/routes" aria-current="page">Routes<\/a>/);
  assert.match(doc, /data-live="\/routes\?q=a"/);
  assert.match(doc, /<html lang="en">/);
});
