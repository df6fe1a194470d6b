/**
 * The checks of a backend's `balancing` settings in a route table: the algorithm, the hash key
 * and the affinity cookie's name and attributes (route-table-validation.ts checks the rest of
 * the backend). Pure.
 */
import type { Report } from './field-reader.ts';
import {
  fail,
  isObject,
  readBoolean,
  readInteger,
  readOptionalString,
  readString,
} from './field-reader.ts';
import type { AffinityCookie, BalancingSettings } from './route-table.ts';
import { compileHashKey } from './upstream-hash.ts';

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function checkBalancing(raw: unknown, report: Report): BalancingSettings | undefined {
  if (!isObject(raw)) return fail(report, 'balancing', 'must be an object');
  const algorithm = raw.algorithm;
  if (algorithm !== 'p2c' && algorithm !== 'round-robin') {
    return fail(report, 'balancing.algorithm', "must be 'p2c' or 'round-robin'");
  }
  let hashBy: string | undefined;
  if (raw.hashBy !== undefined) {
    hashBy = readString(raw, 'hashBy', 'balancing.', report, (s) => {
      const parts = compileHashKey(s);
      return typeof parts === 'string' ? parts : undefined;
    });
    if (hashBy === undefined) return undefined;
  }
  const settings = checkBalancingAffinity(raw, algorithm, report);
  if (settings !== undefined && hashBy !== undefined) settings.hashBy = hashBy;
  return settings;
}

function checkBalancingAffinity(
  raw: Record<string, unknown>,
  algorithm: BalancingSettings['algorithm'],
  report: Report,
): BalancingSettings | undefined {
  if (raw.affinity === undefined) return { algorithm };
  if (!isObject(raw.affinity)) return fail(report, 'balancing.affinity', 'must be an object');
  const at = 'balancing.affinity.';
  const cookieName = readString(raw.affinity, 'cookieName', at, report, (s) =>
    COOKIE_NAME.test(s) ? undefined : 'must be a cookie name (RFC 6265 token)',
  );
  const ttlSeconds = readInteger(raw.affinity, 'ttlSeconds', at, report, 1);
  if (cookieName === undefined || ttlSeconds === undefined) return undefined;
  if (raw.affinity.cookie === undefined) return { algorithm, affinity: { cookieName, ttlSeconds } };
  const cookie = checkAffinityCookie(raw.affinity.cookie, `${at}cookie.`, report);
  if (cookie === undefined) return undefined;
  return { algorithm, affinity: { cookieName, ttlSeconds, cookie } };
}

/** Cookie attribute values: visible ASCII without `;` and `,`, so they cannot add attributes. */
const COOKIE_ATTRIBUTE = /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;

function checkAffinityCookie(raw: unknown, at: string, report: Report): AffinityCookie | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const attribute = (s: string) =>
    COOKIE_ATTRIBUTE.test(s) ? undefined : 'must be visible ASCII without ; or ,';
  const path = readString(raw, 'path', at, report, (s) =>
    s.startsWith('/') ? attribute(s) : "must start with '/'",
  );
  const session = readBoolean(raw, 'session', at, report);
  const secure = raw.secure === undefined ? undefined : readBoolean(raw, 'secure', at, report);
  const expiresSeconds =
    raw.expiresSeconds === undefined
      ? undefined
      : readInteger(raw, 'expiresSeconds', at, report, 1, 2_147_483_647);
  const domain = readOptionalString(raw, 'domain', at, report, attribute);
  const sameSite = readOptionalString(raw, 'sameSite', at, report, (s) =>
    s === 'None' || s === 'Lax' || s === 'Strict' ? undefined : "must be 'None', 'Lax' or 'Strict'",
  );
  const conditional =
    raw.conditionalSameSiteNone === undefined
      ? undefined
      : readBoolean(raw, 'conditionalSameSiteNone', at, report);
  if (report.count() !== before) return undefined;
  const cookie: AffinityCookie = { path: path as string, session: session as boolean };
  if (expiresSeconds !== undefined) cookie.expiresSeconds = expiresSeconds;
  if (conditional === true) cookie.conditionalSameSiteNone = true;
  if (secure !== undefined) cookie.secure = secure;
  if (domain !== undefined) cookie.domain = domain;
  if (sameSite !== undefined) cookie.sameSite = sameSite as AffinityCookie['sameSite'];
  return cookie;
}
