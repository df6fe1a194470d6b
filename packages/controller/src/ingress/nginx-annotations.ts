/**
 * The `nginx.ingress.kubernetes.io/` annotations of one Ingress, read with ingress-nginx's
 * semantics and defaults into what the route table can express, and every one Pier does not
 * honour named with why (nginx-annotation-catalogue.ts). Pure.
 *
 * As in ingress-nginx, a bad value of an honoured annotation is reported and its default used;
 * the Ingress is still served.
 */
import type {
  CorsPolicy,
  HttpsRedirect,
  RouteRedirect,
  SourceRanges,
  UpstreamPolicy,
} from '@pier/shared';
import {
  appRootProblem,
  forwardedPrefixProblem,
  parseCidrList,
  redirectUrlProblem,
  upstreamHostProblem,
} from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX, nginxAnnotationInfo } from './nginx-annotation-catalogue.ts';
import { type NginxAuthRequest, parseNginxAuth } from './nginx-auth.ts';
import { parseNginxBool } from './nginx-bool.ts';
import { type NginxCanary, parseNginxCanary } from './nginx-canary.ts';
import { parseNginxCors } from './nginx-cors.ts';
import { type NginxErrors, parseNginxErrors } from './nginx-errors.ts';
import { type NginxExternalAuth, parseNginxExternalAuth } from './nginx-external-auth.ts';
import { type NginxRateLimit, parseNginxRateLimit } from './nginx-rate-limit.ts';
import { parseNginxServerAlias } from './nginx-server-alias.ts';
import { parseNginxUpstream } from './nginx-upstream.ts';

/** ingress-nginx's `http-redirect-code` default: the code of its https redirects. */
export const HTTPS_REDIRECT_CODE = 308;
const DEFAULT_PERMANENT_CODE = 301;
const DEFAULT_TEMPORAL_CODE = 302;

/**
 * ingress-nginx's `no-tls-redirect-locations` default: paths starting with it never get the
 * https redirect, so an ACME HTTP-01 challenge (cert-manager) is answered over plain HTTP.
 */
export const NO_HTTPS_REDIRECT_PREFIX = '/.well-known/acme-challenge';

/** What an Ingress's ingress-nginx annotations make of its routes and hosts. */
export interface NginxActions {
  /** Answer every request of the Ingress's routes with this redirect. */
  redirect?: RouteRedirect;
  /** Send plain-HTTP requests of the Ingress's routes to https first. */
  httpsRedirect?: HttpsRedirect;
  /** Answer `/` on the Ingress's hosts with a redirect to this path. */
  appRoot?: string;
  /** Client addresses allowed and denied on the Ingress's routes. */
  sourceRanges?: SourceRanges;
  /** Request body limit of the Ingress's routes, bytes (0: none). */
  maxBodyBytes?: number;
  /** `use-regex`: the Ingress's paths are regular expressions (and so are all of its hosts'). */
  useRegex?: boolean;
  /** `rewrite-target`: the path sent upstream, with `$1`… from the groups of the Ingress path. */
  rewriteTarget?: string;
  /** `enable-cors` and the `cors-*` settings. */
  cors?: CorsPolicy;
  /** `backend-protocol: HTTPS`: the Ingress's backends speak HTTPS. */
  backendProtocol?: 'https';
  /** `x-forwarded-prefix`: the `X-Forwarded-Prefix` header sent upstream. */
  forwardedPrefix?: string;
  /** `upstream-vhost`: the Host header sent upstream (an nginx string). */
  upstreamHost?: string;
  /** `proxy-connect-timeout`, `proxy-read-timeout`, `proxy-next-upstream*` (and their defaults). */
  upstream?: UpstreamPolicy;
  /** `limit-rps`, `limit-rpm`, `limit-connections` and their settings. */
  rateLimit?: NginxRateLimit;
  /**
   * `canary: "true"`: the Ingress's paths are alternatives of the main Ingress's routes, not
   * routes of their own; the other actions are not used.
   */
  canary?: NginxCanary;
  /** `auth-type` and its settings; its Secret is read when the Ingress is planned. */
  auth?: NginxAuthRequest;
  /** `server-alias`: further names of the Ingress's hosts, sorted. */
  serverAliases?: string[];
  /** `custom-http-errors`, `default-backend`, `disable-proxy-intercept-errors`. */
  errors?: NginxErrors;
  /** `auth-url` and its settings (the routes' zone is the Ingress). */
  externalAuth?: NginxExternalAuth;
}

/** An annotation under the prefix that Pier does not honour, and why. */
export interface IgnoredAnnotation {
  /** The full annotation name. */
  annotation: string;
  note: string;
}

/** The result of {@link parseNginxAnnotations}. */
export interface ParsedNginxAnnotations {
  actions: NginxActions;
  /** Sorted by annotation name. */
  ignored: IgnoredAnnotation[];
  /** Honoured annotations with a bad value; their default applies. */
  problems: AnnotationProblem[];
}

/** How the Ingress is served: ingress-nginx's own defaults apply only to its classes. */
export interface NginxDialect {
  /**
   * The Ingress is of an ingress-nginx class served in compatibility mode
   * (`--ingress-class-compat`): `ssl-redirect` is on unless it says otherwise, as in
   * ingress-nginx. On Pier's own classes it is off unless asked for.
   */
  nginxClass: boolean;
}

/** Ingresses of Pier's own classes. */
export const PIER_DIALECT: NginxDialect = Object.freeze({ nginxClass: false });
/** Ingresses of a compatibility class. */
export const NGINX_DIALECT: NginxDialect = Object.freeze({ nginxClass: true });

/** Reads the annotations; see the module comment. */
export function parseNginxAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  dialect: NginxDialect,
): ParsedNginxAnnotations {
  const result: ParsedNginxAnnotations = { actions: {}, ignored: [], problems: [] };
  if (annotations === undefined) {
    if (dialect.nginxClass) {
      result.actions.httpsRedirect = httpsRedirect(true, false, false, false);
      const upstream = parseNginxUpstream(
        () => undefined,
        () => undefined,
        dialect,
      );
      if (upstream !== undefined) result.actions.upstream = upstream;
    }
    return result;
  }
  const full = (name: string) => NGINX_ANNOTATION_PREFIX + name;
  const read = (name: string): string | undefined => {
    const value = annotations[full(name)]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    result.problems.push({ annotation: full(name), message });
  // strconv.ParseBool, as ingress-nginx's GetBoolAnnotation.
  const bool = (name: string, fallback: boolean): boolean => {
    const text = read(name);
    if (text === undefined) return fallback;
    const value = parseNginxBool(text);
    if (value !== undefined) return value;
    problem(name, `'${text}' is not true or false; using ${fallback}`);
    return fallback;
  };

  const canary = parseNginxCanary(annotations, result.problems);
  if (canary !== undefined) result.actions.canary = canary;
  for (const name of Object.keys(annotations).sort()) {
    if (!name.startsWith(NGINX_ANNOTATION_PREFIX)) continue;
    const info = nginxAnnotationInfo(name);
    if (info.support !== 'honoured') result.ignored.push({ annotation: name, note: info.note });
  }
  // A canary has no routes of its own: as in ingress-nginx, its requests get the main Ingress's
  // settings, and only the canary and balancing annotations count on it (nginx-balancing.ts).
  if (canary !== undefined) return result;

  const redirect = fixedRedirect(read, problem);
  if (redirect !== undefined) result.actions.redirect = redirect;

  const force = bool('force-ssl-redirect', false);
  const ssl = bool('ssl-redirect', dialect.nginxClass);
  const keepSlash = bool('preserve-trailing-slash', false);
  const usePort = bool('use-port-in-redirects', false);
  if (force || ssl) result.actions.httpsRedirect = httpsRedirect(ssl, force, keepSlash, usePort);

  const ranges = sourceRanges(read, problem);
  if (ranges !== undefined) result.actions.sourceRanges = ranges;

  const size = read('proxy-body-size');
  if (size !== undefined) {
    const bytes = nginxSize(size);
    if (bytes !== undefined) result.actions.maxBodyBytes = bytes;
    else
      problem(
        'proxy-body-size',
        `'${size}' is not a size like 8m, 512k or 0; the dataplane's limit applies`,
      );
  }

  const cors = parseNginxCors(annotations, result.problems);
  if (cors !== undefined) result.actions.cors = cors;
  const upstream = parseNginxUpstream(read, problem, dialect);
  if (upstream !== undefined) result.actions.upstream = upstream;
  const protocol = backendProtocol(read, problem);
  if (protocol !== undefined) result.actions.backendProtocol = protocol;
  const prefix = read('x-forwarded-prefix');
  if (prefix !== undefined) {
    const why = forwardedPrefixProblem(prefix);
    if (why === undefined) result.actions.forwardedPrefix = prefix;
    else problem('x-forwarded-prefix', `'${prefix}' ${why}; no X-Forwarded-Prefix is sent`);
  }
  const vhost = read('upstream-vhost')?.trim();
  if (vhost !== undefined && vhost !== '') {
    const why = upstreamHostProblem(vhost);
    if (why === undefined) result.actions.upstreamHost = vhost;
    else problem('upstream-vhost', `'${vhost}' ${why}; the client's Host is sent`);
  }
  const rateLimit = parseNginxRateLimit(annotations, result.problems);
  if (rateLimit !== undefined) result.actions.rateLimit = rateLimit;

  const errors = parseNginxErrors(annotations, result.problems);
  if (errors !== undefined) result.actions.errors = errors;
  const auth = parseNginxAuth(annotations, result.problems);
  if (auth !== undefined) result.actions.auth = auth;
  const externalAuth = parseNginxExternalAuth(annotations, result.problems);
  if (externalAuth !== undefined) result.actions.externalAuth = externalAuth;

  if (bool('use-regex', false)) result.actions.useRegex = true;
  const rewrite = read('rewrite-target');
  if (rewrite !== undefined) {
    // ingress-nginx's own check (RegexPathWithCapture): a path, with `$n` for the groups.
    if (/^\/?[-._~a-zA-Z0-9/:$]*$/.test(rewrite)) result.actions.rewriteTarget = rewrite;
    else problem('rewrite-target', `'${rewrite}' is not a path with $1-style groups; no rewrite`);
  }

  const appRoot = read('app-root');
  if (appRoot !== undefined) {
    const why = appRootProblem(appRoot);
    if (why === undefined) result.actions.appRoot = appRoot;
    else problem('app-root', `'${appRoot}' ${why}; no app-root redirect`);
  }
  const aliases = parseNginxServerAlias(annotations, result.problems);
  if (aliases !== undefined) result.actions.serverAliases = aliases;
  return result;
}

/**
 * `backend-protocol`, case-insensitive as ingress-nginx reads it: `HTTPS` is served, `HTTP` and
 * `AUTO_HTTP` are the default; gRPC and FastCGI are not served by Pier (said, and the pods are
 * spoken to over HTTP/1.1); anything else is ingress-nginx's fallback, HTTP.
 */
function backendProtocol(
  read: (name: string) => string | undefined,
  problem: (name: string, message: string) => void,
): 'https' | undefined {
  const text = read('backend-protocol');
  if (text === undefined) return undefined;
  const value = text.toUpperCase();
  if (value === 'HTTPS') return 'https';
  if (value === 'HTTP' || value === 'AUTO_HTTP') return undefined;
  if (value === 'GRPC' || value === 'GRPCS' || value === 'FCGI') {
    problem(
      'backend-protocol',
      `${value} is not supported by Pier, which speaks HTTP/1.1 (or HTTPS) to pods: requests go to them over HTTP/1.1, which a ${value === 'FCGI' ? 'FastCGI' : 'gRPC'} server refuses`,
    );
  } else {
    problem(
      'backend-protocol',
      `'${text}' is not HTTP, HTTPS, AUTO_HTTP, GRPC, GRPCS or FCGI; using HTTP`,
    );
  }
  return undefined;
}

/**
 * `allowlist-source-range` (or its older name `whitelist-source-range`) and
 * `denylist-source-range`. A bad entry fails closed, as ingress-nginx denies the location: a
 * bad allowlist admits no one, a bad denylist refuses everyone.
 */
function sourceRanges(
  read: (name: string) => string | undefined,
  problem: (name: string, message: string) => void,
): SourceRanges | undefined {
  const ranges: SourceRanges = {};
  const allowName =
    read('allowlist-source-range') !== undefined
      ? 'allowlist-source-range'
      : 'whitelist-source-range';
  for (const [name, field] of [
    [allowName, 'allow'],
    ['denylist-source-range', 'deny'],
  ] as const) {
    const text = read(name);
    if (text === undefined) continue;
    const parsed = parseCidrList(text);
    if (parsed.ok) {
      ranges[field] = parsed.cidrs;
    } else {
      problem(name, `'${parsed.bad}' is not an address or CIDR; every client is refused`);
      ranges.allow = [];
    }
  }
  return ranges.allow === undefined && ranges.deny === undefined ? undefined : ranges;
}

/** nginx's size syntax: bytes, or a number with k, m or g (1024-based); 0 means no limit. */
export function nginxSize(text: string): number | undefined {
  const match = /^([0-9]{1,12})([kKmMgG]?)$/.exec(text);
  if (match === null) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function httpsRedirect(
  ssl: boolean,
  force: boolean,
  keepSlash: boolean,
  usePort: boolean,
): HttpsRedirect {
  return {
    onlyWithCertificate: !force && ssl,
    statusCode: HTTPS_REDIRECT_CODE,
    preserveTrailingSlash: keepSlash,
    usePort,
  };
}

/**
 * `temporal-redirect` (wins, as in ingress-nginx) or `permanent-redirect`, with its code. A
 * code out of range falls back to the default, as ingress-nginx does; a bad URL turns the
 * redirect off (the Ingress is proxied).
 */
function fixedRedirect(
  read: (name: string) => string | undefined,
  problem: (name: string, message: string) => void,
): RouteRedirect | undefined {
  for (const [name, fallback, highest] of [
    ['temporal-redirect', DEFAULT_TEMPORAL_CODE, 307],
    ['permanent-redirect', DEFAULT_PERMANENT_CODE, 308],
  ] as const) {
    const url = read(name);
    if (url === undefined) continue;
    const why = redirectUrlProblem(url);
    if (why !== undefined) {
      problem(name, `'${url}' ${why}; requests are proxied instead`);
      return undefined;
    }
    const codeName = `${name}-code`;
    const codeText = read(codeName);
    let statusCode: number = fallback;
    if (codeText !== undefined) {
      const code = /^[0-9]{3}$/.test(codeText) ? Number(codeText) : Number.NaN;
      if (code >= 300 && code <= highest) statusCode = code;
      else
        problem(
          codeName,
          `'${codeText}' is not a redirect code from 300 to ${highest}; using ${fallback}`,
        );
    }
    return { statusCode, url };
  }
  return undefined;
}
