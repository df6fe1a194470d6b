/**
 * Validation of route tables read from Redis, disk or a patch. Bad input never takes anything
 * down: an invalid entry is dropped on its own and reported, everything else is kept. Only input
 * that is not a table at all (not an object, no usable revision) is refused as a whole.
 *
 * Values are copied field by field, so the result holds exactly the typed fields; unknown fields
 * are ignored so that an older dataplane can read a table from a newer controller.
 */

import { checkBackendSplit, splitBackendIds } from './backend-split.ts';
import { checkBalancing } from './balancing-validation.ts';
import { InvalidRouteTableError } from './errors.ts';
import type { Obj, Report } from './field-reader.ts';
import {
  fail,
  isObject,
  readBoolean,
  readInteger,
  readObjectRef,
  readOptionalString,
  readPort,
  readString,
  reporter,
} from './field-reader.ts';
import { readHealthCheckSettings } from './health-check-validation.ts';
import { validateIngressHost } from './host-match.ts';
import { canonicalIp } from './ip-address.ts';
import type { SealedKey } from './key-sealing.ts';
import { sealedKeyProblem } from './key-sealing.ts';
import type { PathType } from './path-match.ts';
import { PATH_TYPES, validateIngressPath } from './path-match.ts';
import { checkSourceRanges } from './route-access.ts';
import { checkBasicAuth } from './route-basic-auth.ts';
import { checkCors } from './route-cors.ts';
import { checkRouteErrors } from './route-errors.ts';
import { checkExternalAuth } from './route-external-auth.ts';
import { checkRateLimit } from './route-rate-limit.ts';
import { appRootProblem, checkHttpsRedirect, checkRouteRedirect } from './route-redirects.ts';
import { regexPathProblem } from './route-rewrite.ts';
import type {
  Backend,
  Certificate,
  Endpoint,
  Route,
  RouteTable,
  VirtualHost,
} from './route-table.ts';
import { virtualHostKey } from './route-table.ts';
import { checkUpstreamPolicy, forwardedPrefixProblem } from './route-upstream.ts';
import { upstreamHostProblem } from './route-upstream-host.ts';
import { checkServerAliases } from './server-aliases.ts';

/** Which part of the table a problem is in. */
export type ProblemSection = 'virtualHosts' | 'backends' | 'certificates' | 'table';

/** A problem with one field of one entry. */
export interface FieldProblem {
  /** Path of the field inside its entry, e.g. `routes[2].backend`; '' for the entry itself. */
  field: string;
  /** What is wrong, for logs, Events and status conditions. */
  message: string;
}

/** A problem found in a route table, with where it is. */
export interface Problem extends FieldProblem {
  /** The section of the table. */
  section: ProblemSection;
  /** The entry's key in its section; '' for problems with the table itself. */
  key: string;
}

/** Result of checking one entry: the clean value, or undefined when it had to be dropped. */
export interface Checked<T> {
  value: T | undefined;
  problems: Problem[];
}

/** What a virtual host may reference; omit to check an entry on its own (e.g. in a patch). */
export interface RouteTableRefs {
  hasBackend(id: string): boolean;
  hasCertificate(id: string): boolean;
}

type EntrySection = Exclude<ProblemSection, 'table'>;

/** IANA service name, as Kubernetes port names are: ≤ 15 chars, a-z0-9 and '-', one letter. */
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Validates a decoded route table, dropping invalid entries one by one: a bad backend, virtual
 * host or certificate goes alone; a route naming a missing backend goes alone; a virtual host
 * whose TLS certificate is missing keeps its routes and loses TLS. Every drop is a problem.
 *
 * @throws InvalidRouteTableError when `input` is not an object or its revision is unusable.
 */
export function validateRouteTable(input: unknown): { table: RouteTable; problems: Problem[] } {
  if (!isObject(input)) throw new InvalidRouteTableError('route table must be a JSON object');
  const revision = assertRevision(input.revision);
  const problems: Problem[] = [];
  const section = (name: EntrySection): [string, unknown][] => {
    const value = input[name];
    if (isObject(value)) return Object.entries(value);
    problems.push({ section: 'table', key: '', field: name, message: 'must be an object' });
    return [];
  };
  const certificates = keep(section('certificates'), checkCertificate, problems);
  const backends = keep(section('backends'), checkBackend, problems);
  const refs: RouteTableRefs = {
    hasBackend: (id) => Object.hasOwn(backends, id),
    hasCertificate: (id) => Object.hasOwn(certificates, id),
  };
  const virtualHosts = keep(
    section('virtualHosts'),
    (key, value) => checkVirtualHost(key, value, refs),
    problems,
  );
  return { table: { revision, virtualHosts, backends, certificates }, problems };
}

function keep<T>(
  entries: [string, unknown][],
  check: (key: string, value: unknown) => Checked<T>,
  problems: Problem[],
): Record<string, T> {
  const kept: [string, T][] = [];
  for (const [key, value] of entries) {
    const checked = check(key, value);
    problems.push(...checked.problems);
    if (checked.value !== undefined) kept.push([key, checked.value]);
  }
  // fromEntries defines own properties, so even a '__proto__' key cannot reach the prototype.
  return Object.fromEntries(kept);
}

/**
 * A table revision: a non-negative safe integer.
 *
 * @throws InvalidRouteTableError otherwise.
 */
export function assertRevision(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidRouteTableError(
      `route table revision must be a non-negative integer, got ${JSON.stringify(value)}`,
      { details: { revision: String(value) } },
    );
  }
  return value;
}

/**
 * Checks one virtual host under its key. Invalid routes are dropped one by one. With `refs`,
 * a route or default backend naming a missing backend is dropped, and TLS naming a missing
 * certificate is dropped while the routes are kept.
 */
export function checkVirtualHost(
  key: string,
  value: unknown,
  refs?: RouteTableRefs,
): Checked<VirtualHost> {
  return checkEntry('virtualHosts', key, value, (o, report) => {
    const address = readString(o, 'address', '', report, (s) =>
      s === '*' ? undefined : addressProblem(s),
    );
    const host = readString(o, 'host', '', report, validateIngressHost);
    if (address === undefined || host === undefined) return undefined;
    const expectedKey = virtualHostKey(address, host);
    if (key !== expectedKey) return fail(report, '', `key must be '${expectedKey}'`);
    if (!Array.isArray(o.routes)) return fail(report, 'routes', 'must be an array');

    // From here on problems only drop parts; the virtual host itself is kept.
    const vhost: VirtualHost = { address, host, routes: [] };
    const pathRegex =
      o.pathRegex === undefined ? undefined : readBoolean(o, 'pathRegex', '', report);
    if (pathRegex === true) vhost.pathRegex = true;
    for (const [i, raw] of o.routes.entries()) {
      const route = checkRoute(raw, `routes[${i}].`, report);
      const regexProblem =
        route !== undefined && pathRegex === true ? regexPathProblem(route.path) : undefined;
      if (regexProblem !== undefined) {
        report(`routes[${i}].path`, `${regexProblem}; route dropped`);
      } else if (route !== undefined && refs !== undefined && !refs.hasBackend(route.backend)) {
        report(`routes[${i}].backend`, `backend '${route.backend}' does not exist; route dropped`);
      } else if (route !== undefined) {
        const missing =
          route.split === undefined || refs === undefined
            ? undefined
            : splitBackendIds(route.split).find((id) => !refs.hasBackend(id));
        if (missing !== undefined) {
          report(
            `routes[${i}].split`,
            `backend '${missing}' does not exist; split dropped, the route serves its backend`,
          );
          delete route.split;
        }
        const errorBackend = route.errors?.backend;
        if (errorBackend !== undefined && refs !== undefined && !refs.hasBackend(errorBackend)) {
          report(
            `routes[${i}].errors.backend`,
            `backend '${errorBackend}' does not exist; dropped, Pier's own pages answer`,
          );
          delete route.errors?.backend;
          if (route.errors?.codes === undefined) delete route.errors;
        }
        vhost.routes.push(route);
      }
    }
    if (o.tls !== undefined) {
      const certificate = isObject(o.tls)
        ? readString(o.tls, 'certificate', 'tls.', report)
        : fail(report, 'tls', 'must be an object; TLS dropped');
      if (certificate !== undefined && refs !== undefined && !refs.hasCertificate(certificate)) {
        report('tls.certificate', `certificate '${certificate}' does not exist; TLS dropped`);
      } else if (certificate !== undefined) {
        vhost.tls = { certificate };
      }
    }
    if (o.aliases !== undefined) {
      const aliases = checkServerAliases(o.aliases, report);
      if (aliases !== undefined) vhost.aliases = aliases;
    }
    if (o.appRoot !== undefined) {
      const appRoot = readString(o, 'appRoot', '', report, appRootProblem);
      if (appRoot !== undefined) vhost.appRoot = appRoot;
    }
    if (o.defaultBackend !== undefined) {
      const id = readString(o, 'defaultBackend', '', report);
      if (id !== undefined && host !== '') {
        report('defaultBackend', "only allowed on the any-host ('') virtual host; dropped");
      } else if (id !== undefined && refs !== undefined && !refs.hasBackend(id)) {
        report('defaultBackend', `backend '${id}' does not exist; dropped`);
      } else if (id !== undefined) {
        vhost.defaultBackend = id;
      }
    }
    return vhost;
  });
}

function checkRoute(raw: unknown, at: string, report: Report): Route | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object; route dropped');
  const before = report.count();
  const pathType = readString(raw, 'pathType', at, report, (s) =>
    (PATH_TYPES as readonly string[]).includes(s) ? undefined : `must be one of ${PATH_TYPES}`,
  ) as PathType | undefined;
  const path = readString(raw, 'path', at, report, (s) =>
    pathType === undefined ? undefined : validateIngressPath(pathType, s),
  );
  const backend = readString(raw, 'backend', at, report);
  const source = readObjectRef(raw.source, `${at}source.`, report);
  const redirect =
    raw.redirect === undefined
      ? undefined
      : checkRouteRedirect(raw.redirect, `${at}redirect.`, report);
  const sourceRanges =
    raw.sourceRanges === undefined
      ? undefined
      : checkSourceRanges(raw.sourceRanges, `${at}sourceRanges.`, report);
  const maxBodyBytes =
    raw.maxBodyBytes === undefined ? undefined : readInteger(raw, 'maxBodyBytes', at, report, 0);
  const cors = raw.cors === undefined ? undefined : checkCors(raw.cors, `${at}cors.`, report);
  const forwardedPrefix =
    raw.forwardedPrefix === undefined
      ? undefined
      : readString(raw, 'forwardedPrefix', at, report, forwardedPrefixProblem);
  const upstreamHost =
    raw.upstreamHost === undefined
      ? undefined
      : readString(raw, 'upstreamHost', at, report, upstreamHostProblem);
  const upstream =
    raw.upstream === undefined
      ? undefined
      : checkUpstreamPolicy(raw.upstream, `${at}upstream.`, report);
  const rateLimit =
    raw.rateLimit === undefined
      ? undefined
      : checkRateLimit(raw.rateLimit, `${at}rateLimit.`, report);
  const rewrite =
    raw.rewriteTarget === undefined ? undefined : readString(raw, 'rewriteTarget', at, report);
  const httpsRedirect =
    raw.httpsRedirect === undefined
      ? undefined
      : checkHttpsRedirect(raw.httpsRedirect, `${at}httpsRedirect.`, report);
  if (report.count() !== before) return undefined;
  const route = { path, pathType, backend, source } as Route;
  if (redirect !== undefined) route.redirect = redirect;
  if (httpsRedirect !== undefined) route.httpsRedirect = httpsRedirect;
  if (sourceRanges !== undefined) route.sourceRanges = sourceRanges;
  if (maxBodyBytes !== undefined) route.maxBodyBytes = maxBodyBytes;
  if (rewrite !== undefined) route.rewriteTarget = rewrite;
  if (cors !== undefined) route.cors = cors;
  if (upstream !== undefined) route.upstream = upstream;
  if (forwardedPrefix !== undefined) route.forwardedPrefix = forwardedPrefix;
  if (upstreamHost !== undefined) route.upstreamHost = upstreamHost;
  if (rateLimit !== undefined) route.rateLimit = rateLimit;
  // A bad split costs the route its split only: its primary backend still serves.
  const split =
    raw.split === undefined ? undefined : checkBackendSplit(raw.split, `${at}split.`, report);
  if (split !== undefined) route.split = split;
  // A bad one costs the route its error handling only.
  const errors =
    raw.errors === undefined ? undefined : checkRouteErrors(raw.errors, `${at}errors.`, report);
  if (errors !== undefined) route.errors = errors;
  // Checked last: a bad one keeps the route, refusing every request, and is still reported.
  if (raw.basicAuth !== undefined)
    route.basicAuth = checkBasicAuth(raw.basicAuth, `${at}basicAuth.`, report);
  if (raw.externalAuth !== undefined)
    route.externalAuth = checkExternalAuth(raw.externalAuth, `${at}externalAuth.`, report);
  return route;
}

/** Checks one backend under its key. Invalid endpoints are dropped one by one. */
export function checkBackend(key: string, value: unknown): Checked<Backend> {
  return checkEntry('backends', key, value, (o, report) => {
    const before = report.count();
    const id = readString(o, 'id', '', report, (s) =>
      s === key ? undefined : 'must equal its key',
    );
    const service = readObjectRef(o.service, 'service.', report);
    const servicePort =
      typeof o.servicePort === 'number'
        ? readPort(o, 'servicePort', '', report)
        : readString(o, 'servicePort', '', report, (s) =>
            PORT_NAME.test(s) ? undefined : 'must be a port number or an IANA port name',
          );
    const healthCheck = readHealthCheckSettings(o.healthCheck, 'healthCheck.', report);
    const balancing = checkBalancing(o.balancing, report);
    if (o.protocol !== undefined && o.protocol !== 'https') report('protocol', "must be 'https'");
    if (!Array.isArray(o.endpoints)) report('endpoints', 'must be an array');
    if (report.count() !== before || !Array.isArray(o.endpoints)) return undefined;

    const endpoints: Endpoint[] = [];
    const seen = new Set<string>();
    for (const [i, raw] of o.endpoints.entries()) {
      const endpoint = checkEndpoint(raw, `endpoints[${i}].`, report);
      if (endpoint === undefined) continue;
      const where = `${endpoint.address}|${endpoint.port}`;
      if (seen.has(where)) {
        report(`endpoints[${i}]`, 'duplicate address and port; dropped');
        continue;
      }
      seen.add(where);
      endpoints.push(endpoint);
    }
    const backend = { id, service, servicePort, endpoints, healthCheck, balancing } as Backend;
    if (o.protocol === 'https') backend.protocol = 'https';
    return backend;
  });
}

function checkEndpoint(raw: unknown, at: string, report: Report): Endpoint | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object; dropped');
  const before = report.count();
  const endpoint = {
    address: readString(raw, 'address', at, report, addressProblem),
    port: readPort(raw, 'port', at, report),
    ready: readBoolean(raw, 'ready', at, report),
    serving: readBoolean(raw, 'serving', at, report),
    terminating: readBoolean(raw, 'terminating', at, report),
  } as Endpoint;
  const nodeName = readOptionalString(raw, 'nodeName', at, report);
  const zone = readOptionalString(raw, 'zone', at, report);
  const targetRef =
    raw.targetRef === undefined
      ? undefined
      : readObjectRef(raw.targetRef, `${at}targetRef.`, report);
  if (report.count() !== before) return undefined;
  if (nodeName !== undefined) endpoint.nodeName = nodeName;
  if (zone !== undefined) endpoint.zone = zone;
  if (targetRef !== undefined) endpoint.targetRef = targetRef;
  return endpoint;
}

/** Checks one certificate under its key: public PEM only, and a well-formed sealed key. */
export function checkCertificate(key: string, value: unknown): Checked<Certificate> {
  return checkEntry('certificates', key, value, (o, report) => {
    const before = report.count();
    const id = readString(o, 'id', '', report, (s) =>
      s === key ? undefined : 'must equal its key',
    );
    const secret = readObjectRef(o.secret, 'secret.', report);
    const certificatePem = readString(o, 'certificatePem', '', report, (s) => {
      // Invariant 4: a private key must never travel in the clear, even by mistake here.
      if (s.includes('PRIVATE KEY')) return 'must not contain a private key';
      return s.includes('-----BEGIN CERTIFICATE-----') ? undefined : 'must be a PEM certificate';
    });
    const sealed = sealedKeyProblem(o.key);
    if (sealed !== undefined) report(sealed.field ? `key.${sealed.field}` : 'key', sealed.message);
    const notAfter = readOptionalString(o, 'notAfter', '', report, (s) =>
      Number.isNaN(Date.parse(s)) ? 'must be an ISO 8601 date' : undefined,
    );
    if (report.count() !== before) return undefined;
    const { alg, keyId, iv, tag, ciphertext } = o.key as SealedKey;
    const certificate = { id, secret, certificatePem, key: { alg, keyId, iv, tag, ciphertext } };
    return (notAfter === undefined ? certificate : { ...certificate, notAfter }) as Certificate;
  });
}

/** An IP address in the canonical form Node reports, so string comparison works. */
function addressProblem(s: string): string | undefined {
  const canonical = canonicalIp(s);
  if (canonical === undefined) return 'must be an IPv4 or IPv6 address';
  return canonical === s ? undefined : `must be written in canonical form '${canonical}'`;
}

function checkEntry<T>(
  section: EntrySection,
  key: string,
  value: unknown,
  check: (o: Obj, report: Report) => T | undefined,
): Checked<T> {
  const problems: Problem[] = [];
  const report = reporter((field, message) => problems.push({ section, key, field, message }));
  if (!isObject(value)) return { value: fail(report, '', 'must be an object'), problems };
  return { value: check(value, report), problems };
}
