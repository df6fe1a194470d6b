import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthAnswerCache } from './auth-answer-cache.ts';

test('AuthAnswerCache keeps answers until they expire, with only the headers named', () => {
  const cache = new AuthAnswerCache();
  cache.set('k', 200, { 'x-user': 'alice', 'x-other': 'no', date: 'x' }, ['x-user'], 1000, 0);
  assert.deepEqual(cache.get('k', 999), { status: 200, headers: { 'x-user': 'alice' } });
  assert.equal(cache.get('k', 1000), undefined, 'expired');
  assert.equal(cache.size, 0, 'an expired answer is dropped when looked up');
  cache.set('z', 200, {}, [], 0, 0);
  assert.equal(cache.get('z', 0), undefined, 'kept for 0 ms: not kept');
  cache.set('big', 200, { 'x-user': 'a'.repeat(10_000) }, ['x-user'], 1000, 0);
  assert.equal(cache.get('big', 0), undefined, 'past the size cap: not kept');
});

test('AuthAnswerCache drops the least recently used past its bound', () => {
  const cache = new AuthAnswerCache(2);
  cache.set('a', 200, {}, [], 1000, 0);
  cache.set('b', 401, {}, [], 1000, 0);
  assert.equal(cache.get('a', 1)?.status, 200, 'a used: b is now the oldest');
  cache.set('c', 403, {}, [], 1000, 0);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b', 1), undefined);
  assert.equal(cache.get('a', 1)?.status, 200);
  assert.equal(cache.get('c', 1)?.status, 403);
});
