import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import { certificate, sampleTable } from './fixtures.test.ts';
import type { Problem } from './route-table-validation.ts';
import {
  assertRevision,
  checkBackend,
  checkCertificate,
  checkVirtualHost,
  validateRouteTable,
} from './route-table-validation.ts';

// Keys of the sample table.
const SHOP = '203.0.113.1|shop.example.com';
const API = '203.0.113.1|*.api.example.com';
const ANY = '203.0.113.1|';
const WEB_BE = 'shop/web:80';
const API_BE = 'shop/api:http';
const CERT = 'shop/shop-tls';

// biome-ignore lint/suspicious/noExplicitAny: tests break tables on purpose, field by field.
type Loose = any;

interface Row {
  name: string;
  mutate: (t: Loose) => void;
  /** Keys left per section: [virtualHosts, backends, certificates]. */
  kept: [string[], string[], string[]];
  /** Expected problems as `section key field`, message matched by regex. */
  problems: Array<[string, RegExp]>;
  /** Extra assertion on the validated table. */
  check?: (t: Loose) => void;
}

const ALL: Row['kept'] = [[ANY, API, SHOP], [API_BE, WEB_BE], [CERT]];

const ROWS: Row[] = [
  { name: 'valid table', mutate: () => {}, kept: ALL, problems: [] },
  {
    name: 'server aliases: a bad one is dropped alone, the host and its other aliases kept',
    mutate: (t) => {
      t.virtualHosts[SHOP].aliases = ['www.example.com', '*.example.com', 'shop.example.org'];
    },
    kept: ALL,
    problems: [[`virtualHosts ${SHOP} aliases[1]`, /is a wildcard; .*dropped/]],
    check: (t) =>
      assert.deepEqual(t.virtualHosts[SHOP].aliases, ['www.example.com', 'shop.example.org']),
  },
  {
    name: 'upstreamHost: a good one kept; one that is no host drops its route, as any bad field',
    mutate: (t) => {
      t.virtualHosts[SHOP].routes[0].upstreamHost = '$http_x_tenant.tenants.svc';
      t.virtualHosts[API].routes[0].upstreamHost = 'evil.example/x';
    },
    kept: ALL,
    problems: [[`virtualHosts ${API} routes[0].upstreamHost`, /is not a host/]],
    check: (t) => {
      assert.equal(t.virtualHosts[SHOP].routes[0].upstreamHost, '$http_x_tenant.tenants.svc');
      assert.deepEqual(t.virtualHosts[API].routes, []);
    },
  },
  {
    name: 'a bad backend is dropped alone, with the routes that used it',
    mutate: (t) => {
      t.backends[API_BE].endpoints = 'nope';
    },
    kept: [[ANY, API, SHOP], [WEB_BE], [CERT]],
    problems: [
      [`backends ${API_BE} endpoints`, /must be an array/],
      [
        `virtualHosts ${API} routes[0].backend`,
        /backend 'shop\/api:http' does not exist; route dropped/,
      ],
    ],
    check: (t) => assert.deepEqual(t.virtualHosts[API].routes, []),
  },
  {
    name: 'a bad endpoint is dropped alone',
    mutate: (t) => {
      t.backends[API_BE].endpoints[1].address = '2001:DB8::20';
      t.backends[API_BE].endpoints.push({ ...t.backends[API_BE].endpoints[0] });
    },
    kept: ALL,
    problems: [
      [`backends ${API_BE} endpoints[1].address`, /canonical form '2001:db8::20'/],
      [`backends ${API_BE} endpoints[2]`, /duplicate address and port/],
    ],
    check: (t) => assert.equal(t.backends[API_BE].endpoints.length, 1),
  },
  {
    name: 'a missing certificate drops TLS but keeps the routes',
    mutate: (t) => {
      delete t.certificates[CERT];
    },
    kept: [[ANY, API, SHOP], [API_BE, WEB_BE], []],
    problems: [[`virtualHosts ${SHOP} tls.certificate`, /does not exist; TLS dropped/]],
    check: (t) => {
      assert.equal(t.virtualHosts[SHOP].tls, undefined);
      assert.equal(t.virtualHosts[SHOP].routes.length, 1);
    },
  },
  {
    name: 'a certificate carrying a private key is dropped, and so is TLS on its host',
    mutate: (t) => {
      t.certificates[CERT].certificatePem += '-----BEGIN PRIVATE KEY-----\nx\n';
    },
    kept: [[ANY, API, SHOP], [API_BE, WEB_BE], []],
    problems: [
      [`certificates ${CERT} certificatePem`, /must not contain a private key/],
      [`virtualHosts ${SHOP} tls.certificate`, /TLS dropped/],
    ],
  },
  {
    name: 'an invalid route is dropped alone',
    mutate: (t) => {
      t.virtualHosts[SHOP].routes.push({ ...t.virtualHosts[SHOP].routes[0], path: 'nope' });
      t.virtualHosts[SHOP].routes.push({ ...t.virtualHosts[SHOP].routes[0], pathType: 'Regex' });
    },
    kept: ALL,
    problems: [
      [`virtualHosts ${SHOP} routes[1].path`, /absolute/],
      [`virtualHosts ${SHOP} routes[2].pathType`, /must be one of/],
    ],
    check: (t) => assert.equal(t.virtualHosts[SHOP].routes.length, 1),
  },
  {
    name: 'a virtual host under the wrong key is dropped',
    mutate: (t) => {
      t.virtualHosts['203.0.113.9|shop.example.com'] = t.virtualHosts[SHOP];
      delete t.virtualHosts[SHOP];
    },
    kept: [[ANY, API], [API_BE, WEB_BE], [CERT]],
    problems: [
      ['virtualHosts 203.0.113.9|shop.example.com ', /key must be '203.0.113.1|shop.example.com'/],
    ],
  },
  {
    name: 'bad hosts and addresses drop their virtual host',
    mutate: (t) => {
      t.virtualHosts[SHOP].host = 'Shop.example.com';
      t.virtualHosts[API].address = 'example.com';
    },
    kept: [[ANY], [API_BE, WEB_BE], [CERT]],
    problems: [
      [`virtualHosts ${API} address`, /IPv4 or IPv6/],
      [`virtualHosts ${SHOP} host`, /lowercase/],
    ],
  },
  {
    name: 'a default backend on a named host, or pointing nowhere, is dropped',
    mutate: (t) => {
      t.virtualHosts[SHOP].defaultBackend = WEB_BE;
      t.virtualHosts[ANY].defaultBackend = 'shop/gone:80';
    },
    kept: ALL,
    problems: [
      [`virtualHosts ${ANY} defaultBackend`, /does not exist/],
      [`virtualHosts ${SHOP} defaultBackend`, /only allowed on the any-host/],
    ],
    check: (t) => {
      assert.equal(t.virtualHosts[ANY].defaultBackend, undefined);
      assert.equal(t.virtualHosts[SHOP].defaultBackend, undefined);
    },
  },
  {
    name: 'health-check settings are checked',
    mutate: (t) => {
      const hc = t.backends[WEB_BE].healthCheck;
      hc.timeoutMs = hc.intervalMs;
      hc.http.expectedStatuses = [[200, 700]];
      hc.healthyThreshold = 0;
    },
    kept: [[ANY, API, SHOP], [API_BE], [CERT]],
    problems: [
      [`backends ${WEB_BE} healthCheck.healthyThreshold`, /at least 1/],
      [`backends ${WEB_BE} healthCheck.http.expectedStatuses[0]`, /outside 100-599/],
      [`backends ${WEB_BE} healthCheck.timeoutMs`, /less than intervalMs/],
      [`virtualHosts ${ANY} defaultBackend`, /does not exist/],
      [`virtualHosts ${SHOP} routes[0].backend`, /does not exist/],
    ],
  },
  {
    name: 'a missing section is reported and treated as empty',
    mutate: (t) => {
      t.certificates = [];
    },
    kept: [[ANY, API, SHOP], [API_BE, WEB_BE], []],
    problems: [
      ['table  certificates', /must be an object/],
      [`virtualHosts ${SHOP} tls.certificate`, /TLS dropped/],
    ],
  },
  {
    name: 'a split is kept whole; a bad one, or one naming a missing backend, is dropped, its route kept',
    mutate: (t) => {
      const rule = { source: 'header', name: 'x-canary', type: 'Exact', value: 'always' };
      t.virtualHosts[SHOP].routes[0].split = {
        rules: [{ ...rule, backend: API_BE }],
        weights: [
          { backend: WEB_BE, weight: 80 },
          { backend: API_BE, weight: 20 },
        ],
        affinity: 'primary',
      };
      t.virtualHosts[API].routes[0].split = { rules: [{ ...rule, backend: 'shop/gone:80' }] };
      t.virtualHosts[ANY].routes = [{ ...t.virtualHosts[API].routes[0], split: { weights: 'x' } }];
    },
    kept: ALL,
    problems: [
      [
        `virtualHosts ${API} routes[0].split`,
        /backend 'shop\/gone:80' does not exist; split dropped, the route serves its backend/,
      ],
      [`virtualHosts ${ANY} routes[0].split.weights`, /must be a list of at most 16 backends/],
    ],
    check: (t) => {
      assert.equal(t.virtualHosts[SHOP].routes[0].split.weights[1].weight, 20);
      assert.equal(t.virtualHosts[SHOP].routes[0].split.affinity, 'primary');
      assert.equal(t.virtualHosts[API].routes[0].split, undefined);
      assert.equal(t.virtualHosts[API].routes[0].backend, API_BE);
      assert.equal(t.virtualHosts[ANY].routes.length, 1, 'a bad split costs only the split');
      assert.equal(t.virtualHosts[ANY].routes[0].split, undefined);
    },
  },
  {
    name: 'errors are kept; a bad one, or a missing error backend, is dropped, its route kept',
    mutate: (t) => {
      t.virtualHosts[SHOP].routes[0].errors = { backend: API_BE, codes: [404, 503] };
      t.virtualHosts[API].routes[0].errors = { backend: 'shop/gone:80', codes: [404] };
      t.virtualHosts[ANY].routes = [
        { ...t.virtualHosts[API].routes[0], errors: { codes: [200] } },
        { ...t.virtualHosts[API].routes[0], path: '/b', errors: { backend: 'shop/gone:80' } },
      ];
    },
    kept: ALL,
    problems: [
      [
        `virtualHosts ${API} routes[0].errors.backend`,
        /backend 'shop\/gone:80' does not exist; dropped, Pier's own pages answer/,
      ],
      [`virtualHosts ${ANY} routes[0].errors.codes`, /must be 1-200 statuses 400-599, ascending/],
      [`virtualHosts ${ANY} routes[1].errors.backend`, /does not exist/],
    ],
    check: (t) => {
      assert.deepEqual(t.virtualHosts[SHOP].routes[0].errors, {
        backend: API_BE,
        codes: [404, 503],
      });
      assert.deepEqual(t.virtualHosts[API].routes[0].errors, { codes: [404] });
      assert.equal(t.virtualHosts[ANY].routes.length, 2, 'bad errors cost only the errors');
      assert.equal(t.virtualHosts[ANY].routes[0].errors, undefined);
      assert.equal(t.virtualHosts[ANY].routes[1].errors, undefined);
    },
  },
  {
    name: 'a __proto__ key cannot reach the prototype',
    mutate: (t) => {
      const value = { ...t.backends[WEB_BE], id: '__proto__' };
      Object.defineProperty(t.backends, '__proto__', { value, enumerable: true });
    },
    kept: [[ANY, API, SHOP], ['__proto__', API_BE, WEB_BE], [CERT]],
    problems: [],
    check: (t) => {
      assert.equal(Object.getPrototypeOf(t.backends), Object.prototype);
      assert.ok(Object.hasOwn(t.backends, '__proto__'));
    },
  },
];

const where = (p: Problem) => `${p.section} ${p.key} ${p.field}`;

for (const row of ROWS) {
  test(`validateRouteTable: ${row.name}`, () => {
    const input: Loose = structuredClone(sampleTable(7));
    row.mutate(input);
    const { table, problems } = validateRouteTable(JSON.parse(JSON.stringify(input)));
    assert.equal(table.revision, 7);
    assert.deepEqual(
      [table.virtualHosts, table.backends, table.certificates].map((s) => Object.keys(s).sort()),
      row.kept,
    );
    const actual = problems.map(where).sort();
    assert.deepEqual(actual, row.problems.map(([w]) => w).sort(), JSON.stringify(problems));
    for (const [w, message] of row.problems) {
      const problem = problems.find((p) => where(p) === w);
      assert.match(problem?.message ?? '', message, w);
    }
    row.check?.(table);
  });
}

test('validateRouteTable refuses what is not a table at all', () => {
  const rows: unknown[] = [null, [], 'table', { revision: -1 }, { revision: 1.5 }, {}];
  for (const input of rows) {
    assert.throws(
      () => validateRouteTable(input),
      (err) => isPierError(err, 'PIER_INVALID_ROUTE_TABLE'),
      JSON.stringify(input),
    );
  }
});

test('unknown fields are ignored, so newer controllers can add fields', () => {
  const input: Loose = structuredClone(sampleTable());
  input.futureSection = {};
  input.backends[WEB_BE].futureField = 1;
  const { table, problems } = validateRouteTable(input);
  assert.deepEqual(problems, []);
  assert.deepEqual(table, sampleTable());
});

test('assertRevision', () => {
  assert.equal(assertRevision(0), 0);
  assert.equal(assertRevision(42), 42);
  for (const bad of [-1, 1.5, '3', Number.NaN, 2 ** 53]) {
    assert.throws(
      () => assertRevision(bad),
      (err) => isPierError(err, 'PIER_INVALID_ROUTE_TABLE'),
    );
  }
});

test('entry checks work alone: references are only checked when given', () => {
  const t = sampleTable();
  const shop = t.virtualHosts[SHOP];
  assert.deepEqual(checkVirtualHost(SHOP, shop).problems, []);
  const none = { hasBackend: () => false, hasCertificate: () => false };
  const checked = checkVirtualHost(SHOP, shop, none);
  assert.deepEqual(checked.value?.routes, []);
  assert.equal(checked.value?.tls, undefined);
  assert.equal(checked.problems.length, 2);
  assert.deepEqual(checkBackend(WEB_BE, t.backends[WEB_BE]).value, t.backends[WEB_BE]);
  assert.equal(checkBackend('shop/other:80', t.backends[WEB_BE]).problems[0]?.field, 'id');
  assert.deepEqual(checkCertificate(CERT, certificate(CERT)).problems, []);
  assert.equal(
    checkCertificate(CERT, { ...certificate(CERT), key: {} }).problems[0]?.field,
    'key.alg',
  );
});

test('backend field rules', () => {
  const base = sampleTable().backends[WEB_BE];
  const rows: Array<[string, (b: Loose) => void, string | undefined]> = [
    [
      'named port',
      (b) => {
        b.servicePort = 'https';
      },
      undefined,
    ],
    [
      'port name too long',
      (b) => {
        b.servicePort = 'a-very-long-port-name';
      },
      'servicePort',
    ],
    [
      'port name without letter',
      (b) => {
        b.servicePort = '8080';
      },
      'servicePort',
    ],
    [
      'port 0',
      (b) => {
        b.servicePort = 0;
      },
      'servicePort',
    ],
    [
      'port 65536',
      (b) => {
        b.endpoints[0].port = 65536;
      },
      'endpoints[0].port',
    ],
    [
      'round robin',
      (b) => {
        b.balancing = { algorithm: 'round-robin' };
      },
      undefined,
    ],
    [
      'unknown algorithm',
      (b) => {
        b.balancing = { algorithm: 'random' };
      },
      'balancing.algorithm',
    ],
    [
      'affinity',
      (b) => {
        b.balancing.affinity = { cookieName: 'pier_aff', ttlSeconds: 60 };
      },
      undefined,
    ],
    [
      'bad cookie',
      (b) => {
        b.balancing.affinity = { cookieName: 'a b', ttlSeconds: 60 };
      },
      'balancing.affinity.cookieName',
    ],
    [
      'bad namespace',
      (b) => {
        b.service.namespace = 'Shop';
      },
      'service.namespace',
    ],
    [
      'terminating endpoint',
      (b) => {
        b.endpoints[0].terminating = true;
      },
      undefined,
    ],
    [
      'bad ready',
      (b) => {
        b.endpoints[0].ready = 'yes';
      },
      'endpoints[0].ready',
    ],
    [
      'targetRef',
      (b) => {
        b.endpoints[0].targetRef = { namespace: 'shop', name: 'web-1' };
      },
      undefined,
    ],
    [
      'health policy',
      (b) => {
        b.healthCheck.policy = { namespace: 'shop', name: 'hc' };
      },
      undefined,
    ],
    [
      'probe path',
      (b) => {
        b.healthCheck.http.path = 'healthz';
      },
      'healthCheck.http.path',
    ],
    [
      'probe port',
      (b) => {
        b.healthCheck.port = 70000;
      },
      'healthCheck.port',
    ],
  ];
  for (const [name, mutate, field] of rows) {
    const input: Loose = structuredClone(base);
    mutate(input);
    const { value, problems } = checkBackend(WEB_BE, input);
    assert.equal(problems[0]?.field, field, name);
    if (field === undefined) assert.deepEqual(value, input, name);
  }
});
