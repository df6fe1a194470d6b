import assert from 'node:assert/strict';
import { test } from 'node:test';
import { challengeHeaders, dropAuthorization, refusalCode } from './route-auth.ts';

test('route auth: 401 with the realm’s challenge, 503 when the users cannot be read or checked', () => {
  assert.equal(refusalCode('deny'), 'PIER_UNAUTHORIZED');
  assert.deepEqual(challengeHeaders('deny', 'Authentication Required - foo'), [
    'www-authenticate',
    'Basic realm="Authentication Required - foo"',
  ]);
  assert.equal(refusalCode('unavailable'), 'PIER_AUTH_UNAVAILABLE');
  assert.equal(refusalCode('busy'), 'PIER_AUTH_BUSY');
  assert.deepEqual(challengeHeaders('unavailable', 'x'), []);
});

test('route auth: the application never sees the Authorization header (ingress-nginx clears it)', () => {
  const headers = ['Host', 'a', 'Authorization', 'Basic x', 'accept', '*/*', 'authorization', 'y'];
  dropAuthorization(headers);
  assert.deepEqual(headers, ['Host', 'a', 'accept', '*/*']);
});
