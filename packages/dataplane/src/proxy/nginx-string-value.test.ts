import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { applyUpstreamHost } from './nginx-string-value.ts';

function request(headers: Record<string, string>) {
  return {
    url: '/x',
    headers,
    socket: { remoteAddress: '192.0.2.7' },
  } as unknown as IncomingMessage;
}

/** The Host in the flat list after applying `template` to a request with `headers`. */
function hostAfter(template: string, headers: Record<string, string>): string | undefined {
  const list = ['Host', headers.host ?? 'shop.example.com', 'accept', '*/*'];
  applyUpstreamHost(list, template, request(headers));
  return list[1];
}

test('upstream-vhost: a literal replaces the Host; the other headers stay', () => {
  const list = ['Host', 'shop.example.com', 'accept', '*/*'];
  applyUpstreamHost(list, 'internal.shop.svc:8080', request({ host: 'shop.example.com' }));
  assert.deepEqual(list, ['Host', 'internal.shop.svc:8080', 'accept', '*/*']);
});

test('upstream-vhost: variables are filled in from the request', () => {
  assert.equal(
    hostAfter('$http_x_tenant.tenants.example', { host: 'shop.example.com', 'x-tenant': 'acme' }),
    'acme.tenants.example',
  );
  assert.equal(
    hostAfter('backend.$host', { host: 'shop.example.com:8443' }),
    'backend.shop.example.com',
  );
});

test('upstream-vhost: a value that fills in to no Host keeps the client’s', () => {
  assert.equal(
    hostAfter('$http_x_tenant.tenants.example', { host: 'shop.example.com', 'x-tenant': 'a/b@c' }),
    'shop.example.com',
  );
});
