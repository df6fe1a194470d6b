/**
 * The route table: everything a dataplane needs to serve, compiled by the controller from
 * Ingresses, Services, EndpointSlices, Secrets and HealthCheckPolicies, and published to Redis
 * under a revision. Plain JSON data (no classes, no Maps) so it encodes and diffs trivially;
 * readers treat it as immutable.
 */
import type { ValueMatchType } from './header-match.ts';
import type { SealedKey } from './key-sealing.ts';
import type { PathType } from './path-match.ts';
import type { WeightedBackend } from './route-weights.ts';

/** A versioned, complete route table. */
export interface RouteTable {
  /** Bumped by one on every published change; 0 is the empty table nobody published. */
  revision: number;
  /** Virtual hosts by {@link virtualHostKey}(address, host). */
  virtualHosts: Record<string, VirtualHost>;
  /** Backends by {@link Backend.id}. */
  backends: Record<string, Backend>;
  /** Certificates by {@link Certificate.id}. */
  certificates: Record<string, Certificate>;
}

/** The routes served for one host on one external address. */
export interface VirtualHost {
  /** The external IP (canonical text form) this host is served on, or '*' for every address. */
  address: string;
  /** Lowercase exact host, `*.x.y` wildcard (one label), or '' for any host. */
  host: string;
  /** Present when the host is served over TLS. */
  tls?: {
    /** Key into {@link RouteTable.certificates}. */
    certificate: string;
  };
  /** Path rules in any order; matching applies Ingress precedence, first wins among equals. */
  routes: Route[];
  /**
   * Backend id used when no route matches. Only meaningful on the any-host ('') virtual host,
   * where it stands for the Ingress `spec.defaultBackend` served on this address.
   */
  defaultBackend?: string;
  /**
   * A request for exactly `/` (query aside) is answered 302 to this absolute path on the same
   * scheme and Host, before any route is looked at (ingress-nginx's `app-root`).
   */
  appRoot?: string;
  /**
   * ingress-nginx's regex mode (`use-regex`, or a `rewrite-target` on any Ingress of the host):
   * every route's path is a case-insensitive regular expression anchored at the start
   * (`^<path>`), tried in the order of `routes` (the controller lists them longest path first);
   * the first that matches wins.
   */
  pathRegex?: boolean;
  /**
   * Further exact host names this virtual host answers to on its address, requests and TLS
   * server names alike (ingress-nginx's `server-alias`), at most `MAX_SERVER_ALIASES`. A virtual
   * host of that name wins over an alias; of two hosts claiming one alias, the one whose host
   * sorts first (server-aliases.ts).
   */
  aliases?: string[];
}

/** One Ingress path rule. */
export interface Route {
  /** The Ingress path, as written (Exact: whole path; Prefix: element prefix). */
  path: string;
  /** The Ingress pathType. */
  pathType: PathType;
  /**
   * Key into {@link RouteTable.backends}: the backend of every request, or with `split` the
   * primary one (the only one a dataplane that does not know `split` serves).
   */
  backend: string;
  /** Other backends a request may go to, chosen per request (ingress-nginx's canary). */
  split?: BackendSplit;
  /** The Ingress that contributed this rule, for logs and Events. */
  source: ObjectRef;
  /** Every request is answered with this redirect instead of being proxied. */
  redirect?: RouteRedirect;
  /** Plain-HTTP requests are answered with a redirect to https first. */
  httpsRedirect?: HttpsRedirect;
  /** Client addresses allowed and denied; others answered 403. */
  sourceRanges?: SourceRanges;
  /** Largest request body, bytes, instead of the dataplane's `--max-body-size`; 0: no limit. */
  maxBodyBytes?: number;
  /**
   * ingress-nginx's `rewrite-target`: when the path, as a case-insensitive regular expression,
   * matches the request's, the path sent upstream is this, with `$1`… from its groups.
   */
  rewriteTarget?: string;
  /** Cross-origin resource sharing (ingress-nginx's `enable-cors`). */
  cors?: CorsPolicy;
  /** Sent upstream as `X-Forwarded-Prefix`, replacing the client's (ingress-nginx's `x-forwarded-prefix`). */
  forwardedPrefix?: string;
  /** Timeouts and retries of the route's upstream exchanges, where not the dataplane's. */
  upstream?: UpstreamPolicy;
  /** Requests and concurrent requests per client address (ingress-nginx's `limit-*`). */
  rateLimit?: RouteRateLimit;
  /** HTTP basic authentication (ingress-nginx's `auth-type: basic`); see {@link BasicAuth}. */
  basicAuth?: BasicAuth;
  /** External authentication (ingress-nginx's `auth-url`); see {@link ExternalAuth}. */
  externalAuth?: ExternalAuth;
  /** ingress-nginx's `default-backend` and `custom-http-errors`; see {@link RouteErrors}. */
  errors?: RouteErrors;
}

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
 * How the dataplane talks to a route's endpoints where the route says otherwise than the
 * dataplane's flags (ingress-nginx's `proxy-*-timeout` and `proxy-next-upstream*`).
 */
export interface UpstreamPolicy {
  /** TCP connect timeout, ms, instead of `--connect-timeout`. */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the response head and between two reads of its body, ms, instead of
   * `--response-header-timeout` and `--idle-timeout` (nginx's `proxy_read_timeout`).
   */
  readTimeoutMs?: number;
  /**
   * Longest time the endpoint may take none of the request body waiting for it, ms (nginx's
   * `proxy_send_timeout`, between two writes); past it the attempt ends with 504. Absent: no
   * such limit (the listener's request timeout bounds the upload).
   */
  sendTimeoutMs?: number;
  /** When another endpoint gets the request, instead of the dataplane's retry rule. */
  retry?: RetryPolicy;
}

/**
 * nginx's `proxy_next_upstream`: which failures send the request to another endpoint. Only
 * requests without a body are sent again (Pier streams bodies and keeps no copy), and only
 * while nothing of the response has reached the client.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 0: no limit but the endpoints (nginx's 0). */
  tries: number;
  /** No new attempt once this long has passed since the first began, ms; 0: no limit. */
  timeoutMs: number;
  /** `error`: the connection failed, or broke before the response head. */
  onError: boolean;
  /** `timeout`: connecting or waiting for the response head timed out. */
  onTimeout: boolean;
  /** `invalid_header`: the response head was empty or invalid. */
  onInvalidHeader: boolean;
  /** `http_NNN`: these response statuses (500, 502, 503, 504, 403, 404, 429). */
  statuses: number[];
  /** `non_idempotent`: POST, PATCH and LOCK are sent again too. */
  nonIdempotent: boolean;
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

/** A namespaced Kubernetes object. */
export interface ObjectRef {
  /** The object's namespace. */
  namespace: string;
  /** The object's name. */
  name: string;
}

/** A Service port with its endpoints and the policies that apply to it. */
export interface Backend {
  /** {@link backendId}(namespace, service, port); also its key in the table. */
  id: string;
  /** The Service. */
  service: ObjectRef;
  /** The Service port, by number or by name, as the Ingress backend names it. */
  servicePort: number | string;
  /** Pod addresses from the Service's EndpointSlices, with their conditions. */
  endpoints: Endpoint[];
  /** Active and passive health checking for the endpoints. */
  healthCheck: HealthCheckSettings;
  /** How requests are spread over healthy endpoints. */
  balancing: BalancingSettings;
  /**
   * `https`: the endpoints speak HTTPS (ingress-nginx's `backend-protocol: HTTPS`). Requests and
   * upgrades go over TLS, without SNI and without verifying the pod's certificate, as nginx's
   * `proxy_ssl_verify off` default; the health check probes over TLS too. Absent: plain HTTP.
   */
  protocol?: 'https';
}

/** One endpoint of an EndpointSlice, resolved to the target port. */
export interface Endpoint {
  /** Pod IPv4 or IPv6 address, canonical text form. */
  address: string;
  /** Target port, 1-65535. */
  port: number;
  /** EndpointSlice `conditions.ready`. */
  ready: boolean;
  /** EndpointSlice `conditions.serving` (ready, or still serving while terminating). */
  serving: boolean;
  /** EndpointSlice `conditions.terminating`. */
  terminating: boolean;
  /** The node the pod runs on, if known. */
  nodeName?: string;
  /** The zone of that node, if known. */
  zone?: string;
  /** Usually the Pod. */
  targetRef?: ObjectRef;
}

/** Load-balancing settings of a backend. */
export interface BalancingSettings {
  /** Power of two random choices (least in-flight of two) or plain round robin. */
  algorithm: 'p2c' | 'round-robin';
  /**
   * ingress-nginx's `upstream-hash-by`: requests whose key (this nginx string of variables, e.g.
   * `$request_uri`; `upstream-hash.ts`) is the same go to the same endpoint, by rendezvous
   * hashing, instead of `algorithm`. Cookie affinity still wins. Older dataplanes use `algorithm`.
   */
  hashBy?: string;
  /** Cookie-based session affinity, when set. */
  affinity?: {
    /** Name of the cookie Pier sets and reads. */
    cookieName: string;
    /** How long the cookie pins a client to an endpoint. */
    ttlSeconds: number;
    /**
     * The cookie's attributes as ingress-nginx's `session-cookie-*` set them; absent: Pier's
     * (`Path=/; Max-Age=<ttl>; HttpOnly; SameSite=Lax`).
     */
    cookie?: AffinityCookie;
  };
}

/** The attributes of an affinity cookie: `Path`, then `Max-Age` unless a session cookie, `Domain`, `HttpOnly`, `Secure`, `SameSite`. */
export interface AffinityCookie {
  path: string;
  /** No `Max-Age`: the cookie ends with the browser session. */
  session: boolean;
  domain?: string;
  /** Absent: Secure when the request came over HTTPS, as ingress-nginx. */
  secure?: boolean;
  sameSite?: 'None' | 'Lax' | 'Strict';
}

/** Health checking of a backend's endpoints, from a HealthCheckPolicy or the cluster default. */
export interface HealthCheckSettings {
  /** The HealthCheckPolicy these settings come from; absent means the cluster default. */
  policy?: ObjectRef;
  /** Port to probe; absent means the endpoint's own port. */
  port?: number;
  /** The HTTP probe. */
  http: {
    /** Request path, absolute. */
    path: string;
    /** Host header to send; absent means the endpoint address. */
    host?: string;
    /** Inclusive [low, high] status ranges counted as success. */
    expectedStatuses: Array<[number, number]>;
    /** Probe over TLS (the backend's endpoints speak HTTPS), without verifying the certificate. */
    tls?: boolean;
  };
  /** Time between probes of one endpoint, ms. */
  intervalMs: number;
  /** Probe timeout, ms; less than the interval. */
  timeoutMs: number;
  /** Consecutive successes that mark an unhealthy endpoint healthy. */
  healthyThreshold: number;
  /** Consecutive failures that mark a healthy endpoint unhealthy. */
  unhealthyThreshold: number;
  /** Outlier detection from live traffic. */
  passive: {
    /** Consecutive failed requests (connect errors, 5xx) that eject an endpoint. */
    consecutiveFailures: number;
    /** How long an ejected endpoint receives no traffic, ms. */
    ejectionMs: number;
    /**
     * At most this share (0-100) of a backend's endpoints is ejected at once, so passive
     * ejection cannot empty a backend; 0 turns passive ejection off.
     */
    maxEjectionPercent: number;
  };
}

/** A TLS certificate from a Secret, with its private key sealed. */
export interface Certificate {
  /** Its key in the table, e.g. `namespace/secret-name`; also the sealing AAD. */
  id: string;
  /** The `kubernetes.io/tls` Secret it comes from. */
  secret: ObjectRef;
  /** PEM certificate chain, leaf first. Public material only. */
  certificatePem: string;
  /** The private key, sealed with the key ring (never plaintext). */
  key: SealedKey;
  /** Expiry of the leaf certificate, ISO 8601, when known. */
  notAfter?: string;
}

/** A table with nothing in it, at revision 0. */
export function emptyRouteTable(): RouteTable {
  return { revision: 0, virtualHosts: {}, backends: {}, certificates: {} };
}

/**
 * The key of a virtual host: `${address}|${host}`. `|` cannot occur in an IP address or a host
 * name, so the key splits back unambiguously.
 */
export function virtualHostKey(address: string, host: string): string {
  return `${address}|${host}`;
}

/** The id of a backend: `namespace/service:port`, e.g. `shop/web:80` or `shop/web:http`. */
export function backendId(namespace: string, service: string, port: number | string): string {
  return `${namespace}/${service}:${port}`;
}
