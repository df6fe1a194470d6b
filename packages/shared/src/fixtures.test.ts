/**
 * Builders for route tables in tests. Named `.test.ts` so the build leaves it out (it holds no
 * tests itself); route-table.test.ts checks that what it builds validates clean.
 */
import { DEFAULT_HEALTH_CHECK } from './health-check-defaults.ts';
import type { SealedKey } from './key-sealing.ts';
import type { PathType } from './path-match.ts';
import type {
  Backend,
  Certificate,
  Endpoint,
  Route,
  RouteTable,
  VirtualHost,
} from './route-table.ts';
import { backendId, virtualHostKey } from './route-table.ts';

export const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** Right shape, not openable: enough for validation, diffing and indexing. */
export const FAKE_SEALED: SealedKey = {
  alg: 'AES-256-GCM',
  keyId: 'k1',
  iv: Buffer.alloc(12, 1).toString('base64'),
  tag: Buffer.alloc(16, 2).toString('base64'),
  ciphertext: Buffer.from('sealed').toString('base64'),
};

export function endpoint(address: string, port = 8080, extra: Partial<Endpoint> = {}): Endpoint {
  return { address, port, ready: true, serving: true, terminating: false, ...extra };
}

export function backend(service: string, port: number | string = 80, addresses = ['192.0.2.10']) {
  const b: Backend = {
    id: backendId('shop', service, port),
    service: { namespace: 'shop', name: service },
    servicePort: port,
    endpoints: addresses.map((a) => endpoint(a)),
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK) as Backend['healthCheck'],
    balancing: { algorithm: 'p2c' },
  };
  return b;
}

export function route(path: string, pathType: PathType, backendId: string, ingress = 'web'): Route {
  return { path, pathType, backend: backendId, source: { namespace: 'shop', name: ingress } };
}

export function vhost(
  address: string,
  host: string,
  routes: Route[],
  extra: Partial<VirtualHost> = {},
): VirtualHost {
  return { address, host, routes, ...extra };
}

export function certificate(id: string): Certificate {
  const [namespace = 'shop', name = id] = id.split('/');
  return { id, secret: { namespace, name }, certificatePem: CERT_PEM, key: { ...FAKE_SEALED } };
}

/** A table keyed the way validation expects. */
export function table(
  revision: number,
  parts: { vhosts?: VirtualHost[]; backends?: Backend[]; certificates?: Certificate[] },
): RouteTable {
  return {
    revision,
    virtualHosts: Object.fromEntries(
      (parts.vhosts ?? []).map((v) => [virtualHostKey(v.address, v.host), v]),
    ),
    backends: Object.fromEntries((parts.backends ?? []).map((b) => [b.id, b])),
    certificates: Object.fromEntries((parts.certificates ?? []).map((c) => [c.id, c])),
  };
}

/** A small realistic table: two hosts on one address, a wildcard, TLS, a default backend. */
export function sampleTable(revision = 1): RouteTable {
  const web = backend('web');
  const api = backend('api', 'http', ['192.0.2.20', '2001:db8::20']);
  return table(revision, {
    backends: [web, api],
    certificates: [certificate('shop/shop-tls')],
    vhosts: [
      vhost('203.0.113.1', 'shop.example.com', [route('/', 'Prefix', web.id)], {
        tls: { certificate: 'shop/shop-tls' },
      }),
      vhost('203.0.113.1', '*.api.example.com', [route('/v1', 'Prefix', api.id, 'api')]),
      vhost('203.0.113.1', '', [], { defaultBackend: web.id }),
    ],
  });
}

/** Mulberry32: a small seeded generator with Math.random's contract, so that a failure repeats. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
