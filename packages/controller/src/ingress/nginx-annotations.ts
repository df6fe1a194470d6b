/**
 * The `nginx.ingress.kubernetes.io/` annotations of one Ingress, read with ingress-nginx's
 * semantics and defaults into what the route table can express, and every one Pier does not
 * honour named with why (nginx-annotation-catalogue.ts). Pure.
 *
 * As in ingress-nginx, a bad value of an honoured annotation is reported and its default used;
 * the Ingress is still served.
 */
import type { HttpsRedirect, RouteRedirect } from '@pier/shared';
import { appRootProblem, redirectUrlProblem } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX, nginxAnnotationInfo } from './nginx-annotation-catalogue.ts';

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

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Reads the annotations; see the module comment. */
export function parseNginxAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  dialect: NginxDialect,
): ParsedNginxAnnotations {
  const result: ParsedNginxAnnotations = { actions: {}, ignored: [], problems: [] };
  if (annotations === undefined) {
    if (dialect.nginxClass) result.actions.httpsRedirect = httpsRedirect(true, false, false, false);
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
    if (TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    problem(name, `'${text}' is not true or false; using ${fallback}`);
    return fallback;
  };

  for (const name of Object.keys(annotations).sort()) {
    if (!name.startsWith(NGINX_ANNOTATION_PREFIX)) continue;
    const info = nginxAnnotationInfo(name);
    if (info.support !== 'honoured') result.ignored.push({ annotation: name, note: info.note });
  }

  const redirect = fixedRedirect(read, problem);
  if (redirect !== undefined) result.actions.redirect = redirect;

  const force = bool('force-ssl-redirect', false);
  const ssl = bool('ssl-redirect', dialect.nginxClass);
  const keepSlash = bool('preserve-trailing-slash', false);
  const usePort = bool('use-port-in-redirects', false);
  if (force || ssl) result.actions.httpsRedirect = httpsRedirect(ssl, force, keepSlash, usePort);

  const appRoot = read('app-root');
  if (appRoot !== undefined) {
    const why = appRootProblem(appRoot);
    if (why === undefined) result.actions.appRoot = appRoot;
    else problem('app-root', `'${appRoot}' ${why}; no app-root redirect`);
  }
  return result;
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
