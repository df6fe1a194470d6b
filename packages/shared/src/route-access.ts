/**
 * Per-route request limits the dataplane enforces before proxying: which client addresses may
 * use a route (ingress-nginx's `whitelist-source-range` / `denylist-source-range`) and how large
 * its request bodies may be (`proxy-body-size`). Their validation in a route table. Pure.
 */
import { isIP } from 'node:net';
import { fail, isObject, type Report } from './field-reader.ts';
import { canonicalIp } from './ip-address.ts';
import type { SourceRanges } from './route-table.ts';

/** `a.b.c.d/n`, `v6::/n` or a bare address, in canonical form (`10.0.0.0/8`); else undefined. */
export function canonicalCidr(text: string): string | undefined {
  const slash = text.indexOf('/');
  const address = canonicalIp(slash < 0 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const bits = isIP(address) === 6 ? 128 : 32;
  if (slash < 0) return `${address}/${bits}`;
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  return prefix <= bits ? `${address}/${prefix}` : undefined;
}

/** A comma-separated list of CIDRs, canonical; or the first entry that is not one. */
export function parseCidrList(
  text: string,
): { ok: true; cidrs: string[] } | { ok: false; bad: string } {
  const cidrs: string[] = [];
  for (const entry of text.split(',').map((s) => s.trim())) {
    if (entry === '') continue;
    const cidr = canonicalCidr(entry);
    if (cidr === undefined) return { ok: false, bad: entry };
    if (!cidrs.includes(cidr)) cidrs.push(cidr);
  }
  return { ok: true, cidrs };
}

/** Checks `route.sourceRanges`; undefined with a problem reported when it is wrong. */
export function checkSourceRanges(
  raw: unknown,
  at: string,
  report: Report,
): SourceRanges | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const list = (name: 'allow' | 'deny'): string[] | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (
      !Array.isArray(value) ||
      value.some((c) => typeof c !== 'string' || canonicalCidr(c) !== c)
    ) {
      report(`${at}${name}`, 'must be a list of canonical CIDRs');
      return undefined;
    }
    return value as string[];
  };
  const allow = list('allow');
  const deny = list('deny');
  if (report.count() !== before) return undefined;
  const ranges: SourceRanges = {};
  if (allow !== undefined) ranges.allow = allow;
  if (deny !== undefined) ranges.deny = deny;
  return ranges;
}
