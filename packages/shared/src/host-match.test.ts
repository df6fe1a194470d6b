import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostMatches, isWildcardHost, normalizeHost, validateIngressHost } from './host-match.ts';

test('normalizeHost', () => {
  const rows: Array<[string | undefined, string]> = [
    ['Example.COM', 'example.com'],
    ['example.com:8080', 'example.com'],
    ['example.com:', 'example.com'],
    ['example.com.', 'example.com'],
    ['example.com.:443', 'example.com'],
    ['[2001:DB8::1]:8443', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['192.0.2.1:80', '192.0.2.1'],
    ['', ''],
    [undefined, ''],
    ['  shop.example.com  ', 'shop.example.com'],
    // A non-numeric port is not repaired: the header matches no host rule.
    ['example.com:http', 'example.com:http'],
  ];
  for (const [input, expected] of rows) {
    assert.equal(normalizeHost(input), expected, `normalizeHost(${JSON.stringify(input)})`);
  }
});

test('isWildcardHost', () => {
  assert.equal(isWildcardHost('*.foo.com'), true);
  assert.equal(isWildcardHost('foo.com'), false);
  assert.equal(isWildcardHost(''), false);
  assert.equal(isWildcardHost('*foo.com'), false);
});

test('hostMatches follows Ingress host semantics', () => {
  const rows: Array<[string, string, boolean]> = [
    ['foo.bar.com', 'foo.bar.com', true],
    ['foo.bar.com', 'bar.com', false],
    ['foo.bar.com', 'xfoo.bar.com', false],
    // Wildcards cover exactly one label (Kubernetes Ingress docs, "Hostname wildcards").
    ['*.foo.com', 'bar.foo.com', true],
    ['*.foo.com', 'baz.bar.foo.com', false],
    ['*.foo.com', 'foo.com', false],
    ['*.foo.com', '.foo.com', false],
    ['*.foo.com', 'barfoo.com', false],
    ['', 'anything.example', true],
    ['', '', true],
    ['foo.com', '', false],
  ];
  for (const [pattern, host, expected] of rows) {
    assert.equal(hostMatches(pattern, host), expected, `${pattern} vs ${host}`);
  }
});

test('validateIngressHost accepts what the API server accepts', () => {
  for (const ok of ['', 'foo.com', 'a.b-c.d', '*.foo.com', 'x', `${'a'.repeat(63)}.com`]) {
    assert.equal(validateIngressHost(ok), undefined, ok);
  }
});

test('validateIngressHost rejects IPs, ports, bad wildcards and bad labels', () => {
  const rows: Array<[string, RegExp]> = [
    ['192.0.2.1', /not an IP/],
    ['2001:db8::1', /not an IP/],
    ['foo.com:80', /port/],
    ['Foo.com', /lowercase/],
    ['*', /wildcard/],
    ['foo.*.com', /wildcard/],
    ['*.*.foo.com', /wildcard/],
    ['foo..com', /empty labels/],
    ['.foo.com', /empty labels/],
    ['foo.com.', /empty labels/],
    ['-foo.com', /label '-foo'/],
    ['foo_bar.com', /label 'foo_bar'/],
    [`${'a'.repeat(64)}.com`, /longer than 63/],
    [`${'a.'.repeat(127)}ab`, /at most 253/],
  ];
  for (const [host, message] of rows) {
    assert.match(validateIngressHost(host) ?? 'accepted', message, host);
  }
});
