/**
 * The controller's configuration: flags and environment, parsed and checked
 * once at start-up into a frozen object. Every mistake is reported on a line
 * of its own naming the flag (and its variable).
 */
import { hostname } from 'node:os';
import { FlagReader, type FlagSpec, flagUsage, LOG_LEVELS, type LogLevel } from '@pier/shared';
import { leaseTimingProblem } from './kube/leader-elector.ts';

export { parseListen } from '@pier/shared';

export interface ControllerConfig {
  /** Path of a kubeconfig; undefined = in-cluster config, else the default loading rules. */
  readonly kubeconfig: string | undefined;
  readonly identity: string;
  readonly leaseNamespace: string;
  readonly leaseName: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** host:port of the /metrics, /healthz and /readyz server. */
  readonly listenHost: string;
  readonly listenPort: number;
  /** Where the read-only dashboard listens; undefined: no dashboard. */
  readonly dashboard: { host: string; port: number } | undefined;
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  /** Redis holding the published route tables; the password may come separately. */
  readonly redisUrl: string;
  readonly redisPassword: string | undefined;
  /** File with the key ring that seals TLS private keys (`keyId=base64` lines, current first). */
  readonly keyRingFile: string;
  /** Also give addresses to Services of type LoadBalancer that set no loadBalancerClass. */
  readonly servicesWithoutClass: boolean;
  /**
   * IngressClass names also served in ingress-nginx compatibility mode (`nginx`), with
   * ingress-nginx's defaults; empty: none.
   */
  readonly ingressClassCompat: ReadonlySet<string>;
}

/** Every flag, its environment variable and default: also the `--help` text. */
export const CONTROLLER_FLAGS: Readonly<Record<string, FlagSpec>> = Object.freeze({
  kubeconfig: { env: 'KUBECONFIG', help: 'kubeconfig file (default: in-cluster service account)' },
  identity: { env: 'POD_NAME', help: 'identity in the leader Lease (default: host name)' },
  'lease-namespace': {
    env: 'POD_NAMESPACE',
    default: 'pier-system',
    help: 'namespace of the leader Lease',
  },
  'lease-name': {
    env: 'PIER_LEASE_NAME',
    default: 'pier-controller',
    help: 'name of the leader Lease',
  },
  'lease-duration': {
    env: 'PIER_LEASE_DURATION',
    default: '15s',
    help: 'how long a Lease is valid unrenewed',
  },
  'renew-deadline': {
    env: 'PIER_RENEW_DEADLINE',
    default: '10s',
    help: 'leader steps down if it cannot renew within this',
  },
  'retry-period': {
    env: 'PIER_RETRY_PERIOD',
    default: '2s',
    help: 'interval of Lease attempts and renewals',
  },
  listen: {
    env: 'PIER_LISTEN',
    default: '0.0.0.0:9090',
    help: 'address of /metrics, /healthz, /readyz',
  },
  'dashboard-listen': {
    env: 'PIER_DASHBOARD_LISTEN',
    default: '',
    help: 'address of the read-only web dashboard, e.g. 0.0.0.0:9092 (off when empty)',
  },
  'log-level': { env: 'PIER_LOG_LEVEL', default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
  'shutdown-grace': {
    env: 'PIER_SHUTDOWN_GRACE',
    default: '10s',
    help: 'time to finish work on SIGTERM',
  },
  'redis-url': {
    env: 'REDIS_URL',
    help: 'Redis for route tables, e.g. redis://pier-redis:6379 (required)',
  },
  'redis-password': {
    env: 'REDIS_PASSWORD',
    help: 'Redis AUTH password (overrides one in the URL)',
  },
  'key-ring-file': {
    env: 'PIER_KEY_RING_FILE',
    default: '/etc/pier/key-ring/keys',
    help: 'key ring sealing TLS keys in Redis (keyId=base64 lines)',
  },
  'services-without-class': {
    env: 'PIER_SERVICES_WITHOUT_CLASS',
    default: 'false',
    help: 'also serve Services of type LoadBalancer without loadBalancerClass (as MetalLB does)',
  },
  'ingress-class-compat': {
    env: 'PIER_INGRESS_CLASS_COMPAT',
    default: '',
    help: 'comma-separated IngressClass names served as ingress-nginx would, e.g. nginx (off when empty)',
  },
});

export function controllerUsage(): string {
  return flagUsage('pier-controller', CONTROLLER_FLAGS);
}

/**
 * Parses `argv` (without node and script) and `env`. Throws InvalidConfigError
 * whose message has one line per mistake.
 */
export function parseControllerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ControllerConfig {
  const flags = new FlagReader(CONTROLLER_FLAGS, argv, env);
  const leaseDurationMs = flags.duration('lease-duration');
  const renewDeadlineMs = flags.duration('renew-deadline');
  const retryPeriodMs = flags.duration('retry-period');
  const shutdownGraceMs = flags.duration('shutdown-grace');
  if (!flags.hasErrors) {
    const problem = leaseTimingProblem({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
    if (problem) flags.errorAbout(['lease-duration', 'renew-deadline', 'retry-period'], problem);
  }
  const listen = flags.listen('listen');
  const dashboard = flags.string('dashboard-listen') ? flags.listen('dashboard-listen') : undefined;
  const logLevel = flags.oneOf('log-level', LOG_LEVELS);
  const leaseNamespace = flags.string('lease-namespace') ?? '';
  const leaseName = flags.string('lease-name') ?? '';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(leaseNamespace)) {
    flags.error('lease-namespace', `"${leaseNamespace}" is not a namespace name`);
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(leaseName)) {
    flags.error('lease-name', `"${leaseName}" is not an object name`);
  }
  const redisUrl = flags.redisUrl('redis-url');
  const keyRingFile = flags.string('key-ring-file') ?? '';
  const servicesWithoutClass = flags.boolean('services-without-class');
  const ingressClassCompat = parseClassList(flags.string('ingress-class-compat') ?? '');
  if (typeof ingressClassCompat === 'string')
    flags.error('ingress-class-compat', ingressClassCompat);
  flags.finish();
  return Object.freeze({
    kubeconfig: flags.string('kubeconfig'),
    identity: flags.string('identity') ?? hostname(),
    leaseNamespace,
    leaseName,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    listenHost: listen.host,
    listenPort: listen.port,
    dashboard,
    logLevel,
    shutdownGraceMs,
    redisUrl,
    redisPassword: flags.string('redis-password'),
    keyRingFile,
    servicesWithoutClass,
    ingressClassCompat: ingressClassCompat as ReadonlySet<string>,
  });
}

const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `nginx,nginx-internal` → the names; a message naming the bad one otherwise. */
export function parseClassList(text: string): ReadonlySet<string> | string {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const bad = names.find((name) => !OBJECT_NAME.test(name));
  if (bad !== undefined) return `"${bad}" is not an IngressClass name`;
  return new Set(names);
}
