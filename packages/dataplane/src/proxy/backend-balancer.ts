/**
 * Choosing an endpoint of one backend for one request: eligibility, power-of-two-choices or
 * round robin, and cookie affinity. Pure apart from the injected random source; health and
 * ejection come in through the caller's `usable` predicate.
 */
import { createHash } from 'node:crypto';
import {
  type Backend,
  type BalancingSettings,
  type Endpoint,
  endpointField,
  rendezvousIndex,
} from '@pier/shared';
import { sameSiteNoneCompatible } from './same-site.ts';

/** The endpoint chosen for a request. */
export interface Pick {
  endpoint: Endpoint;
  /** `endpointField(address, port)`. */
  id: string;
  /** A `Set-Cookie` header value, when affinity is on and the client must be (re)pinned. */
  setCookie?: string;
}

/** What one {@link BackendBalancer.pick} needs to know about the moment. */
export interface PickInput {
  /**
   * The request time, ms: dates an affinity cookie's `Expires` (the clock when omitted). Health
   * and ejection times enter through `usable`.
   */
  now?: number;
  /** Whether the endpoint may take traffic: not unhealthy (active) and not ejected (passive). */
  usable: (id: string) => boolean;
  /** Endpoints already tried for this request (retries). */
  exclude?: ReadonlySet<string>;
  /** The value of the affinity cookie sent by the client, if any. */
  affinityCookie?: string;
  /**
   * The affinity in force for this request: the backend's own when absent, `null` for none. A
   * canary route lends its main backend's (`BackendSplit.affinity: 'primary'`).
   */
  affinity?: Affinity | null;
  /** The request came over TLS: an ingress-nginx cookie without `secure` set is then Secure. */
  https?: boolean;
  /** The client's User-Agent, given for a cookie with `conditionalSameSiteNone` only. */
  userAgent?: string;
  /**
   * The request's key when the backend hashes (`balancing.hashBy`): the endpoint it maps to is
   * chosen instead of the algorithm's, among the eligible ones.
   */
  hashKey?: string;
}

/** Options of a {@link BackendBalancer}. */
export interface BackendBalancerOptions {
  /** Uniform in [0, 1); Math.random when omitted. Injected by tests. */
  random?: () => number;
}

interface Candidate {
  id: string;
  endpoint: Endpoint;
}

/** Cookie affinity settings of a backend. */
type Affinity = NonNullable<BalancingSettings['affinity']>;

/**
 * The affinity cookie value for an endpoint: the first 16 hex digits of
 * sha256(`${backendId}|${endpointId}`). Opaque (reveals no pod address), stable across nodes and
 * restarts, and different per backend, so one cookie name used by two Services cannot pin a
 * client of one to an endpoint of the other by accident.
 */
export function affinityToken(backendId: string, endpointId: string): string {
  return createHash('sha256').update(`${backendId}|${endpointId}`).digest('hex').slice(0, 16);
}

/**
 * Spreads one backend's requests over its eligible endpoints. An endpoint is eligible when it is
 * `ready` and not `terminating` (a terminating pod gets no new requests, even while it still
 * serves), `usable(id)` holds, and it is not in `exclude`. With no eligible endpoint `pick`
 * returns undefined and the proxy answers 503: Pier never "panic routes" to endpoints known to
 * be bad.
 *
 * Algorithms:
 * - `p2c`: two distinct eligible endpoints drawn at random, the one with fewer outstanding
 *   requests wins, the first drawn on a tie;
 * - `round-robin`: the eligible endpoints in id order, continuing after the last one picked
 *   (that position survives {@link update}).
 *
 * Cost: each pick walks the backend's ready endpoints once (one `usable` call each), O(n) with
 * n at most a few hundred; nothing is sorted or hashed per pick.
 */
export class BackendBalancer {
  readonly #random: () => number;
  #backend: Backend;
  /** Ready, non-terminating endpoints sorted by id. */
  #candidates: Candidate[] = [];
  /** Affinity token → endpoint id, for every endpoint of the backend; made on first use. */
  #byToken: Map<string, string> | undefined;
  /** In-flight requests per endpoint id. Kept for removed endpoints until they drain. */
  readonly #outstanding = new Map<string, number>();
  /** Round robin: the last id picked; the next pick starts after it. */
  #lastPicked: string | undefined;
  #ids = new Set<string>();

  constructor(backend: Backend, options: BackendBalancerOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#backend = backend;
    this.update(backend);
  }

  /** The backend as last given. */
  get backend(): Backend {
    return this.#backend;
  }

  /**
   * Takes a new version of the backend (a new route table). Outstanding counts and the round-robin
   * position carry over for endpoints that remain.
   */
  update(backend: Backend): void {
    this.#backend = backend;
    const candidates: Candidate[] = [];
    const ids = new Set<string>();
    for (const endpoint of backend.endpoints) {
      const id = endpointField(endpoint.address, endpoint.port);
      if (ids.has(id)) continue; // first wins, as in route-table validation
      ids.add(id);
      if (endpoint.ready && !endpoint.terminating) candidates.push({ id, endpoint });
    }
    candidates.sort((a, b) => compare(a.id, b.id));
    this.#candidates = candidates;
    this.#ids = ids;
    // Made now for a backend with affinity (off the request path); on first use for one that
    // only borrows affinity on a canary route.
    this.#byToken = undefined;
    if (backend.balancing.affinity !== undefined) this.#tokens();
    for (const [id, count] of this.#outstanding) {
      if (count <= 0 && !ids.has(id)) this.#outstanding.delete(id);
    }
  }

  /**
   * Takes over from the balancer of the previous version of the backend, built beforehand with
   * the new version: outstanding counts (also of endpoints that left, until they drain) and the
   * round-robin position carry over, as with {@link BackendBalancer.update}, in O(outstanding).
   */
  adopt(previous: BackendBalancer): void {
    for (const [id, count] of previous.#outstanding) {
      if (count > 0 || this.#ids.has(id)) this.#outstanding.set(id, count);
    }
    this.#lastPicked = previous.#lastPicked;
  }

  /** Chooses an endpoint, or undefined when none is eligible. */
  pick(input: PickInput): Pick | undefined {
    const eligible = this.#eligible(input);
    if (eligible.length === 0) return undefined;
    const affinity =
      input.affinity === undefined
        ? this.#backend.balancing.affinity
        : (input.affinity ?? undefined);
    if (affinity !== undefined && input.affinityCookie !== undefined) {
      const pinned = this.#tokens().get(input.affinityCookie);
      const hit = pinned === undefined ? undefined : eligible.find((c) => c.id === pinned);
      if (hit !== undefined) return { endpoint: hit.endpoint, id: hit.id };
    }
    const chosen =
      input.hashKey !== undefined
        ? (eligible[
            rendezvousIndex(
              input.hashKey,
              eligible.map((c) => c.id),
            )
          ] as Candidate)
        : this.#backend.balancing.algorithm === 'round-robin'
          ? this.#roundRobin(eligible)
          : this.#p2c(eligible);
    const result: Pick = { endpoint: chosen.endpoint, id: chosen.id };
    if (affinity !== undefined) {
      const token = affinityToken(this.#backend.id, chosen.id);
      result.setCookie = affinityCookie(
        affinity,
        token,
        input.https === true,
        input.now,
        input.userAgent,
      );
    }
    return result;
  }

  /**
   * Whether an affinity cookie with value `token` pins its client to one of the backend's
   * endpoints, ready or not (ingress-nginx's `is_affinitized`).
   */
  pins(token: string): boolean {
    return this.#tokens().has(token);
  }

  /** How many endpoints `pick` would choose from. */
  eligibleCount(input: Omit<PickInput, 'affinityCookie'>): number {
    return this.#eligible(input).length;
  }

  /** A request to the endpoint started. */
  begin(id: string): void {
    this.#outstanding.set(id, (this.#outstanding.get(id) ?? 0) + 1);
  }

  /** A request to the endpoint finished (any outcome). Extra calls never go below zero. */
  end(id: string): void {
    const count = (this.#outstanding.get(id) ?? 0) - 1;
    if (count > 0) this.#outstanding.set(id, count);
    else if (this.#ids.has(id)) this.#outstanding.set(id, 0);
    else this.#outstanding.delete(id);
  }

  /** Whether the backend (as last given) lists the endpoint, ready or not. */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Requests to the endpoint in flight. */
  outstanding(id: string): number {
    return this.#outstanding.get(id) ?? 0;
  }

  /** The affinity tokens of every endpoint, made when first asked for after an update. */
  #tokens(): Map<string, string> {
    if (this.#byToken !== undefined) return this.#byToken;
    const byToken = new Map<string, string>();
    for (const id of this.#ids) byToken.set(affinityToken(this.#backend.id, id), id);
    this.#byToken = byToken;
    return byToken;
  }

  #eligible(input: Omit<PickInput, 'affinityCookie'>): Candidate[] {
    const { usable, exclude } = input;
    return this.#candidates.filter((c) => usable(c.id) && exclude?.has(c.id) !== true);
  }

  #p2c(eligible: Candidate[]): Candidate {
    const n = eligible.length;
    const i = this.#draw(n);
    const first = eligible[i] as Candidate;
    if (n === 1) return first;
    let j = this.#draw(n - 1);
    if (j >= i) j += 1;
    const second = eligible[j] as Candidate;
    return this.outstanding(second.id) < this.outstanding(first.id) ? second : first;
  }

  #roundRobin(eligible: Candidate[]): Candidate {
    // Eligible is sorted by id: take the first id after the last one picked, wrapping around.
    const last = this.#lastPicked;
    const chosen =
      (last === undefined ? undefined : eligible.find((c) => compare(c.id, last) > 0)) ??
      (eligible[0] as Candidate);
    this.#lastPicked = chosen.id;
    return chosen;
  }

  /** A uniform index in [0, n), robust to a random source that returns 1 or garbage. */
  #draw(n: number): number {
    const r = this.#random();
    const i = Math.floor((Number.isFinite(r) ? r : 0) * n);
    return Math.min(Math.max(i, 0), n - 1);
  }
}

/** Plain code-unit order: stable and locale-independent. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The Set-Cookie value that pins a client: Pier's attributes, or ingress-nginx's when given.
 * `now` (ms, default the clock) dates an `Expires`.
 */
export function affinityCookie(
  affinity: NonNullable<BalancingSettings['affinity']>,
  token: string,
  https: boolean,
  now?: number,
  userAgent?: string,
): string {
  const { cookieName, ttlSeconds, cookie } = affinity;
  if (cookie === undefined)
    return `${cookieName}=${token}; Path=/; Max-Age=${ttlSeconds}; HttpOnly; SameSite=Lax`;
  let text = `${cookieName}=${token}; Path=${cookie.path}`;
  if (cookie.expiresSeconds !== undefined) {
    const at = new Date((now ?? Date.now()) + cookie.expiresSeconds * 1000);
    text += `; Expires=${at.toUTCString()}`;
  }
  if (!cookie.session) text += `; Max-Age=${ttlSeconds}`;
  if (cookie.domain !== undefined) text += `; Domain=${cookie.domain}`;
  text += '; HttpOnly';
  if (cookie.secure ?? https) text += '; Secure';
  const sameSite =
    cookie.sameSite === 'None' &&
    cookie.conditionalSameSiteNone === true &&
    !sameSiteNoneCompatible(userAgent)
      ? undefined
      : cookie.sameSite;
  if (sameSite !== undefined) text += `; SameSite=${sameSite}`;
  return text;
}
