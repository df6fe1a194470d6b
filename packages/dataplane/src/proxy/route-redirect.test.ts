import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route, RouteMatch, VirtualHost } from '@pier/shared';
import { redirectBody, redirectFor } from './route-redirect.ts';

const https = {
  onlyWithCertificate: true,
  statusCode: 308,
  preserveTrailingSlash: false,
  usePort: false,
};

function match(vhost: Partial<VirtualHost>, route: Partial<Route> | undefined): RouteMatch {
  const virtualHost: VirtualHost = { address: '*', host: 'a.example', routes: [], ...vhost };
  const full =
    route === undefined
      ? undefined
      : {
          path: '/',
          pathType: 'Prefix' as const,
          backend: 'n/s:80',
          source: { namespace: 'n', name: 'i' },
          ...route,
        };
  return {
    virtualHost,
    ...(full === undefined ? {} : { route: full }),
    backend: {} as RouteMatch['backend'],
    viaDefault: route === undefined,
  };
}

const plain = { scheme: 'http' as const, host: 'a.example:8080', target: '/', httpsPort: 8443 };

test('redirects in ingress-nginx order: app root, fixed redirect, then https', () => {
  const all = match(
    { appRoot: '/app', tls: { certificate: 'n/c' } },
    { redirect: { statusCode: 301, url: 'https://b.example/' }, httpsRedirect: https },
  );
  assert.deepEqual(redirectFor(all, plain), { status: 302, location: 'http://a.example:8080/app' });
  assert.deepEqual(redirectFor(all, { ...plain, target: '/x' }), {
    status: 301,
    location: 'https://b.example/',
  });
  const onlyHttps = match({ tls: { certificate: 'n/c' } }, { httpsRedirect: https });
  assert.deepEqual(redirectFor(onlyHttps, { ...plain, target: '/x?y' }), {
    status: 308,
    location: 'https://a.example/x?y',
  });
});

test('https redirect: never on HTTPS; ssl-redirect only with a certificate, force always', () => {
  const withCert = match({ tls: { certificate: 'n/c' } }, { httpsRedirect: https });
  assert.equal(redirectFor(withCert, { ...plain, scheme: 'https' }), undefined);
  const noCert = match({}, { httpsRedirect: https });
  assert.equal(redirectFor(noCert, plain), undefined);
  const forced = match({}, { httpsRedirect: { ...https, onlyWithCertificate: false } });
  assert.equal(redirectFor(forced, { ...plain, target: '/a' })?.location, 'https://a.example/a');
});

test('no redirect asked for: proxied; the default backend keeps only the app root', () => {
  assert.equal(redirectFor(match({}, {}), plain), undefined);
  assert.equal(redirectFor(match({}, undefined), plain), undefined);
  assert.equal(redirectFor(match({ appRoot: '/x' }, undefined), plain)?.status, 302);
});

test('the redirect body names the status, as nginx does', () => {
  assert.match(
    redirectBody({ status: 308, location: 'https://a/' }),
    /<title>308 Permanent Redirect<\/title>/,
  );
});
