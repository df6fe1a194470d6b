import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type ManagedProcess, run, startProcess, waitUntil } from './child-process.ts';

/** A redis-server started for tests: loopback, persistence off, AUTH on. */
export interface TestRedis {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  /** `redis://:password@127.0.0.1:port` */
  readonly url: string;
  /** The Unix socket, when one was asked for (reachable from every network namespace). */
  readonly unixSocket: string | undefined;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

/** Asks the kernel for a free loopback TCP port. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/**
 * Starts Debian's redis-server on a free loopback port. `port` and `password`
 * may be given to restart a server at the same address (tests that stop Redis
 * and bring it back).
 */
export async function startRedis(
  stateDir: string,
  options: { port?: number; password?: string; unixSocket?: string } = {},
): Promise<TestRedis> {
  mkdirSync(stateDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const password = options.password ?? randomBytes(18).toString('base64url');
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--requirepass',
    password,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    stateDir,
    '--protected-mode',
    'yes',
    '--loglevel',
    'warning',
    ...(options.unixSocket ? ['--unixsocket', options.unixSocket, '--unixsocketperm', '700'] : []),
  ];
  const proc = startProcess('redis-server', args, join(stateDir, `redis-${port}.log`));
  await waitUntil(
    `redis-server on port ${port}`,
    async () => {
      const exited = await Promise.race([proc.exited, Promise.resolve(undefined)]);
      if (exited !== undefined) throw new Error(`redis-server exited: ${exited}`);
      const { code, stdout } = await run(
        'redis-cli',
        ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning', '-a', password, 'PING'],
        { allowFailure: true },
      );
      return code === 0 && stdout.trim() === 'PONG' ? true : undefined;
    },
    15_000,
    50,
  );
  return {
    host: '127.0.0.1',
    port,
    password,
    url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    unixSocket: options.unixSocket,
    process: proc,
    stop: () => proc.stop(5_000),
  };
}
