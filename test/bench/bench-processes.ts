/**
 * Processes a benchmark starts, each in its own process group so that a server with worker
 * processes (nginx, HAProxy, a multi-worker dataplane) is stopped as a whole. Every group and
 * every tracked child is killed when the benchmark exits, on error or on Ctrl-C too.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';

/** A process group led by a child this benchmark started. */
export interface GroupProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the leader has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has ended. */
  stop(graceMs?: number): Promise<void>;
}

const groups = new Set<ChildProcess>();
const children = new Set<ChildProcess>();
let hooked = false;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of groups) signalGroup(child, 'SIGKILL');
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}; stopping every process started`);
      process.exit(130);
    });
  }
}

/** Kills `child` (not a group leader, e.g. redis-server from startRedis) if this process exits. */
export function trackChild(child: ChildProcess): void {
  hookExit();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Starts `command` as the leader of a new process group, output appended to `logFile`. */
export function startGroup(
  name: string,
  command: string,
  args: readonly string[],
  logFile: string,
  options: Pick<SpawnOptions, 'cwd' | 'env'> = {},
): GroupProcess {
  hookExit();
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(command, args, {
    ...options,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  groups.add(child);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      // Workers the leader left behind (there should be none) go with it.
      signalGroup(child, 'SIGKILL');
      groups.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      groups.delete(child);
      resolve(`spawn error: ${err.message}`);
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: ${command} did not start`);
  const pid = child.pid;
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { name, pid, child, logFile, exited, stop };
}

/**
 * Runs a command to completion (killed on exit of this process, and after `timeoutMs`) and
 * returns its output; rejects on a non-zero exit unless `allowFailure`.
 */
export async function runTracked(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: options.env } : {}),
  });
  trackChild(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number>((resolve) => {
    child.once('close', (c) => resolve(c ?? -1));
    child.once('error', () => resolve(-1));
  });
  clearTimeout(timer);
  if (code !== 0 && !options.allowFailure) {
    throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr || stdout}`);
  }
  return { code, stdout, stderr };
}

/** Sum of VmRSS and of VmHWM over every process of a process group, bytes. */
export function groupMemory(pgid: number): { rss: number; hwm: number; processes: number } {
  let rss = 0;
  let hwm = 0;
  let processes = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== pgid) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      rss += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
      hwm += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
      processes++;
    } catch {
      // The process ended while we looked.
    }
  }
  return { rss, hwm, processes };
}

/** Where the machine's CPU time went so far: all of it, busy, and this benchmark's own. */
export interface CpuSnapshot {
  /** Clock ticks of all cores, idle included. */
  total: number;
  /**
   * User, nice, system, irq and softirq ticks of all cores. Interrupt time belongs in: Linux
   * shows it apart here, but charges it to the process it interrupted in that process's times.
   */
  busy: number;
  /** Ticks used by this benchmark: this process, its children (reaped ones included) and groups. */
  mine: number;
}

/**
 * A {@link CpuSnapshot}. "Mine" counts this process with its reaped children (wrk runs end
 * before the second snapshot), its live children (redis-server) and every process in a group
 * it started. Other processes, short-lived ones too, show as busy time that is not mine.
 */
export function cpuSnapshot(): CpuSnapshot {
  const cpuLine = /^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '';
  const f = cpuLine.trim().split(/\s+/).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0);
  const leaders = new Set([...groups].map((c) => c.pid));
  let mine = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const x = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      if (pid === process.pid) {
        // utime stime cutime cstime
        mine += Number(x[11]) + Number(x[12]) + Number(x[13]) + Number(x[14]);
      } else if (Number(x[1]) === process.pid || leaders.has(Number(x[2]))) {
        mine += Number(x[11]) + Number(x[12]);
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return { total, busy, mine };
}

/** Share of the machine's time that other processes used between two snapshots. */
export function foreignShare(before: CpuSnapshot, after: CpuSnapshot): number {
  const total = after.total - before.total;
  if (total <= 0) return 0;
  const others = after.busy - before.busy - (after.mine - before.mine);
  return Math.min(1, Math.max(0, others / total));
}

/** CPU time (clock ticks, all threads) used so far by the processes of a process group. */
export function groupCpuTicks(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks;
}

/** The pids of the processes of a process group. */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) {
        pids.push(Number(entry));
      }
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}
