/**
 * ingress-nginx's canaries: `canary: "true"` makes an Ingress the alternative backend of the
 * main Ingress's route with the same host and path, chosen per request by `canary-by-header`
 * (`always` / `never`, or `canary-by-header-value`, or `canary-by-header-pattern`), then
 * `canary-by-cookie` (`always` / `never`), then `canary-weight` out of `canary-weight-total`
 * (annotations.md#canary; its Lua, balancer.lua `route_to_alternative_balancer`). Pure: the
 * annotations in, the canary's settings and the route split it asks for out.
 *
 * Bad values are reported and ingress-nginx's fallback used (its parser defaults each one); the
 * canary annotations without `canary: "true"` leave the Ingress a main Ingress, as
 * ingress-nginx's "configured but not enabled".
 */
import type { BackendRule, BackendSplit } from '@pier/shared';
import { MAX_BACKEND_WEIGHT, matchNameProblem, matchValueProblem } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBool } from './nginx-bool.ts';

/** What a canary Ingress asks for. */
export interface NginxCanary {
  /** `canary-weight`, 0 to `weightTotal` (more is read as all). */
  weight: number;
  /** `canary-weight-total`, at least 100 (ingress-nginx reads less as 100). */
  weightTotal: number;
  /** `canary-by-header`, lower-case. */
  header?: string;
  /** `canary-by-header-value`: this value sends to the canary; `always`/`never` lose their meaning. */
  headerValue?: string;
  /** `canary-by-header-pattern`, when no header value is set. */
  headerPattern?: string;
  /** `canary-by-cookie`. */
  cookie?: string;
  /**
   * `affinity-canary-behavior`: `sticky` (the default) keeps a client on the side it was sent to
   * when the main backend has cookie affinity; `legacy` re-decides each request not pinned to
   * the main.
   */
  affinity: 'sticky' | 'legacy';
}

/** ingress-nginx's check of header and cookie names and values (BasicCharsRegex). */
const BASIC_CHARS = /^[-._~a-zA-Z0-9/:]+$/;
/** ingress-nginx's check of the header pattern (IsValidRegex). */
const REGEX_CHARS = /^[-._~a-zA-Z0-9/:^$[\](){}*+?|&=\\]+$/;
const DEFAULT_WEIGHT_TOTAL = 100;
/** The settings that make no sense without `canary: "true"`. */
const CANARY_RULES = [
  'canary-weight',
  'canary-by-header',
  'canary-by-header-value',
  'canary-by-header-pattern',
  'canary-by-cookie',
] as const;

/** The canary settings of an Ingress, or undefined when it is no canary. */
export function parseNginxCanary(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): NginxCanary | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });

  const enabledText = read('canary');
  let enabled = false;
  if (enabledText !== undefined && parseNginxBool(enabledText) === true) enabled = true;
  else if (enabledText !== undefined && parseNginxBool(enabledText) !== false)
    problem('canary', `'${enabledText}' is not true or false; using false`);
  if (!enabled) {
    // ingress-nginx's "configured but not enabled": the canary settings are dropped.
    const set = CANARY_RULES.filter((name) => {
      const text = read(name);
      return text !== undefined && !(name === 'canary-weight' && /^[+-]?0+$/.test(text));
    });
    for (const name of set)
      problem(name, 'is set but canary is not "true"; the Ingress is served as a main Ingress');
    return undefined;
  }

  const canary: NginxCanary = {
    weight: 0,
    weightTotal: DEFAULT_WEIGHT_TOTAL,
    affinity: 'sticky',
  };
  const integer = (name: string, fallback: number): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    if (/^[+-]?[0-9]{1,10}$/.test(text) && Math.abs(Number(text)) <= MAX_BACKEND_WEIGHT)
      return Number(text);
    problem(name, `'${text}' is not a whole number; using ${fallback}`);
    return fallback;
  };
  const total = integer('canary-weight-total', DEFAULT_WEIGHT_TOTAL);
  if (total < DEFAULT_WEIGHT_TOTAL) {
    problem(
      'canary-weight-total',
      `${total} is below 100, which ingress-nginx reads as 100; using 100`,
    );
  } else {
    canary.weightTotal = total;
  }
  const weight = integer('canary-weight', 0);
  if (weight < 0) problem('canary-weight', `${weight} is below 0; no request goes by weight`);
  canary.weight = Math.min(Math.max(weight, 0), canary.weightTotal);

  const named = (name: string, what: 'header' | 'cookie'): string | undefined => {
    const text = read(name);
    if (text === undefined) return undefined;
    // nginx's $http_<name> reads `-` and `_` alike (and drops headers with `_`).
    const wanted = what === 'header' ? text.replaceAll('_', '-').toLowerCase() : text;
    if (BASIC_CHARS.test(text) && matchNameProblem(wanted) === undefined) return wanted;
    problem(name, `'${text}' is not a ${what} name; no canary by ${what}`);
    return undefined;
  };
  const header = named('canary-by-header', 'header');
  if (header !== undefined) canary.header = header;
  const cookie = named('canary-by-cookie', 'cookie');
  if (cookie !== undefined) canary.cookie = cookie;

  const value = read('canary-by-header-value');
  if (value !== undefined) {
    // ingress-nginx checks the value without its spaces, and keeps them.
    const why = BASIC_CHARS.test(value.replaceAll(' ', ''))
      ? matchValueProblem('Exact', value)
      : 'holds characters ingress-nginx refuses';
    if (why === undefined) canary.headerValue = value;
    else problem('canary-by-header-value', `'${shown(value)}' ${why}; unused`);
  }
  const pattern = read('canary-by-header-pattern');
  if (pattern !== undefined) {
    const why = REGEX_CHARS.test(pattern)
      ? matchValueProblem('RegularExpression', pattern)
      : 'holds characters ingress-nginx refuses';
    if (why !== undefined)
      problem('canary-by-header-pattern', `'${shown(pattern)}' ${why}; unused`);
    else if (canary.headerValue !== undefined)
      problem('canary-by-header-pattern', 'is unused: canary-by-header-value is set and wins');
    else canary.headerPattern = pattern;
  }
  if (header === undefined) {
    for (const name of ['canary-by-header-value', 'canary-by-header-pattern'] as const) {
      if (read(name) !== undefined) problem(name, 'is unused without canary-by-header');
    }
    delete canary.headerValue;
    delete canary.headerPattern;
  }

  const behavior = read('affinity-canary-behavior');
  if (behavior === 'legacy') canary.affinity = 'legacy';
  else if (behavior !== undefined && behavior !== 'sticky')
    problem('affinity-canary-behavior', `'${behavior}' is not sticky or legacy; using sticky`);
  return canary;
}

/** A value as a message quotes it: long ones cut, so an Event stays readable. */
function shown(value: string): string {
  return value.length <= 80 ? value : `${value.slice(0, 80)}…`;
}

/**
 * The split of a main route whose backend is `main` when `canary` (served by `canaryBackend`)
 * joins it: ingress-nginx's precedence as rules, then the weight.
 */
export function canarySplit(
  canary: NginxCanary,
  main: string,
  canaryBackend: string,
): BackendSplit {
  const rules: BackendRule[] = [];
  const rule = (
    source: BackendRule['source'],
    name: string,
    type: BackendRule['type'],
    value: string,
    backend: string,
  ) => rules.push({ source, name, type, value, backend });
  const { header, headerValue, headerPattern, cookie } = canary;
  if (header !== undefined) {
    if (headerValue !== undefined) rule('header', header, 'Exact', headerValue, canaryBackend);
    else if (headerPattern !== undefined)
      rule('header', header, 'RegularExpression', headerPattern, canaryBackend);
    else {
      rule('header', header, 'Exact', 'always', canaryBackend);
      rule('header', header, 'Exact', 'never', main);
    }
  }
  if (cookie !== undefined) {
    rule('cookie', cookie, 'Exact', 'always', canaryBackend);
    rule('cookie', cookie, 'Exact', 'never', main);
  }
  const split: BackendSplit = { affinity: canary.affinity === 'sticky' ? 'primary' : 'own' };
  if (rules.length > 0) split.rules = rules;
  if (canary.weight > 0) {
    split.weights = [
      { backend: main, weight: canary.weightTotal - canary.weight },
      { backend: canaryBackend, weight: canary.weight },
    ];
  }
  return split;
}
