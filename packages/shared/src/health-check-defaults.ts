/**
 * The cluster-default health check, and parsers for the human-written fields of a
 * HealthCheckPolicy (`expectedStatuses: "200-399,404"`, `interval: "5s"`).
 */
import { InvalidConfigError } from './errors.ts';
import type { HealthCheckSettings } from './route-table.ts';

/**
 * Applies to every backend no HealthCheckPolicy targets: `GET /` on the endpoint port, any
 * 2xx/3xx is healthy, every 5 s with a 2 s timeout, healthy after 2 successes, unhealthy after
 * 3 failures; 5 consecutive failed requests eject an endpoint for 30 s. Deeply frozen.
 */
export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheckSettings> = deepFreeze({
  http: { path: '/', expectedStatuses: [[200, 399]] },
  intervalMs: 5_000,
  timeoutMs: 2_000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  passive: { consecutiveFailures: 5, ejectionMs: 30_000, maxEjectionPercent: 50 },
} satisfies HealthCheckSettings);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Lowest and highest HTTP status codes a probe can report. */
export const MIN_HTTP_STATUS = 100;
export const MAX_HTTP_STATUS = 599;

/**
 * Parses a status list such as `200-399,404` into inclusive ranges (`[[200,399],[404,404]]`),
 * in the order written. Spaces around items are allowed.
 *
 * @throws InvalidConfigError naming the bad item: not `NNN` or `NNN-NNN`, outside 100-599,
 *   or low above high.
 */
export function parseStatusRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(item);
    if (m === null) {
      throw new InvalidConfigError(
        `status ranges '${text}': '${item}' is not a status (404) or a range (200-399)`,
        { details: { input: text } },
      );
    }
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    const problem = statusRangeProblem(lo, hi);
    if (problem !== undefined) {
      throw new InvalidConfigError(`status ranges '${text}': '${item}' ${problem}`, {
        details: { input: text },
      });
    }
    ranges.push([lo, hi]);
  }
  return ranges;
}

/** Why [lo, hi] is not a valid status range, or undefined when it is. */
export function statusRangeProblem(lo: number, hi: number): string | undefined {
  for (const status of [lo, hi]) {
    if (!Number.isInteger(status) || status < MIN_HTTP_STATUS || status > MAX_HTTP_STATUS) {
      return `has status ${status} outside ${MIN_HTTP_STATUS}-${MAX_HTTP_STATUS}`;
    }
  }
  return lo > hi ? `has its low end ${lo} above its high end ${hi}` : undefined;
}

/** Whether a response status counts as success under the given ranges. */
export function statusInRanges(
  status: number,
  ranges: ReadonlyArray<readonly [number, number]>,
): boolean {
  return ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Parses a duration as Kubernetes and Go write them — `500ms`, `5s`, `1m`, `1m30s`, `1.5s`,
 * `2h` — or `0`, into whole milliseconds.
 *
 * @throws InvalidConfigError when the text is empty, has an unknown unit, a sign or spaces,
 *   or does not come to a whole number of milliseconds.
 */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (!DURATION.test(text)) {
    throw new InvalidConfigError(
      `duration '${text}': expected a number with a unit (ms, s, m, h), e.g. 500ms, 5s, 1m30s`,
      { details: { input: text } },
    );
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) {
    ms += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  // Decimals such as 1.1s are inexact in binary; round away float noise before checking.
  const rounded = Math.round(ms * 1000) / 1000;
  if (!Number.isSafeInteger(rounded)) {
    throw new InvalidConfigError(
      `duration '${text}': must come to a whole number of milliseconds and not be huge`,
      { details: { input: text } },
    );
  }
  return rounded;
}
