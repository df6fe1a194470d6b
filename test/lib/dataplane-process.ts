import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  jsonLines,
  type ManagedProcess,
  startProcess,
  unlessExited,
  waitUntil,
} from './child-process.ts';
import { testKeyRingFile } from './controller-process.ts';
import { testEnv } from './env.ts';
import { freePort } from './redis-server.ts';
import { REPO_ROOT } from './test-cluster.ts';

/** A pier-dataplane process started by a test. */
export interface DataplaneProcess {
  readonly process: ManagedProcess;
  readonly node: string;
  readonly host: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly opsPort: number;
  readonly stateFile: string;
  /** JSON log lines so far. */
  logs(): Array<Record<string, unknown>>;
  /** SIGTERM: drains and hands its probes over. */
  stop(): Promise<void>;
  /** SIGKILL: no clean-up. */
  kill(): Promise<void>;
}

export interface DataplaneOptions {
  node: string;
  /** Address the listeners bind (in the suite's namespace any documentation address works). */
  host?: string;
  httpPort?: number;
  httpsPort?: number;
  redisUrl?: string;
  stateFile?: string;
  workers?: number;
  args?: string[];
  /**
   * Run inside this network (and mount) namespace, by the pid of a process in it
   * (`nsenter -t <pid> -n -m`); the ports are then the caller's to choose.
   */
  netns?: number;
}

/**
 * Starts `pier-dataplane` from source on Node 24, with the run's key ring (the
 * one the test controller seals with) and Redis; resolves once it serves.
 */
export async function startDataplane(options: DataplaneOptions): Promise<DataplaneProcess> {
  const env = testEnv();
  const host = options.host ?? '127.0.0.1';
  const httpPort = options.httpPort ?? (await freePort(host));
  const httpsPort = options.httpsPort ?? (await freePort(host));
  const stateFile =
    options.stateFile ?? join(env.stateDir, `dataplane-${options.node}-routes.json`);
  const logFile = join(env.stateDir, `dataplane-${options.node}-${Date.now()}.log`);
  const enter =
    options.netns === undefined
      ? []
      : ['nsenter', '-t', String(options.netns), '-n', '-m', process.execPath];
  const [command = process.execPath, ...prefix] = enter;
  const proc = startProcess(
    command,
    [
      ...prefix,
      '--conditions=@pier/source',
      join(REPO_ROOT, 'packages', 'dataplane', 'src', 'main.ts'),
      '--node-name',
      options.node,
      '--redis-url',
      options.redisUrl ?? env.redisUrl,
      '--key-ring-file',
      testKeyRingFile(),
      '--http-listen',
      `${host.includes(':') ? `[${host}]` : host}:${httpPort}`,
      '--https-listen',
      `${host.includes(':') ? `[${host}]` : host}:${httpsPort}`,
      '--ops-listen',
      '127.0.0.1:0',
      '--state-file',
      stateFile,
      '--workers',
      String(options.workers ?? 1),
      '--drain-grace',
      '5s',
      ...(options.args ?? []),
    ],
    logFile,
    { cwd: REPO_ROOT },
  );
  const logs = (): Array<Record<string, unknown>> => jsonLines(logFile);
  const opsPort = await unlessExited(
    proc,
    `dataplane ${options.node}`,
    waitUntil(`dataplane ${options.node} to serve`, async () => {
      const exited = await Promise.race([proc.exited, Promise.resolve(undefined)]);
      if (exited !== undefined)
        throw new Error(`dataplane exited (${exited}): ${readFileSync(logFile, 'utf8')}`);
      const line = logs().find(
        (l) => l.msg === 'dataplane serving' || l.msg === 'dataplane started',
      );
      return line && typeof line.opsPort === 'number' ? line.opsPort : undefined;
    }),
  );
  return {
    process: proc,
    node: options.node,
    host,
    httpPort,
    httpsPort,
    opsPort,
    stateFile,
    logs,
    stop: () => proc.stop(15_000),
    kill: async () => {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}
