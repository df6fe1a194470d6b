/**
 * The controller's configuration: flags and environment, parsed and checked
 * once at start-up into a frozen object. Every mistake is reported on a line
 * of its own naming the flag (and its variable).
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { InvalidConfigError, LOG_LEVELS, type LogLevel, parseDuration } from '@pier/shared';
import { leaseTimingProblem } from './leader-elector.ts';

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
  readonly logLevel: LogLevel;
  readonly shutdownGraceMs: number;
  /** Redis holding the published route tables; the password may come separately. */
  readonly redisUrl: string;
  readonly redisPassword: string | undefined;
  /** File with the key ring that seals TLS private keys (`keyId=base64` lines, current first). */
  readonly keyRingFile: string;
}

interface FlagSpec {
  env: string;
  default?: string;
  help: string;
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
});

export function controllerUsage(): string {
  const lines = Object.entries(CONTROLLER_FLAGS).map(
    ([flag, spec]) =>
      `  --${flag.padEnd(16)} $${spec.env.padEnd(20)} ${spec.help}${spec.default ? ` [${spec.default}]` : ''}`,
  );
  return `usage: pier-controller [flags]\n\n${lines.join('\n')}`;
}

/** host:port, with [v6]:port; returns undefined when malformed. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 0 || port > 65535) return undefined;
  return { host: match[1] ?? match[2] ?? '', port };
}

/**
 * Parses `argv` (without node and script) and `env`. Throws InvalidConfigError
 * whose message has one line per mistake.
 */
export function parseControllerConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ControllerConfig {
  const options = Object.fromEntries(
    Object.keys(CONTROLLER_FLAGS).map((flag) => [flag, { type: 'string' as const }]),
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new InvalidConfigError((err as Error).message);
  }
  const errors: string[] = [];
  const raw = (flag: string): string | undefined => {
    const spec = CONTROLLER_FLAGS[flag] as FlagSpec;
    const v = values[flag];
    if (typeof v === 'string') return v;
    const fromEnv = env[spec.env];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.default;
  };
  const where = (flag: string): string =>
    `--${flag} ($${(CONTROLLER_FLAGS[flag] as FlagSpec).env})`;
  const duration = (flag: string): number => {
    const text = raw(flag) ?? '';
    try {
      const ms = parseDuration(text);
      if (ms <= 0) throw new Error('must be positive');
      return ms;
    } catch (err) {
      errors.push(
        `${where(flag)}: "${text}" is not a positive duration (${(err as Error).message})`,
      );
      return 1;
    }
  };

  const leaseDurationMs = duration('lease-duration');
  const renewDeadlineMs = duration('renew-deadline');
  const retryPeriodMs = duration('retry-period');
  const shutdownGraceMs = duration('shutdown-grace');
  if (errors.length === 0) {
    const problem = leaseTimingProblem({ leaseDurationMs, renewDeadlineMs, retryPeriodMs });
    if (problem) errors.push(`--lease-duration/--renew-deadline/--retry-period: ${problem}`);
  }
  const listenText = raw('listen') ?? '';
  const listen = parseListen(listenText);
  if (!listen) errors.push(`${where('listen')}: "${listenText}" is not host:port`);
  const logLevel = raw('log-level') ?? '';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    errors.push(`${where('log-level')}: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const leaseNamespace = raw('lease-namespace') ?? '';
  const leaseName = raw('lease-name') ?? '';
  const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  if (!dnsLabel.test(leaseNamespace))
    errors.push(`${where('lease-namespace')}: "${leaseNamespace}" is not a namespace name`);
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(leaseName)) {
    errors.push(`${where('lease-name')}: "${leaseName}" is not an object name`);
  }
  const redisUrl = raw('redis-url') ?? '';
  if (redisUrl === '') errors.push(`${where('redis-url')}: required`);
  else if (!/^rediss?:\/\/[^\s/]+(\/\d*)?$/.test(redisUrl)) {
    errors.push(`${where('redis-url')}: "${redisUrl}" is not redis://[:password@]host:port[/db]`);
  }
  const keyRingFile = raw('key-ring-file') ?? '';
  if (errors.length > 0) throw new InvalidConfigError(errors.join('\n'));
  return Object.freeze({
    kubeconfig: raw('kubeconfig'),
    identity: raw('identity') ?? hostname(),
    leaseNamespace,
    leaseName,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    listenHost: listen?.host ?? '0.0.0.0',
    listenPort: listen?.port ?? 9090,
    logLevel: logLevel as LogLevel,
    shutdownGraceMs,
    redisUrl,
    redisPassword: raw('redis-password'),
    keyRingFile,
  });
}
