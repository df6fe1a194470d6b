/**
 * What a route may carry besides its backend: the policies the dataplane applies to its
 * requests (ingress-nginx's redirects, CORS, source ranges, rate limits, authentication, splits
 * and custom errors). Part of the route table's contract (route-table.ts re-exports them);
 * plain JSON data, as the rest of the table.
 */
import type { ValueMatchType } from './header-match.ts';
import type { SealedKey } from './key-sealing.ts';
import type { ObjectRef } from './route-table.ts';
import type { WeightedBackend } from './route-weights.ts';

/**
 * A route's error backend and the statuses it answers (ingress-nginx's `default-backend`,
 * `custom-http-errors` and `disable-proxy-intercept-errors`). At least one of `backend` and
 * `codes` is set.
 *
 * - `backend` serves the route's requests, as they are, while the route's own backend has no
 *   endpoints at all (its Service's EndpointSlices list none ready); endpoints that exist but
 *   cannot take traffic (unhealthy, ejected) get Pier's 503, which `codes` may replace.
 * - A response of a status in `codes`, from the upstream (unless `upstreamPasses`) or Pier's own
 *   (no endpoint, upstream down, timeout...), is replaced by the answer of `backend` to the same
 *   method on `/` with the `X-Code`… headers (route-errors.ts), status and body as it gives them;
 *   without `backend`, or when it fails, by Pier's own page for the status. The upstream's
 *   response is dropped (drained up to 64 KiB, else its connection cut); the error backend's is
 *   never intercepted again.
 */
export interface RouteErrors {
  /** Key into {@link RouteTable.backends}. */
  backend?: string;
  /** Statuses 400-599, ascending, at most 200. */
  codes?: number[];
  /** `disable-proxy-intercept-errors`: the upstream's responses pass; Pier's own are still replaced. */
  upstreamPasses?: boolean;
}

/**
 * Limits per client address (the TCP peer), as ingress-nginx's `limit-rps`, `limit-rpm` and
 * `limit-connections`: counted per dataplane process, in zones that routes with the same `zone`
 * share. A request past a limit is answered 503. At least one limit is set.
 */
export interface RouteRateLimit {
  /** Routes naming the same zone share their counters (the controller: the Ingress's `namespace/name`). */
  zone: string;
  /** nginx's `limit_req` at requests per second: a leaky bucket of `burst` requests, no delay. */
  perSecond?: RequestRate;
  /** The same at requests per minute; with `perSecond`, both apply. */
  perMinute?: RequestRate;
  /** Requests in progress at once (nginx's `limit_conn`); an open WebSocket counts. */
  connections?: number;
  /** Canonical CIDRs of client addresses never limited (`limit-allowlist`). */
  exempt?: string[];
}

/** A request rate and the burst above it that is still served at once. */
export interface RequestRate {
  /** Requests per unit of time, at least 1. */
  rate: number;
  /** Requests beyond the rate served before refusing (nginx's `burst`). */
  burst: number;
}

/**
 * How a route chooses the backend of each request, once, before an endpoint is chosen: by
 * affinity (with `affinity`), then by `rules`, then by `weights`; a request none of them decides
 * goes to the route's `backend`. Every backend it names is in the table's backends.
 */
export interface BackendSplit {
  /** Tried in order; the first that matches sends the request to its backend. At most 16. */
  rules?: BackendRule[];
  /**
   * Requests no rule decided are shared out by weight (each gets weight / sum); the route's
   * `backend` is listed with its own share. All weights 0: the route's `backend`. At most 16.
   */
  weights?: WeightedBackend[];
  /**
   * Before the rules, a request whose affinity cookie pins it to an endpoint of one of the
   * split's backends goes to that backend (the route's own first), as ingress-nginx keeps its
   * canary clients. `own`: each backend by its own affinity settings
   * (`affinity-canary-behavior: legacy`); `primary`: the other backends use the route's
   * `backend`'s settings (or none) on this route instead of their own (`sticky`, its default).
   * Absent: affinity plays no part in the choice.
   */
  affinity?: 'own' | 'primary';
}

/** One rule of a {@link BackendSplit}. */
export interface BackendRule {
  /** What is read: a request header, or a cookie of the Cookie header. */
  source: 'header' | 'cookie';
  /** The header (lower-case) or the cookie (compared case-insensitively, as nginx's `$cookie_`). */
  name: string;
  /** `Exact`: equal, case-sensitive; `RegularExpression`: found anywhere in the value. */
  type: ValueMatchType;
  value: string;
  /** Where a matching request goes; the route's `backend` keeps it on the primary. */
  backend: string;
}

/**
 * HTTP basic authentication of a route. A request without credentials that match `users` is
 * answered 401 with `WWW-Authenticate: Basic realm="<realm>"`; one that matches is proxied
 * without its `Authorization` header, as ingress-nginx does. Without `users` (its Secret is
 * missing or unusable) every request is answered 503: the route fails closed.
 */
export interface BasicAuth {
  /** The realm; visible ASCII without `"` or `\`, at most {@link MAX_REALM_LENGTH}. */
  realm: string;
  /** The Secret the users come from; present with `users` (their sealing is bound to it). */
  secret?: ObjectRef;
  /**
   * `user:hash` lines, one a user, sealed with the key ring as TLS keys are, with
   * `basicAuthAad(secret)` as associated data: password hashes never reach Redis or the
   * dataplane's disk copy in the clear.
   */
  users?: SealedKey;
}

/**
 * External authentication of a route, as ingress-nginx's `auth-url`: before a request is
 * proxied, the dataplane asks the auth service (a GET without body carrying the request's
 * headers); a 2xx lets it through, 401 and 403 are the answer, anything else 500. Without `url`
 * (the annotations could not be used) every request is answered 503: the route fails closed.
 */
export interface ExternalAuth {
  /** The auth service's `http(s)://` URL, an nginx string filled in per request. */
  url?: string;
  /** `auth-method`: the auth request's method; set, X-Original-URI and X-Scheme are sent too. */
  method?: string;
  /**
   * Where a 401 sends the client instead (`auth-signin`, with its redirect parameter already
   * added): an nginx string, answered as a 302 Location.
   */
  signin?: string;
  /** `auth-request-redirect`: the X-Auth-Request-Redirect sent; absent, the request URI. */
  requestRedirect?: string;
  /** `auth-response-headers`: copied from the auth response into the upstream request, lower case. */
  responseHeaders?: string[];
  /** `auth-always-set-cookie`: the auth response's cookies go on refusals too. */
  alwaysSetCookie?: boolean;
  /** `auth-cache-key` and `auth-cache-duration`: answers kept and reused; see {@link AuthCache}. */
  cache?: AuthCache;
  /** Metrics label: the Ingress's `namespace/name`. */
  zone: string;
}

/**
 * Auth answers kept per key, as ingress-nginx's `proxy_cache` of its auth location: a request
 * whose key (`scope`, its Host and `key` filled in) has an answer kept is decided by it without
 * asking the auth service.
 */
export interface AuthCache {
  /** The keyspace: ingress-nginx's is per server and location (the controller: Ingress, path, path type). */
  scope: string;
  /** `auth-cache-key`: an nginx string filled in per request (`$remote_user$http_authorization`). */
  key: string;
  /** `auth-cache-duration`, in order: how long answers of which statuses are kept. */
  valid: AuthCacheValid[];
}

/** One `proxy_cache_valid` entry. */
export interface AuthCacheValid {
  /** The statuses it covers; `any`, every one; empty, nginx's 200, 301 and 302. */
  statuses: number[] | 'any';
  /** How long, ms. */
  ms: number;
}

/** The longest realm a route table carries. */
export const MAX_REALM_LENGTH = 256;

/** ingress-nginx's CORS settings of a route. */
export interface CorsPolicy {
  /** Allowed origins (`scheme://host[:port]`, `scheme://*.host` for one label), or `*`. */
  origins: string[];
  /** `Access-Control-Allow-Methods`. */
  methods: string;
  /** `Access-Control-Allow-Headers`. */
  headers: string;
  /** `Access-Control-Expose-Headers`, when set. */
  exposeHeaders?: string;
  /** Send `Access-Control-Allow-Credentials: true`. */
  credentials: boolean;
  /** `Access-Control-Max-Age`. */
  maxAgeSeconds: number;
}

/**
 * Which client addresses (the TCP peer) may use a route, as ingress-nginx's access rules:
 * an address in `deny` is refused; with `allow`, an address outside it is refused too. An empty
 * `allow` refuses everyone.
 */
export interface SourceRanges {
  /** Canonical CIDRs (`192.0.2.0/24`, `2001:db8::/32`). */
  allow?: string[];
  /** Canonical CIDRs; wins over `allow`. */
  deny?: string[];
}

/** A fixed redirect (ingress-nginx's `permanent-redirect` / `temporal-redirect`). */
export interface RouteRedirect {
  /** 300-308. */
  statusCode: number;
  /** The Location sent, as written: an absolute http(s) URL. */
  url: string;
}

/**
 * The redirect of plain-HTTP requests to https (ingress-nginx's `ssl-redirect` and
 * `force-ssl-redirect`): `https://<Host without port>[:<HTTPS port>]<request target>`.
 */
export interface HttpsRedirect {
  /** Only when the virtual host has its own certificate (`ssl-redirect`), else always. */
  onlyWithCertificate: boolean;
  /** 301, 302, 307 or 308. */
  statusCode: number;
  /** Keep a trailing `/` of the request target; ingress-nginx drops it by default. */
  preserveTrailingSlash: boolean;
  /** Name the HTTPS listener's port in the Location even when it is 443. */
  usePort: boolean;
}
