import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyRing } from '@pier/shared';
import { generateKeyRing, generateRedisPassword } from './install-secrets.ts';

test('a generated key ring is one dated 32-byte key the controller and dataplanes can read', () => {
  const text = generateKeyRing(new Date('2026-11-21T10:00:00Z'));
  const ring = KeyRing.fromSpecText(text);
  assert.deepEqual(ring.keyIds, ['k20261121']);
  const line = text.split('\n').find((l) => l.startsWith('k20261121='));
  assert.equal(Buffer.from(line?.split('=').slice(1).join('=') ?? '', 'base64').length, 32);
  assert.notEqual(generateKeyRing(), generateKeyRing(), 'fresh random bytes every time');
});

test('a generated Redis password is 32 random bytes, safe in a URL and a shell', () => {
  const passwords = new Set(Array.from({ length: 20 }, generateRedisPassword));
  assert.equal(passwords.size, 20);
  for (const password of passwords) {
    assert.match(password, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(password, 'base64url').length, 32);
  }
});
