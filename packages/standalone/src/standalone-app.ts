/**
 * Wires standalone mode: the manifest directory (watched) → self-signed demo certificates → the
 * controller's allocator and route compiler → the in-memory route source → the real
 * `DataplaneApp` (listeners, TLS by SNI, proxy, balancer, passive ejection) with a single-node
 * in-memory health checker, plus the ops server and, for the examples, the demo backends. Holds
 * no logic of its own beyond reporting to the user, as plain lines.
 */
import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import {
  type DashboardServer,
  type EventView,
  type IPAddressPool,
  startDashboardServer,
} from '@pier/controller';
import {
  createDataplaneMetrics,
  DataplaneApp,
  type DataplaneConfig,
  type DataplaneMetrics,
  type HealthEvents,
  LocalHealthChecker,
} from '@pier/dataplane';
import {
  InvalidConfigError,
  KeyRing,
  type OpsServer,
  type PierLogger,
  startOpsServer,
} from '@pier/shared';
import { type DemoBackend, demoBackendSpecs, startDemoBackend } from './demo-backends.ts';
import type { ManifestSnapshot } from './last-good-objects.ts';
import {
  type CompiledManifests,
  type IngressAddress,
  ManifestCompiler,
} from './manifest-compiler.ts';
import { ManifestDirectory } from './manifest-directory.ts';
import { formatProblem } from './manifest-file.ts';
import { MemoryRouteSource } from './memory-route-source.ts';
import { SelfSignedSecrets } from './self-signed-secrets.ts';
import type { StandaloneConfig } from './standalone-config.ts';
import { StandaloneDashboardSource } from './standalone-dashboard-source.ts';

/** Events the dashboard keeps. */
const MAX_EVENTS = 200;

/** The node name standalone's dataplane goes by (probe User-Agent, logs). */
export const STANDALONE_NODE = 'standalone';

/** Where the user reads what happens: one line per call. */
export type Print = (line: string) => void;

function listenText(l: { host: string; port: number }): string {
  return l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
}

/** Standalone mode in one process; see the module comment. */
export class StandaloneApp {
  readonly #c: StandaloneConfig;
  readonly #log: PierLogger;
  readonly #print: Print;
  readonly #cwd: string;
  readonly #keyRing = new KeyRing({ current: 'standalone', keys: { standalone: randomBytes(32) } });
  readonly #compiler = new ManifestCompiler(this.#keyRing);
  readonly #routes = new MemoryRouteSource();
  readonly #certificates: SelfSignedSecrets;
  readonly #metrics: DataplaneMetrics = createDataplaneMetrics();
  readonly #directory: ManifestDirectory;
  readonly #backends = new Map<string, DemoBackend>();
  #dataplane: DataplaneApp | undefined;
  #ops: OpsServer | undefined;
  #dashboard: DashboardServer | undefined;
  #health: LocalHealthChecker | undefined;
  #pools: IPAddressPool[] = [];
  #revisionSince = Date.now();
  /** What the dashboard's Events page shows: problems and health changes, newest last. */
  #events: EventView[] = [];
  readonly #startedAt = Date.now();
  /** Snapshots are applied one at a time, in order. */
  #applying: Promise<void> = Promise.resolve();
  #problems = new Set<string>();
  #addresses = new Map<string, string>();
  #last: CompiledManifests | undefined;
  #started = false;
  #startError: unknown;

  constructor(config: StandaloneConfig, logger: PierLogger, print: Print, cwd: string) {
    this.#c = config;
    this.#log = logger;
    this.#print = print;
    this.#cwd = cwd;
    this.#certificates = new SelfSignedSecrets(config.stateDir);
    this.#directory = new ManifestDirectory({
      dir: config.manifestsPath,
      onSnapshot: (snapshot) => {
        this.#applying = this.#applying
          .then(() => this.#apply(snapshot))
          .catch((err: unknown) => {
            if (this.#started) this.#log.error({ err }, 'applying the manifests failed');
            else this.#startError ??= err;
          });
      },
    });
  }

  /**
   * Reads the manifests, starts the demo backends, serves, and prints the summary.
   *
   * @throws InvalidConfigError with one line for the user (directory unreadable, port taken).
   */
  async start(): Promise<void> {
    const c = this.#c;
    try {
      await this.#directory.start();
    } catch (err) {
      throw new InvalidConfigError(
        `cannot read the manifest directory ${c.manifests}: ${errorText(err)}`,
      );
    }
    await this.#applying;
    if (this.#startError !== undefined) throw this.#startError;
    const events: Partial<HealthEvents> = {};
    const dataplane = new DataplaneApp(
      this.#dataplaneConfig(),
      this.#log,
      this.#metrics,
      { index: 0, count: 1, probes: true, reusePort: false },
      {
        keyRing: this.#keyRing,
        routes: (handlers) => this.#routes.bind(handlers),
        health: (dataplaneEvents) => {
          Object.assign(events, dataplaneEvents);
          this.#health = new LocalHealthChecker({
            node: STANDALONE_NODE,
            logger: this.#log,
            events: {
              onProbe: (r) => events.onProbe?.(r),
              onTransition: (backend, endpoint, from, to) => {
                events.onTransition?.(backend, endpoint, from, to);
                // Becoming healthy from unknown (every endpoint at start) is not news.
                if (to === 'unhealthy' || from === 'unhealthy') {
                  this.#print(`health: ${endpoint} of ${backend} is ${to} (was ${from})`);
                  this.#event(
                    to === 'unhealthy' ? 'Warning' : 'Normal',
                    to === 'unhealthy' ? 'EndpointUnhealthy' : 'EndpointHealthy',
                    `Backend ${backend}`,
                    `${endpoint} is ${to} (was ${from})`,
                  );
                }
              },
            },
          });
          return this.#health;
        },
      },
    );
    this.#dataplane = dataplane;
    await listening('listener', () => dataplane.start());
    this.#ops = await listening(`ops listener ${listenText(c.ops)} (--ops-listen)`, () =>
      startOpsServer({
        host: c.ops.host,
        port: c.ops.port,
        registry: this.#metrics.registry,
        readiness: () => (dataplane.ready ? undefined : 'no route table or listener yet'),
      }),
    );
    if (c.dashboard) {
      const at = c.dashboard;
      this.#dashboard = await listening(
        `dashboard listener ${listenText(at)} (--dashboard-listen)`,
        () =>
          startDashboardServer({
            host: at.host,
            port: at.port,
            logger: this.#log,
            source: new StandaloneDashboardSource({
              node: STANDALONE_NODE,
              startedAt: this.#startedAt,
              table: () => this.#routes.table,
              revisionSince: () => this.#revisionSince,
              pools: () => this.#pools,
              addresses: () => this.#last?.addresses ?? [],
              health: () => this.#health,
              events: () => this.#events,
            }),
          }),
      );
    }
    this.#started = true;
    this.#summary();
  }

  /** Stops serving (in-flight requests get the drain grace), then everything else. */
  async stop(): Promise<void> {
    await this.#directory.stop();
    await this.#applying;
    await this.#dataplane?.stop(this.#c.drainGraceMs);
    await this.#dashboard?.close();
    await this.#ops?.close();
    await Promise.all([...this.#backends.values()].map((b) => b.close()));
  }

  #dataplaneConfig(): DataplaneConfig {
    const c = this.#c;
    return Object.freeze({
      nodeName: STANDALONE_NODE,
      redisUrl: '',
      redisPassword: undefined,
      keyRingFile: '',
      http: c.http,
      https: c.https,
      ops: c.ops,
      stateFile: '',
      defaultCertFile: undefined,
      defaultKeyFile: undefined,
      workers: 1,
      connectTimeoutMs: 5_000,
      responseHeaderTimeoutMs: 60_000,
      idleTimeoutMs: 60_000,
      maxRequestBodyBytes: 100 * 1024 * 1024,
      maxHeaderBytes: 16 * 1024,
      requestHeadersTimeoutMs: 10_000,
      // No L2: standalone serves on localhost, there is no address to announce.
      l2: undefined,
      trustedProxies: [],
      drainGraceMs: c.drainGraceMs,
      accessLog: c.accessLog,
      logLevel: c.logLevel,
    });
  }

  async #apply(snapshot: ManifestSnapshot): Promise<void> {
    if (this.#c.demoBackends) await this.#reconcileBackends(snapshot);
    let compiled: CompiledManifests;
    try {
      const objects = await this.#certificates.fill(snapshot.objects);
      compiled = this.#compiler.compile(objects);
    } catch (err) {
      this.#log.error({ err }, 'compile failed');
      this.#print(
        `error: the manifests could not be compiled (${errorText(err)}); still serving the previous routes`,
      );
      return;
    }
    this.#last = compiled;
    this.#pools = snapshot.objects
      .filter((o) => o.kind === 'IPAddressPool')
      .map((o) => o.object as IPAddressPool);
    this.#report(
      [...snapshot.problems, ...compiled.problems].map((p) =>
        formatProblem({ ...p, file: this.#show(p.file) }),
      ),
    );
    const revision = this.#routes.publish(compiled.table);
    if (revision !== undefined) this.#revisionSince = Date.now();
    if (!this.#started) return;
    this.#reportAddresses(compiled);
    if (revision !== undefined) {
      const hosts = Object.keys(compiled.table.virtualHosts).length;
      const backends = Object.keys(compiled.table.backends).length;
      this.#print(
        `routes: revision ${revision} is live (${hosts} virtual hosts, ${backends} backends)`,
      );
    }
  }

  /** Prints problems that are new since the last snapshot, and says when all are gone. */
  #report(lines: string[]): void {
    const now = new Set(lines);
    for (const line of lines) {
      if (this.#problems.has(line)) continue;
      this.#print(`problem: ${line}`);
      this.#event('Warning', 'ManifestProblem', 'Manifests', line);
    }
    if (now.size === 0 && this.#problems.size > 0) this.#print('problems: none left');
    this.#problems = now;
  }

  /** Keeps the newest {@link MAX_EVENTS} for the dashboard. */
  #event(type: string, reason: string, object: string, message: string): void {
    this.#events.push({ at: Date.now(), type, reason, object, message, count: 1 });
    if (this.#events.length > MAX_EVENTS) this.#events.splice(0, this.#events.length - MAX_EVENTS);
  }

  /** Prints each Ingress whose address changed (or that got or lost one). */
  #reportAddresses(compiled: CompiledManifests): void {
    const now = new Map(compiled.addresses.map((a) => [a.ingress, addressText(a)]));
    for (const [ingress, text] of now) {
      if (this.#addresses.get(ingress) !== text)
        this.#print(`address: Ingress ${ingress} → ${text}`);
    }
    this.#addresses = now;
  }

  async #reconcileBackends(snapshot: ManifestSnapshot): Promise<void> {
    const wanted = demoBackendSpecs(snapshot.objects);
    const keys = new Set(wanted.map((s) => `${s.address}|${s.port}`));
    for (const [key, backend] of this.#backends) {
      if (keys.has(key)) continue;
      this.#backends.delete(key);
      await backend.close();
    }
    for (const spec of wanted) {
      const key = `${spec.address}|${spec.port}`;
      if (this.#backends.has(key)) continue;
      try {
        this.#backends.set(key, await startDemoBackend(spec));
        if (this.#started)
          this.#print(
            `demo backend: ${spec.name} on ${listenText({ host: spec.address, port: spec.port })}`,
          );
      } catch (err) {
        // At start a taken port most likely means another `pier standalone`: stop and say so.
        if (!this.#started)
          throw new InvalidConfigError(`${errorText(err)}; is another pier standalone running?`);
        this.#print(`problem: ${errorText(err)}`);
      }
    }
  }

  #show(file: string): string {
    return file === '' ? '' : relative(this.#cwd, file) || file;
  }

  #summary(): void {
    const c = this.#c;
    const p = this.#print;
    p(`Pier standalone: serving ${c.manifests}`);
    if (c.http) p(`  http   ${listenText(c.http)}`);
    if (c.https) p(`  https  ${listenText(c.https)}`);
    p(`  ops    ${listenText(c.ops)}  (/metrics, /healthz, /readyz)`);
    if (this.#dashboard) p(`  dashboard  ${this.#dashboard.url}  (read-only, live)`);
    const compiled = this.#last;
    if (compiled !== undefined) {
      p(
        'Ingresses (address from the pool, as kubectl get ingress would show; served on the listeners above):',
      );
      for (const a of compiled.addresses) p(`  ${a.ingress}  ${addressText(a)}`);
      this.#addresses = new Map(compiled.addresses.map((a) => [a.ingress, addressText(a)]));
      p('Routes:');
      for (const vhost of Object.values(compiled.table.virtualHosts)) {
        const scheme = vhost.tls ? 'https' : 'http';
        for (const r of vhost.routes) {
          p(`  ${scheme}://${vhost.host || '*'}${r.path || '/'}  (${r.pathType})  → ${r.backend}`);
        }
        if (vhost.defaultBackend)
          p(`  ${scheme}://${vhost.host || '*'}  (default)  → ${vhost.defaultBackend}`);
      }
    }
    if (this.#backends.size > 0) {
      p('Demo backends (POST /fail makes one fail its health checks, POST /recover heals it):');
      for (const b of this.#backends.values())
        p(`  ${b.name}  ${listenText({ host: b.address, port: b.port })}`);
    }
    for (const host of this.#certificates.hosts) {
      p(
        `Self-signed certificate for ${host}: ${this.#show(this.#certificates.certificateFile(host))}`,
      );
    }
    if (this.#problems.size > 0)
      p(`${this.#problems.size} manifest problem(s), listed above; everything else is served.`);
    p('Edit the manifests: changes are live. Ctrl-C stops.');
  }
}

/** Runs a listen step, turning "port taken" and friends into one line for the user. */
async function listening<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      const where = e.address !== undefined ? `${e.address}:${e.port}` : what;
      const why = e.code === 'EADDRINUSE' ? 'another process is using it' : e.code;
      throw new InvalidConfigError(
        `cannot listen on ${where}: ${why}; choose other ports with --http-listen, --https-listen and --ops-listen`,
      );
    }
    throw err;
  }
}

/** `192.0.2.10 (pool demo)`, or why the Ingress has no address. */
function addressText(a: IngressAddress): string {
  return 'addresses' in a ? `${a.addresses.join(', ')} (pool ${a.pool})` : `no address: ${a.code}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
