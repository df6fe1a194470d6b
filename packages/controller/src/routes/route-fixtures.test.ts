/**
 * Builders for the Kubernetes objects the route compiler reads, and fixed TLS material. Named
 * `.test.ts` so the build leaves it out; it holds no tests itself.
 *
 * The certificates were made once with
 * `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
 *  -subj /CN=a.example.test -addext subjectAltName=DNS:a.example.test` (and b.example.test);
 * they are test fixtures only, trusted by nothing.
 */
import { createHash } from 'node:crypto';
import type {
  V1EndpointSlice,
  V1HTTPIngressPath,
  V1Ingress,
  V1IngressBackend,
  V1IngressRule,
  V1IngressTLS,
  V1Secret,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';
import type { SealedKey } from '@pier/shared';
import { DEFAULT_HEALTH_CHECK } from '@pier/shared';
import type { HealthCheckPolicy } from './health-policy-resolver.ts';
import type { CompileInput } from './route-compiler.ts';

/** Self-signed ECDSA P-256 certificate for a.example.test, valid until 2126-10-28. */
export const A_CERT = `-----BEGIN CERTIFICATE-----
MIIBozCCAUqgAwIBAgIUCIDvYu1N9dLnDCT5yI5uddq6jsEwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOYS5leGFtcGxlLnRlc3QwIBcNMjYxMTIxMDkwOTI1WhgPMjEy
NjEwMjgwOTA5MjVaMBkxFzAVBgNVBAMMDmEuZXhhbXBsZS50ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAECFrBQuiDe5zCRFss9SedLSwXK3gw1YMeUNV53SAX
hGD50o9bvZIQE/fIzDO+jVzgyuF3vk2mooyTsdZdrzT6OqNuMGwwHQYDVR0OBBYE
FOWivom5CYxyFF5ANzwMk1asT7qnMB8GA1UdIwQYMBaAFOWivom5CYxyFF5ANzwM
k1asT7qnMA8GA1UdEwEB/wQFMAMBAf8wGQYDVR0RBBIwEIIOYS5leGFtcGxlLnRl
c3QwCgYIKoZIzj0EAwIDRwAwRAIgFFQ7DoS9tDC5GtV0NvtRcEPgFt3W9cY/MdQF
vSJA2bcCIFNds8czivLSjFBqeYbR4zAghbKCYt/BwxSwFSqxVNVV
-----END CERTIFICATE-----
`;
/** The private key of {@link A_CERT}. */
export const A_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg6fYgHLZLbpsGdN4k
jxxcvtqub42PPUKxaQs0E4RrzbChRANCAAQIWsFC6IN7nMJEWyz1J50tLBcreDDV
gx5Q1XndIBeEYPnSj1u9khAT98jMM76NXODK4Xe+TaaijJOx1l2vNPo6
-----END PRIVATE KEY-----
`;
/** Self-signed ECDSA P-256 certificate for b.example.test, valid until 2126-10-28. */
export const B_CERT = `-----BEGIN CERTIFICATE-----
MIIBpTCCAUqgAwIBAgIUbR2YtFofUJxTtcb0VENWG/3z9rMwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOYi5leGFtcGxlLnRlc3QwIBcNMjYxMTIxMDkwOTI1WhgPMjEy
NjEwMjgwOTA5MjVaMBkxFzAVBgNVBAMMDmIuZXhhbXBsZS50ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAET5ED0ShtScsBwLrQnQXGM8PFRMfkmRPXvx9CvPlB
JUQytd2AmcgGvA6XpX4LoWJLF+MLpoB4OIxh4V6J72+WWqNuMGwwHQYDVR0OBBYE
FHz63ItuSa2oxmgx+xClRy0kIMxcMB8GA1UdIwQYMBaAFHz63ItuSa2oxmgx+xCl
Ry0kIMxcMA8GA1UdEwEB/wQFMAMBAf8wGQYDVR0RBBIwEIIOYi5leGFtcGxlLnRl
c3QwCgYIKoZIzj0EAwIDSQAwRgIhAJbYJRRG/e8iz+sr35k9spxRbzIYOkxYUdtv
wi3v2CMEAiEAp9arSxiqtEv2TCAIJIFtQ4psul0K80It4zMtBuZA/1U=
-----END CERTIFICATE-----
`;
/** The private key of {@link B_CERT}. */
export const B_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg59zZme86SVnGQ0zZ
MXBVO6tOMMU318jmq3J1CPWWEpmhRANCAARPkQPRKG1JywHAutCdBcYzw8VEx+SZ
E9e/H0K8+UElRDK13YCZyAa8DpelfguhYksX4wumgHg4jGHhXonvb5Za
-----END PRIVATE KEY-----
`;
/** A P-256 key that belongs to neither certificate. */
export const OTHER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1Ayiw9JLEt29GVlX
2PudOvSA1ULrO+DJhvkGbiDqGJahRANCAATyePFrnBt7vqKzCy4JrNDufxMjLIuX
NV4X8wPgIlf45Wj2nCMzG8BqBruI4q4rN72tDU100BLQzxX6sabbjCvP
-----END PRIVATE KEY-----
`;

/** Leaf expiry of both certificates. */
export const CERT_NOT_AFTER = '2126-10-28T09:09:25.000Z';

/** The namespace fixtures live in unless told otherwise. */
export const NS = 'shop';
/** The external address Ingresses are served on unless told otherwise. */
export const ADDRESS = '203.0.113.10';

const EPOCH = Date.UTC(2024, 0, 1);

/** Object metadata created `age` seconds after a fixed epoch (higher = newer). */
function meta(name: string, namespace: string, age: number) {
  return { name, namespace, creationTimestamp: new Date(EPOCH + age * 1000) };
}

export interface IngressOptions {
  namespace?: string;
  /** Seconds after the epoch it was created; decides which Ingress is older. */
  age?: number;
  rules?: V1IngressRule[];
  defaultBackend?: V1IngressBackend;
  tls?: V1IngressTLS[];
  annotations?: Record<string, string>;
}

export function ingress(name: string, options: IngressOptions = {}): V1Ingress {
  const { namespace = NS, age = 0, rules, defaultBackend, tls, annotations } = options;
  const metadata = meta(name, namespace, age);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: annotations === undefined ? metadata : { ...metadata, annotations },
    spec: {
      ingressClassName: 'pier',
      ...(rules === undefined ? {} : { rules }),
      ...(defaultBackend === undefined ? {} : { defaultBackend }),
      ...(tls === undefined ? {} : { tls }),
    },
  };
}

/** A rule for `host` (undefined: any host) with the given paths. */
export function rule(host: string | undefined, ...paths: V1HTTPIngressPath[]): V1IngressRule {
  return host === undefined ? { http: { paths } } : { host, http: { paths } };
}

/** A path to `service:port` (a number or a port name). */
export function path(
  p: string | undefined,
  service: string,
  port: number | string,
  pathType = 'Prefix',
): V1HTTPIngressPath {
  const item: V1HTTPIngressPath = { pathType, backend: backend(service, port) };
  if (p !== undefined) item.path = p;
  return item;
}

export function backend(service: string, port: number | string): V1IngressBackend {
  return {
    service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } },
  };
}

export function service(
  name: string,
  ports: V1ServicePort[] = [{ name: 'http', port: 80, targetPort: 8080 }],
  options: { namespace?: string; type?: string } = {},
): V1Service {
  const { namespace = NS, type = 'ClusterIP' } = options;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, namespace, 0),
    spec: { type, ports },
  };
}

export interface EndpointOptions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  nodeName?: string;
  zone?: string;
  pod?: string;
}

/** An EndpointSlice of `service`, one endpoint per entry of `endpoints` (address → options). */
export function slice(
  name: string,
  service: string,
  ports: Array<{ name?: string; port?: number }>,
  endpoints: Array<[string | string[], EndpointOptions?]>,
  options: { namespace?: string; addressType?: string } = {},
): V1EndpointSlice {
  const { namespace = NS, addressType = 'IPv4' } = options;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      ...meta(name, namespace, 0),
      labels: { 'kubernetes.io/service-name': service },
    },
    addressType,
    ports,
    endpoints: endpoints.map(([addresses, o = {}]) => {
      const conditions: Record<string, boolean> = {};
      if (o.ready !== undefined) conditions.ready = o.ready;
      if (o.serving !== undefined) conditions.serving = o.serving;
      if (o.terminating !== undefined) conditions.terminating = o.terminating;
      return {
        addresses: Array.isArray(addresses) ? addresses : [addresses],
        conditions,
        ...(o.nodeName === undefined ? {} : { nodeName: o.nodeName }),
        ...(o.zone === undefined ? {} : { zone: o.zone }),
        ...(o.pod === undefined ? {} : { targetRef: { kind: 'Pod', name: o.pod, namespace } }),
      };
    }),
  };
}

/** A `kubernetes.io/tls` Secret; pass `type` or omit entries to make it invalid. */
export function tlsSecret(
  name: string,
  entries: { crt?: string; key?: string },
  options: { namespace?: string; type?: string } = {},
): V1Secret {
  const { namespace = NS, type = 'kubernetes.io/tls' } = options;
  const data: Record<string, string> = {};
  if (entries.crt !== undefined) data['tls.crt'] = Buffer.from(entries.crt).toString('base64');
  if (entries.key !== undefined) data['tls.key'] = Buffer.from(entries.key).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta(name, namespace, 0), type, data };
}

export function policy(
  name: string,
  target: string,
  spec: Partial<HealthCheckPolicy['spec']> = {},
  options: { namespace?: string; age?: number } = {},
): HealthCheckPolicy {
  const { namespace = NS, age = 0 } = options;
  return { metadata: meta(name, namespace, age), spec: { targetRef: { name: target }, ...spec } };
}

/**
 * A deterministic stand-in for sealing: the same id and key always give the same sealed key,
 * of the right shape. Records its calls.
 */
export function fakeSealer(): {
  sealKey: (id: string, pem: string) => SealedKey;
  calls: Array<[string, string]>;
} {
  const calls: Array<[string, string]> = [];
  const sealKey = (id: string, pem: string): SealedKey => {
    calls.push([id, pem]);
    const digest = createHash('sha256').update(id).update('\0').update(pem).digest();
    return {
      alg: 'AES-256-GCM',
      keyId: 'test',
      iv: digest.subarray(0, 12).toString('base64'),
      tag: digest.subarray(12, 28).toString('base64'),
      ciphertext: digest.toString('base64'),
    };
  };
  return { sealKey, calls };
}

/** A compile input with nothing in it but what is given; every Ingress on {@link ADDRESS}. */
export function compileInput(parts: Partial<CompileInput> = {}): CompileInput {
  return {
    ingresses: [],
    addressesOf: () => [ADDRESS],
    services: [],
    endpointSlices: [],
    secrets: [],
    policies: [],
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey: fakeSealer().sealKey,
    ...parts,
  };
}
