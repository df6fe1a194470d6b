/**
 * The dataplane's configuration: flags and environment, parsed and checked
 * once at start-up into a frozen object; every mistake is one line naming the
 * flag and its variable.
 */
import { availableParallelism, hostname } from 'node:os';
import { FlagReader, type FlagSpecs, flagUsage, LOG_LEVELS, type LogLevel } from '@pier/shared';
import { assertL2Timing, type L2Timing } from './l2/l2-timing.ts';

export interface DataplaneConfig {
  /** This edge node's name: probe ownership, heartbeats, L2 leases. */
  readonly nodeName: string;
  readonly redisUrl: string;
  readonly redisPassword: string | undefined;
  readonly keyRingFile: string;
  readonly http: { host: string; port: number } | undefined;
  readonly https: { host: string; port: number } | undefined;
  readonly ops: { host: string; port: number };
  /** Last good route table on local disk, so a restart during a Redis outage still serves. */
  readonly stateFile: string;
  readonly defaultCertFile: string | undefined;
  readonly defaultKeyFile: string | undefined;
  readonly workers: number;
  readonly connectTimeoutMs: number;
  readonly responseHeaderTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxRequestBodyBytes: number;
  readonly maxHeaderBytes: number;
  readonly requestHeadersTimeoutMs: number;
  readonly trustedProxies: readonly string[];
  readonly drainGraceMs: number;
  readonly accessLog: boolean;
  readonly logLevel: LogLevel;
  /** L2 mode (docs/l2.md): undefined when off. */
  readonly l2: L2Timing | undefined;
}

export const DATAPLANE_FLAGS: FlagSpecs = Object.freeze({
  'node-name': { env: 'NODE_NAME', help: 'this edge node (default: host name)' },
  'redis-url': {
    env: 'REDIS_URL',
    help: 'Redis with the route tables, e.g. redis://pier-redis:6379 (required)',
  },
  'redis-password': {
    env: 'REDIS_PASSWORD',
    help: 'Redis AUTH password (overrides one in the URL)',
  },
  'key-ring-file': {
    env: 'PIER_KEY_RING_FILE',
    default: '/etc/pier/key-ring/keys',
    help: 'key ring that opens sealed TLS keys',
  },
  'http-listen': {
    env: 'PIER_HTTP_LISTEN',
    default: '0.0.0.0:80',
    help: 'plain HTTP listener ("off" to disable)',
  },
  'https-listen': {
    env: 'PIER_HTTPS_LISTEN',
    default: '0.0.0.0:443',
    help: 'HTTPS listener ("off" to disable)',
  },
  'ops-listen': {
    env: 'PIER_OPS_LISTEN',
    default: '0.0.0.0:9091',
    help: '/metrics, /healthz, /readyz',
  },
  'state-file': {
    env: 'PIER_STATE_FILE',
    default: '/var/lib/pier/routes.json',
    help: 'last good route table, served when Redis is down at start',
  },
  'default-cert-file': {
    env: 'PIER_DEFAULT_CERT_FILE',
    help: 'default certificate (default: self-signed at start)',
  },
  'default-key-file': { env: 'PIER_DEFAULT_KEY_FILE', help: 'key of the default certificate' },
  workers: {
    env: 'PIER_WORKERS',
    default: 'auto',
    help: 'worker processes sharing the ports ("auto" = one per core)',
  },
  'connect-timeout': {
    env: 'PIER_CONNECT_TIMEOUT',
    default: '5s',
    help: 'connecting to an endpoint',
  },
  'response-header-timeout': {
    env: 'PIER_RESPONSE_HEADER_TIMEOUT',
    default: '60s',
    help: 'waiting for an endpoint’s response headers (504 after)',
  },
  'idle-timeout': {
    env: 'PIER_IDLE_TIMEOUT',
    default: '60s',
    help: 'no body bytes either way for this long',
  },
  'max-body-size': {
    env: 'PIER_MAX_BODY_SIZE',
    default: '104857600',
    help: 'request body limit in bytes (413 above)',
  },
  'max-header-size': {
    env: 'PIER_MAX_HEADER_SIZE',
    default: '16384',
    help: 'request header limit in bytes (431 above)',
  },
  'request-headers-timeout': {
    env: 'PIER_REQUEST_HEADERS_TIMEOUT',
    default: '10s',
    help: 'a client must send its headers within this (408 after)',
  },
  'trusted-proxies': {
    env: 'PIER_TRUSTED_PROXIES',
    default: '',
    help: 'comma-separated client addresses whose X-Forwarded-* headers are kept and appended to',
  },
  'drain-grace': {
    env: 'PIER_DRAIN_GRACE',
    default: '25s',
    help: 'on SIGTERM, time for in-flight requests',
  },
  'access-log': { env: 'PIER_ACCESS_LOG', default: 'false', help: 'log every request (pino JSON)' },
  'log-level': { env: 'PIER_LOG_LEVEL', default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
  l2: {
    env: 'PIER_L2',
    default: 'false',
    help: 'announce the addresses of L2 pools (ARP/NDP); needs NET_ADMIN and NET_RAW',
  },
  'l2-lease-ttl': {
    env: 'PIER_L2_LEASE_TTL',
    default: '600ms',
    help: 'L2 lease lifetime: a dead holder is replaced after about this long',
  },
  'l2-renew-interval': {
    env: 'PIER_L2_RENEW_INTERVAL',
    default: '150ms',
    help: 'L2 lease renewal period (at most half the TTL)',
  },
});

export function dataplaneUsage(): string {
  return flagUsage('pier-dataplane', DATAPLANE_FLAGS);
}

function optionalListen(
  flags: FlagReader,
  flag: string,
): { host: string; port: number } | undefined {
  return flags.string(flag) === 'off' ? undefined : flags.listen(flag);
}

/** @throws InvalidConfigError with one line per mistake. */
export function parseDataplaneConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): DataplaneConfig {
  const flags = new FlagReader(DATAPLANE_FLAGS, argv, env);
  const workersText = flags.string('workers') ?? 'auto';
  const workers =
    workersText === 'auto' ? availableParallelism() : flags.integer('workers', 1, 256);
  const defaultCertFile = flags.string('default-cert-file');
  const defaultKeyFile = flags.string('default-key-file');
  if ((defaultCertFile === undefined) !== (defaultKeyFile === undefined)) {
    flags.errorAbout(['default-cert-file', 'default-key-file'], 'give both or neither');
  }
  const http = optionalListen(flags, 'http-listen');
  const https = optionalListen(flags, 'https-listen');
  if (!http && !https)
    flags.errorAbout(['http-listen', 'https-listen'], 'at least one listener is needed');
  const config: DataplaneConfig = {
    nodeName: flags.string('node-name') ?? hostname(),
    redisUrl: flags.redisUrl('redis-url'),
    redisPassword: flags.string('redis-password'),
    keyRingFile: flags.string('key-ring-file') ?? '',
    http,
    https,
    ops: flags.listen('ops-listen'),
    stateFile: flags.required('state-file'),
    defaultCertFile,
    defaultKeyFile,
    workers,
    connectTimeoutMs: flags.duration('connect-timeout'),
    responseHeaderTimeoutMs: flags.duration('response-header-timeout'),
    idleTimeoutMs: flags.duration('idle-timeout'),
    maxRequestBodyBytes: flags.integer('max-body-size', 0, Number.MAX_SAFE_INTEGER),
    maxHeaderBytes: flags.integer('max-header-size', 1024, 1024 * 1024),
    requestHeadersTimeoutMs: flags.duration('request-headers-timeout'),
    trustedProxies: (flags.string('trusted-proxies') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    drainGraceMs: flags.duration('drain-grace', { allowZero: true }),
    accessLog: flags.boolean('access-log'),
    logLevel: flags.oneOf('log-level', LOG_LEVELS),
    l2: l2Timing(flags),
  };
  flags.finish();
  return Object.freeze(config);
}

function l2Timing(flags: FlagReader): L2Timing | undefined {
  const timing = {
    leaseTtlMs: flags.duration('l2-lease-ttl'),
    renewIntervalMs: flags.duration('l2-renew-interval'),
  };
  if (!flags.boolean('l2')) return undefined;
  try {
    assertL2Timing(timing);
  } catch (err) {
    flags.errorAbout(['l2-lease-ttl', 'l2-renew-interval'], (err as Error).message);
  }
  return Object.freeze(timing);
}
