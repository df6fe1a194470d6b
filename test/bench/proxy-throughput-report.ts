/**
 * The figures test/bench/proxy-throughput.ts collects, and their rendering as the
 * `proxy-throughput` section of docs/benchmarks.md. Kept apart so that a saved run
 * (`results.json`) can be rendered again with `--from-results`.
 */
import type { ProfileSummary } from './cpu-profile.ts';
import type { SyscallsPerRequest, WrkResult } from './wrk.ts';

export type TargetName = 'pier' | 'nginx' | 'haproxy' | 'node-bare';
export const TARGETS: readonly TargetName[] = ['pier', 'nginx', 'haproxy', 'node-bare'];

export interface TlsFigures {
  /** `Connection: close`, wrk resuming its session. */
  resumed: WrkResult;
  /** `Connection: close`, a full handshake each (undefined without the shim). */
  full: WrkResult | undefined;
  keepAlive: WrkResult;
  /** A node:tls client offering the session again got it resumed. */
  resumes: boolean;
  protocol: string;
}

export interface Profiled {
  summary: ProfileSummary;
  run: WrkResult;
}

export interface Memory {
  oneRoute: { rss: number; hwm: number };
  startedLarge: { rss: number; hwm: number };
  afterUpdate: { rss: number; hwm: number };
  /** Spawning a dataplane with the large table in Redis → it serves the bench route. */
  startMs: number;
  /** Live update: publication → the revision in /metrics. */
  applyMs: number;
  /** Live update: publication → three requests in a row answered within 100 ms. */
  settledMs: number;
  longestWaitMs: number;
  failed: number;
  requests: number;
  snapshotBytes: number;
  problems: number;
  endpoints: number;
  /** A profile of the same live update with fewer routes. */
  updateProfile?: { routes: number; summary: ProfileSummary; settledMs: number };
}

export interface ProxyBenchResults {
  date: string;
  machine: string;
  command: string;
  versions: { nginx: string; haproxy: string; wrk: string; node: string };
  settings: {
    rounds: number;
    seconds: number;
    warmup: number;
    connections: number;
    connectionsHigh: number;
    routes: number;
    endpointsPerBackend: number;
    profileSeconds: number;
    straceSeconds: number;
    haproxyMaxconn: number;
    proxyCore: string;
    loadCore: string;
    host: string;
  };
  keepAlive: Record<TargetName, WrkResult[]>;
  keepAliveHigh: Record<TargetName, WrkResult>;
  tls: Record<'pier' | 'nginx', TlsFigures>;
  allCores: Record<'pier' | 'nginx' | 'haproxy', WrkResult>;
  /** Keep-alive HTTP; `tls`: full handshakes; `resumed`: resumed ones. */
  profile?: Profiled & { tls?: Profiled; resumed?: Profiled };
  memory: Memory;
  /** Share of the machine other processes used during each measured run, in order. */
  foreignShares: number[];
  /** System calls per request under keep-alive load, from strace. */
  syscalls: Partial<Record<TargetName, SyscallsPerRequest>>;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export const rps = (v: number): string =>
  Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a';
export const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : 'n/a');
export const pct = (v: number): string => `${Math.round(v * 100)} %`;
const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : 'n/a');
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const sec = (v: number): string => `${(v / 1000).toFixed(1)} s`;
const count = (n: number): string => n.toLocaleString('en-US');

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** The run with the median req/s (the lower middle one for an even count). */
export function medianRun(runs: readonly WrkResult[]): WrkResult {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)] as WrkResult;
}

/** The share of the machine other processes used during a run. */
const others = (x: WrkResult | undefined): string =>
  x?.foreign === undefined || Number.isNaN(x.foreign) ? 'n/a' : pct(x.foreign);

/** req/s per second of core 0 actually used (the proxy's core when pinned). */
const perBusyCore = (r: WrkResult): number => r.rps / Math.max(0.01, r.coreBusy[0] ?? 1);

const shareOf = (summary: ProfileSummary | undefined, prefix: string): number =>
  (summary?.areas ?? [])
    .filter((a) => a.area.startsWith(prefix))
    .reduce((sum, a) => sum + a.share, 0);

const LABEL: Record<TargetName, string> = {
  pier: 'Pier (1 worker)',
  nginx: 'nginx (1 worker)',
  haproxy: 'HAProxy (1 thread)',
  'node-bare': 'bare node:http, no proxying',
};

// ---------------------------------------------------------------------------------------------
// Rendering

/** The markdown of the section (without its start/end markers). */
export function renderProxyReport(r: ProxyBenchResults): string {
  const s = r.settings;
  const med = (t: TargetName): WrkResult => medianRun(r.keepAlive[t]);
  const pier = med('pier');
  const nginx = med('nginx');
  const haproxy = med('haproxy');
  const node = med('node-bare');
  const pierHigh = r.keepAliveHigh.pier;
  const nginxHigh = r.keepAliveHigh.nginx;
  const vsNginx = pier.rps / nginx.rps;
  const p99VsNginx = pier.p99Ms / nginx.p99Ms;
  const highVsNginx = pierHigh.rps / nginxHigh.rps;
  const highP99VsNginx = pierHigh.p99Ms / nginxHigh.p99Ms;
  const met = vsNginx >= 0.5 && p99VsNginx < 2;
  const highMet = highVsNginx >= 0.5 && highP99VsNginx < 2;

  const keepAliveTable = table(
    [
      'target',
      'req/s (median)',
      'runs, req/s',
      'p50',
      'p99',
      'core 0 busy',
      'core 1 busy',
      'req/s per busy core 0',
      "others' CPU",
    ],
    TARGETS.map((t) => {
      const m = med(t);
      return [
        LABEL[t],
        rps(m.rps),
        r.keepAlive[t].map((x) => rps(x.rps)).join(', '),
        ms(m.p50Ms),
        ms(m.p99Ms),
        pct(m.coreBusy[0] ?? 0),
        pct(m.coreBusy[1] ?? 0),
        rps(perBusyCore(m)),
        others(m),
      ];
    }),
  );
  const ratioLine = `Pier / nginx: ${ratio(vsNginx)} req/s, ${ratio(p99VsNginx)} p99. Pier / HAProxy: ${ratio(pier.rps / haproxy.rps)} req/s, ${ratio(pier.p99Ms / haproxy.p99Ms)} p99.`;
  const highTable = table(
    ['target', 'req/s', 'p50', 'p99', 'core 0 busy', 'core 1 busy', "others' CPU"],
    TARGETS.map((t) => {
      const x = r.keepAliveHigh[t];
      return [
        LABEL[t],
        rps(x.rps),
        ms(x.p50Ms),
        ms(x.p99Ms),
        pct(x.coreBusy[0] ?? 0),
        pct(x.coreBusy[1] ?? 0),
        others(x),
      ];
    }),
  );
  const highRatioLine = `Pier / nginx: ${ratio(highVsNginx)} req/s, ${ratio(highP99VsNginx)} p99. Pier / HAProxy: ${ratio(pierHigh.rps / r.keepAliveHigh.haproxy.rps)} req/s.`;

  const tlsTable = table(
    [
      'target',
      'protocol',
      'resumes',
      'new conns/s, resumed',
      'p99',
      'new conns/s, full handshake',
      'p99',
      'keep-alive HTTPS req/s',
      'p99',
      "others' CPU, most of the three",
    ],
    (['pier', 'nginx'] as const).map((t) => {
      const x = r.tls[t];
      return [
        t === 'pier' ? 'Pier (1 worker)' : 'nginx (1 worker)',
        x.protocol,
        x.resumes ? 'yes' : 'no',
        rps(x.resumed.rps),
        ms(x.resumed.p99Ms),
        x.full ? rps(x.full.rps) : 'n/a',
        x.full ? ms(x.full.p99Ms) : 'n/a',
        rps(x.keepAlive.rps),
        ms(x.keepAlive.p99Ms),
        others({
          ...x.keepAlive,
          foreign: Math.max(
            ...[x.resumed, x.full, x.keepAlive].map((y) => y?.foreign ?? Number.NaN),
          ),
        }),
      ];
    }),
  );
  const tp = r.tls.pier;
  const tn = r.tls.nginx;
  const tlsRatioLine = `Pier / nginx: ${ratio(tp.resumed.rps / tn.resumed.rps)} resumed, ${ratio((tp.full?.rps ?? Number.NaN) / (tn.full?.rps ?? Number.NaN))} full handshakes, ${ratio(tp.keepAlive.rps / tn.keepAlive.rps)} keep-alive HTTPS req/s.`;

  const allCoresTable = table(
    ['target', 'req/s', 'p50', 'p99', 'core 0 busy', 'core 1 busy', "others' CPU"],
    (
      [
        ['pier', 'Pier (2 workers)'],
        ['nginx', 'nginx (2 workers)'],
        ['haproxy', 'HAProxy (2 threads)'],
      ] as const
    ).map(([t, label]) => {
      const x = r.allCores[t];
      return [
        label,
        rps(x.rps),
        ms(x.p50Ms),
        ms(x.p99Ms),
        pct(x.coreBusy[0] ?? 0),
        pct(x.coreBusy[1] ?? 0),
        others(x),
      ];
    }),
  );

  const ac = r.allCores;
  const allCoresLine = `Pier / nginx: ${ratio(ac.pier.rps / ac.nginx.rps)} req/s, Pier / HAProxy: ${ratio(ac.pier.rps / ac.haproxy.rps)}. Against the one-core runs above: Pier ${ratio(ac.pier.rps / pier.rps)}, nginx ${ratio(ac.nginx.rps / nginx.rps)}, HAProxy ${ratio(ac.haproxy.rps / haproxy.rps)}; wrk and the backend now compete with the proxy for the same two cores.`;

  const m = r.memory;
  const routesText = `${count(s.routes)} virtual hosts, ${count(m.endpoints)} endpoints`;
  const memoryTable = table(
    ['figure', 'value'],
    [
      ['RSS, fresh dataplane serving the one bench route', mib(m.oneRoute.rss)],
      [`RSS, fresh dataplane started with ${routesText}`, mib(m.startedLarge.rss)],
      ['growth for the large table', mib(m.startedLarge.rss - m.oneRoute.rss)],
      ['start with the large table in Redis → serving', sec(m.startMs)],
      ['RSS after the live update from 1 route to the large table', mib(m.afterUpdate.rss)],
      ['peak RSS, live update included (VmHWM)', mib(m.afterUpdate.hwm)],
      ['live update: publication → `pier_dataplane_route_revision` shows it', sec(m.applyMs)],
      ['live update: publication → requests answered promptly again', sec(m.settledMs)],
      ['live update: longest wait of one request to the bench host', sec(m.longestWaitMs)],
      ['live update: requests to the bench host that failed', `${m.failed} of ${m.requests}`],
      ['snapshot in Redis (`STRLEN`)', mib(m.snapshotBytes)],
      ['entries skipped by validation', String(m.problems)],
    ],
  );
  const up = m.updateProfile;
  const updateProfileText = up
    ? `A profile of the same live update with ${count(up.routes)} routes (publication → prompt answers again:
${sec(up.settledMs)} under the profiler), self time as a share of busy time:

${table(
  ['function or area', 'share'],
  [
    ...up.summary.functions
      .slice(0, 6)
      .map((f) => [`\`${f.name}\`${f.where ? ` (\`${f.where}\`)` : ''}`, pct(f.share)]),
    ...up.summary.areas.slice(0, 4).map((a) => [`area: ${a.area}`, pct(a.share)]),
  ],
)}`
    : '';

  const prof = r.profile;
  const profileTables = (() => {
    if (!prof) return 'No profile was written.';
    const columns: Array<[string, Profiled | undefined]> = [
      ['keep-alive HTTP', prof],
      ['full TLS handshakes', prof.tls],
      ['resumed TLS handshakes', prof.resumed],
    ];
    const names = [
      ...new Set([
        ...prof.summary.areas.slice(0, 10).map((a) => a.area),
        ...(prof.tls?.summary.areas.slice(0, 5).map((a) => a.area) ?? []),
        ...(prof.resumed?.summary.areas.slice(0, 5).map((a) => a.area) ?? []),
      ]),
    ];
    const exact = (p: Profiled | undefined, area: string): string =>
      p ? pct(p.summary.areas.find((a) => a.area === area)?.share ?? 0) : 'n/a';
    const rest = (p: Profiled | undefined): string =>
      p
        ? pct(
            p.summary.areas.filter((a) => !names.includes(a.area)).reduce((x, a) => x + a.share, 0),
          )
        : 'n/a';
    const areas = table(
      [
        'area (self time, share of busy time)',
        ...columns.map(([label, p]) => `${label} (${p ? rps(p.run.rps) : 'n/a'}/s profiled)`),
      ],
      [
        ...names.map((n) => [n, ...columns.map(([, p]) => exact(p, n))]),
        ['rest', ...columns.map(([, p]) => rest(p))],
        [
          '*`(idle)`, as a share of all samples (see above)*',
          ...columns.map(([, p]) => (p ? pct(p.summary.idleShare) : 'n/a')),
        ],
        [
          '*dataplane CPU during the run, all threads*',
          ...columns.map(([, p]) =>
            p?.run.processCpu === undefined ? 'n/a' : `${p.run.processCpu.toFixed(2)} cores`,
          ),
        ],
      ],
    );
    const functions = table(
      ['function (self time, keep-alive HTTP)', 'where', 'share'],
      prof.summary.functions
        .slice(0, 12)
        .map((f) => [`\`${f.name}\``, f.where ? `\`${f.where}\`` : '', pct(f.share)]),
    );
    return `${areas}\n\n${functions}`;
  })();

  const sc = r.syscalls;
  const scTotal = (x: SyscallsPerRequest): number => x.reads + x.writes + x.epoll + x.other;
  const syscallTable = table(
    ['target', 'per request', 'reads', 'writes', 'epoll', 'other', 'most frequent, per request'],
    TARGETS.filter((t) => sc[t] !== undefined).map((t) => {
      const x = sc[t] as SyscallsPerRequest;
      return [
        LABEL[t],
        scTotal(x).toFixed(2),
        x.reads.toFixed(2),
        x.writes.toFixed(2),
        x.epoll.toFixed(2),
        x.other.toFixed(2),
        x.top.map((c) => `\`${c.name}\` ${c.perRequest.toFixed(2)}`).join(', '),
      ];
    }),
  );

  // What limits it: statements computed from this run's figures.
  const limits: string[] = [];
  limits.push(
    `**Node's HTTP stack.** Node's own HTTP server, answering by itself, does ${rps(node.rps)} req/s on one core, ${ratio(node.rps / nginx.rps)} what nginx does *proxying*. A proxy in Node does that server work plus the client side of every request (undici writes it to the backend and parses the response), so about half the bare figure is the ceiling; Pier reaches ${rps(pier.rps)}, ${pct(pier.rps / node.rps)} of the bare server. The CPU time of each part is measured on its own in "Where a proxied request's CPU time goes" (\`test/bench/proxy-cpu.ts\`): Node's server and undici's client together already cost more than the 0.5× target leaves for the whole request.`,
  );
  const n0 = nginx.coreBusy[0] ?? 0;
  const n1 = nginx.coreBusy[1] ?? 0;
  const p0 = pier.coreBusy[0] ?? 0;
  const p1 = pier.coreBusy[1] ?? 0;
  limits.push(
    `**Cores.** With Pier, core 0 was ${pct(p0)} busy and core 1 (wrk and the backend) ${pct(p1)}; with nginx ${pct(n0)} and ${pct(n1)}, with HAProxy ${pct(haproxy.coreBusy[0] ?? 0)} and ${pct(haproxy.coreBusy[1] ?? 0)}.${n0 < 0.9 && n1 > 0.9 ? ' nginx and HAProxy did not fill their core: their figures are capped by the load generator and the backend on core 1, so the req/s ratios above flatter Pier.' : ''} Counting only the time core 0 was busy, nginx does ${rps(perBusyCore(nginx))} req/s per core-second, HAProxy ${rps(perBusyCore(haproxy))} and Pier ${rps(perBusyCore(pier))} (${ratio(perBusyCore(pier) / perBusyCore(nginx))} nginx).`,
  );
  if (prof) {
    const h = prof.summary;
    limits.push(
      `**Where Pier's time goes** (keep-alive profile): Node's HTTP server code ${pct(shareOf(h, 'Node HTTP server'))}, sockets/streams/events ${pct(shareOf(h, 'Node sockets'))}, socket writes (native bindings and system calls) ${pct(shareOf(h, 'socket writes'))}, undici ${pct(shareOf(h, 'undici'))}, native work not attributed to a function ${pct(shareOf(h, 'native, not attributed'))}, garbage collection ${pct(shareOf(h, 'V8 garbage'))}, prom-client ${pct(shareOf(h, 'prom-client'))}, Pier's own modules ${pct(shareOf(h, 'Pier:'))}.${shareOf(h, 'Pier:') < 0.15 ? " Pier's own routing, balancing and header code is a small part; the time goes to the two HTTP/1.1 stacks (Node's server, undici's client) and the system calls they make." : ''} The profiler itself slows Pier down (${rps(prof.run.rps)} req/s profiled against ${rps(pier.rps)}), so the shares matter, not the rate.`,
    );
  }
  if (sc.pier && sc.nginx) {
    limits.push(
      `**System calls.** Per proxied request Pier makes ${scTotal(sc.pier).toFixed(1)} system calls (${sc.pier.reads.toFixed(1)} reads, ${sc.pier.writes.toFixed(1)} writes), nginx ${scTotal(sc.nginx).toFixed(1)}${sc.haproxy ? `, HAProxy ${scTotal(sc.haproxy).toFixed(1)}` : ''}${sc['node-bare'] ? `; the bare Node server ${scTotal(sc['node-bare']).toFixed(1)} per request it answers itself` : ''}. ${scTotal(sc.pier) <= scTotal(sc.nginx) * 1.15 ? "Pier does not make more of them than nginx; it spends more time around each one (the JavaScript of two HTTP stacks, Node's write bindings)." : 'Pier makes more of them than nginx.'} On loopback a write also runs the peer's TCP receive path, so part of the time the profile shows in writes is kernel work every server pays per request.`,
    );
  }
  const fullRatio = (tp.full?.rps ?? Number.NaN) / (tn.full?.rps ?? Number.NaN);
  const cores = (x: WrkResult | undefined): string =>
    x ? `${pct(x.coreBusy[0] ?? 0)} / ${pct(x.coreBusy[1] ?? 0)}` : 'n/a';
  const tlsFull = prof?.tls;
  limits.push(
    `**TLS.** New connections with a full handshake: Pier ${rps(tp.full?.rps ?? Number.NaN)}/s, nginx ${rps(tn.full?.rps ?? Number.NaN)}/s (${ratio(fullRatio)}); resumed: ${rps(tp.resumed.rps)}/s against ${rps(tn.resumed.rps)}/s (${ratio(tp.resumed.rps / tn.resumed.rps)}); keep-alive HTTPS: ${ratio(tp.keepAlive.rps / tn.keepAlive.rps)} nginx. Core 0 / core 1 busy during the full-handshake runs: Pier ${cores(tp.full)}, nginx ${cores(tn.full)}; core 1 holds wrk, which does the client half of every handshake (a key exchange and a signature check), so ${(tn.full?.coreBusy[1] ?? 0) > 0.95 ? 'the client is at its limit too, and nginx' : 'nginx'} could take more new connections than measured here.${tlsFull ? ` Under the profiler, full handshakes kept the dataplane at ${tlsFull.run.processCpu?.toFixed(2) ?? 'n/a'} cores of CPU while its main thread was \`(idle)\` in ${pct(tlsFull.summary.idleShare)} of the samples: that share includes native work done before any JavaScript runs (socket reads, part of OpenSSL's handshake); of the rest, Node's JavaScript (TLS socket, HTTP server) took ${pct(shareOf(tlsFull.summary, 'Node'))}, socket writes ${pct(shareOf(tlsFull.summary, 'socket writes'))}, garbage collection ${pct(shareOf(tlsFull.summary, 'V8 garbage'))}.` : ''}`,
  );
  const topUpdate = up?.summary.functions[0];
  limits.push(
    `**Large tables.** Started with ${routesText} already in Redis, the dataplane served after ${sec(m.startMs)} and held ${mib(m.startedLarge.rss)}. Applied as a live update to a running dataplane, the same table showed as its revision after ${sec(m.applyMs)}; requests to an unrelated host meanwhile waited at most ${sec(m.longestWaitMs)} (${m.failed} of ${m.requests} failed), and answers were prompt again (three in a row under 100 ms) ${sec(m.settledMs)} after the publication${topUpdate ? `; the profile of the update is led by \`${topUpdate.name}\`${topUpdate.where ? ` (\`${topUpdate.where}\`)` : ''} with ${pct(topUpdate.share)} of the busy time` : ''}. The first probes of the ${count(m.endpoints)} endpoints new to the table are spread at 2,000 per second (\`FIRST_PROBES_PER_SECOND\`), each endpoint with a small probe pool of its own; before that change (undici's \`Agent\` walked all its origins on every refused probe, and all first probes started within a second) the same update blocked the event loop for 121.9 s. RSS peaked at ${mib(m.afterUpdate.hwm)} during the update and was ${mib(m.afterUpdate.rss)} 5 s after it.`,
  );

  const foreign = [...r.foreignShares].sort((a, b) => a - b);
  const foreignMax = foreign[foreign.length - 1] ?? 0;
  const foreignMedian = foreign[Math.floor((foreign.length - 1) / 2)] ?? 0;
  const foreignText =
    foreignMax > 0.1
      ? `The machine was shared: other processes used a median ${pct(foreignMedian)} and at most ${pct(foreignMax)} of its CPU time during the measured runs, so some figures are noisier than on an idle machine.`
      : `Other processes used at most ${pct(foreignMax)} of the machine's CPU time during any measured run.`;

  return `## Proxy throughput: Pier against nginx and HAProxy

\`${r.command}\`, ${r.date}, on ${r.machine}; ${r.versions.nginx}, ${r.versions.haproxy}, ${r.versions.wrk}. Everything
on 127.0.0.1. ${foreignText}

**Target: ≥ 0.5× nginx req/s per core with p99 < 2× nginx's.** At ${s.connections} keep-alive connections on one core, Pier
does ${rps(pier.rps)} req/s, ${ratio(vsNginx)} nginx, with a p99 of ${ms(pier.p99Ms)}, ${ratio(p99VsNginx)} nginx's: **${met ? 'met' : 'not met'}**. At ${s.connectionsHigh}
connections: ${ratio(highVsNginx)} nginx req/s, ${ratio(highP99VsNginx)} its p99: ${highMet ? 'met' : 'not met'}.

Set-up. The backend is a separate nginx (1 worker, \`location / { return 200 "ok\\n"; }\`, \`keepalive_requests 1000000\`).
Every proxy forwards \`GET /\` with \`Host: ${s.host}\` to it over keep-alive connections:

- Pier: \`pier-dataplane --workers 1 --log-level warn\` from source (\`node --conditions=@pier/source\`, ${r.versions.node}), with a
  route table published to Redis by \`RoutePublisher\`: virtual host \`*\` / \`${s.host}\`, \`/\` Prefix → one backend
  whose single endpoint is the backend; default health check (\`GET /\` every 5 s) and p2c balancing. Access log off (the
  default), metrics on, X-Forwarded-* headers added. HTTPS with its self-signed ECDSA P-256 default certificate.
- nginx: 1 worker, \`access_log off\`, \`upstream b { server …; keepalive 512; }\`, \`proxy_http_version 1.1\`,
  \`proxy_set_header Connection ""\`, \`keepalive_requests 1000000\` on the client side and upstream (the others never
  close a connection after 1000 requests). TLS: an ECDSA P-256 certificate made with openssl, TLS 1.2 and 1.3, the TLS
  1.3 suites in Pier's order with server preference, session tickets on (the default).
- HAProxy: \`nbthread 1\`, \`maxconn ${s.haproxyMaxconn}\`${s.haproxyMaxconn < 10_000 ? ' (10000 needs more open files than the hard limit of 20000 here)' : ''}, \`mode http\`, \`http-reuse always\`,
  \`option http-keep-alive\`, timeouts 5 s / 30 s / 30 s, no logging.
- Bare Node: \`node:http\` answering \`ok\\n\` itself: the ceiling of Node's HTTP stack, nothing proxied.

Pinning: each proxy and the bare Node server on core ${s.proxyCore} (\`taskset -c ${s.proxyCore}\`, the whole process), the backend and
wrk on core ${s.loadCore}. wrk: \`-t1 -c<n> -d${s.seconds}s --latency\`, each run after a ${s.warmup} s warm-up run of its own; ${s.rounds} rounds
interleaved (Pier, nginx, HAProxy, Node, then again), the median run per target. Core busy shares come from
\`/proc/stat\` during the run. "Others' CPU" is the share of the machine's time other processes used during the run (busy
time in \`/proc/stat\` minus what this benchmark's processes used); a run above 10 % was repeated, twice at most, after
waiting for the machine to quieten, and the least disturbed run kept.

### Keep-alive HTTP, one core, ${s.connections} connections

${keepAliveTable}

${ratioLine}

### Keep-alive HTTP, one core, ${s.connectionsHigh} connections (one round)

${highTable}

${highRatioLine}

### TLS, one core, ${s.connections} connections

New connections: wrk with \`Connection: close\`, one request per connection. wrk offers the previous connection's session
when it reconnects and both servers accept it (checked with a \`node:tls\` client), so "resumed" is a TLS 1.3 PSK
resumption (ECDHE, no certificate, no signature). For "full handshake", wrk runs with a small \`LD_PRELOAD\` shim (in
\`test/bench/wrk.ts\`) that drops the session before each \`SSL_connect\`.

${tlsTable}

${tlsRatioLine}

### All cores (2), nothing pinned but the backend

Pier \`--workers 2\` (SO_REUSEPORT), nginx \`worker_processes 2\`, HAProxy \`nbthread 2\`; one round each at ${s.connections}
connections, wrk unpinned, the backend still on core ${s.loadCore}. wrk and the backend share the two cores with the proxy.

${allCoresTable}

${allCoresLine}

### Memory and large tables

${routesText}: \`h-i.example.test\` → a backend of its own with ${s.endpointsPerBackend} endpoints on 127.0.0.1 ports
where nothing listens (no request goes there), health checks hourly, plus the bench route. RSS (\`VmRSS\` of
\`/proc/<pid>/status\`) of a \`--workers 1\` dataplane after a ${s.warmup} s warm-up run and 5 s of rest. Live update: the large
table published to a dataplane serving only the bench route, while one request after another goes to the bench host.

${memoryTable}

${updateProfileText}

### System calls per request

\`strace -c -f\` attached to each server (all its processes and threads) for ${s.straceSeconds} s, keep-alive, ${s.connections} connections; counts
divided by the requests wrk completed. \`futex\` (thread wake-ups) is left out. strace slows every server down a lot;
only the counts matter here.

${Object.keys(sc).length > 0 ? syscallTable : 'strace was not available.'}

### Where Pier's time goes

\`node --cpu-prof\` on a \`--workers 1\` dataplane pinned like above: ${s.profileSeconds} s of keep-alive HTTP, ${s.profileSeconds} s of full TLS
handshakes, then ${s.profileSeconds} s of resumed ones (${s.connections} connections), only the samples taken during those runs. Shares are of the
main thread's samples other than \`(idle)\`. Node's native socket write bindings (\`writev\`,
\`writeLatin1String\`, ...), which make the system calls, are counted apart; \`(program)\` is native work V8 does not attribute to a function. V8 also
counts as \`(idle)\` the native work libuv's poll phase does before any JavaScript runs (reading sockets, Node's C++
request parser, OpenSSL on TLS sockets), so \`(idle)\` is not all waiting: compare it with the dataplane's CPU use.

${profileTables}

### What limits it

${limits.map((l) => `- ${l}`).join('\n')}`;
}
