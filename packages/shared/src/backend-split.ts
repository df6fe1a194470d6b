/**
 * The per-request choice among a route's backends (`Route.split`): affinity, then rules on a
 * header or cookie, then weights. {@link RouteSplit} is the compiled form the route index builds
 * once per table revision (patterns compiled, backends resolved), so a request pays only for the
 * reads its route's rules need. Pure; the random source and the affinity lookup are injected.
 * Validation of `route.split` in a route table too.
 */
import { fail, isObject, type Report, readString } from './field-reader.ts';
import {
  cookieValue,
  headerValue,
  matchNameProblem,
  matchValueProblem,
  type RequestHeaders,
  VALUE_MATCH_TYPES,
  type ValueMatcher,
  type ValueMatchType,
  valueMatcher,
} from './header-match.ts';
import type { Backend, BackendRule, BackendSplit, Route } from './route-table.ts';
import { MAX_SPLIT_BACKENDS, pickWeighted, weightProblem } from './route-weights.ts';

/** Most rules one split may hold. */
export const MAX_SPLIT_RULES = 16;

/**
 * Whether the affinity cookie value `cookie` pins a request to an endpoint of `backend` (the
 * dataplane asks the backend's balancer).
 */
export type AffinityPin = (backend: Backend, cookie: string) => boolean;

interface CompiledRule {
  header: boolean;
  name: string;
  test: ValueMatcher;
  backend: Backend;
}

/** A route's split, compiled against the table's backends. */
export class RouteSplit {
  /** The route's own backend. */
  readonly primary: Backend;
  readonly #rules: CompiledRule[];
  readonly #weights: Array<{ backend: Backend; weight: number }>;
  /** Backends whose affinity cookie is looked at first, the primary first. */
  readonly #pinnable: Backend[];

  private constructor(
    primary: Backend,
    rules: CompiledRule[],
    weights: Array<{ backend: Backend; weight: number }>,
    pinnable: Backend[],
  ) {
    this.primary = primary;
    this.#rules = rules;
    this.#weights = weights;
    this.#pinnable = pinnable;
  }

  /**
   * The compiled split of `route`, whose backend resolved to `primary`; undefined without a
   * split. Rules and weights naming a backend `backends` lacks are left out (a validated table
   * has none). With `affinity: 'primary'`, the other backends are copies carrying the primary's
   * affinity settings (or none), so the dataplane pins their clients with those.
   */
  static of(
    route: Route,
    primary: Backend,
    backends: Readonly<Record<string, Backend>>,
  ): RouteSplit | undefined {
    const split = route.split;
    if (split === undefined) return undefined;
    const resolved = new Map<string, Backend>([[primary.id, primary]]);
    const resolve = (id: string): Backend | undefined => {
      let backend = resolved.get(id);
      if (backend !== undefined || !Object.hasOwn(backends, id)) return backend;
      backend = backends[id] as Backend;
      if (split.affinity === 'primary') backend = withAffinityOf(backend, primary);
      resolved.set(id, backend);
      return backend;
    };
    const rules: CompiledRule[] = [];
    for (const rule of split.rules ?? []) {
      const backend = resolve(rule.backend);
      if (backend === undefined) continue;
      rules.push({
        header: rule.source === 'header',
        name: rule.name,
        test: valueMatcher(rule.type, rule.value),
        backend,
      });
    }
    const weights: Array<{ backend: Backend; weight: number }> = [];
    for (const entry of split.weights ?? []) {
      const backend = resolve(entry.backend);
      if (backend !== undefined) weights.push({ backend, weight: entry.weight });
    }
    const pinnable =
      split.affinity === undefined
        ? []
        : [...resolved.values()].filter((b) => b.balancing.affinity !== undefined);
    return new RouteSplit(primary, rules, weights, pinnable);
  }

  /**
   * The backend of one request. `headers` are read only as far as the split needs: the Cookie
   * header for affinity and cookie rules, the named headers for header rules. Without `pinned`,
   * affinity plays no part.
   */
  choose(headers: RequestHeaders, random: () => number, pinned?: AffinityPin): Backend {
    if (pinned !== undefined && this.#pinnable.length > 0) {
      const cookies = headerValue(headers, 'cookie');
      for (const backend of this.#pinnable) {
        const name = backend.balancing.affinity?.cookieName as string;
        const value = cookieValue(cookies, name);
        if (value !== undefined && pinned(backend, value)) return backend;
      }
    }
    for (const rule of this.#rules) {
      const value = rule.header
        ? headerValue(headers, rule.name)
        : cookieValue(headerValue(headers, 'cookie'), rule.name, true);
      if (rule.test(value)) return rule.backend;
    }
    if (this.#weights.length === 0) return this.primary;
    return pickWeighted(this.#weights, random)?.backend ?? this.primary;
  }

  /** Every backend the split can send to, the primary first (for tests and diagnostics). */
  get backends(): Backend[] {
    const out = [this.primary];
    for (const b of [...this.#rules, ...this.#weights].map((r) => r.backend)) {
      if (!out.some((o) => o.id === b.id)) out.push(b);
    }
    return out;
  }
}

/** `backend` with the affinity of `primary` (or none) in place of its own. */
function withAffinityOf(backend: Backend, primary: Backend): Backend {
  const affinity = primary.balancing.affinity;
  const balancing = { algorithm: backend.balancing.algorithm };
  return {
    ...backend,
    balancing: affinity === undefined ? balancing : { ...balancing, affinity },
  };
}

/** The backend ids `split` names, without repeats. */
export function splitBackendIds(split: BackendSplit): string[] {
  const ids = new Set<string>();
  for (const rule of split.rules ?? []) ids.add(rule.backend);
  for (const entry of split.weights ?? []) ids.add(entry.backend);
  return [...ids];
}

/** Checks `route.split`; undefined with a problem reported when it is wrong. */
export function checkBackendSplit(
  raw: unknown,
  at: string,
  report: Report,
): BackendSplit | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const split: BackendSplit = {};
  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules) || raw.rules.length > MAX_SPLIT_RULES) {
      report(`${at}rules`, `must be a list of at most ${MAX_SPLIT_RULES} rules`);
    } else {
      const rules: BackendRule[] = [];
      for (const [i, rule] of raw.rules.entries()) {
        const checked = checkRule(rule, `${at}rules[${i}].`, report);
        if (checked !== undefined) rules.push(checked);
      }
      split.rules = rules;
    }
  }
  if (raw.weights !== undefined) {
    if (!Array.isArray(raw.weights) || raw.weights.length > MAX_SPLIT_BACKENDS) {
      report(`${at}weights`, `must be a list of at most ${MAX_SPLIT_BACKENDS} backends`);
    } else {
      split.weights = [];
      for (const [i, entry] of raw.weights.entries()) {
        const where = `${at}weights[${i}].`;
        if (!isObject(entry)) {
          report(where.slice(0, -1), 'must be an object');
          continue;
        }
        const backend = readString(entry, 'backend', where, report);
        const problem = weightProblem(entry.weight);
        if (problem !== undefined) report(`${where}weight`, problem);
        else if (backend !== undefined)
          split.weights.push({ backend, weight: entry.weight as number });
      }
    }
  }
  if (raw.affinity !== undefined) {
    if (raw.affinity === 'own' || raw.affinity === 'primary') split.affinity = raw.affinity;
    else report(`${at}affinity`, "must be 'own' or 'primary'");
  }
  return report.count() === before ? split : undefined;
}

function checkRule(raw: unknown, at: string, report: Report): BackendRule | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const source = readString(raw, 'source', at, report, (s) =>
    s === 'header' || s === 'cookie' ? undefined : "must be 'header' or 'cookie'",
  );
  const name = readString(raw, 'name', at, report, (s) =>
    source === 'header' && s !== s.toLowerCase() ? 'must be lower-case' : matchNameProblem(s),
  );
  const type = readString(raw, 'type', at, report, (s) =>
    (VALUE_MATCH_TYPES as readonly string[]).includes(s)
      ? undefined
      : `must be one of ${VALUE_MATCH_TYPES}`,
  ) as ValueMatchType | undefined;
  const value =
    type === undefined
      ? undefined
      : readString(raw, 'value', at, report, (s) => matchValueProblem(type, s));
  const backend = readString(raw, 'backend', at, report);
  if (report.count() !== before) return undefined;
  return {
    source: source as BackendRule['source'],
    name: name as string,
    type: type as ValueMatchType,
    value: value as string,
    backend: backend as string,
  };
}
