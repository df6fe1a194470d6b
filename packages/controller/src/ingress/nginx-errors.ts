/**
 * ingress-nginx's `custom-http-errors`, `default-backend` and `disable-proxy-intercept-errors`,
 * read into what a route's error handling needs (`Route.errors`). Pure. A bad value is reported
 * and the annotation not used, as ingress-nginx drops an annotation its validation refuses.
 *
 * The `default-backend` Service is resolved when the Ingress is planned
 * ({@link resolveErrorBackend}): the Service of that name in the Ingress's namespace, on its
 * first port, as ingress-nginx takes `Spec.Ports[0]`.
 */
import type { V1IngressBackend } from '@kubernetes/client-node';
import { isErrorCode, MAX_ERROR_CODES } from '@pier/shared';
import type { ServiceBackend, ServiceLookup } from '../routes/backend-resolver.ts';
import { resolveServiceBackend } from '../routes/backend-resolver.ts';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBool } from './nginx-bool.ts';

/** What an Ingress's error annotations ask for. */
export interface NginxErrors {
  /** `custom-http-errors`: statuses 400-599, ascending, without repeats. */
  codes?: number[];
  /** `default-backend`: a Service of the Ingress's namespace. */
  defaultBackend?: string;
  /** `disable-proxy-intercept-errors: "true"`. */
  upstreamPasses?: boolean;
}

/** A Service name, as Kubernetes allows (an RFC 1035 label). */
const SERVICE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The annotations' error handling, or undefined when the Ingress asks for none. */
export function parseNginxErrors(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): NginxErrors | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });
  const errors: NginxErrors = {};

  const list = read('custom-http-errors');
  if (list !== undefined) {
    const codes = errorCodes(list);
    if (typeof codes === 'string')
      problem('custom-http-errors', `${codes}; no status is intercepted`);
    else errors.codes = codes;
  }
  const service = read('default-backend');
  if (service !== undefined) {
    if (SERVICE_NAME.test(service)) errors.defaultBackend = service;
    else
      problem(
        'default-backend',
        `'${cut(service)}' is not a Service name; the Ingress has no default backend`,
      );
  }
  const disable = read('disable-proxy-intercept-errors');
  if (disable !== undefined) {
    if (parseNginxBool(disable) === true) errors.upstreamPasses = true;
    else if (parseNginxBool(disable) !== false)
      problem(
        'disable-proxy-intercept-errors',
        `'${cut(disable)}' is not true or false; using false`,
      );
  }
  return errors.codes === undefined && errors.defaultBackend === undefined ? undefined : errors;
}

/**
 * The codes of a `custom-http-errors` list ("404,503", spaces allowed around commas), sorted
 * and without repeats, or why it is not one: every item a status 400-599, as ingress-nginx's
 * check (`[45]\d{2}`) asks.
 */
export function errorCodes(list: string): number[] | string {
  const items = list.split(',').map((item) => item.trim());
  if (items.length > MAX_ERROR_CODES * 2) return `lists more than ${MAX_ERROR_CODES} statuses`;
  const codes = new Set<number>();
  for (const item of items) {
    if (item === '') continue;
    const code = /^[0-9]{3}$/.test(item) ? Number(item) : Number.NaN;
    if (!isErrorCode(code)) return `'${cut(item)}' is not a status from 400 to 599`;
    codes.add(code);
  }
  if (codes.size === 0) return `'${cut(list)}' lists no status`;
  return [...codes].sort((a, b) => a - b);
}

/**
 * The backend of `default-backend: <service>`: its first port, by number. A missing Service, or
 * one without ports or of type ExternalName, gives a problem naming the annotation instead: the
 * Ingress is then served without its default backend (Pier's own pages answer its errors).
 */
export function resolveErrorBackend(
  namespace: string,
  service: string,
  lookup: ServiceLookup,
): { backend: ServiceBackend } | { reason: string; message: string } {
  const annotation = `${NGINX_ANNOTATION_PREFIX}default-backend`;
  const found = lookup(namespace, service);
  const without = 'the Ingress is served without its default backend until it';
  if (found === undefined) {
    return {
      reason: 'ServiceNotFound',
      message: `${annotation}: Service ${namespace}/${service} not found; ${without} exists`,
    };
  }
  const first = found.spec?.ports?.[0];
  if (first === undefined) {
    return {
      reason: 'ServicePortNotFound',
      message: `${annotation}: Service ${namespace}/${service} has no port; ${without} has one`,
    };
  }
  const asked: V1IngressBackend = { service: { name: service, port: { number: first.port } } };
  const resolved = resolveServiceBackend(namespace, asked, lookup);
  if (!resolved.ok) {
    return { reason: resolved.reason, message: `${annotation}: ${resolved.message}` };
  }
  if (resolved.port === undefined) {
    return {
      reason: 'ServicePortNotFound',
      message: `${annotation}: Service ${namespace}/${service} has no TCP port ${first.port}; ${without} has one`,
    };
  }
  return { backend: resolved };
}

function cut(text: string): string {
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}
