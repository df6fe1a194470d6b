import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ManagedProcess, startProcess, unlessExited, waitUntil } from './child-process.ts';
import { testEnv } from './env.ts';
import { REPO_ROOT } from './test-cluster.ts';

/** `./pier standalone` as a user starts it, with its output in a log file. */
export interface StandaloneProcess {
  readonly process: ManagedProcess;
  /** Everything it printed so far (stdout lines and stderr JSON logs, interleaved). */
  output(): string;
  /** Waits until the output has a line containing `text`, printed after `from` characters. */
  waitFor(text: string, timeoutMs?: number, from?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The environment without anything that would switch standalone to the real cluster or Redis. */
export function standaloneEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'REDIS_URL' || name === 'KUBECONFIG' || name.startsWith('PIER_')) delete env[name];
  }
  return { ...env, ...extra };
}

/**
 * Runs `./pier <args>` from the repository root and, unless `ready` is false, resolves once the
 * start-up summary is printed.
 */
export async function startStandalone(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; ready?: boolean; name?: string } = {},
): Promise<StandaloneProcess> {
  const logFile = join(testEnv().stateDir, `${options.name ?? 'standalone'}-${Date.now()}.log`);
  const proc = startProcess(join(REPO_ROOT, 'pier'), ['standalone', ...args], logFile, {
    cwd: REPO_ROOT,
    env: options.env ?? standaloneEnv(),
  });
  const output = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const waitFor = (text: string, timeoutMs = 30_000, from = 0): Promise<void> =>
    unlessExited(
      proc,
      'pier standalone',
      waitUntil(
        `"${text}" in the output of pier standalone`,
        () => (output().slice(from).includes(text) ? true : undefined),
        timeoutMs,
        50,
      ),
    ).then(() => undefined);
  if (options.ready !== false) await waitFor('Ctrl-C stops.', 60_000);
  return { process: proc, output, waitFor, stop: () => proc.stop(15_000) };
}
