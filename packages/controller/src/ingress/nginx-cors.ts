/**
 * ingress-nginx's `enable-cors` and its `cors-*` settings, read with ingress-nginx's defaults
 * into a route's CORS policy. Pure. A bad value is reported and its default used, as
 * ingress-nginx does.
 */
import type { CorsPolicy } from '@pier/shared';
import { corsOriginProblem } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBool } from './nginx-bool.ts';

/** ingress-nginx's defaults. */
export const CORS_DEFAULTS: Readonly<CorsPolicy> = Object.freeze({
  origins: ['*'],
  methods: 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
  headers:
    'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
  credentials: true,
  maxAgeSeconds: 1_728_000,
});

/** ingress-nginx's checks of each list (annotations.md#enable-cors). */
const METHODS = /^[A-Za-z]+(\s*,\s*[A-Za-z]+)*$/;
const HEADERS = /^[A-Za-z0-9_-]+(\s*,\s*[A-Za-z0-9_-]+)*$/;
const EXPOSE = /^[A-Za-z0-9_*-]+(\s*,\s*[A-Za-z0-9_*-]+)*$/;

/** The CORS policy of an Ingress, or undefined unless `enable-cors` is true. */
export function parseNginxCors(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): CorsPolicy | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });
  const enabled = read('enable-cors');
  if (enabled === undefined) return undefined;
  const on = parseNginxBool(enabled);
  if (on === undefined) problem('enable-cors', `'${enabled}' is not true or false; CORS stays off`);
  if (on !== true) return undefined;
  const cors: CorsPolicy = { ...CORS_DEFAULTS, origins: [...CORS_DEFAULTS.origins] };

  const origins = read('cors-allow-origin');
  if (origins !== undefined) {
    const list = origins
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    const bad = list.find((o) => corsOriginProblem(o) !== undefined);
    if (bad === undefined && list.length > 0) cors.origins = list;
    else
      problem('cors-allow-origin', `'${bad ?? origins}' ${corsOriginProblem(bad ?? '')}; using *`);
  }
  for (const [name, field, pattern] of [
    ['cors-allow-methods', 'methods', METHODS],
    ['cors-allow-headers', 'headers', HEADERS],
    ['cors-expose-headers', 'exposeHeaders', EXPOSE],
  ] as const) {
    const text = read(name);
    if (text === undefined) continue;
    if (pattern.test(text)) cors[field] = text;
    else problem(name, `'${text}' is not a comma-separated list of names; using the default`);
  }
  const credentials = read('cors-allow-credentials');
  if (credentials !== undefined) {
    const allowed = parseNginxBool(credentials);
    if (allowed === undefined)
      problem('cors-allow-credentials', `'${credentials}' is not true or false; using true`);
    else cors.credentials = allowed;
  }
  const maxAge = read('cors-max-age');
  if (maxAge !== undefined) {
    if (/^[0-9]{1,10}$/.test(maxAge)) cors.maxAgeSeconds = Number(maxAge);
    else
      problem(
        'cors-max-age',
        `'${maxAge}' is not a number of seconds; using ${CORS_DEFAULTS.maxAgeSeconds}`,
      );
  }
  return cors;
}
