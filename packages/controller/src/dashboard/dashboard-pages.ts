/**
 * The dashboard's pages as HTML, rendered on the server from a {@link DashboardState}: pure
 * functions, every text escaped. A page is a layout around a `<main>` whose inner HTML the
 * browser replaces when the live stream sends a new one (`dashboard-assets.ts`), so the same
 * function renders the first load and every update.
 */
import type {
  AddressView,
  BackendView,
  DashboardState,
  EndpointView,
  EventView,
  NodeView,
  PoolView,
  RouteView,
} from './dashboard-state.ts';

/** A page of the dashboard: its path, its title in the navigation, and its content. */
interface Page {
  path: string;
  title: string;
  render(state: DashboardState, query: URLSearchParams): string | undefined;
}

const PAGES: readonly Page[] = [
  { path: '/', title: 'Overview', render: overview },
  { path: '/routes', title: 'Routes', render: routes },
  { path: '/backends', title: 'Backends', render: backends },
  { path: '/events', title: 'Events', render: events },
];

/** The inner HTML of `<main>` for a page, or undefined when there is no such page or object. */
export function renderContent(state: DashboardState, path: string, query: URLSearchParams) {
  return PAGES.find((p) => p.path === path)?.render(state, query);
}

/** The whole document around `content` (the first load; updates replace only the content). */
export function renderDocument(path: string, query: URLSearchParams, content: string): string {
  const page = PAGES.find((p) => p.path === path);
  const nav = PAGES.map(
    (p) =>
      `<li><a href="${p.path}"${p.path === path ? ' aria-current="page"' : ''}>${p.title}</a></li>`,
  ).join('');
  const live = `${path}${query.size > 0 ? `?${query}` : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(page?.title ?? 'Not found')} · Pier</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header>
<p class="brand">Pier</p>
<nav aria-label="Pages"><ul>${nav}</ul></nav>
<p class="live" id="live" role="status" aria-live="polite">read-only · <span id="live-state">connecting…</span></p>
</header>
<main id="content" data-live="${html(live)}" tabindex="-1">
${content}
</main>
</body>
</html>
`;
}

/** The page for a path that does not exist, or a backend that is gone. */
export function renderNotFound(what: string): string {
  return `<h1>Not found</h1><p>${html(what)}</p><p><a href="/">Back to the overview</a></p>`;
}

function overview(state: DashboardState): string {
  const h = state.health;
  const facts: Array<[string, string]> = [
    ['Mode', state.mode],
    [
      'Controller',
      state.controller
        ? `${state.controller.identity} (${state.controller.leader ? 'leader' : 'follower'})`
        : '—',
    ],
    ['State store', storeText(state.store)],
    ['Newest revision', state.revision === undefined ? '—' : String(state.revision)],
  ];
  return `<h1>Overview</h1>
<dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd data-fact="${slug(k)}">${html(v)}</dd></div>`).join('')}</dl>
<section aria-labelledby="health-h"><h2 id="health-h">Health</h2>
<dl class="facts" id="health">${(
    [
      ['Backends', h.backends, false],
      ['Endpoints', h.endpoints, false],
      ['Healthy', h.healthy, false],
      ['Unhealthy', h.unhealthy, true],
      ['Unknown', h.unknown, false],
      ['Ejected', h.ejected, true],
      ['Backends with no usable endpoint', h.backendsDown, true],
    ] as Array<[string, number, boolean]>
  )
    .map(
      ([k, v, alarming]) =>
        `<div${alarming && v > 0 ? ' class="bad"' : ''}><dt>${k}</dt><dd data-fact="${slug(k)}">${v}</dd></div>`,
    )
    .join('')}</dl></section>
${section('pools', 'Address pools', ['Pool', 'Size', 'Used', 'Free', 'L2', 'Problems'], state.pools.map(poolRow), 'No IPAddressPool yet.')}
${section('addresses', 'Addresses', ['Address', 'Pool', 'Held by', 'Announced by'], state.addresses.map(addressRow), 'No address is assigned.')}
${section('nodes', 'Edge nodes', ['Node', 'Revision', 'Behind', 'Serving it since', 'Announces'], state.nodes.map(nodeRow), 'No edge node is alive.')}`;
}

function routes(state: DashboardState, query: URLSearchParams): string {
  const q = query.get('q') ?? '';
  return `<h1>Routes</h1>
<form class="search" role="search" action="/routes" method="get">
<label for="route-filter">Search hosts, paths and backends</label>
<input id="route-filter" name="q" type="search" value="${html(q)}" data-filter="routes" autocomplete="off">
</form>
${section(
  'routes',
  `${state.routes.length} routes`,
  ['Host', 'Address', 'Path', 'Match', 'Backend', 'From', 'TLS certificate', 'Expires'],
  state.routes.map((r) => routeRow(r, q)),
  'No route is served.',
)}`;
}

function backends(state: DashboardState, query: URLSearchParams): string | undefined {
  const id = query.get('id');
  if (id === null) {
    return `<h1>Backends</h1>
${section(
  'backends',
  `${state.backends.length} backends`,
  ['Backend', 'Service', 'Endpoints', 'Healthy', 'Unhealthy', 'Ejected'],
  state.backends.map((b) => {
    const count = (f: (e: EndpointView) => boolean): number => b.endpoints.filter(f).length;
    const bad = count((e) => e.status === 'unhealthy' || e.ejection !== undefined);
    return row(
      [
        backendLink(b.id),
        html(b.service),
        String(b.endpoints.length),
        String(count((e) => e.status === 'healthy' && !e.ejection)),
        String(count((e) => e.status === 'unhealthy')),
        String(count((e) => e.ejection !== undefined)),
      ],
      bad > 0 ? 'bad' : undefined,
      b.id,
    );
  }),
  'No backend is served.',
)}`;
  }
  const backend = state.backends.find((b) => b.id === id);
  if (backend === undefined) return undefined;
  return backendPage(backend);
}

function backendPage(b: BackendView): string {
  const facts: Array<[string, string]> = [
    ['Service', `${b.service} port ${b.port}`],
    [
      'Health check',
      `${b.probe} (${b.policy ? `HealthCheckPolicy ${b.policy}` : 'cluster default'})`,
    ],
    ['Balancing', b.algorithm],
  ];
  return `<h1>Backend ${html(b.id)}</h1>
<p><a href="/backends">All backends</a></p>
<dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${html(v)}</dd></div>`).join('')}</dl>
${section(
  'endpoints',
  'Endpoints',
  [
    'Endpoint',
    'Pod',
    'Ready',
    'Health',
    'Since',
    'Last probe',
    'Decided by',
    'Probed by',
    'Ejection',
  ],
  b.endpoints.map(endpointRow),
  'The Service has no endpoints.',
)}`;
}

function events(state: DashboardState): string {
  return `<h1>Recent events</h1>
<p>Events and rejections Pier reported, newest first.</p>
${section('events', `${state.events.length} events`, ['Time', 'Type', 'Reason', 'Object', 'Message', 'Count'], state.events.map(eventRow), 'Nothing reported.')}`;
}

function poolRow(p: PoolView): string {
  return row(
    [
      html(p.name),
      html(p.size),
      String(p.used),
      String(p.free),
      p.l2 ? 'yes' : 'no',
      p.problems.length > 0 ? html(p.problems.join('; ')) : '—',
    ],
    p.problems.length > 0 || p.free === 0 ? 'bad' : undefined,
    p.name,
  );
}

function addressRow(a: AddressView): string {
  const holder = a.l2 ? (a.holder ?? 'nobody') : 'not L2';
  return row(
    [html(a.address), html(a.pool), html(a.owners.join(', ')), html(holder)],
    a.l2 && a.holder === undefined ? 'bad' : undefined,
    a.address,
  );
}

function nodeRow(n: NodeView): string {
  return row(
    [
      html(n.name),
      n.revision === undefined ? '—' : String(n.revision),
      n.lag === undefined ? '—' : n.lag === 0 ? 'up to date' : `${n.lag} behind`,
      n.revisionSince === undefined ? '—' : time(n.revisionSince),
      n.holds.length > 0 ? html(n.holds.join(', ')) : '—',
    ],
    n.lag !== undefined && n.lag > 0 ? 'bad' : undefined,
    n.name,
  );
}

function routeRow(r: RouteView, q: string): string {
  const text = [r.host, r.address, r.path, r.backend, r.source].join(' ').toLowerCase();
  const hidden = q !== '' && !text.includes(q.toLowerCase());
  const tls = r.tls;
  const expiring = tls?.daysLeft !== undefined && tls.daysLeft < 14;
  return `<tr data-key="${html(`${r.address} ${r.host} ${r.path} ${r.pathType}`)}" data-search="${html(text)}"${hidden ? ' hidden' : ''}${expiring ? ' class="bad"' : ''}>${[
    html(r.host || '* (any host)'),
    html(r.address),
    html(r.path || '—'),
    html(r.pathType),
    backendLink(r.backend),
    html(r.source || '—'),
    tls ? html(tls.secret) : 'no TLS',
    tls?.notAfter
      ? `${html(tls.notAfter.slice(0, 10))} (${daysText(tls.daysLeft ?? 0)})`
      : tls
        ? 'unknown'
        : '—',
  ]
    .map((c) => `<td>${c}</td>`)
    .join('')}</tr>`;
}

function endpointRow(e: EndpointView): string {
  const health = e.ejection ? `ejected (${e.status})` : e.status;
  return row(
    [
      html(e.id),
      html(e.pod ?? '—'),
      e.terminating ? 'terminating' : e.ready ? 'yes' : 'no',
      `<span class="state state-${e.ejection ? 'ejected' : e.status}">${html(health)}</span>`,
      e.since === undefined ? '—' : time(e.since),
      lastProbe(e),
      html(e.decidedBy ?? '—'),
      html(e.prober ?? 'nobody'),
      e.ejection ? `until ${time(e.ejection.until)}: ${html(e.ejection.reason)}` : '—',
    ],
    e.status === 'unhealthy' || e.ejection ? 'bad' : undefined,
    e.id,
  );
}

/** The last probe's outcome as the shared state tells it: counts are consecutive results. */
function lastProbe(e: EndpointView): string {
  if (e.failures > 0) return `failed (${e.failures} in a row)`;
  if (e.successes > 0) return `ok (${e.successes} in a row)`;
  return 'not probed yet';
}

function eventRow(e: EventView): string {
  return row(
    [time(e.at), html(e.type), html(e.reason), html(e.object), html(e.message), String(e.count)],
    e.type === 'Warning' ? 'bad' : undefined,
  );
}

function section(
  id: string,
  title: string,
  headers: readonly string[],
  rows: readonly string[],
  empty: string,
): string {
  const body =
    rows.length === 0
      ? `<p class="empty">${html(empty)}</p>`
      : `<div class="scroll"><table id="${id}-table"><thead><tr>${headers.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => labelled(r, headers)).join('')}</tbody></table></div>`;
  return `<section aria-labelledby="${id}-h"><h2 id="${id}-h">${html(title)}</h2>${body}</section>`;
}

/**
 * Gives each cell of a row its column's name (`data-label`), which narrow screens show beside
 * the value when the table is laid out as one card per row.
 */
function labelled(tr: string, headers: readonly string[]): string {
  let column = 0;
  return tr.replaceAll('<td>', () => `<td data-label="${headers[column++] ?? ''}">`);
}

function row(cells: readonly string[], cls: string | undefined, key?: string): string {
  const attrs = `${key === undefined ? '' : ` data-key="${html(key)}"`}${cls ? ` class="${cls}"` : ''}`;
  return `<tr${attrs}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

function backendLink(id: string): string {
  return `<a href="/backends?id=${encodeURIComponent(id)}">${html(id)}</a>`;
}

function daysText(days: number): string {
  if (days < 0) return `expired ${-days} ${-days === 1 ? 'day' : 'days'} ago`;
  return `${days} ${days === 1 ? 'day' : 'days'}`;
}

function storeText(store: DashboardState['store']): string {
  return store === 'memory'
    ? 'in memory (standalone)'
    : store === 'connected'
      ? 'Redis, connected'
      : 'Redis, unreachable';
}

/** UTC, to the second: the same for every viewer, and stable between updates. */
function time(ms: number): string {
  return `<time datetime="${new Date(ms).toISOString()}">${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z</time>`;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** HTML-escapes text for element content and double-quoted attributes. */
export function html(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
