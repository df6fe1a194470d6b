/**
 * The route table: everything a dataplane needs to serve, compiled by the controller from
 * Ingresses, Services, EndpointSlices, Secrets and HealthCheckPolicies, and published to Redis
 * under a revision. Plain JSON data (no classes, no Maps) so it encodes and diffs trivially;
 * readers treat it as immutable.
 */
import type { SealedKey } from './key-sealing.ts';
import type { PathType } from './path-match.ts';
import type {
  BackendSplit,
  BasicAuth,
  CorsPolicy,
  ExternalAuth,
  HttpsRedirect,
  RouteErrors,
  RouteRateLimit,
  RouteRedirect,
  SourceRanges,
} from './route-policies.ts';

export type * from './route-policies.ts';
export { MAX_REALM_LENGTH } from './route-policies.ts';

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
  /**
   * The Host header sent upstream instead of the client's (ingress-nginx's `upstream-vhost`): an
   * nginx string, filled in per request (route-upstream-host.ts). X-Forwarded-Host stays the
   * client's.
   */
  upstreamHost?: string;
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

/**
 * The attributes of an affinity cookie: `Path`, `Expires` when set, `Max-Age` unless a session
 * cookie, `Domain`, `HttpOnly`, `Secure`, `SameSite`.
 */
export interface AffinityCookie {
  path: string;
  /** No `Max-Age`: without `expiresSeconds` too, the cookie ends with the browser session. */
  session: boolean;
  /**
   * `Expires`, this many seconds after the response (ingress-nginx's `session-cookie-expires`),
   * beside `Max-Age` when both are set. Older dataplanes send no `Expires`.
   */
  expiresSeconds?: number;
  domain?: string;
  /** Absent: Secure when the request came over HTTPS, as ingress-nginx. */
  secure?: boolean;
  sameSite?: 'None' | 'Lax' | 'Strict';
  /**
   * `SameSite=None` is left out for browsers that reject it (ingress-nginx's
   * `session-cookie-conditional-samesite-none`; the dataplane reads the User-Agent then).
   */
  conditionalSameSiteNone?: boolean;
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
