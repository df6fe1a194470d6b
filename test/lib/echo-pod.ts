import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { waitUntil } from './child-process.ts';

/** What an echo "pod" answers: who it is and what request it saw. */
export interface EchoReply {
  pod: string;
  address: string;
  port: number;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request an echo pod received. */
export interface SeenRequest {
  readonly url: string;
  readonly userAgent: string;
  /** Date.now() when it arrived. */
  readonly at: number;
}

/**
 * An HTTP server standing in for a pod. It listens on a documentation-range
 * address inside the suite's private network namespace (the API server refuses
 * loopback addresses in EndpointSlices) and answers every request with an
 * {@link EchoReply}. `healthy = false` makes `/healthz` answer 503.
 */
export interface EchoPod {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Base URL, e.g. `http://198.51.100.7:43127`. */
  readonly url: string;
  /** Requests served so far. */
  readonly requests: number;
  /** Every request so far, oldest first: health probes are told apart by their User-Agent. */
  readonly seen: readonly SeenRequest[];
  healthy: boolean;
  /**
   * When set, asked for each request but the health probe's `/healthz`: a status to answer
   * instead of the echo, and/or a delay before answering, ms, and/or a body (text/plain) instead
   * of the echo.
   */
  respond:
    | ((
        url: string,
        headers: IncomingMessage['headers'],
      ) => { status?: number; delayMs?: number; body?: string } | undefined)
    | undefined;
  close(): Promise<void>;
}

/** The longest `delay` an echo pod honours, ms. */
const MAX_DELAY_MS = 30_000;

/** A query parameter `delay=<ms>` asks the echo pod to answer that much later (a slow request). */
function answerDelayMs(url: string): number {
  const match = /[?&]delay=([0-9]{1,6})(?:&|$)/.exec(url);
  return match === null ? 0 : Math.min(Number(match[1]), MAX_DELAY_MS);
}

/**
 * Starts an echo server named `name` on `address` (port 0 = any free port); over HTTPS with
 * `tls`, as a pod behind `backend-protocol: HTTPS`. A request whose query has `delay=<ms>` is
 * answered that much later (at most 30 s).
 */
export async function startEchoPod(
  name: string,
  address: string,
  port = 0,
  tls?: { certPem: string; keyPem: string },
): Promise<EchoPod> {
  let requests = 0;
  const seen: SeenRequest[] = [];
  const state: { healthy: boolean; respond: EchoPod['respond'] } = {
    healthy: true,
    respond: undefined,
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    seen.push({ url: req.url ?? '', userAgent: req.headers['user-agent'] ?? '', at: Date.now() });
    if (req.url === '/healthz' && !state.healthy) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unhealthy\n');
      return;
    }
    const local = req.socket.address() as AddressInfo;
    const reply: EchoReply = {
      pod: name,
      address: local.address,
      port: local.port,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
    };
    const special = state.respond?.(req.url ?? '', req.headers);
    const answer = () => {
      if (res.destroyed) return;
      const status = special?.status ?? 200;
      if (special?.body !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain', 'x-echo-pod': name });
        res.end(special.body);
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', 'x-echo-pod': name });
      res.end(`${JSON.stringify(reply)}\n`);
    };
    req.resume();
    req.on('end', () => {
      const delay = special?.delayMs ?? answerDelayMs(req.url ?? '');
      if (delay === 0) answer();
      else setTimeout(answer, delay).unref();
    });
  };
  const server: Server =
    tls === undefined
      ? createServer(handler)
      : createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    name,
    address,
    port: bound,
    url: `http://${host}:${bound}`,
    get requests() {
      return requests;
    },
    seen,
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    get respond() {
      return state.respond;
    },
    set respond(value) {
      state.respond = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The one Node the suite's stand-in Pods are bound to (there is no kubelet). */
export const TEST_NODE = 'pier-test-node';

/**
 * Makes sure the stand-in Node exists: the EndpointSlice controller skips Pods
 * whose Node it cannot find.
 */
export async function ensureTestNode(kc: KubeConfig): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    await core.readNode({ name: TEST_NODE });
  } catch {
    await core
      .createNode({ body: { metadata: { name: TEST_NODE, labels: { 'pier.dev/edge': 'true' } } } })
      .catch((err: unknown) => {
        // Another test file may have created it meanwhile.
        if (!String(err).includes('AlreadyExists') && !String(err).includes('409')) throw err;
      });
  }
}

/**
 * Publishes an echo server as a Pod with `labels`, bound to the test Node, and
 * plays the kubelet's part: marks it Running and Ready with the echo's address.
 */
export async function exposeAsPod(
  kc: KubeConfig,
  namespace: string,
  echo: EchoPod,
  labels: Record<string, string>,
): Promise<V1Pod> {
  await ensureTestNode(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name: echo.name, labels },
      spec: {
        nodeName: TEST_NODE,
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'echo',
            image: 'registry.invalid/pier/echo:test',
            ports: [{ name: 'http', containerPort: echo.port }],
          },
        ],
      },
    },
  });
  const now = new Date();
  pod.status = {
    phase: 'Running',
    podIP: echo.address,
    podIPs: [{ ip: echo.address }],
    hostIP: '192.0.2.250',
    startTime: now,
    conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
      type,
      status: 'True',
      lastTransitionTime: now,
    })),
  };
  return core.replaceNamespacedPodStatus({ name: echo.name, namespace, body: pod });
}

/** A Service of `port` whose selector is `selector` (or none, for hand-made slices). */
export function createService(
  kc: KubeConfig,
  namespace: string,
  name: string,
  port: { port: number; targetPort: number | string; name?: string },
  selector?: Record<string, string>,
): Promise<V1Service> {
  const core = kc.makeApiClient(CoreV1Api);
  return core.createNamespacedService({
    namespace,
    body: {
      metadata: { name },
      spec: {
        ...(selector ? { selector } : {}),
        ports: [
          { name: port.name ?? 'http', port: port.port, targetPort: port.targetPort as never },
        ],
      },
    },
  });
}

/**
 * Publishes echo servers as a hand-made EndpointSlice of a Service without
 * selector (a legitimate Kubernetes pattern for endpoints outside the cluster).
 */
export function exposeAsEndpointSlice(
  kc: KubeConfig,
  namespace: string,
  service: string,
  echos: readonly EchoPod[],
  portName = 'http',
): Promise<V1EndpointSlice> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const family = echos[0]?.address.includes(':') ? 'IPv6' : 'IPv4';
  const port = echos[0]?.port ?? 80;
  return discovery.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: {
        name: `${service}-manual`,
        labels: {
          'kubernetes.io/service-name': service,
          'endpointslice.kubernetes.io/managed-by': 'pier.dev-test-suite',
        },
      },
      addressType: family,
      ports: [{ name: portName, port, protocol: 'TCP' }],
      endpoints: echos.map((e) => ({
        addresses: [e.address],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', name: e.name, namespace },
      })),
    },
  });
}

/** Waits until the Service's EndpointSlices list exactly the ready `addresses`. */
export function waitForEndpoints(
  kc: KubeConfig,
  namespace: string,
  service: string,
  addresses: readonly string[],
  timeoutMs = 30_000,
): Promise<V1EndpointSlice[]> {
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const want = [...addresses].sort().join(',');
  return waitUntil(
    `EndpointSlices of ${namespace}/${service} to list ${want}`,
    async () => {
      const list = await discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: `kubernetes.io/service-name=${service}`,
      });
      const ready = list.items
        .flatMap((s) => s.endpoints ?? [])
        .filter((e) => e.conditions?.ready === true)
        .flatMap((e) => e.addresses)
        .sort()
        .join(',');
      return ready === want ? list.items : undefined;
    },
    timeoutMs,
  );
}
