/**
 * The dashboard's stylesheet and script, served as files of their own so that the pages' Content
 * Security Policy allows no inline code. The script only makes the page live: it listens to
 * `/live` (server-sent events) and swaps `<main>`'s content, keeping the route search applied.
 * Without it every page still works (reload to update, the search form submits).
 */

export const DASHBOARD_CSS = `
:root { color-scheme: light dark; --bad: #b3261e; --ok: #1b6e20; --muted: #5f6368; --line: #d0d4d9; }
@media (prefers-color-scheme: dark) { :root { --bad: #f2b8b5; --ok: #9cd67d; --muted: #aab0b6; --line: #3c4043; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; margin: 0; }
nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
nav a[aria-current="page"] { font-weight: 700; text-decoration: none; }
.live { margin: 0 0 0 auto; color: var(--muted); font-size: .9em; }
main { padding: 0 1rem 2rem; max-width: 80rem; }
h1 { font-size: 1.4rem; }
h2 { font-size: 1.1rem; margin-top: 1.6rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem 2rem; margin: 0; }
.facts div { min-width: 8rem; }
.facts dt { color: var(--muted); font-size: .85em; }
.facts dd { margin: 0; font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85em; color: var(--muted); white-space: nowrap; }
tr.bad td:first-child, .facts .bad dd { color: var(--bad); font-weight: 700; }
tr.bad td:first-child::before { content: "⚠ "; }
.state-healthy { color: var(--ok); }
.state-unhealthy, .state-ejected { color: var(--bad); font-weight: 700; }
.empty { color: var(--muted); }
.search label { display: block; font-size: .9em; margin-bottom: .2rem; }
.search input { width: min(100%, 28rem); font: inherit; padding: .35rem .5rem; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: Canvas; padding: .3rem; }
/* Narrow screens: one card per row, each value under its column's name. */
@media (max-width: 40rem) {
  body { font-size: 14px; }
  thead { position: absolute; left: -999px; }
  table, tbody, tr, td { display: block; width: 100%; }
  tr { border: 1px solid var(--line); border-radius: .3rem; margin: 0 0 .6rem; padding: .2rem 0; }
  td { border: 0; padding: .15rem .6rem; display: flex; gap: .6rem; overflow-wrap: anywhere; }
  td::before { content: attr(data-label); flex: 0 0 7.5rem; color: var(--muted); font-size: .85em; }
  tr.bad td:first-child::before { content: "⚠ " attr(data-label); }
  .live { margin-left: 0; }
}
`;

export const DASHBOARD_JS = `'use strict';
(function () {
  var main = document.getElementById('content');
  var state = document.getElementById('live-state');
  if (!main || !window.EventSource) { if (state) state.textContent = 'reload to update'; return; }
  function filter() {
    var input = document.getElementById('route-filter');
    if (!input) return;
    var q = input.value.trim().toLowerCase();
    var rows = document.querySelectorAll('#routes-table tbody tr');
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].getAttribute('data-search') || '';
      rows[i].hidden = q !== '' && text.indexOf(q) < 0;
    }
    var url = new URL(location.href);
    if (q) url.searchParams.set('q', q); else url.searchParams.delete('q');
    history.replaceState(null, '', url);
  }
  document.addEventListener('input', function (e) { if (e.target && e.target.id === 'route-filter') filter(); });
  document.addEventListener('submit', function (e) { if (e.target && e.target.closest('.search')) { e.preventDefault(); filter(); } });
  var source = new EventSource('/live?page=' + encodeURIComponent(main.getAttribute('data-live') || '/'));
  source.addEventListener('content', function (e) {
    var input = document.getElementById('route-filter');
    var typed = input ? input.value : undefined;
    var focused = input && document.activeElement === input;
    var start = input ? input.selectionStart : 0;
    main.innerHTML = JSON.parse(e.data).html;
    var again = document.getElementById('route-filter');
    if (again && typed !== undefined) {
      again.value = typed;
      if (focused) { again.focus(); again.setSelectionRange(start, start); }
      filter();
    }
  });
  source.addEventListener('tick', function (e) {
    state.textContent = 'live, updated ' + new Date(JSON.parse(e.data).at).toISOString().slice(11, 19) + 'Z';
  });
  source.onerror = function () { state.textContent = 'disconnected, retrying…'; };
})();
`;
