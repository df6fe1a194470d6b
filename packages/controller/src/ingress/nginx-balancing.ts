/**
 * ingress-nginx's balancing annotations (`load-balance`, `affinity: cookie` and the
 * `session-cookie-*` family) read into Pier's per-backend balancing settings, with
 * ingress-nginx's defaults. Pure. Pier's own `pier.dev/` balancing annotations win when an
 * Ingress has both (ingress-plan.ts).
 */
import { type AffinityCookie, type BalancingSettings, compileHashKey } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBool } from './nginx-bool.ts';

/** ingress-nginx's `session-cookie-name` default. */
export const NGINX_COOKIE_NAME = 'INGRESSCOOKIE';
/**
 * The Max-Age an older dataplane sends for a session cookie (it does not know `session`); a
 * current one sends none.
 */
const SESSION_TTL_FALLBACK = 3600;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ATTRIBUTE = /^[\x21-\x2b\x2d-\x3a\x3c-\x7e]+$/;
/** ingress-nginx checks SameSite in any case; browsers read it so too. */
const SAME_SITE: ReadonlyMap<string, NonNullable<AffinityCookie['sameSite']>> = new Map([
  ['none', 'None'],
  ['lax', 'Lax'],
  ['strict', 'Strict'],
]);

/** What the Ingress asks for, or `settings` undefined when it sets none of the annotations. */
export interface ParsedNginxBalancing {
  settings: BalancingSettings | undefined;
  problems: AnnotationProblem[];
}

/** Reads the annotations; a bad value is reported and ingress-nginx's default used. */
export function parseNginxBalancing(
  annotations: Readonly<Record<string, string>> | undefined,
): ParsedNginxBalancing {
  const problems: AnnotationProblem[] = [];
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });

  const balance = read('load-balance');
  const affinity = read('affinity');
  const hashBy = read('upstream-hash-by');
  if (balance === undefined && affinity === undefined && hashBy === undefined) {
    return { settings: undefined, problems };
  }

  let algorithm: BalancingSettings['algorithm'] = 'round-robin';
  // ingress-nginx's default is round_robin; EWMA (least latency) is closest to p2c on outstanding requests.
  if (balance === 'ewma') algorithm = 'p2c';
  else if (balance !== undefined && balance !== 'round_robin') {
    problem('load-balance', `'${balance}' is not round_robin or ewma; using round_robin`);
  }
  const settings: BalancingSettings = { algorithm };
  if (hashBy !== undefined) {
    const parts = compileHashKey(hashBy);
    if (typeof parts === 'string') problem('upstream-hash-by', `'${hashBy}' ${parts}; not used`);
    else settings.hashBy = hashBy;
  }
  if (affinity === undefined) return { settings, problems };
  if (affinity !== 'cookie') {
    problem('affinity', `'${affinity}' is not cookie; no session affinity`);
    return { settings, problems };
  }

  let cookieName = read('session-cookie-name') ?? NGINX_COOKIE_NAME;
  if (!COOKIE_NAME.test(cookieName)) {
    problem(
      'session-cookie-name',
      `'${cookieName}' is not a cookie name; using ${NGINX_COOKIE_NAME}`,
    );
    cookieName = NGINX_COOKIE_NAME;
  }
  const seconds = (name: string): number | undefined => {
    const text = read(name);
    if (text === undefined) return undefined;
    const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : 0;
    if (value >= 1 && value <= 2_147_483_647) return value;
    problem(name, `'${text}' is not a whole number of seconds; ignored`);
    return undefined;
  };
  // Each is its own attribute, as in ingress-nginx's sticky.lua: neither makes a session cookie.
  const maxAge = seconds('session-cookie-max-age');
  const expires = seconds('session-cookie-expires');
  const ttl = maxAge ?? expires;
  const cookie: AffinityCookie = { path: '/', session: maxAge === undefined };
  if (expires !== undefined) cookie.expiresSeconds = expires;
  const path = read('session-cookie-path');
  if (path !== undefined) {
    if (path.startsWith('/') && ATTRIBUTE.test(path)) cookie.path = path;
    else problem('session-cookie-path', `'${path}' is not a cookie path; using /`);
  }
  const domain = read('session-cookie-domain');
  if (domain !== undefined && ATTRIBUTE.test(domain)) cookie.domain = domain;
  else if (domain !== undefined)
    problem('session-cookie-domain', `'${domain}' is not a cookie domain; ignored`);
  const sameSite = read('session-cookie-samesite');
  const sameSiteValue = sameSite === undefined ? undefined : SAME_SITE.get(sameSite.toLowerCase());
  if (sameSiteValue !== undefined) cookie.sameSite = sameSiteValue;
  else if (sameSite !== undefined)
    problem('session-cookie-samesite', `'${sameSite}' is not None, Lax or Strict; ignored`);
  const conditional = read('session-cookie-conditional-samesite-none');
  const conditionalOn = conditional === undefined ? false : parseNginxBool(conditional);
  if (conditionalOn === true) cookie.conditionalSameSiteNone = true;
  else if (conditionalOn === undefined) {
    problem(
      'session-cookie-conditional-samesite-none',
      `'${conditional}' is not true or false; SameSite=None is sent to every browser`,
    );
  }
  // "false" is the unset value: ingress-nginx omits a false `secure` from its Lua config
  // (omitempty), whose cookie is then Secure over HTTPS only.
  const secure = read('session-cookie-secure');
  const secureValue = secure === undefined ? undefined : parseNginxBool(secure);
  if (secureValue === true) cookie.secure = true;
  else if (secure !== undefined && secureValue === undefined) {
    problem('session-cookie-secure', `'${secure}' is not true or false; Secure over HTTPS only`);
  }
  settings.affinity = { cookieName, ttlSeconds: ttl ?? SESSION_TTL_FALLBACK, cookie };
  return { settings, problems };
}
