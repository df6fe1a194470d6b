/**
 * Small readers for untrusted JSON (tables and patches read from Redis or disk). Each reader
 * checks one field, reports a problem naming the field path when it is wrong, and returns the
 * value or undefined; a checker then compares `report.count()` before and after to know whether
 * its entry is whole. Internal to this package; not re-exported.
 */

import type { ObjectRef } from './route-table.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A decoded JSON object. */
export type Obj = Record<string, unknown>;

/** Collects problems as (field path, message); `count()` says how many so far. */
export interface Report {
  (field: string, message: string): void;
  count(): number;
}

/** A {@link Report} that hands each problem to `sink`. */
export function reporter(sink: (field: string, message: string) => void): Report {
  let n = 0;
  const report = (field: string, message: string): void => {
    n++;
    sink(field, message);
  };
  return Object.assign(report, { count: () => n });
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reports and returns undefined, so checkers can `return fail(…)`. */
export function fail(report: Report, field: string, message: string): undefined {
  report(field, message);
  return undefined;
}

/** A string validator: a message when the string is wrong, else undefined. */
export type StringCheck = (value: string) => string | undefined;

/** Accepts any non-empty string without whitespace or control characters. */
export const printable: StringCheck = (s) =>
  /^[^\s\p{Cc}]+$/u.test(s) ? undefined : 'must be non-empty, without whitespace';

/** A required string field, optionally checked further. */
export function readString(
  o: Obj,
  name: string,
  at: string,
  report: Report,
  check: StringCheck = printable,
): string | undefined {
  const value = o[name];
  if (typeof value !== 'string') return fail(report, at + name, 'must be a string');
  const problem = check(value);
  return problem === undefined ? value : fail(report, at + name, problem);
}

/** An optional string field: absent is fine, present must pass `check`. */
export function readOptionalString(
  o: Obj,
  name: string,
  at: string,
  report: Report,
  check: StringCheck = printable,
): string | undefined {
  return o[name] === undefined ? undefined : readString(o, name, at, report, check);
}

/** A required integer field, at least `min`. */
export function readInteger(
  o: Obj,
  name: string,
  at: string,
  report: Report,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = o[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}-${max}`;
    return fail(report, at + name, `must be an integer, ${range}`);
  }
  return value;
}

/** A required TCP port field, 1-65535. */
export function readPort(o: Obj, name: string, at: string, report: Report): number | undefined {
  return readInteger(o, name, at, report, 1, 65_535);
}

/** A required boolean field. */
export function readBoolean(o: Obj, name: string, at: string, report: Report): boolean | undefined {
  const value = o[name];
  return typeof value === 'boolean' ? value : fail(report, at + name, 'must be true or false');
}

/**
 * A Kubernetes object reference at field path prefix `at` (e.g. `service.`): the namespace a
 * DNS-1123 label, the name a DNS-1123 subdomain, as the API server requires.
 */
export function readObjectRef(raw: unknown, at: string, report: Report): ObjectRef | undefined {
  if (!isObject(raw)) {
    return fail(report, at.slice(0, -1), 'must be an object with namespace and name');
  }
  const namespace = readString(raw, 'namespace', at, report, (s) =>
    s.length <= 63 && DNS_LABEL.test(s) ? undefined : 'must be a DNS-1123 label',
  );
  const name = readString(raw, 'name', at, report, (s) =>
    s.length <= 253 && DNS_SUBDOMAIN.test(s) ? undefined : 'must be a DNS-1123 subdomain',
  );
  return namespace === undefined || name === undefined ? undefined : { namespace, name };
}
