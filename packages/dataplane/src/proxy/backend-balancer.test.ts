import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Backend,
  type BalancingSettings,
  DEFAULT_HEALTH_CHECK,
  type Endpoint,
  endpointField,
} from '@pier/shared';
import { seededRandom } from '../../../shared/src/fixtures.test.ts';
import { affinityCookie, affinityToken, BackendBalancer } from './backend-balancer.ts';

function endpoint(address: string, overrides: Partial<Endpoint> = {}): Endpoint {
  return { address, port: 8080, ready: true, serving: true, terminating: false, ...overrides };
}

function backend(endpoints: Endpoint[], balancing: Partial<BalancingSettings> = {}): Backend {
  return {
    id: 'shop/web:80',
    service: { namespace: 'shop', name: 'web' },
    servicePort: 80,
    endpoints,
    healthCheck: structuredClone(DEFAULT_HEALTH_CHECK),
    balancing: { algorithm: 'p2c', ...balancing },
  };
}

const id = (address: string) => endpointField(address, 8080);
const all = () => true;

/** Returns the given values in turn, as a scripted random source. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => {
    const value = values[i % values.length];
    i += 1;
    return value ?? 0;
  };
}

const three = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];

test('p2c takes the drawn endpoint with fewer outstanding requests, the first on a tie', () => {
  // Eligible endpoints are in id order; random 0 → index 0, then 0.5 of the other two → index 2.
  const rows: Array<[outstanding: number[], expected: string]> = [
    [[0, 0, 0], '192.0.2.1'], // tie → first drawn
    [[3, 0, 1], '192.0.2.3'],
    [[1, 0, 3], '192.0.2.1'],
    [[2, 0, 2], '192.0.2.1'],
  ];
  for (const [outstanding, expected] of rows) {
    const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
      random: scripted(0, 0.5),
    });
    three.forEach((address, i) => {
      for (let n = 0; n < (outstanding[i] ?? 0); n += 1) balancer.begin(id(address));
    });
    assert.equal(balancer.pick({ usable: all })?.endpoint.address, expected, `${outstanding}`);
  }
});

test('p2c never draws the same endpoint twice', () => {
  // random 0.4 → index 1 of 3; the second draw 0.4 of the two others → index 0 ('192.0.2.1').
  const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
    random: scripted(0.4, 0.4),
  });
  balancer.begin(id('192.0.2.2'));
  assert.equal(balancer.pick({ usable: all })?.id, id('192.0.2.1'));
});

test('p2c with one eligible endpoint takes it', () => {
  const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
    random: scripted(0.99),
  });
  balancer.begin(id('192.0.2.2'));
  const usable = (x: string) => x === id('192.0.2.2');
  assert.equal(balancer.pick({ usable })?.id, id('192.0.2.2'));
});

test('p2c spreads picks evenly when outstanding counts are equal', () => {
  const addresses = Array.from({ length: 5 }, (_, i) => `198.51.100.${i + 1}`);
  const balancer = new BackendBalancer(backend(addresses.map((a) => endpoint(a))), {
    random: seededRandom(42),
  });
  const counts = new Map<string, number>();
  const picks = 10_000;
  for (let i = 0; i < picks; i += 1) {
    const pick = balancer.pick({ usable: all });
    assert.ok(pick !== undefined);
    counts.set(pick.id, (counts.get(pick.id) ?? 0) + 1);
  }
  assert.equal(counts.size, 5);
  for (const [endpointId, count] of counts) {
    assert.ok(count > picks * 0.17 && count < picks * 0.23, `${endpointId}: ${count}`);
  }
});

test('p2c balances outstanding requests when requests stay in flight', () => {
  const addresses = Array.from({ length: 4 }, (_, i) => `198.51.100.${i + 1}`);
  const balancer = new BackendBalancer(backend(addresses.map((a) => endpoint(a))), {
    random: seededRandom(7),
  });
  for (let i = 0; i < 400; i += 1) {
    const pick = balancer.pick({ usable: all });
    assert.ok(pick !== undefined);
    balancer.begin(pick.id);
  }
  const loads = addresses.map((a) => balancer.outstanding(id(a)));
  assert.ok(Math.max(...loads) - Math.min(...loads) <= 10, `${loads}`);
});

test('round robin rotates in id order and skips ineligible endpoints', () => {
  const balancer = new BackendBalancer(
    backend(
      ['192.0.2.3', '192.0.2.1', '192.0.2.2', '192.0.2.4'].map((a) => endpoint(a)),
      {
        algorithm: 'round-robin',
      },
    ),
  );
  const seq = (n: number, usable: (x: string) => boolean = all) =>
    Array.from({ length: n }, () => balancer.pick({ usable })?.endpoint.address);
  assert.deepEqual(seq(5), ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.1']);
  const not3 = (x: string) => x !== id('192.0.2.3');
  assert.deepEqual(seq(4, not3), ['192.0.2.2', '192.0.2.4', '192.0.2.1', '192.0.2.2']);
});

test('round robin keeps its position across update()', () => {
  const balancer = new BackendBalancer(
    backend(
      three.map((a) => endpoint(a)),
      { algorithm: 'round-robin' },
    ),
  );
  assert.equal(balancer.pick({ usable: all })?.endpoint.address, '192.0.2.1');
  assert.equal(balancer.pick({ usable: all })?.endpoint.address, '192.0.2.2');
  // 192.0.2.2 (the last picked) leaves, 192.0.2.4 joins: rotation continues after .2.
  balancer.update(
    backend(
      ['192.0.2.1', '192.0.2.3', '192.0.2.4'].map((a) => endpoint(a)),
      {
        algorithm: 'round-robin',
      },
    ),
  );
  const next = Array.from({ length: 4 }, () => balancer.pick({ usable: all })?.endpoint.address);
  assert.deepEqual(next, ['192.0.2.3', '192.0.2.4', '192.0.2.1', '192.0.2.3']);
});

test('terminating, not-ready, unusable and excluded endpoints are never picked', () => {
  const endpoints = [
    endpoint('192.0.2.1', { ready: false, serving: false }),
    endpoint('192.0.2.2', { ready: false, serving: true, terminating: true }),
    // Inconsistent but possible input: ready and terminating. Still no new requests.
    endpoint('192.0.2.3', { ready: true, serving: true, terminating: true }),
    endpoint('192.0.2.4'),
    endpoint('192.0.2.5'),
    endpoint('192.0.2.6'),
  ];
  for (const algorithm of ['p2c', 'round-robin'] as const) {
    const balancer = new BackendBalancer(backend(endpoints, { algorithm }), {
      random: seededRandom(1),
    });
    const usable = (x: string) => x !== id('192.0.2.5');
    const exclude = new Set([id('192.0.2.4')]);
    assert.equal(balancer.eligibleCount({ usable, exclude }), 1);
    for (let i = 0; i < 50; i += 1) {
      assert.equal(balancer.pick({ now: i, usable, exclude })?.id, id('192.0.2.6'), algorithm);
    }
  }
});

test('no eligible endpoint → undefined (503), never a panic route to unhealthy ones', () => {
  const rows: Array<[string, Endpoint[], (x: string) => boolean, ReadonlySet<string>?]> = [
    ['all unusable', three.map((a) => endpoint(a)), () => false],
    ['all excluded', three.map((a) => endpoint(a)), all, new Set(three.map(id))],
    ['none ready', three.map((a) => endpoint(a, { ready: false })), all],
    ['no endpoints', [], all],
  ];
  for (const [name, endpoints, usable, exclude] of rows) {
    for (const algorithm of ['p2c', 'round-robin'] as const) {
      const balancer = new BackendBalancer(backend(endpoints, { algorithm }), {
        random: seededRandom(3),
      });
      const input = exclude === undefined ? { usable } : { usable, exclude };
      assert.equal(balancer.pick(input), undefined, `${name} (${algorithm})`);
      assert.equal(balancer.eligibleCount(input), 0);
    }
  }
});

test('affinity cookie sticks to its endpoint and re-pins when it is gone or unusable', () => {
  const affinity = { cookieName: 'pier-web', ttlSeconds: 600 };
  const balancer = new BackendBalancer(
    backend(
      three.map((a) => endpoint(a)),
      { affinity },
    ),
    {
      random: seededRandom(9),
    },
  );
  // No cookie yet: picked by the algorithm and pinned.
  const first = balancer.pick({ usable: all });
  assert.ok(first !== undefined);
  const token = affinityToken('shop/web:80', first.id);
  assert.match(token, /^[0-9a-f]{16}$/);
  assert.equal(first.setCookie, `pier-web=${token}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax`);
  // With the cookie: always the same endpoint, nothing to set, whatever the load.
  for (let i = 0; i < 20; i += 1) {
    balancer.begin(first.id);
    assert.deepEqual(balancer.pick({ usable: all, affinityCookie: token }), {
      endpoint: first.endpoint,
      id: first.id,
    });
  }
  // Its endpoint turns unusable: another is picked and the client re-pinned to it.
  const repinned = balancer.pick({ usable: (x) => x !== first.id, affinityCookie: token });
  assert.ok(repinned !== undefined && repinned.id !== first.id);
  assert.equal(
    repinned.setCookie,
    `pier-web=${affinityToken('shop/web:80', repinned.id)}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax`,
  );
  // Retried request: the pinned endpoint already failed, so re-pin too.
  const retried = balancer.pick({
    usable: all,
    affinityCookie: token,
    exclude: new Set([first.id]),
  });
  assert.ok(retried?.setCookie !== undefined && retried.id !== first.id);
  // Its endpoint leaves the backend.
  balancer.update(
    backend(
      three.filter((a) => id(a) !== first.id).map((a) => endpoint(a)),
      { affinity },
    ),
  );
  const moved = balancer.pick({ usable: all, affinityCookie: token });
  assert.ok(moved?.setCookie !== undefined && moved.id !== first.id);
  // A garbage cookie is treated as none.
  assert.ok(balancer.pick({ usable: all, affinityCookie: 'garbage' })?.setCookie !== undefined);
});

test('affinity tokens are stable, opaque and per backend', () => {
  const endpointId = endpointField('2001:db8::1', 80);
  assert.equal(affinityToken('shop/web:80', endpointId), affinityToken('shop/web:80', endpointId));
  assert.notEqual(
    affinityToken('shop/web:80', endpointId),
    affinityToken('shop/api:80', endpointId),
  );
  assert.ok(!affinityToken('shop/web:80', endpointId).includes('2001'));
});

test('without affinity no cookie is set, and a cookie is ignored', () => {
  const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
    random: scripted(0, 0),
  });
  const token = affinityToken('shop/web:80', id('192.0.2.3'));
  const pick = balancer.pick({ usable: all, affinityCookie: token });
  assert.equal(pick?.id, id('192.0.2.1'));
  assert.equal(pick?.setCookie, undefined);
});

// annotations.md#session-affinity, affinity-canary-behavior: sticky lends the main's cookie.
test('affinity lent for a request: a backend without its own pins with it; null turns it off', () => {
  const lent = { cookieName: 'INGRESSCOOKIE', ttlSeconds: 60 };
  const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
    random: scripted(0, 0),
  });
  const token = affinityToken('shop/web:80', id('192.0.2.3'));
  assert.equal(balancer.pins(token), true, 'its endpoints have tokens, ready or not');
  assert.equal(balancer.pins(affinityToken('shop/other:80', id('192.0.2.3'))), false);
  const pinned = balancer.pick({ usable: all, affinityCookie: token, affinity: lent });
  assert.deepEqual(pinned, { endpoint: endpoint('192.0.2.3'), id: id('192.0.2.3') });
  const fresh = balancer.pick({ usable: all, affinity: lent });
  assert.equal(
    fresh?.setCookie,
    `INGRESSCOOKIE=${affinityToken('shop/web:80', id('192.0.2.1'))}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax`,
  );
  const own = new BackendBalancer(
    backend(
      three.map((a) => endpoint(a)),
      { affinity: lent },
    ),
    {
      random: scripted(0, 0),
    },
  );
  const off = own.pick({ usable: all, affinityCookie: token, affinity: null });
  assert.equal(off?.id, id('192.0.2.1'));
  assert.equal(off?.setCookie, undefined);
});

test('update() keeps outstanding counters of endpoints that remain', () => {
  const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))));
  const [a, b, c] = three.map(id) as [string, string, string];
  balancer.begin(a);
  balancer.begin(a);
  balancer.begin(b);
  balancer.update(backend(['192.0.2.1', '192.0.2.3'].map((x) => endpoint(x))));
  assert.equal(balancer.outstanding(a), 2);
  assert.equal(balancer.outstanding(c), 0);
  // A removed endpoint with requests in flight drains normally; counts never go negative.
  assert.equal(balancer.outstanding(b), 1);
  balancer.end(b);
  balancer.end(b);
  assert.equal(balancer.outstanding(b), 0);
  balancer.end(a);
  assert.equal(balancer.outstanding(a), 1);
});

test('a random source returning 1 or NaN still yields a valid endpoint', () => {
  for (const value of [1, Number.NaN, -0.5]) {
    const balancer = new BackendBalancer(backend(three.map((a) => endpoint(a))), {
      random: () => value,
    });
    assert.ok(balancer.pick({ usable: all }) !== undefined, `${value}`);
  }
});

test('the affinity cookie: Pier’s attributes, or ingress-nginx’s, Secure over HTTPS unless said', () => {
  const pier = { cookieName: 'pier-affinity', ttlSeconds: 60 };
  assert.equal(
    affinityCookie(pier, 't', false),
    'pier-affinity=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
  );
  const session = {
    cookieName: 'INGRESSCOOKIE',
    ttlSeconds: 3600,
    cookie: { path: '/', session: true },
  };
  assert.equal(affinityCookie(session, 't', false), 'INGRESSCOOKIE=t; Path=/; HttpOnly');
  assert.equal(affinityCookie(session, 't', true), 'INGRESSCOOKIE=t; Path=/; HttpOnly; Secure');
  const full = {
    cookieName: 'route',
    ttlSeconds: 120,
    cookie: {
      path: '/shop',
      session: false,
      domain: 'example.com',
      secure: false,
      sameSite: 'None' as const,
    },
  };
  assert.equal(
    affinityCookie(full, 't', true),
    'route=t; Path=/shop; Max-Age=120; Domain=example.com; HttpOnly; SameSite=None',
  );
  // session-cookie-expires: a date this many seconds after the response, beside Max-Age if set.
  const now = Date.UTC(2026, 11, 8, 1, 0, 0);
  const expiring = { ...session, cookie: { path: '/', session: true, expiresSeconds: 3600 } };
  assert.equal(
    affinityCookie(expiring, 't', false, now),
    'INGRESSCOOKIE=t; Path=/; Expires=Tue, 08 Dec 2026 02:00:00 GMT; HttpOnly',
  );
  const both = { ...full, cookie: { ...full.cookie, expiresSeconds: 60 } };
  assert.equal(
    affinityCookie(both, 't', false, now),
    'route=t; Path=/shop; Expires=Tue, 08 Dec 2026 01:01:00 GMT; Max-Age=120; Domain=example.com; HttpOnly; SameSite=None',
  );
});

test('a backend that hashes sends each key to one endpoint, and only a gone endpoint’s keys move', () => {
  const ids = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
  const hashed = backend(
    ids.map((a) => endpoint(a)),
    {
      algorithm: 'round-robin',
      hashBy: '$request_uri',
    },
  );
  const balancer = new BackendBalancer(hashed);
  const usable = all;
  const first = new Map<string, string>();
  for (let k = 0; k < 60; k++) {
    const key = `/item/${k}`;
    const id = balancer.pick({ usable, hashKey: key })?.id ?? '';
    first.set(key, id);
    assert.equal(balancer.pick({ usable, hashKey: key })?.id, id, 'again the same endpoint');
  }
  assert.equal(new Set(first.values()).size, 3, 'keys spread over every endpoint');
  const down = id('192.0.2.3');
  for (const [key, id] of first) {
    const again = balancer.pick({ usable: (e) => e !== down, hashKey: key })?.id;
    if (id !== down) assert.equal(again, id, `${key} stays on ${id}`);
    else assert.notEqual(again, down);
  }
});

test('session-cookie-conditional-samesite-none: SameSite=None left out for the browsers that reject it', () => {
  const affinity = {
    cookieName: 'route',
    ttlSeconds: 60,
    cookie: { path: '/', session: true, sameSite: 'None' as const, conditionalSameSiteNone: true },
  };
  const oldChrome =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/62.0.3202.94 Safari/537.36';
  const newChrome =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
  assert.equal(
    affinityCookie(affinity, 't', true, undefined, oldChrome),
    'route=t; Path=/; HttpOnly; Secure',
  );
  assert.equal(
    affinityCookie(affinity, 't', true, undefined, newChrome),
    'route=t; Path=/; HttpOnly; Secure; SameSite=None',
  );
  const always = { ...affinity, cookie: { ...affinity.cookie, conditionalSameSiteNone: false } };
  assert.match(
    affinityCookie(always, 't', true, undefined, oldChrome),
    /SameSite=None$/,
    'without it: always',
  );
  const lax = { ...affinity, cookie: { ...affinity.cookie, sameSite: 'Lax' as const } };
  assert.match(
    affinityCookie(lax, 't', true, undefined, oldChrome),
    /SameSite=Lax$/,
    'only None is left out',
  );
});
