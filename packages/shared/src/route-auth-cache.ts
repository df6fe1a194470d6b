/**
 * The cache of auth answers (`route.externalAuth.cache`, ingress-nginx's `auth-cache-key` and
 * `auth-cache-duration`): nginx's `proxy_cache_valid` syntax, how long an answer is kept as
 * nginx's proxy cache decides it, and validation of the field. Pure.
 */
import { fail, isObject, type Report, readString } from './field-reader.ts';
import { compileNginxString } from './nginx-string.ts';
import type { AuthCache, AuthCacheValid } from './route-table.ts';

/** ingress-nginx's default `auth-cache-duration`. */
export const DEFAULT_AUTH_CACHE_DURATION = '200 202 401 5m';
/** The longest `auth-cache-key` accepted. */
export const MAX_AUTH_CACHE_KEY_LENGTH = 256;
/** The most `proxy_cache_valid` entries a route carries. */
const MAX_VALID_ENTRIES = 16;
/** The longest an answer is kept (nginx accepts more; a year is plenty). */
const MAX_VALID_MS = 365 * 24 * 3600 * 1000;

/** nginx's time units in seconds (`ngx_parse_time` in seconds: no ms). */
const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  M: 30 * 86_400,
  y: 365 * 86_400,
};

/**
 * `auth-cache-duration`: comma-separated `proxy_cache_valid` entries, each status codes (or
 * `any`) then one time (`200 202 10m, 401 5m`); or a string saying why not.
 */
export function parseAuthCacheDuration(text: string): AuthCacheValid[] | string {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) return 'names no duration';
  if (entries.length > MAX_VALID_ENTRIES) return `has more than ${MAX_VALID_ENTRIES} entries`;
  const valid: AuthCacheValid[] = [];
  for (const entry of entries) {
    const words = entry.split(/\s+/);
    const time = /^([0-9]{1,9})([smhdwMy])$/.exec(words.at(-1) ?? '');
    if (time === null) return `'${entry}' does not end in one time such as 30s, 5m or 1h`;
    const ms = Number(time[1]) * (UNIT_SECONDS[time[2] as string] as number) * 1000;
    let statuses: number[] | 'any' = [];
    for (const word of words.slice(0, -1)) {
      if (word === 'any') statuses = 'any';
      else if (/^[1-5][0-9][0-9]$/.test(word)) {
        if (statuses !== 'any') statuses.push(Number(word));
      } else return `'${word}' in '${entry}' is not a status code (100-599) or any`;
    }
    valid.push({ statuses, ms: Math.min(ms, MAX_VALID_MS) });
  }
  return valid;
}

/** Why `key` cannot be an `auth-cache-key`, or undefined. */
export function authCacheKeyProblem(key: string): string | undefined {
  const parts = compileNginxString(key, MAX_AUTH_CACHE_KEY_LENGTH);
  return typeof parts === 'string' ? parts : undefined;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * How long an answer of `status` with `headers` is kept, ms; 0, not at all. As nginx's proxy
 * cache: not with `Set-Cookie`, `Vary: *` or `Cache-Control` `private`, `no-cache` or
 * `no-store`; `X-Accel-Expires`, then `Cache-Control: max-age`, then `Expires` (against
 * `now`) win over the first `valid` entry covering the status.
 */
export function authCacheMs(
  status: number,
  headers: Headers,
  valid: readonly AuthCacheValid[],
  now: number,
): number {
  const one = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  if (headers['set-cookie'] !== undefined) return 0;
  if (one('vary')?.trim() === '*') return 0;
  const accel = one('x-accel-expires');
  if (accel !== undefined) {
    if (/^[0-9]+$/.test(accel.trim())) return Math.min(Number(accel) * 1000, MAX_VALID_MS);
    if (/^@[0-9]+$/.test(accel.trim()))
      return Math.max(0, Math.min(Number(accel.trim().slice(1)) * 1000 - now, MAX_VALID_MS));
  }
  const control = one('cache-control')?.toLowerCase();
  if (control !== undefined) {
    if (/(^|[\s,])(private|no-cache|no-store)([\s,=]|$)/.test(control)) return 0;
    const maxAge = /(^|[\s,])max-age=([0-9]+)/.exec(control);
    if (maxAge !== null) return Math.min(Number(maxAge[2]) * 1000, MAX_VALID_MS);
  }
  const expires = one('expires');
  if (expires !== undefined) {
    const at = Date.parse(expires);
    return Number.isNaN(at) ? 0 : Math.max(0, Math.min(at - now, MAX_VALID_MS));
  }
  for (const entry of valid) {
    const covers =
      entry.statuses === 'any' ||
      (entry.statuses.length === 0 ? [200, 301, 302] : entry.statuses).includes(status);
    if (covers) return entry.ms;
  }
  return 0;
}

/** Checks `externalAuth.cache`; undefined with a problem reported when it is wrong. */
export function checkAuthCache(raw: unknown, at: string, report: Report): AuthCache | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const scope = readString(raw, 'scope', at, report, (s) =>
    s.length > 0 && s.length <= 1024 ? undefined : 'must be 1-1024 characters',
  );
  const key = readString(raw, 'key', at, report, authCacheKeyProblem);
  const valid = raw.valid;
  const entries: AuthCacheValid[] = [];
  if (!Array.isArray(valid) || valid.length === 0 || valid.length > MAX_VALID_ENTRIES) {
    report(`${at}valid`, `must be a list of 1-${MAX_VALID_ENTRIES} entries`);
  } else {
    for (const [i, entry] of valid.entries()) {
      const statuses = isObject(entry) ? entry.statuses : undefined;
      const ms = isObject(entry) ? entry.ms : undefined;
      const statusesOk =
        statuses === 'any' ||
        (Array.isArray(statuses) &&
          statuses.every((s) => Number.isInteger(s) && s >= 100 && s <= 599));
      if (
        !statusesOk ||
        !Number.isSafeInteger(ms) ||
        (ms as number) < 0 ||
        (ms as number) > MAX_VALID_MS
      ) {
        report(`${at}valid.${i}`, 'must be { statuses: [100-599] or any, ms }');
      } else {
        entries.push({ statuses: statuses as number[] | 'any', ms: ms as number });
      }
    }
  }
  if (report.count() !== before) return undefined;
  return { scope: scope as string, key: key as string, valid: entries };
}
