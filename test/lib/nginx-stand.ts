/**
 * The test ground of the ingress-nginx compatibility tests: a namespace, an address pool of its
 * own, Redis, pier-controller with `--ingress-class-compat=nginx` under its RBAC and a real
 * dataplane on the pool's address. A test file opens one, creates its pods, Services and
 * Ingresses, then calls {@link NginxStand.serve}; requests go through {@link NginxStand.get}.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { waitUntil } from './child-process.ts';
import { type ControllerProcess, startController } from './controller-process.ts';
import { type DataplaneProcess, startDataplane } from './dataplane-process.ts';
import { createService, type EchoPod, exposeAsEndpointSlice, startEchoPod } from './echo-pod.ts';
import { testEnv } from './env.ts';
import { ingressManifest, poolDocument, waitForAddresses } from './ingress-fixtures.ts';
import { adminKubeConfig, createTestNamespace } from './kube.ts';
import { startRedis, type TestRedis } from './redis-server.ts';
import { kubectl } from './test-cluster.ts';

/** The annotation prefix of ingress-nginx. */
export const N = 'nginx.ingress.kubernetes.io/';

/** What {@link NginxStand.get} saw. */
export interface StandReply {
  status: number;
  location?: string;
  /** The path and query the pod saw (200 only). */
  seen?: string;
  /** Pier's `x-pier-error` code. */
  error?: string;
}

/** Options of one request through the stand. */
export interface StandRequest {
  /** The agent to connect with (e.g. {@link NginxStand.fromLoopback}); default: from the pool address' network. */
  from?: Agent;
  method?: string;
  /** A string is sent with its length; an iterable goes out chunked. */
  body?: string | Iterable<string>;
  headers?: Record<string, string>;
}

export class NginxStand {
  readonly kc = adminKubeConfig();
  readonly env = testEnv();
  readonly suffix = randomBytes(3).toString('hex');
  /** Connects from the default source address (the pool's network). */
  readonly agent = new Agent({ pipelining: 0, connect: { rejectUnauthorized: false } });
  /** Connects from 127.0.0.1: a second client address to tell apart. */
  readonly fromLoopback = new Agent({ pipelining: 0, localAddress: '127.0.0.1' });
  readonly pool: string;
  /** The one address every Ingress of the stand gets (set by {@link serve}). */
  address = '';
  #namespace: Awaited<ReturnType<typeof createTestNamespace>> | undefined;
  #redis: TestRedis | undefined;
  #controller: ControllerProcess | undefined;
  #dataplane: DataplaneProcess | undefined;
  readonly #pods: EchoPod[] = [];

  readonly label: string;

  private constructor(label: string) {
    this.label = label;
    this.pool = `${label}-${this.suffix}`;
  }

  /** Namespace, pool (`poolCidr`, not auto-assigned) and Redis; nothing serves yet. */
  static async open(label: string, poolCidr: string): Promise<NginxStand> {
    const stand = new NginxStand(label);
    stand.#redis = await startRedis(join(stand.env.stateDir, `${label}-redis-${stand.suffix}`));
    stand.#namespace = await createTestNamespace(stand.kc, label);
    await kubectl(stand.env.kubeconfig, ['apply', '-f', '-'], {
      input: poolDocument(stand.pool, [poolCidr], { autoAssign: false }),
    });
    return stand;
  }

  get namespace(): string {
    return this.#namespace?.name ?? '';
  }

  get controller(): ControllerProcess {
    if (this.#controller === undefined) throw new Error('the stand does not serve yet');
    return this.#controller;
  }

  get dataplane(): DataplaneProcess {
    if (this.#dataplane === undefined) throw new Error('the stand does not serve yet');
    return this.#dataplane;
  }

  /** The test host of an Ingress: unique to this run. */
  host(name: string): string {
    return `${name}-${this.suffix}.example.test`;
  }

  /** An Ingress of `ingressClassName: nginx` (unless said) on its own host, in the stand's pool. */
  ingress(
    name: string,
    annotations: Record<string, string> = {},
    options: { service?: string; className?: string } = {},
  ): Record<string, unknown> {
    return ingressManifest(this.namespace, name, {
      className: options.className ?? 'nginx',
      host: this.host(name),
      ...(options.service === undefined ? {} : { service: options.service }),
      annotations: { 'pier.dev/address-pool': this.pool, ...annotations },
    });
  }

  /**
   * Starts echo pods on `addresses` (one port for all; over HTTPS with `tls`) behind a new
   * Service `service` (port 80).
   */
  async service(
    service: string,
    addresses: readonly string[],
    tls?: { certPem: string; keyPem: string },
  ): Promise<EchoPod[]> {
    const pods: EchoPod[] = [];
    for (const address of addresses) {
      const port = pods[0]?.port ?? 0;
      const name = `${service}-${address.split('.')[3]}-${this.suffix}`;
      pods.push(await startEchoPod(name, address, port, tls));
    }
    this.#pods.push(...pods);
    await createService(this.kc, this.namespace, service, {
      port: 80,
      targetPort: pods[0]?.port ?? 0,
    });
    await exposeAsEndpointSlice(this.kc, this.namespace, service, pods);
    return pods;
  }

  /** A new Service `service` (port 80) over pods already started by {@link service}. */
  async alias(service: string, pods: readonly EchoPod[]): Promise<void> {
    await createService(this.kc, this.namespace, service, {
      port: 80,
      targetPort: pods[0]?.port ?? 0,
    });
    await exposeAsEndpointSlice(this.kc, this.namespace, service, pods);
  }

  /**
   * Starts the controller (compat class `nginx`) and the dataplane, and waits until each of
   * `names` has the stand's address and its host answers `probe(name)` with anything but 404.
   */
  async serve(
    names: readonly string[],
    probe: (name: string) => string = () => '/probe',
    controllerArgs: readonly string[] = [],
  ): Promise<void> {
    const redis = this.#redis as TestRedis;
    this.#controller = await startController({
      identity: `${this.label}-${this.suffix}`,
      args: ['--redis-url', redis.url, '--ingress-class-compat', 'nginx', ...controllerArgs],
    });
    await this.#controller.waitForLeadership();
    const addresses = await waitForAddresses(this.kc, this.namespace, names);
    this.address = addresses.get(names[0] ?? '')?.[0] ?? '';
    for (const name of names) {
      if (addresses.get(name)?.[0] !== this.address || addresses.get(name)?.length !== 1) {
        throw new Error(
          `${name} has ${JSON.stringify(addresses.get(name))}, not [${this.address}]`,
        );
      }
    }
    this.#dataplane = await startDataplane({
      node: `edge-${this.suffix}`,
      host: this.address,
      redisUrl: redis.url,
    });
    await waitUntil('the dataplane to serve every host', async () => {
      for (const name of names) {
        const res = await this.get('http', name, probe(name), { from: this.fromLoopback });
        if (res.status === 404) return undefined;
      }
      return true;
    });
  }

  /** The base URL of the dataplane's listener for `scheme`. */
  url(scheme: 'http' | 'https', path: string): string {
    const port = scheme === 'http' ? this.dataplane.httpPort : this.dataplane.httpsPort;
    return `${scheme}://${this.address}:${port}${path}`;
  }

  /** One request to the host of Ingress `name`: status, Location, Pier's error code, what the pod saw. */
  async get(
    scheme: 'http' | 'https',
    name: string,
    path: string,
    options: StandRequest = {},
  ): Promise<StandReply> {
    const res = await request(this.url(scheme, path), {
      headers: { host: this.host(name), connection: 'close', ...options.headers },
      dispatcher: options.from ?? this.agent,
      ...(options.method === undefined ? {} : { method: options.method }),
      ...(options.body === undefined ? {} : { body: options.body }),
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
      ...(scheme === 'https' ? { servername: this.host(name) } : {}),
    } as Parameters<typeof request>[1]);
    const text = await res.body.text();
    const out: StandReply = { status: res.statusCode };
    const location = res.headers.location;
    if (typeof location === 'string') out.location = location;
    const error = res.headers['x-pier-error'];
    if (typeof error === 'string') out.error = error;
    if (res.statusCode === 200) out.seen = (JSON.parse(text) as { url: string }).url;
    return out;
  }

  /** Stops everything the stand started and removes what it created. */
  async close(): Promise<void> {
    await this.agent.close();
    await this.fromLoopback.close();
    await this.#dataplane?.stop();
    await this.#controller?.stop();
    await Promise.all(this.#pods.map((pod) => pod.close()));
    await this.#redis?.stop();
    await kubectl(this.env.kubeconfig, ['delete', 'ippool', this.pool, '--ignore-not-found']);
    await this.#namespace?.remove();
  }
}
