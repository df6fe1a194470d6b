import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';

/** A started process whose output goes to a log file. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has ended. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `command` with stdout and stderr appended to `logFile`. stdin is a
 * pipe that stays open: programs that watch it (the test cluster) stop when
 * this process dies, even without a chance to clean up.
 */
export function startProcess(
  command: string,
  args: readonly string[],
  logFile: string,
  options: SpawnOptions = {},
): ManagedProcess {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, logFile, exited, stop };
}

/** Runs a command to completion and returns its output; rejects on a non-zero exit. */
export async function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { input?: string; allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { input, allowFailure, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // A short-lived command may exit before reading its input: ignore EPIPE.
  child.stdin?.on('error', () => undefined);
  if (input === undefined) child.stdin?.end();
  else child.stdin?.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  const result = { code: code ?? -1, stdout, stderr };
  if (result.code !== 0 && !allowFailure) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}: ${stderr || stdout}`);
  }
  return result;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const suffix = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${suffix}`);
}

/**
 * Resolves as `promise` does, but rejects at once if `proc` exits first: a
 * process that crashes at start is reported by its log, not by a time-out.
 */
export function unlessExited<T>(
  proc: ManagedProcess,
  what: string,
  promise: Promise<T>,
): Promise<T> {
  const exited = proc.exited.then((code): never => {
    let log = '';
    try {
      log = readFileSync(proc.logFile, 'utf8').slice(-4000);
    } catch {
      // no log yet
    }
    throw new Error(`${what} exited (${code}) before it was ready:\n${log}`);
  });
  exited.catch(() => undefined);
  return Promise.race([promise, exited]);
}

/** The JSON lines (pino records) written so far to `logFile`; none while it does not exist. */
export function jsonLines<T = Record<string, unknown>>(logFile: string): T[] {
  return (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}
