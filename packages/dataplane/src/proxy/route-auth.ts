/**
 * What basic authentication (`route.basicAuth`, auth/basic-auth-gate.ts) means for an exchange,
 * for plain requests and upgrades alike: the answer a refused request gets, and the upstream
 * headers of one that passed. Pure.
 */
import type { AuthVerdict } from '../auth/basic-auth-gate.ts';
import type { ProxyErrorCode } from './error-pages.ts';

/** The cause code a refused request is answered with: 401, or 503 (fails closed). */
export function refusalCode(verdict: Exclude<AuthVerdict, 'allow'>): ProxyErrorCode {
  switch (verdict) {
    case 'deny':
      return 'PIER_UNAUTHORIZED';
    case 'busy':
      return 'PIER_AUTH_BUSY';
    case 'unavailable':
      return 'PIER_AUTH_UNAVAILABLE';
  }
}

/** The headers a 401 adds: the challenge of the route's realm, as nginx's `auth_basic` sends it. */
export function challengeHeaders(
  verdict: Exclude<AuthVerdict, 'allow'>,
  realm: string,
): readonly string[] {
  return verdict === 'deny' ? ['www-authenticate', `Basic realm="${realm}"`] : [];
}

/**
 * Removes every Authorization header from a flat upstream header list, in place: ingress-nginx
 * sets `proxy_set_header Authorization ""` on authenticated locations, so the application never
 * sees the password.
 */
export function dropAuthorization(headers: string[]): void {
  let kept = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (name.length === 13 && name.toLowerCase() === 'authorization') continue;
    headers[kept] = name;
    headers[kept + 1] = headers[i + 1] as string;
    kept += 2;
  }
  headers.length = kept;
}
