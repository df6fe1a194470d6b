/**
 * The wire form of route tables and patches in Redis (and of the dataplane's on-disk copy):
 * canonical JSON, so equal content is equal bytes, checksums are stable and the controller can
 * tell that a freshly compiled table changes nothing.
 */
import { createHash } from 'node:crypto';
import { InvalidRoutePatchError, InvalidRouteTableError } from './errors.ts';
import type { Report } from './field-reader.ts';
import { fail, isObject, reporter } from './field-reader.ts';
import type { PatchSection, RoutePatch } from './route-patch.ts';
import type { RouteTable } from './route-table.ts';
import type { Checked, FieldProblem, Problem } from './route-table-validation.ts';
import {
  checkBackend,
  checkCertificate,
  checkVirtualHost,
  validateRouteTable,
} from './route-table-validation.ts';

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level, no whitespace. Otherwise as
 * `JSON.stringify`: undefined, functions and symbols are left out of objects and become null in
 * arrays; non-finite numbers become null; `toJSON` is honoured.
 *
 * @throws TypeError for a bigint, or when `value` itself has no JSON form (e.g. undefined).
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value);
  if (text === undefined) throw new TypeError(`canonicalJson: ${typeof value} has no JSON form`);
  return text;
}

function serialize(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError('canonicalJson: bigint has no JSON form');
    case 'object':
      break;
    default:
      return undefined;
  }
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return serialize(withJson.toJSON());
  if (Array.isArray(value)) return `[${value.map((item) => serialize(item) ?? 'null').join(',')}]`;
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const text = serialize(record[key]);
    if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${members.join(',')}}`;
}

/** The snapshot form of a table, revision included. */
export function encodeRouteTable(table: RouteTable): string {
  return canonicalJson(table);
}

/**
 * Parses and validates a snapshot. Invalid entries are dropped and listed in `problems`.
 *
 * @throws InvalidRouteTableError when the text is not JSON, not an object, or has no valid
 *   revision.
 */
export function decodeRouteTable(text: string): { table: RouteTable; problems: Problem[] } {
  return validateRouteTable(parseJson(text, InvalidRouteTableError, 'route table'));
}

/**
 * SHA-256 (hex) of a table's content without its revision: equal for equal content, whatever
 * the revision and key order. Used to confirm a resync and to log what a node serves.
 */
export function tableChecksum(table: RouteTable): string {
  const { virtualHosts, backends, certificates } = table;
  return createHash('sha256')
    .update(canonicalJson({ virtualHosts, backends, certificates }))
    .digest('hex');
}

/** The change-log form of a patch. */
export function encodeRoutePatch(patch: RoutePatch): string {
  return canonicalJson(patch);
}

/**
 * Parses and checks a change-log entry. Unlike a table, a patch is all or nothing: any problem
 * refuses it, and the reader resyncs from the snapshot, where bad entries are dropped singly.
 *
 * @throws InvalidRoutePatchError naming the first problems.
 */
export function decodeRoutePatch(text: string): RoutePatch {
  return assertRoutePatch(parseJson(text, InvalidRoutePatchError, 'route patch'));
}

const SECTION_CHECKS: Record<PatchSection, (key: string, value: unknown) => Checked<unknown>> = {
  virtualHosts: (key, value) => checkVirtualHost(key, value),
  backends: checkBackend,
  certificates: checkCertificate,
};

/**
 * Checks a decoded patch: revisions that advance, `set` entries that are valid on their own
 * (references between entries are checked on the patched table), `remove` lists of keys, and no
 * key both set and removed.
 *
 * @throws InvalidRoutePatchError with the problems in `details.problems`.
 */
export function assertRoutePatch(input: unknown): RoutePatch {
  const problems: FieldProblem[] = [];
  const report = reporter((field, message) => problems.push({ field, message }));
  const patch: RoutePatch = { fromRevision: -1, toRevision: -1, set: {}, remove: {} };
  if (!isObject(input)) {
    report('', 'must be an object');
  } else {
    patch.fromRevision = readRevision(input.fromRevision, 'fromRevision', report);
    patch.toRevision = readRevision(input.toRevision, 'toRevision', report);
    if (problems.length === 0 && patch.toRevision <= patch.fromRevision) {
      report('toRevision', 'must be greater than fromRevision');
    }
    readSets(input.set, patch, report);
    readRemoves(input.remove, patch, report);
  }
  if (problems.length > 0) {
    const summary = problems
      .slice(0, 3)
      .map((p) => (p.field ? `${p.field}: ${p.message}` : p.message))
      .join('; ');
    throw new InvalidRoutePatchError(`invalid route patch: ${summary}`, { details: { problems } });
  }
  return patch;
}

function readRevision(value: unknown, field: string, report: Report): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  report(field, 'must be a non-negative integer');
  return -1;
}

function readSets(raw: unknown, patch: RoutePatch, report: Report): void {
  if (!isObject(raw)) return void fail(report, 'set', 'must be an object');
  for (const section of Object.keys(SECTION_CHECKS) as PatchSection[]) {
    const entries = raw[section];
    if (entries === undefined) continue;
    if (!isObject(entries)) return void fail(report, `set.${section}`, 'must be an object');
    const kept: [string, unknown][] = [];
    for (const [key, value] of Object.entries(entries)) {
      const checked = SECTION_CHECKS[section](key, value);
      for (const p of checked.problems) report(`set.${section}[${key}].${p.field}`, p.message);
      kept.push([key, checked.value]);
    }
    Object.assign(patch.set, { [section]: Object.fromEntries(kept) });
  }
}

function readRemoves(raw: unknown, patch: RoutePatch, report: Report): void {
  if (!isObject(raw)) return void fail(report, 'remove', 'must be an object');
  for (const section of Object.keys(SECTION_CHECKS) as PatchSection[]) {
    const keys = raw[section];
    if (keys === undefined) continue;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      return void fail(report, `remove.${section}`, 'must be an array of keys');
    }
    const set = patch.set[section] ?? {};
    for (const key of keys) {
      if (Object.hasOwn(set, key)) report(`remove.${section}`, `'${key}' is also set`);
    }
    Object.assign(patch.remove, { [section]: [...keys] });
  }
}

function parseJson(
  text: string,
  ErrorClass: typeof InvalidRouteTableError | typeof InvalidRoutePatchError,
  what: string,
): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ErrorClass(`${what} is not valid JSON`, { cause });
  }
}
