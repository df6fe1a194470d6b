import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replaceHeader, replaceHost, requestTarget } from './request-target.ts';

test('requestTarget: origin form as sent, absolute form with its authority, the rest refused', () => {
  const rows: Array<[string | undefined, ReturnType<typeof requestTarget>]> = [
    ['/a/b?x=1', { path: '/a/b?x=1' }],
    ['http://shop.example.test/cart?id=7', { path: '/cart?id=7', authority: 'shop.example.test' }],
    ['HTTPS://shop.example.test', { path: '/', authority: 'shop.example.test' }],
    ['http://shop.example.test?q', { path: '/?q', authority: 'shop.example.test' }],
    ['http://user@shop.example.test/', undefined],
    ['*', undefined],
    ['shop.example.test:443', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [url, expected] of rows) assert.deepEqual(requestTarget(url), expected, String(url));
});

test('replaceHeader replaces the first header of the name, else adds it', () => {
  const headers = ['Host', 'a.example.test', 'X-Forwarded-Prefix', '/evil'];
  replaceHeader(headers, 'x-forwarded-prefix', '/shop');
  replaceHost(headers, 'b.example.test');
  assert.deepEqual(headers, ['Host', 'b.example.test', 'X-Forwarded-Prefix', '/shop']);
  replaceHeader(headers, 'x-extra', '1');
  assert.deepEqual(headers.slice(4), ['x-extra', '1']);
});
