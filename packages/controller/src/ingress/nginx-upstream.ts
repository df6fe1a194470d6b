/**
 * ingress-nginx's `proxy-connect-timeout`, `proxy-read-timeout`, `proxy-send-timeout` and the
 * `proxy-next-upstream` family, read as its proxy annotation parser reads them (whole seconds, `strconv.Atoi`; the
 * retry conditions as `proxy_next_upstream` words) into a route's {@link UpstreamPolicy}. Pure.
 *
 * Its defaults (`error timeout`, 3 tries, no time limit) apply to every Ingress of an
 * ingress-nginx class, as in ingress-nginx; on Pier's own classes the dataplane's retry rule
 * stays unless an annotation of the family is set.
 */
import {
  MAX_ROUTE_TIMEOUT_MS,
  RETRY_STATUSES,
  type RetryPolicy,
  type UpstreamPolicy,
} from '@pier/shared';
import type { NginxDialect } from './nginx-annotations.ts';

/** ingress-nginx's `proxy-next-upstream` default. */
export const DEFAULT_NEXT_UPSTREAM = 'error timeout';
/** ingress-nginx's `proxy-next-upstream-tries` default. */
export const DEFAULT_NEXT_UPSTREAM_TRIES = 3;

const WORDS: ReadonlySet<string> = new Set([
  'error',
  'timeout',
  'invalid_header',
  'non_idempotent',
  'off',
  ...RETRY_STATUSES.map((s) => `http_${s}`),
]);
const MAX_SECONDS = MAX_ROUTE_TIMEOUT_MS / 1000;
/** What a bad `proxy-send-timeout` leaves: Pier has no send timeout of its own. */
const NO_SEND = "no send timeout applies (the listener's request timeout bounds the upload)";

/** Reads one annotation (trimmed; undefined when absent or empty). */
type Read = (name: string) => string | undefined;
/** Reports a bad value of one annotation. */
type Problem = (name: string, message: string) => void;

/** The route policy the annotations ask for, or undefined when they ask for nothing. */
export function parseNginxUpstream(
  read: Read,
  problem: Problem,
  dialect: NginxDialect,
): UpstreamPolicy | undefined {
  const policy: UpstreamPolicy = {};
  const connect = seconds(read, problem, 'proxy-connect-timeout', 1);
  if (connect !== undefined) policy.connectTimeoutMs = connect * 1000;
  const readTimeout = seconds(read, problem, 'proxy-read-timeout', 1);
  if (readTimeout !== undefined) policy.readTimeoutMs = readTimeout * 1000;
  const send = seconds(read, problem, 'proxy-send-timeout', 1, MAX_SECONDS, 'seconds', NO_SEND);
  if (send !== undefined) policy.sendTimeoutMs = send * 1000;

  const named = ['proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout'];
  if (dialect.nginxClass || named.some((name) => read(name) !== undefined)) {
    policy.retry = retryPolicy(read, problem);
  }
  return Object.keys(policy).length === 0 ? undefined : policy;
}

function retryPolicy(read: Read, problem: Problem): RetryPolicy {
  let words = DEFAULT_NEXT_UPSTREAM.split(' ');
  const text = read('proxy-next-upstream');
  if (text !== undefined) {
    const given = text.split(/\s+/);
    const bad = given.find((word) => !WORDS.has(word));
    if (bad === undefined) words = given;
    else
      problem(
        'proxy-next-upstream',
        `'${bad}' is not one of ${[...WORDS].join(', ')}; using '${DEFAULT_NEXT_UPSTREAM}'`,
      );
  }
  const off = words.includes('off');
  const tries = seconds(read, problem, 'proxy-next-upstream-tries', 0, 100, 'tries');
  const timeout = seconds(read, problem, 'proxy-next-upstream-timeout', 0);
  return {
    tries: tries ?? DEFAULT_NEXT_UPSTREAM_TRIES,
    timeoutMs: (timeout ?? 0) * 1000,
    onError: !off && words.includes('error'),
    onTimeout: !off && words.includes('timeout'),
    onInvalidHeader: !off && words.includes('invalid_header'),
    statuses: off ? [] : RETRY_STATUSES.filter((s) => words.includes(`http_${s}`)),
    nonIdempotent: !off && words.includes('non_idempotent'),
  };
}

/** A whole number of seconds (or `unit`) from `min` to `max`; a bad one is reported, with what then applies. */
function seconds(
  read: Read,
  problem: Problem,
  name: string,
  min: number,
  max = MAX_SECONDS,
  unit = 'seconds',
  instead = "ingress-nginx's default applies",
): number | undefined {
  const text = read(name);
  if (text === undefined) return undefined;
  const value = /^[0-9]{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if (value >= min && value <= max) return value;
  problem(name, `'${text}' is not a whole number of ${unit} from ${min} to ${max}; ${instead}`);
  return undefined;
}
