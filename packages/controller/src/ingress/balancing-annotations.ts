/**
 * The Ingress annotations that choose how a backend's requests are spread. Pure.
 *
 * | annotation                      | values                  | default         |
 * | ------------------------------- | ----------------------- | --------------- |
 * | `pier.dev/load-balance`         | `p2c`, `round-robin`    | `p2c`           |
 * | `pier.dev/affinity`             | `cookie`                | none            |
 * | `pier.dev/affinity-cookie-name` | an RFC 6265 cookie name | `pier-affinity` |
 * | `pier.dev/affinity-cookie-ttl`  | whole seconds, ≥ 1      | `3600`          |
 *
 * They apply to every backend the Ingress routes to. An empty value counts as absent. A bad
 * value is reported and its default used; the other annotations still apply.
 */
import type { BalancingSettings } from '@pier/shared';

export const LOAD_BALANCE_ANNOTATION = 'pier.dev/load-balance';
export const AFFINITY_ANNOTATION = 'pier.dev/affinity';
export const AFFINITY_COOKIE_NAME_ANNOTATION = 'pier.dev/affinity-cookie-name';
export const AFFINITY_COOKIE_TTL_ANNOTATION = 'pier.dev/affinity-cookie-ttl';

/** Balancing of a backend no Ingress says anything about. */
export const DEFAULT_ALGORITHM: BalancingSettings['algorithm'] = 'p2c';
export const DEFAULT_AFFINITY_COOKIE_NAME = 'pier-affinity';
export const DEFAULT_AFFINITY_TTL_SECONDS = 3600;

/** Cookie Max-Age above this is nonsense (68 years); it also keeps the value a small integer. */
const MAX_TTL_SECONDS = 2_147_483_647;
/** RFC 6265 `token`, the same rule route-table validation applies. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A bad annotation value: which annotation, and why. */
export interface AnnotationProblem {
  annotation: string;
  message: string;
}

/** What an Ingress's annotations ask for. */
export interface ParsedBalancing {
  /**
   * The settings the Ingress asks for, or undefined when it sets none of the annotations (it
   * then expresses no preference and never conflicts with another Ingress on a shared backend).
   */
  settings: BalancingSettings | undefined;
  problems: AnnotationProblem[];
}

/** Reads the balancing annotations; see the module comment for values and defaults. */
export function parseBalancingAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): ParsedBalancing {
  const read = (name: string): string | undefined => {
    const value = annotations?.[name]?.trim();
    return value === '' ? undefined : value;
  };
  const algorithmText = read(LOAD_BALANCE_ANNOTATION);
  const affinityText = read(AFFINITY_ANNOTATION);
  const cookieText = read(AFFINITY_COOKIE_NAME_ANNOTATION);
  const ttlText = read(AFFINITY_COOKIE_TTL_ANNOTATION);
  const problems: AnnotationProblem[] = [];
  if ([algorithmText, affinityText, cookieText, ttlText].every((v) => v === undefined)) {
    return { settings: undefined, problems };
  }

  let algorithm = DEFAULT_ALGORITHM;
  if (algorithmText === 'p2c' || algorithmText === 'round-robin') {
    algorithm = algorithmText;
  } else if (algorithmText !== undefined) {
    problems.push({
      annotation: LOAD_BALANCE_ANNOTATION,
      message: `'${algorithmText}' is not 'p2c' or 'round-robin'; using '${DEFAULT_ALGORITHM}'`,
    });
  }
  const settings: BalancingSettings = { algorithm };

  if (affinityText !== undefined && affinityText !== 'cookie') {
    problems.push({
      annotation: AFFINITY_ANNOTATION,
      message: `'${affinityText}' is not 'cookie'; no session affinity`,
    });
  }
  if (affinityText !== 'cookie') {
    for (const [name, value] of [
      [AFFINITY_COOKIE_NAME_ANNOTATION, cookieText],
      [AFFINITY_COOKIE_TTL_ANNOTATION, ttlText],
    ] as const) {
      if (value === undefined) continue;
      problems.push({
        annotation: name,
        message: `has no effect without ${AFFINITY_ANNOTATION}: cookie`,
      });
    }
    return { settings, problems };
  }

  let cookieName = DEFAULT_AFFINITY_COOKIE_NAME;
  if (cookieText !== undefined && COOKIE_NAME.test(cookieText)) {
    cookieName = cookieText;
  } else if (cookieText !== undefined) {
    problems.push({
      annotation: AFFINITY_COOKIE_NAME_ANNOTATION,
      message: `'${cookieText}' is not a cookie name (letters, digits and !#$%&'*+-.^_\`|~); using '${DEFAULT_AFFINITY_COOKIE_NAME}'`,
    });
  }
  let ttlSeconds = DEFAULT_AFFINITY_TTL_SECONDS;
  const ttl = ttlText !== undefined && /^[0-9]{1,10}$/.test(ttlText) ? Number(ttlText) : NaN;
  if (ttl >= 1 && ttl <= MAX_TTL_SECONDS) {
    ttlSeconds = ttl;
  } else if (ttlText !== undefined) {
    problems.push({
      annotation: AFFINITY_COOKIE_TTL_ANNOTATION,
      message: `'${ttlText}' is not a whole number of seconds from 1 to ${MAX_TTL_SECONDS}; using ${DEFAULT_AFFINITY_TTL_SECONDS}`,
    });
  }
  settings.affinity = { cookieName, ttlSeconds };
  return { settings, problems };
}

/** Whether two balancing settings are the same. */
export function sameBalancing(a: BalancingSettings, b: BalancingSettings): boolean {
  return (
    a.algorithm === b.algorithm &&
    a.hashBy === b.hashBy &&
    a.affinity?.cookieName === b.affinity?.cookieName &&
    a.affinity?.ttlSeconds === b.affinity?.ttlSeconds &&
    JSON.stringify(a.affinity?.cookie) === JSON.stringify(b.affinity?.cookie)
  );
}

/** Human text for Events: `round-robin, cookie 'sid' for 60s`. */
export function describeBalancing(settings: BalancingSettings): string {
  const { affinity } = settings;
  const algorithm =
    settings.hashBy === undefined ? settings.algorithm : `hash by ${settings.hashBy}`;
  if (affinity === undefined) return algorithm;
  const cookie = affinity.cookie;
  const lasting =
    cookie?.session !== true
      ? `for ${affinity.ttlSeconds}s`
      : cookie.expiresSeconds === undefined
        ? 'for the browser session'
        : `for ${cookie.expiresSeconds}s`;
  return `${algorithm}, cookie '${affinity.cookieName}' ${lasting}`;
}
