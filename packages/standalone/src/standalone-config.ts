/**
 * Configuration of `pier standalone`: flags and environment, parsed and checked once at start-up
 * into a frozen object; every mistake is one line naming the flag and its variable. Also decides
 * the mode: in-memory (the default), or the real store and cluster when `REDIS_URL` and
 * `KUBECONFIG` are both set.
 */
import { relative, resolve } from 'node:path';
import {
  FlagReader,
  type FlagSpecs,
  flagUsage,
  InvalidConfigError,
  LOG_LEVELS,
  type LogLevel,
} from '@pier/shared';

/** The directory of examples shipped with Pier, relative to the repository root. */
export const EXAMPLE_MANIFESTS = 'examples/standalone';

export const DEMO_BACKEND_MODES = ['auto', 'on', 'off'] as const;

export interface StandaloneConfig {
  /** The manifest directory as given (for messages) and resolved. */
  readonly manifests: string;
  readonly manifestsPath: string;
  readonly http: { host: string; port: number } | undefined;
  readonly https: { host: string; port: number } | undefined;
  readonly ops: { host: string; port: number };
  /** The read-only web dashboard; undefined when turned off. */
  readonly dashboard: { host: string; port: number } | undefined;
  /** Whether to run demo backends for the loopback endpoints of the EndpointSlices. */
  readonly demoBackends: boolean;
  /** Where public files for the user go (the self-signed certificates). */
  readonly stateDir: string;
  readonly drainGraceMs: number;
  readonly accessLog: boolean;
  readonly logLevel: LogLevel;
}

export const STANDALONE_FLAGS: FlagSpecs = Object.freeze({
  manifests: {
    env: 'PIER_MANIFESTS',
    help: `directory of YAML manifests to serve, watched: edits are live (default: Pier's ${EXAMPLE_MANIFESTS})`,
  },
  'http-listen': {
    env: 'PIER_STANDALONE_HTTP_LISTEN',
    default: '127.0.0.1:8080',
    help: 'plain HTTP listener ("off" to disable)',
  },
  'https-listen': {
    env: 'PIER_STANDALONE_HTTPS_LISTEN',
    default: '127.0.0.1:8443',
    help: 'HTTPS listener ("off" to disable)',
  },
  'ops-listen': {
    env: 'PIER_STANDALONE_OPS_LISTEN',
    default: '127.0.0.1:9090',
    help: '/metrics, /healthz, /readyz',
  },
  'dashboard-listen': {
    env: 'PIER_STANDALONE_DASHBOARD_LISTEN',
    default: '127.0.0.1:9092',
    help: 'the read-only web dashboard ("off" to disable)',
  },
  'demo-backends': {
    env: 'PIER_DEMO_BACKENDS',
    default: 'auto',
    help: 'run demo backends on the loopback endpoints of the EndpointSlices: on, off, or auto (on for the shipped examples only)',
  },
  'state-dir': {
    env: 'PIER_STATE_DIR',
    help: "where the self-signed demo certificates are written, never keys (default: .pier in Pier's repository)",
  },
  'drain-grace': {
    env: 'PIER_DRAIN_GRACE',
    default: '2s',
    help: 'on Ctrl-C or SIGTERM, time for in-flight requests',
  },
  'access-log': { env: 'PIER_ACCESS_LOG', default: 'false', help: 'log every request (pino JSON)' },
  'log-level': {
    env: 'PIER_LOG_LEVEL',
    default: 'warn',
    help: `level of the JSON logs on stderr: one of ${LOG_LEVELS.join(', ')}`,
  },
});

export function standaloneUsage(): string {
  return flagUsage('pier standalone', STANDALONE_FLAGS);
}

/** Which store and cluster the command uses. */
export type StandaloneMode = 'memory' | 'cluster';

/**
 * `cluster` when both `REDIS_URL` and `KUBECONFIG` are set, `memory` when neither is.
 *
 * @throws InvalidConfigError naming the missing one when only one is set: half of the real
 *   system would silently do nothing (a controller without Redis publishes nowhere, a dataplane
 *   without a cluster gets no tables).
 */
export function standaloneMode(env: Readonly<Record<string, string | undefined>>): StandaloneMode {
  const redis = (env.REDIS_URL ?? '') !== '';
  const kube = (env.KUBECONFIG ?? '') !== '';
  if (redis && kube) return 'cluster';
  if (!redis && !kube) return 'memory';
  const [set, unset] = redis ? ['REDIS_URL', 'KUBECONFIG'] : ['KUBECONFIG', 'REDIS_URL'];
  throw new InvalidConfigError(
    `${set} is set but ${unset} is not: set both to run on the real cluster and Redis, or neither for the in-memory demo`,
  );
}

function optionalListen(
  flags: FlagReader,
  flag: string,
): { host: string; port: number } | undefined {
  return flags.string(flag) === 'off' ? undefined : flags.listen(flag);
}

/** Where paths are taken from. */
export interface StandalonePaths {
  /** Pier's repository (the examples, the default state directory). */
  root: string;
  /** The user's working directory: relative paths they give are taken from it. */
  cwd: string;
}

/**
 * Parses the in-memory mode's configuration.
 *
 * @throws InvalidConfigError with one line per mistake.
 */
export function parseStandaloneConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  paths: StandalonePaths,
): StandaloneConfig {
  const { root, cwd } = paths;
  const flags = new FlagReader(STANDALONE_FLAGS, argv, env);
  const examples = resolve(root, EXAMPLE_MANIFESTS);
  const manifestsPath = resolve(cwd, flags.string('manifests') ?? examples);
  const manifests = relative(cwd, manifestsPath) || '.';
  const http = optionalListen(flags, 'http-listen');
  const https = optionalListen(flags, 'https-listen');
  if (!http && !https) {
    flags.errorAbout(['http-listen', 'https-listen'], 'at least one listener is needed');
  }
  const demo = flags.oneOf('demo-backends', DEMO_BACKEND_MODES);
  const config: StandaloneConfig = {
    manifests,
    manifestsPath,
    http,
    https,
    ops: flags.listen('ops-listen'),
    dashboard: optionalListen(flags, 'dashboard-listen'),
    demoBackends: demo === 'on' || (demo === 'auto' && manifestsPath === examples),
    stateDir: resolve(cwd, flags.string('state-dir') ?? resolve(root, '.pier')),
    drainGraceMs: flags.duration('drain-grace', { allowZero: true }),
    accessLog: flags.boolean('access-log'),
    logLevel: flags.oneOf('log-level', LOG_LEVELS),
  };
  flags.finish();
  return Object.freeze(config);
}
