/**
 * The validation of `route.rateLimit` in a route table (ingress-nginx's `limit-rps`,
 * `limit-rpm`, `limit-connections` and `limit-allowlist`). Pure. The counting itself is the
 * dataplane's.
 */
import { fail, isObject, type Report, readInteger, readString } from './field-reader.ts';
import { canonicalCidr } from './route-access.ts';
import type { RequestRate, RouteRateLimit } from './route-table.ts';

/** The largest rate, burst or connection count a table may carry (a billion: no limit in practice). */
export const MAX_RATE_LIMIT = 1_000_000_000;

/** The longest zone name: two Kubernetes names and a slash, with room to spare. */
const MAX_ZONE_LENGTH = 512;

/** Checks `route.rateLimit`; undefined with a problem reported when it is wrong. */
export function checkRateLimit(
  raw: unknown,
  at: string,
  report: Report,
): RouteRateLimit | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const zone = readString(raw, 'zone', at, report, (s) =>
    s.length > 0 && s.length <= MAX_ZONE_LENGTH && !/\p{Cc}/u.test(s)
      ? undefined
      : `must be 1-${MAX_ZONE_LENGTH} characters, no controls`,
  );
  const perSecond =
    raw.perSecond === undefined ? undefined : checkRate(raw.perSecond, `${at}perSecond.`, report);
  const perMinute =
    raw.perMinute === undefined ? undefined : checkRate(raw.perMinute, `${at}perMinute.`, report);
  const connections =
    raw.connections === undefined
      ? undefined
      : readInteger(raw, 'connections', at, report, 1, MAX_RATE_LIMIT);
  let exempt: string[] | undefined;
  if (raw.exempt !== undefined) {
    const list = raw.exempt;
    if (!Array.isArray(list) || list.some((c) => typeof c !== 'string' || canonicalCidr(c) !== c))
      report(`${at}exempt`, 'must be a list of canonical CIDRs');
    else exempt = [...(list as string[])];
  }
  if (report.count() !== before) return undefined;
  if (perSecond === undefined && perMinute === undefined && connections === undefined) {
    return fail(report, at.slice(0, -1), 'must set perSecond, perMinute or connections');
  }
  const limit: RouteRateLimit = { zone: zone as string };
  if (perSecond !== undefined) limit.perSecond = perSecond;
  if (perMinute !== undefined) limit.perMinute = perMinute;
  if (connections !== undefined) limit.connections = connections;
  if (exempt !== undefined) limit.exempt = exempt;
  return limit;
}

function checkRate(raw: unknown, at: string, report: Report): RequestRate | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const rate = readInteger(raw, 'rate', at, report, 1, MAX_RATE_LIMIT);
  const burst = readInteger(raw, 'burst', at, report, 0, MAX_RATE_LIMIT);
  return rate === undefined || burst === undefined ? undefined : { rate, burst };
}
