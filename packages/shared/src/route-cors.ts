/**
 * Cross-origin resource sharing on a route, as ingress-nginx's `enable-cors` serves it: which
 * origins are answered, and the headers they get (on a preflight answered by the dataplane, and
 * on proxied responses). Pure; validation of `route.cors` in a route table too.
 */
import {
  fail,
  isObject,
  type Report,
  readBoolean,
  readInteger,
  readString,
} from './field-reader.ts';
import type { CorsPolicy } from './route-table.ts';

/** An origin or `*.`-wildcard origin, as ingress-nginx accepts them: `scheme://host[:port]`. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?$/i;
/** Header values: visible ASCII and spaces, no controls. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/** Why `origin` is not an allowed-origin entry, or undefined when it is (`*` included). */
export function corsOriginProblem(origin: string): string | undefined {
  return origin === '*' || ORIGIN.test(origin)
    ? undefined
    : 'must be * or scheme://host[:port], with *. for one label';
}

/** Whether the request's Origin is allowed: `*` allows every request; else case-insensitively, `*.` one label. */
export function corsOriginAllowed(cors: CorsPolicy, origin: string | undefined): boolean {
  if (cors.origins.includes('*')) return true;
  if (origin === undefined) return false;
  const asked = origin.toLowerCase();
  return cors.origins.some((allowed) => {
    const want = allowed.toLowerCase();
    const star = want.indexOf('://*.');
    if (star < 0) return asked === want;
    const scheme = want.slice(0, star + 3);
    const rest = want.slice(star + 4);
    if (!asked.startsWith(scheme) || !asked.endsWith(rest)) return false;
    const label = asked.slice(scheme.length, asked.length - rest.length);
    return /^[a-z0-9-]+$/.test(label);
  });
}

/**
 * The CORS headers for a request from `origin`, as a flat name/value list, or undefined when the
 * origin is not allowed. `Access-Control-Allow-Origin` is the request's Origin, or `*` when every
 * origin is allowed (ingress-nginx's behaviour).
 */
export function corsHeaders(cors: CorsPolicy, origin: string | undefined): string[] | undefined {
  if (!corsOriginAllowed(cors, origin)) return undefined;
  const headers = [
    'access-control-allow-origin',
    cors.origins.includes('*') ? '*' : (origin as string),
  ];
  if (cors.credentials) headers.push('access-control-allow-credentials', 'true');
  headers.push(
    'access-control-allow-methods',
    cors.methods,
    'access-control-allow-headers',
    cors.headers,
  );
  if (cors.exposeHeaders !== undefined)
    headers.push('access-control-expose-headers', cors.exposeHeaders);
  headers.push('access-control-max-age', String(cors.maxAgeSeconds));
  return headers;
}

/** Checks `route.cors`; undefined with a problem reported when it is wrong. */
export function checkCors(raw: unknown, at: string, report: Report): CorsPolicy | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const origins = raw.origins;
  if (
    !Array.isArray(origins) ||
    origins.length === 0 ||
    origins.some((o) => typeof o !== 'string' || corsOriginProblem(o) !== undefined)
  ) {
    report(`${at}origins`, 'must be a non-empty list of origins or *');
  }
  const header = (s: string) => (HEADER_VALUE.test(s) ? undefined : 'must be visible ASCII');
  const methods = readString(raw, 'methods', at, report, header);
  const headers = readString(raw, 'headers', at, report, header);
  const exposeHeaders =
    raw.exposeHeaders === undefined
      ? undefined
      : readString(raw, 'exposeHeaders', at, report, header);
  const credentials = readBoolean(raw, 'credentials', at, report);
  const maxAgeSeconds = readInteger(raw, 'maxAgeSeconds', at, report, 0);
  if (report.count() !== before) return undefined;
  const cors: CorsPolicy = {
    origins: [...(origins as string[])],
    methods: methods as string,
    headers: headers as string,
    credentials: credentials as boolean,
    maxAgeSeconds: maxAgeSeconds as number,
  };
  if (exposeHeaders !== undefined) cors.exposeHeaders = exposeHeaders;
  return cors;
}
