/**
 * Running wrk and reading its report, with the busy share of each core during the run, and a
 * small LD_PRELOAD shim that makes wrk do a full TLS handshake on every new connection.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTracked } from './bench-processes.ts';

/** One wrk run, as wrk reports it. */
export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses. */
  errors: number;
  /** Busy share (0..1) of each core during the run, from /proc/stat. */
  coreBusy: number[];
  /** CPU the server's processes used during the run, in cores (all threads), when measured. */
  processCpu?: number;
  /** Share of the machine other processes used during the run, when measured. */
  foreign?: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  /** Host header. */
  host: string;
  /** `taskset -c <cores>` for wrk; unpinned when absent. */
  cores?: string;
  /** Send `Connection: close`: one request per connection. */
  close?: boolean;
  /** Extra environment (LD_PRELOAD). */
  env?: Record<string, string>;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Milliseconds from wrk's `1.23ms` / `456.00us` / `1.01s`. */
function wrkDuration(value: string, unit: string): number {
  return Number(value) * (UNIT_MS[unit] ?? Number.NaN);
}

/** Parses wrk's report (with --latency). @throws Error when a figure is missing. */
export function parseWrk(output: string): Omit<WrkResult, 'coreBusy'> {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const requests = /^\s*(\d+) requests in /m.exec(output);
  const percentile = (p: number): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return m ? wrkDuration(m[1] as string, m[2] as string) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const result = {
    rps: Number(rps?.[1]),
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    requests: Number(requests?.[1]),
    errors:
      (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
      (non2xx ? Number(non2xx[1]) : 0),
  };
  if (![result.rps, result.p50Ms, result.p99Ms, result.requests].every(Number.isFinite)) {
    throw new Error(`cannot read wrk's report:\n${output}`);
  }
  return result;
}

/** Busy and total jiffies per core (`cpu0`, `cpu1`, ...). */
function coreTimes(): Array<{ busy: number; total: number }> {
  const times: Array<{ busy: number; total: number }> = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const fields = (m[2] as string).trim().split(/\s+/).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    times[Number(m[1])] = { busy: total - idle, total };
  }
  return times;
}

/** Runs wrk once: `-t1 -c<n> -d<s>s --latency -H 'Host: ...' [-H 'Connection: close'] url`. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const wrkArgs = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '--latency',
    '-H',
    `Host: ${options.host}`,
    ...(options.close ? ['-H', 'Connection: close'] : []),
    options.url,
  ];
  const [command, args] = options.cores
    ? ['taskset', ['-c', options.cores, 'wrk', ...wrkArgs]]
    : ['wrk', wrkArgs];
  const before = coreTimes();
  const { stdout } = await runTracked(command as string, args as string[], {
    env: { ...process.env, ...options.env },
    timeoutMs: (options.seconds + 30) * 1000,
  });
  const after = coreTimes();
  const coreBusy = after.map((a, i) => {
    const b = before[i] ?? { busy: 0, total: 0 };
    return a.total > b.total ? (a.busy - b.busy) / (a.total - b.total) : 0;
  });
  return { ...parseWrk(stdout), coreBusy };
}

/**
 * wrk keeps the TLS session of a connection and offers it when it reconnects, so with
 * `Connection: close` every handshake after the first is a resumption (TLS 1.3 PSK with ECDHE:
 * no certificate, no signature). Preloading this shim drops the session before each handshake,
 * so every connection pays for a full one.
 */
const FRESH_SESSION_SHIM = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>

/* Before a handshake starts, forget the session wrk kept from the previous connection. */
int SSL_connect(SSL *s) {
  static int (*real)(SSL *);
  if (!real) real = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
  if (SSL_in_before(s)) SSL_set_session(s, NULL);
  return real(s);
}
`;

/** Builds the shim with gcc into `dir`; undefined (with the reason logged) when it cannot. */
export async function buildFreshSessionShim(dir: string): Promise<string | undefined> {
  const source = join(dir, 'wrk-fresh-session.c');
  const library = join(dir, 'wrk-fresh-session.so');
  writeFileSync(source, FRESH_SESSION_SHIM);
  const { code, stderr } = await runTracked(
    'gcc',
    ['-shared', '-fPIC', '-O2', '-o', library, source, '-ldl'],
    { allowFailure: true },
  );
  if (code !== 0) {
    console.error(`no full-handshake runs: gcc failed: ${stderr.trim()}`);
    return undefined;
  }
  return library;
}

/** System calls by name, from the summary `strace -c` writes. */
export function parseStraceSummary(text: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m && m[2] !== 'total') calls.set(m[2] as string, Number(m[1]));
  }
  return calls;
}

/** System calls per request by kind, from `strace -c` counts over `requests` requests. */
export interface SyscallsPerRequest {
  reads: number;
  writes: number;
  epoll: number;
  /** Everything else but futex (thread wake-ups), including accept/close/setsockopt. */
  other: number;
  /** The most frequent calls, per request. */
  top: Array<{ name: string; perRequest: number }>;
}

const READS = new Set(['read', 'readv', 'recvfrom', 'recvmsg', 'recvmmsg']);
const WRITES = new Set(['write', 'writev', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile']);

export function syscallsPerRequest(
  calls: Map<string, number>,
  requests: number,
): SyscallsPerRequest {
  let reads = 0;
  let writes = 0;
  let epoll = 0;
  let other = 0;
  for (const [name, n] of calls) {
    if (READS.has(name)) reads += n;
    else if (WRITES.has(name)) writes += n;
    else if (name.startsWith('epoll_')) epoll += n;
    else if (name !== 'futex') other += n;
  }
  const per = (n: number): number => n / Math.max(1, requests);
  return {
    reads: per(reads),
    writes: per(writes),
    epoll: per(epoll),
    other: per(other),
    top: [...calls]
      .filter(([name]) => name !== 'futex')
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, n]) => ({ name, perRequest: per(n) })),
  };
}
