/**
 * ingress-nginx's rate limits (annotations.md#rate-limiting; its `ratelimit` parser): read into
 * the limits of the Ingress's routes, without the zone, which placement names after the
 * Ingress. Pure.
 *
 * As ingress-nginx: `limit-rps`, `limit-rpm` and `limit-connections` are whole numbers, 0 or
 * less meaning none; the burst of each rate is the rate × `limit-burst-multiplier` (5 unless
 * set); `limit-allowlist` (or its older name `limit-whitelist`) lists the client addresses never
 * limited, and means nothing without a limit. Where ingress-nginx refuses the whole Ingress (a
 * value that is not a number, a bad CIDR; nginx refuses a burst below 1), the problem is
 * reported and only that setting falls back: no such limit, no exemption, a multiplier of 5.
 */
import { MAX_RATE_LIMIT, parseCidrList, type RouteRateLimit } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';

/** ingress-nginx's `limit-burst-multiplier` default. */
export const DEFAULT_BURST_MULTIPLIER = 5;

/** The limits of an Ingress's routes, before placement gives them their zone. */
export type NginxRateLimit = Omit<RouteRateLimit, 'zone'>;

/** Go's strconv.Atoi, as ingress-nginx reads these: an optional sign and decimal digits. */
const INTEGER = /^[+-]?[0-9]+$/;

/** The rate limits of an Ingress, or undefined without any. */
export function parseNginxRateLimit(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): NginxRateLimit | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });
  const count = (name: string): number | undefined => {
    const text = read(name);
    if (text === undefined) return undefined;
    if (!INTEGER.test(text)) {
      problem(name, `'${text}' is not a whole number; no such limit`);
      return undefined;
    }
    const value = Number(text);
    if (value <= 0) return undefined;
    if (value > MAX_RATE_LIMIT) {
      problem(name, `'${text}' is above ${MAX_RATE_LIMIT}; using ${MAX_RATE_LIMIT}`);
      return MAX_RATE_LIMIT;
    }
    return value;
  };

  const rps = count('limit-rps');
  const rpm = count('limit-rpm');
  const connections = count('limit-connections');
  if (rps === undefined && rpm === undefined && connections === undefined) return undefined;

  let multiplier = DEFAULT_BURST_MULTIPLIER;
  const multiplierText = read('limit-burst-multiplier');
  if (multiplierText !== undefined) {
    const value = INTEGER.test(multiplierText) ? Number(multiplierText) : Number.NaN;
    if (value >= 1) multiplier = Math.min(value, MAX_RATE_LIMIT);
    else
      problem(
        'limit-burst-multiplier',
        `'${multiplierText}' is not a whole number of at least 1; using ${DEFAULT_BURST_MULTIPLIER}`,
      );
  }
  const burst = (rate: number) => Math.min(rate * multiplier, MAX_RATE_LIMIT);

  const limit: NginxRateLimit = {};
  if (rps !== undefined) limit.perSecond = { rate: rps, burst: burst(rps) };
  if (rpm !== undefined) limit.perMinute = { rate: rpm, burst: burst(rpm) };
  if (connections !== undefined) limit.connections = connections;

  const allowName = read('limit-allowlist') !== undefined ? 'limit-allowlist' : 'limit-whitelist';
  const allowText = read(allowName);
  if (allowText !== undefined) {
    const parsed = parseCidrList(allowText);
    if (parsed.ok) limit.exempt = parsed.cidrs;
    else problem(allowName, `'${parsed.bad}' is not an address or CIDR; no client is exempt`);
  }
  return limit;
}
