/**
 * Every `nginx.ingress.kubernetes.io/` annotation ingress-nginx reads (its v1.15 parsers and
 * annotation docs), with what Pier does with it. Pure data: the parser
 * (nginx-annotations.ts), the Events, `pier migrate-check` and
 * docs/migrating-from-ingress-nginx.md all read this one list, so they cannot disagree.
 *
 * - `honoured`: served with ingress-nginx's semantics and defaults.
 * - `ignored`: the Ingress is served without it; an `AnnotationIgnored` Event says why.
 * - `refused`: configuration snippets. Never executed; reported like `ignored`.
 */

/** The annotation prefix of ingress-nginx. */
export const NGINX_ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io/';

/** What Pier does with one ingress-nginx annotation. */
export type NginxSupport = 'honoured' | 'ignored' | 'refused';

/** One entry of the catalogue. */
export interface NginxAnnotationInfo {
  support: NginxSupport;
  /** For people: what Pier does, or why it does not. One sentence, no trailing period. */
  note: string;
}

const NOT_YET = 'not supported by Pier yet';
const NGINX_ONLY = 'tunes nginx itself; Pier has no such setting';
const AUTH_KEEPALIVE =
  'Pier always keeps connections to the auth service open (up to 64 per auth origin); no setting';
const SNIPPET = 'a snippet of nginx configuration; Pier never executes snippets';

const honoured = (note: string): NginxAnnotationInfo => ({ support: 'honoured', note });
const ignored = (note: string): NginxAnnotationInfo => ({ support: 'ignored', note });
const refused = (): NginxAnnotationInfo => ({ support: 'refused', note: SNIPPET });

/** By annotation name without the prefix. */
export const NGINX_ANNOTATIONS: Readonly<Partial<Record<string, NginxAnnotationInfo>>> =
  Object.freeze({
    // Redirects (served by the dataplane itself, before any backend is chosen).
    'app-root': honoured('a request for / on the host is answered 302 to this path'),
    'ssl-redirect': honoured(
      'plain-HTTP requests to a host with a certificate are answered 308 to https (on by default for ingress-nginx classes)',
    ),
    'force-ssl-redirect': honoured(
      'plain-HTTP requests are answered 308 to https, certificate or not',
    ),
    'preserve-trailing-slash': honoured('the https redirect keeps a trailing slash'),
    'use-port-in-redirects': honoured("the https redirect names the HTTPS listener's port"),
    'permanent-redirect': honoured('every request is answered 301 (or the code set) to this URL'),
    'permanent-redirect-code': honoured('the code of permanent-redirect, 300-308 (default 301)'),
    'temporal-redirect': honoured(
      'every request is answered 302 (or the code set) to this URL; wins over permanent-redirect',
    ),
    'temporal-redirect-code': honoured('the code of temporal-redirect, 300-307 (default 302)'),
    'from-to-www-redirect': ignored(NOT_YET),
    'relative-redirects': ignored(NOT_YET),

    // Rewrites and paths.
    'rewrite-target': honoured(
      'the path sent upstream becomes this, with $1… from the groups of the path; turns on regex paths for the host',
    ),
    'use-regex': honoured(
      'paths are case-insensitive regular expressions, for every Ingress of the host, longest first',
    ),
    'x-forwarded-prefix': honoured(
      'sent upstream as the X-Forwarded-Prefix header, replacing one the client sent',
    ),
    'enable-rewrite-log': ignored(NGINX_ONLY),

    // Backend connection.
    'backend-protocol': honoured(
      'HTTPS: requests, upgrades and health checks go to the pods over TLS (certificate not verified, as nginx); GRPC, GRPCS and FCGI are reported as not supported',
    ),
    'proxy-body-size': honoured(
      "request bodies above this size (8m, 512k, 0 for no limit) are answered 413; without it the dataplane's --max-body-size applies",
    ),
    'client-body-buffer-size': ignored(NGINX_ONLY),
    'proxy-connect-timeout': honoured(
      "the TCP connect timeout to the pods of the Ingress's paths, whole seconds (default: the dataplane's, 5 s)",
    ),
    'proxy-read-timeout': honoured(
      "the longest wait for the response head and between two reads of its body, whole seconds (default: the dataplane's, 60 s)",
    ),
    'proxy-send-timeout': honoured(
      "the longest time the pod may take none of the request body waiting for it, whole seconds; past it 504 (default: none but the listener's 60 s request timeout)",
    ),
    'proxy-next-upstream': honoured(
      'which failures send a request to another pod: error, timeout, invalid_header, http_NNN, non_idempotent, off (default error timeout); only requests without a body are sent again',
    ),
    'proxy-next-upstream-timeout': honoured(
      'no new attempt after this many seconds since the first (default 0: no limit)',
    ),
    'proxy-next-upstream-tries': honoured(
      'attempts in all, the first included (default 3; 0: as many as there are pods)',
    ),
    'proxy-request-buffering': ignored('Pier streams request bodies; there is nothing to buffer'),
    'proxy-buffering': ignored('Pier streams responses; there is nothing to buffer'),
    'proxy-buffers-number': ignored(NGINX_ONLY),
    'proxy-buffer-size': ignored(NGINX_ONLY),
    'proxy-busy-buffers-size': ignored(NGINX_ONLY),
    'proxy-max-temp-file-size': ignored(NGINX_ONLY),
    'proxy-http-version': ignored('Pier always speaks HTTP/1.1 to backends'),
    'proxy-cookie-domain': ignored(NOT_YET),
    'proxy-cookie-path': ignored(NOT_YET),
    'proxy-redirect-from': ignored(NOT_YET),
    'proxy-redirect-to': ignored(NOT_YET),
    'proxy-ssl-secret': ignored(NOT_YET),
    'proxy-ssl-ciphers': ignored(NOT_YET),
    'proxy-ssl-name': ignored(NOT_YET),
    'proxy-ssl-protocols': ignored(NOT_YET),
    'proxy-ssl-verify': ignored(NOT_YET),
    'proxy-ssl-verify-depth': ignored(NOT_YET),
    'proxy-ssl-server-name': ignored(NOT_YET),
    'upstream-vhost': honoured(
      "the Host header sent to the pods (nginx variables filled in); X-Forwarded-Host keeps the client's",
    ),
    'service-upstream': ignored('Pier always proxies to pod addresses'),
    'connection-proxy-header': ignored(NOT_YET),
    'custom-headers': ignored(NOT_YET),

    // Balancing and affinity.
    'load-balance': honoured(
      'round_robin (the default) as round robin; ewma as power of two choices on outstanding requests, the nearest Pier has',
    ),
    'upstream-hash-by': honoured(
      'requests with the same key (nginx variables: $request_uri, $remote_addr, $http_*, $cookie_*, $arg_*…) go to the same pod, by consistent (rendezvous) hashing; cookie affinity wins',
    ),
    'upstream-hash-by-subset': ignored(NOT_YET),
    'upstream-hash-by-subset-size': ignored(NOT_YET),
    affinity: honoured(
      "cookie: a client keeps its endpoint while that endpoint is healthy (Pier's pier.dev/affinity wins when both are set)",
    ),
    'affinity-mode': ignored(
      'Pier keeps a client on its endpoint while it is healthy, as persistent does; balanced is not offered',
    ),
    'affinity-canary-behavior': honoured(
      "sticky (default): a client pinned by the main's affinity cookie stays on its side, canary or main; legacy: the main only",
    ),
    'session-cookie-name': honoured("the affinity cookie's name (default INGRESSCOOKIE)"),
    'session-cookie-path': honoured(
      "the cookie's Path; Pier's default is / (ingress-nginx's is the Ingress path)",
    ),
    'session-cookie-domain': honoured("the cookie's Domain"),
    'session-cookie-max-age': honoured(
      "the cookie's Max-Age, seconds; without it or expires, a session cookie",
    ),
    'session-cookie-expires': honoured(
      "the cookie's Expires, this many seconds after the response (beside Max-Age if both are set)",
    ),
    'session-cookie-samesite': honoured("the cookie's SameSite: None, Lax or Strict, in any case"),
    'session-cookie-conditional-samesite-none': honoured(
      "SameSite=None is left out for the browsers that reject it (ingress-nginx's User-Agent list)",
    ),
    'session-cookie-secure': honoured(
      '"true": Secure on the cookie over HTTP too; unset or "false", Secure over HTTPS only',
    ),
    'session-cookie-change-on-failure': ignored(NOT_YET),

    // Canary.
    canary: honoured(
      'the Ingress becomes the alternative backend of the main Ingress with the same host and path, not a route of its own',
    ),
    'canary-weight': honoured('this many requests out of canary-weight-total go to the canary'),
    'canary-weight-total': honoured('the total of canary-weight, default 100 (less reads as 100)'),
    'canary-by-header': honoured(
      'the header: always sends to the canary, never to the main backend; first in precedence',
    ),
    'canary-by-header-value': honoured(
      'with canary-by-header: this exact value sends to the canary, others fall through',
    ),
    'canary-by-header-pattern': honoured(
      'with canary-by-header: a value the regular expression finds sends to the canary',
    ),
    'canary-by-cookie': honoured(
      'the cookie: always sends to the canary, never to the main backend; after the header',
    ),

    // Access control and limits.
    'whitelist-source-range': honoured('the older name of allowlist-source-range'),
    'allowlist-source-range': honoured(
      'clients (the TCP peer) outside these CIDRs are answered 403; a bad entry refuses everyone',
    ),
    'denylist-source-range': honoured(
      'clients in these CIDRs are answered 403, even when allowed; a bad entry refuses everyone',
    ),
    'limit-rps': honoured(
      'requests per second per client address, with a burst of rate × limit-burst-multiplier; past it 503',
    ),
    'limit-rpm': honoured('requests per minute per client address, as limit-rps; both may apply'),
    'limit-connections': honoured(
      'requests in progress at once per client address (an open WebSocket counts); past it 503',
    ),
    'limit-burst-multiplier': honoured(
      'the burst of limit-rps and limit-rpm, × the rate (default 5)',
    ),
    'limit-rate': ignored('Pier does not limit the bandwidth of responses'),
    'limit-rate-after': ignored('Pier does not limit the bandwidth of responses'),
    'limit-whitelist': honoured('the older name of limit-allowlist'),
    'limit-allowlist': honoured('client addresses and CIDRs never rate limited'),
    satisfy: ignored(NOT_YET),

    // CORS.
    'enable-cors': honoured(
      'an OPTIONS request from an allowed origin is answered 204 with the CORS headers; other responses to it carry them',
    ),
    'cors-allow-origin': honoured(
      'origins allowed, * (the default) or scheme://host[:port], *. for one label',
    ),
    'cors-allow-methods': honoured("Access-Control-Allow-Methods (ingress-nginx's default list)"),
    'cors-allow-headers': honoured("Access-Control-Allow-Headers (ingress-nginx's default list)"),
    'cors-expose-headers': honoured('Access-Control-Expose-Headers, when set'),
    'cors-allow-credentials': honoured('Access-Control-Allow-Credentials: true unless "false"'),
    'cors-max-age': honoured('Access-Control-Max-Age, seconds (default 1728000)'),

    // Authentication.
    'auth-type': honoured(
      'basic: a request without the password of a listed user is answered 401; digest is not supported (every request 503)',
    ),
    'auth-secret': honoured(
      'the Opaque Secret of the users, in the Ingress namespace; missing or unusable, every request 503',
    ),
    'auth-secret-type': honoured(
      'auth-file (default: an htpasswd file in key auth) or auth-map (a key per user, its hash as value)',
    ),
    'auth-realm': honoured('the realm of WWW-Authenticate: Basic realm="..."'),
    'auth-url': honoured(
      'asked first about each request (GET, its headers, no body; nginx variables filled in): 2xx lets it through, 401 and 403 are passed on, others 500',
    ),
    'auth-method': honoured('the method of the auth request (default GET)'),
    'auth-signin': honoured(
      'a 401 from the auth service becomes a 302 to this URL, with the original URL in its redirect parameter',
    ),
    'auth-signin-redirect-param': honoured('the query parameter of auth-signin (default rd)'),
    'auth-request-redirect': honoured(
      'the X-Auth-Request-Redirect sent to the auth service (default: the request URI)',
    ),
    'auth-response-headers': honoured(
      "these headers of the auth service's answer are set on the request sent to the pods",
    ),
    'auth-proxy-set-headers': ignored(NOT_YET),
    'auth-always-set-cookie': honoured(
      "the auth service's Set-Cookie goes on every answer, refusals included (default: 2xx and 3xx)",
    ),
    'auth-cache-key': honoured(
      "the auth service's answers are kept per this key (nginx variables), the Ingress's path and the Host, and reused",
    ),
    'auth-cache-duration': honoured(
      'how long answers of which statuses are kept: 200 202 10m, 401 5m (default 200 202 401 5m)',
    ),
    'auth-keepalive': ignored(AUTH_KEEPALIVE),
    'auth-keepalive-requests': ignored(AUTH_KEEPALIVE),
    'auth-keepalive-share-vars': ignored(
      'tunes nginx subrequests; Pier fills in the variables from the request itself',
    ),
    'auth-keepalive-timeout': ignored(AUTH_KEEPALIVE),
    'enable-global-auth': ignored(NOT_YET),
    'auth-tls-secret': ignored(NOT_YET),
    'auth-tls-verify-client': ignored(NOT_YET),
    'auth-tls-verify-depth': ignored(NOT_YET),
    'auth-tls-error-page': ignored(NOT_YET),
    'auth-tls-pass-certificate-to-upstream': ignored(NOT_YET),
    'auth-tls-match-cn': ignored(NOT_YET),

    // Errors and hosts.
    'custom-http-errors': honoured(
      "these statuses (400-599), the upstream's and Pier's own, are answered by the default-backend Service (else Pier's own page)",
    ),
    'default-backend': honoured(
      "a Service of the Ingress's namespace (first port): serves while the route's Service has no endpoint, and answers custom-http-errors",
    ),
    'disable-proxy-intercept-errors': honoured(
      "the upstream's responses pass; Pier's own errors of custom-http-errors still go to the default backend",
    ),
    'server-alias': honoured(
      "further exact names of the Ingress's hosts; a real host of the name wins over an alias",
    ),

    // TLS towards clients.
    'ssl-passthrough': ignored('Pier terminates TLS; TLS passthrough is not supported'),
    'ssl-ciphers': ignored(NOT_YET),
    'ssl-prefer-server-ciphers': ignored(NOT_YET),

    // Mirroring.
    'mirror-target': ignored(NOT_YET),
    'mirror-host': ignored(NOT_YET),
    'mirror-request-body': ignored(NOT_YET),

    // nginx modules Pier does not have.
    'enable-access-log': ignored('Pier logs every request as JSON; there is no per-Ingress switch'),
    'enable-opentelemetry': ignored(NGINX_ONLY),
    'opentelemetry-trust-incoming-span': ignored(NGINX_ONLY),
    'opentelemetry-operation-name': ignored(NGINX_ONLY),
    'enable-modsecurity': ignored('Pier has no web application firewall'),
    'enable-owasp-core-rules': ignored('Pier has no web application firewall'),
    'modsecurity-transaction-id': ignored('Pier has no web application firewall'),
    'http2-push-preload': ignored('HTTP/2 server push is gone from browsers'),
    'fastcgi-index': ignored('Pier does not speak FastCGI'),
    'fastcgi-params-configmap': ignored('Pier does not speak FastCGI'),

    // Snippets: nginx configuration as text.
    'configuration-snippet': refused(),
    'server-snippet': refused(),
    'auth-snippet': refused(),
    'modsecurity-snippet': refused(),
    'stream-snippet': refused(),
  });

/** What Pier does with an annotation not in the catalogue (a typo, or a newer ingress-nginx's). */
export const UNKNOWN_NGINX_ANNOTATION: NginxAnnotationInfo = Object.freeze({
  support: 'ignored',
  note: 'not an ingress-nginx annotation Pier knows',
});

/** The catalogue entry of a full annotation name under {@link NGINX_ANNOTATION_PREFIX}. */
export function nginxAnnotationInfo(fullName: string): NginxAnnotationInfo {
  const name = fullName.slice(NGINX_ANNOTATION_PREFIX.length);
  // Own properties only: `constructor` is not an annotation.
  return (
    (Object.hasOwn(NGINX_ANNOTATIONS, name) && NGINX_ANNOTATIONS[name]) || UNKNOWN_NGINX_ANNOTATION
  );
}
