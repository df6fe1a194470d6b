/**
 * Validation of health-check settings, on their own (settings the controller compiled from a
 * HealthCheckPolicy) or as part of a backend in a route table.
 */
import type { Report } from './field-reader.ts';
import {
  fail,
  isObject,
  printable,
  readBoolean,
  readInteger,
  readObjectRef,
  readOptionalString,
  readPort,
  readString,
  reporter,
} from './field-reader.ts';
import { statusRangeProblem } from './health-check-defaults.ts';
import type { HealthCheckSettings } from './route-table.ts';
import type { FieldProblem } from './route-table-validation.ts';

/**
 * Checks health-check settings on their own (the controller uses this on what it compiled from a
 * HealthCheckPolicy): an absolute probe path, at least one status range within 100-599 with
 * low ≤ high, positive durations with the timeout below the interval, thresholds ≥ 1.
 */
export function checkHealthCheckSettings(value: unknown): {
  value: HealthCheckSettings | undefined;
  problems: FieldProblem[];
} {
  const problems: FieldProblem[] = [];
  const report = reporter((field, message) => problems.push({ field, message }));
  const checked = readHealthCheckSettings(value, '', report);
  return { value: problems.length === 0 ? checked : undefined, problems };
}

/**
 * Reads health-check settings at field path prefix `at` (e.g. `healthCheck.`), reporting each
 * problem; undefined when there was any. Used inside backend validation.
 */
export function readHealthCheckSettings(
  raw: unknown,
  at: string,
  report: Report,
): HealthCheckSettings | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const http = isObject(raw.http) ? raw.http : fail(report, `${at}http`, 'must be an object');
  const passive = isObject(raw.passive)
    ? raw.passive
    : fail(report, `${at}passive`, 'must be an object');
  const settings = {
    http: http && {
      path: readString(http, 'path', `${at}http.`, report, (s) =>
        s.startsWith('/') ? printable(s) : "must be an absolute path (start with '/')",
      ),
      expectedStatuses: checkStatuses(http.expectedStatuses, `${at}http.expectedStatuses`, report),
    },
    intervalMs: readInteger(raw, 'intervalMs', at, report, 1),
    timeoutMs: readInteger(raw, 'timeoutMs', at, report, 1),
    healthyThreshold: readInteger(raw, 'healthyThreshold', at, report, 1),
    unhealthyThreshold: readInteger(raw, 'unhealthyThreshold', at, report, 1),
    passive: passive && {
      consecutiveFailures: readInteger(passive, 'consecutiveFailures', `${at}passive.`, report, 1),
      ejectionMs: readInteger(passive, 'ejectionMs', `${at}passive.`, report, 1),
      maxEjectionPercent: readInteger(
        passive,
        'maxEjectionPercent',
        `${at}passive.`,
        report,
        0,
        100,
      ),
    },
  } as HealthCheckSettings;
  if (settings.timeoutMs >= settings.intervalMs) {
    report(`${at}timeoutMs`, `must be less than intervalMs (${settings.intervalMs})`);
  }
  const policy =
    raw.policy === undefined ? undefined : readObjectRef(raw.policy, `${at}policy.`, report);
  const port = raw.port === undefined ? undefined : readPort(raw, 'port', at, report);
  const host = http && readOptionalString(http, 'host', `${at}http.`, report);
  const tls = http?.tls === undefined ? undefined : readBoolean(http, 'tls', `${at}http.`, report);
  if (report.count() !== before) return undefined;
  if (policy !== undefined) settings.policy = policy;
  if (port !== undefined) settings.port = port;
  if (host !== undefined) settings.http.host = host;
  if (tls === true) settings.http.tls = true;
  return settings;
}

function checkStatuses(
  raw: unknown,
  at: string,
  report: Report,
): Array<[number, number]> | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return fail(report, at, 'must be a non-empty array');
  const ranges: Array<[number, number]> = [];
  for (const [i, pair] of raw.entries()) {
    const [lo, hi] = Array.isArray(pair) && pair.length === 2 ? pair : [];
    if (typeof lo !== 'number' || typeof hi !== 'number') {
      return fail(report, `${at}[${i}]`, 'must be [low, high]');
    }
    const problem = statusRangeProblem(lo, hi);
    if (problem !== undefined) return fail(report, `${at}[${i}]`, problem);
    ranges.push([lo, hi]);
  }
  return ranges;
}
