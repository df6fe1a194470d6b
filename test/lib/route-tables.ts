/**
 * Hand-built route tables for tests that drive a real dataplane through Redis: backends,
 * virtual hosts and certificates (keys sealed with the run's key ring, as the controller
 * seals them), a RoutePublisher on a test Redis to publish them, and the published table read
 * back from its pieces.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Backend,
  type BalancingSettings,
  backendId,
  type Certificate,
  createLogger,
  DEFAULT_HEALTH_CHECK,
  type Endpoint,
  type HealthCheckSettings,
  type PathType,
  ROUTE_SECTIONS,
  type RouteTable,
  RouteTableState,
  readKeyRingFile,
  routesRevisionKey,
  routesSectionKey,
  type VirtualHost,
  virtualHostKey,
} from '@pier/shared';
import { Redis } from 'ioredis';
import {
  ROUTE_PUBLISHER_REDIS_OPTIONS,
  type RouteContent,
  RoutePublisher,
} from '../../packages/controller/src/routes/route-publisher.ts';
import { run } from './child-process.ts';
import { testKeyRingFile } from './controller-process.ts';

export type { RouteContent };

/** Where an endpoint listens. */
export interface Address {
  address: string;
  port: number;
}

/** A ready, serving endpoint (or not ready, with `ready: false`). */
export function endpoint(at: Address, ready = true): Endpoint {
  return { address: at.address, port: at.port, ready, serving: ready, terminating: false };
}

/** Health checking with the given changes over the cluster default. */
export function healthCheck(changes: Partial<HealthCheckSettings> = {}): HealthCheckSettings {
  return { ...structuredClone(DEFAULT_HEALTH_CHECK), ...changes };
}

/** A backend `namespace/service:80` with `endpoints`. */
export function backend(
  namespace: string,
  service: string,
  endpoints: readonly Endpoint[],
  options: { healthCheck?: HealthCheckSettings; balancing?: BalancingSettings } = {},
): Backend {
  return {
    id: backendId(namespace, service, 80),
    service: { namespace, name: service },
    servicePort: 80,
    endpoints: [...endpoints],
    healthCheck: options.healthCheck ?? healthCheck(),
    balancing: options.balancing ?? { algorithm: 'round-robin' },
  };
}

/** One path rule: `[pathType, path, backend]`. */
export type RouteRule = [PathType, string, Backend];

/** A virtual host on `address` ('*': every address) with its rules, in the order given. */
export function virtualHost(
  host: string,
  rules: readonly RouteRule[],
  options: { address?: string; certificate?: string; defaultBackend?: Backend } = {},
): VirtualHost {
  return {
    address: options.address ?? '*',
    host,
    routes: rules.map(([pathType, path, target]) => ({
      path,
      pathType,
      backend: target.id,
      source: { namespace: target.service.namespace, name: `${host || 'default'}-ingress` },
    })),
    ...(options.certificate ? { tls: { certificate: options.certificate } } : {}),
    ...(options.defaultBackend ? { defaultBackend: options.defaultBackend.id } : {}),
  };
}

/** A table's content, keyed as the table wants it. */
export function routeContent(parts: {
  virtualHosts?: readonly VirtualHost[];
  backends?: readonly Backend[];
  certificates?: readonly Certificate[];
}): RouteContent {
  return {
    virtualHosts: Object.fromEntries(
      (parts.virtualHosts ?? []).map((v) => [virtualHostKey(v.address, v.host), v]),
    ),
    backends: Object.fromEntries((parts.backends ?? []).map((b) => [b.id, b])),
    certificates: Object.fromEntries((parts.certificates ?? []).map((c) => [c.id, c])),
  };
}

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/**
 * A self-signed P-256 certificate for `name` (DNS SAN; subject `/CN=<name>` unless `subject` is
 * given) made with openssl, as an operator would for a Secret. Files go to `dir` under
 * `file`.crt / `file`.key.
 */
export async function opensslCertificate(
  dir: string,
  file: string,
  name: string,
  subject = `/CN=${name}`,
): Promise<PemPair & { certFile: string; keyFile: string }> {
  const keyFile = join(dir, `${file}.key`);
  const certFile = join(dir, `${file}.crt`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    subject,
    '-addext',
    `subjectAltName=DNS:${name}`,
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return {
    certPem: await readFile(certFile, 'utf8'),
    keyPem: await readFile(keyFile, 'utf8'),
    certFile,
    keyFile,
  };
}

/**
 * A route-table certificate `namespace/secret` whose key is sealed with the run's key ring
 * (the file the test dataplanes open keys with), AAD = the certificate id.
 */
export function sealedCertificate(namespace: string, secret: string, pair: PemPair): Certificate {
  const id = `${namespace}/${secret}`;
  const keyRing = readKeyRingFile(testKeyRingFile(), 'test key ring');
  return {
    id,
    secret: { namespace, name: secret },
    certificatePem: pair.certPem,
    key: keyRing.seal(pair.keyPem, id),
  };
}

/** A RoutePublisher on a connection of its own, as the controller's leader holds one. */
export interface TestPublisher {
  readonly publisher: RoutePublisher;
  readonly connection: Redis;
  /** Publishes `content` as the next revision; resolves with the revision. */
  publish(content: RouteContent): Promise<number>;
  close(): void;
}

/** Connects a fresh publisher to `redis` (a test redis-server) and waits until it is ready. */
export async function connectPublisher(redis: {
  host: string;
  port: number;
  password: string;
}): Promise<TestPublisher> {
  const connection = new Redis({
    host: redis.host,
    port: redis.port,
    password: redis.password,
    lazyConnect: true,
    ...ROUTE_PUBLISHER_REDIS_OPTIONS,
  });
  connection.on('error', () => undefined);
  await connection.connect();
  const publisher = new RoutePublisher({
    redis: connection,
    logger: createLogger({ name: 'test-publisher', level: 'silent' }),
  });
  return {
    publisher,
    connection,
    publish: async (content) => (await publisher.publish(content)).revision,
    close: () => connection.disconnect(),
  };
}

/**
 * The table the controller published, as a reader serves it: the revision and every piece read
 * in one MULTI, each entry validated (docs/redis-keyspace.md). Undefined when nothing is
 * published (no revision key).
 */
export async function publishedTable(redis: Redis): Promise<RouteTable | undefined> {
  const multi = redis.multi().get(routesRevisionKey());
  for (const section of ROUTE_SECTIONS) multi.hgetall(routesSectionKey(section));
  const replies = ((await multi.exec()) ?? []).map(([, value]) => value);
  if (replies[0] === null || replies[0] === undefined) return undefined;
  const pieces = Object.fromEntries(
    ROUTE_SECTIONS.map((section, i) => [
      section,
      Object.entries((replies[1 + i] ?? {}) as Record<string, string>),
    ]),
  );
  return RouteTableState.fromPieces(Number(replies[0]), pieces).state.toTable();
}

/** Bytes the route table's pieces take in Redis (`MEMORY USAGE` of the three hashes). */
export async function publishedTableBytes(redis: Redis): Promise<number> {
  let bytes = 0;
  for (const section of ROUTE_SECTIONS) {
    bytes += Number((await redis.call('MEMORY', 'USAGE', routesSectionKey(section))) ?? 0);
  }
  return bytes;
}
