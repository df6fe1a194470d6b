import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { hashKeyOf } from './hash-key.ts';

/** The parts of a request the key reads. */
function request(url: string, headers: Record<string, string>, remote = '::ffff:192.0.2.7') {
  return { url, headers, socket: { remoteAddress: remote } } as unknown as IncomingMessage;
}

test('hashKeyOf fills in nginx variables as nginx would', () => {
  const req = request('/shop/cart?id=7&x', {
    host: 'Shop.Example.test:8080',
    'x-user': 'alice',
    cookie: 'a=1; session=s-42',
  });
  const rows: Array<[string, string | undefined]> = [
    ['$request_uri', '/shop/cart?id=7&x'],
    ['$uri', '/shop/cart'],
    ['$args', 'id=7&x'],
    ['$arg_id|$arg_x|$arg_none', '7||'],
    ['$remote_addr', '192.0.2.7'],
    ['$host', 'shop.example.test'],
    ['$scheme', 'http'],
    ['$http_x_user/$cookie_session', 'alice/s-42'],
    ['$upstream_addr', undefined],
  ];
  for (const [template, key] of rows) assert.equal(hashKeyOf(template, req), key, template);
});
