/**
 * One active health-check request: `GET <path>` to an endpoint, answered by a status or an error
 * within a timeout. Whether the status counts as success is the caller's decision (each backend
 * sharing a probe has its own expected statuses, see {@link probeSucceeded}).
 *
 * On the wire: HTTP/1.1 over plain TCP (TLS for a backend of `protocol: https`) to the pod address, `User-Agent: pier-health-check/<node>`
 * (so a pod's access log shows which edge node probed it), `Host` = the policy's `http.host` or,
 * when unset, the endpoint (`address:port`, what undici sends for the origin), redirects not
 * followed (a 3xx is judged like any status), the body read and discarded up to
 * {@link PROBE_BODY_LIMIT} so a kept-alive connection can be reused.
 */
import { performance } from 'node:perf_hooks';
import { statusInRanges } from '@pier/shared';
import { type Dispatcher, getGlobalDispatcher } from 'undici';
import { ProbeAgent } from './probe-agent.ts';

/** What to probe. */
export interface ProbeTarget {
  /** Pod IPv4 or IPv6 address. */
  address: string;
  /** Port to probe (the policy's port, else the endpoint's). */
  port: number;
  /** Absolute request path, query included. */
  path: string;
  /** Host header; absent: the endpoint (`address:port`). */
  host?: string;
  /** The whole probe (connect, head, body) must end within this, ms; past it the probe failed. */
  timeoutMs: number;
  /** User-Agent header; {@link PROBE_USER_AGENT} when absent. */
  userAgent?: string;
  /** Over TLS, the certificate not verified (a backend of `protocol: https`). */
  tls?: boolean;
}

/** How a probe went. */
export interface ProbeResult {
  /** A response arrived with a status in 200-399 (the default expectation; see {@link probeSucceeded}). */
  ok: boolean;
  /** The response status, when a response arrived in time. */
  status?: number;
  /** Why no response arrived: `timeout`, or the error code (`ECONNREFUSED`, `UND_ERR_SOCKET`…). */
  error?: string;
  /** Time taken, ms. */
  ms: number;
}

/** User-Agent of probes; the health checker appends `/<node>`. */
export const PROBE_USER_AGENT = 'pier-health-check';

/** Largest response body read (and discarded) before the connection is dropped instead, bytes. */
export const PROBE_BODY_LIMIT = 64 * 1024;

const DEFAULT_EXPECTED: ReadonlyArray<readonly [number, number]> = [[200, 399]];

/**
 * Whether a probe result counts as success for a backend expecting `expectedStatuses`: a response
 * arrived and its status is in one of the ranges. An error or timeout is always a failure.
 */
export function probeSucceeded(
  result: Pick<ProbeResult, 'status'>,
  expectedStatuses: ReadonlyArray<readonly [number, number]>,
): boolean {
  return result.status !== undefined && statusInRanges(result.status, expectedStatuses);
}

/** The origin URL of a target, IPv6 in brackets: `http://[2001:db8::1]:8080` (`https://` with TLS). */
export function probeOrigin(target: Pick<ProbeTarget, 'address' | 'port' | 'tls'>): string {
  const host = target.address.includes(':') ? `[${target.address}]` : target.address;
  return `${target.tls === true ? 'https' : 'http'}://${host}:${target.port}`;
}

/** The dispatcher probes go through by default: see {@link ProbeAgent}. */
export function createProbeAgent(): ProbeAgent {
  return new ProbeAgent();
}

/**
 * Sends one probe and reports its status or error. Never rejects: every failure, the timeout
 * included, is a result with `error` set.
 */
export async function probe(
  target: ProbeTarget,
  dispatcher: Dispatcher = getGlobalDispatcher(),
): Promise<ProbeResult> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(TIMEOUT), target.timeoutMs);
  timer.unref();
  const headers: Record<string, string> = {
    'user-agent': target.userAgent ?? PROBE_USER_AGENT,
    accept: '*/*',
  };
  if (target.host !== undefined) headers.host = target.host;
  try {
    const response = await dispatcher.request({
      origin: probeOrigin(target),
      path: target.path,
      method: 'GET',
      headers,
      signal: controller.signal,
    });
    // The status decides; a body cut short (over the limit, or by the timeout) does not matter.
    await response.body.dump({ limit: PROBE_BODY_LIMIT, signal: controller.signal }).catch(noop);
    const status = response.statusCode;
    return {
      ok: probeSucceeded({ status }, DEFAULT_EXPECTED),
      status,
      ms: elapsed(started),
    };
  } catch (err) {
    return { ok: false, error: errorName(err, controller.signal), ms: elapsed(started) };
  } finally {
    clearTimeout(timer);
  }
}

const TIMEOUT = Symbol('probe timeout');

function errorName(err: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason === TIMEOUT) return 'timeout';
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const cause = (err as { cause?: { code?: unknown } }).cause;
    if (typeof cause?.code === 'string' && cause.code !== '') return cause.code;
    if (err instanceof Error) return err.name;
  }
  return 'error';
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

function noop(): void {}
