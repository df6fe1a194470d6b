import assert from 'node:assert/strict';
import { test } from 'node:test';
import { upstreamHostProblem, usableUpstreamHost } from './route-upstream-host.ts';

test('upstreamHost: host names, ports, IPv6 literals and known nginx variables are accepted', () => {
  for (const ok of [
    'internal.example.svc',
    'backend.shop.svc.cluster.local:8080',
    '[2001:db8::1]:443',
    '$host',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: nginx's ${name} form, not a template
    '${http_x_tenant}.tenants.example',
    'app-$arg_region.example',
  ]) {
    assert.equal(upstreamHostProblem(ok), undefined, ok);
  }
});

test('upstreamHost: what is no host, an unknown variable, or too long is refused with the reason', () => {
  assert.match(upstreamHostProblem('shop.example/path') ?? '', /is not a host/);
  assert.match(upstreamHostProblem('a b') ?? '', /is not a host/);
  assert.match(upstreamHostProblem('x"y') ?? '', /is not a host/);
  assert.match(upstreamHostProblem('$upstream_addr') ?? '', /upstream_addr/);
  assert.ok(upstreamHostProblem('') !== undefined);
  assert.ok(upstreamHostProblem(`${'a'.repeat(300)}.example`) !== undefined);
});

test('a filled-in upstreamHost is sent only when it is a Host value', () => {
  assert.equal(usableUpstreamHost('tenant1.tenants.example'), true);
  assert.equal(usableUpstreamHost('[2001:db8::1]:8443'), true);
  for (const bad of ['', 'a b', 'evil.example/x', 'user@host', 'a,b', 'x\u00e9', 'a\r\nb']) {
    assert.equal(usableUpstreamHost(bad), false, JSON.stringify(bad));
  }
});
