import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyIndex } from './key-index.ts';

test('a key leads to what was added, in order, each once, and to nothing once all are deleted', () => {
  const index = new KeyIndex();
  assert.deepEqual([...index.get('svc')], []);
  assert.equal(index.first('svc'), undefined);
  index.add('svc', 'a');
  index.add('svc', 'a');
  assert.deepEqual([...index.get('svc')], ['a']);
  index.add('svc', 'b');
  index.add('svc', 'c');
  index.add('svc', 'b');
  assert.deepEqual([...index.get('svc')], ['a', 'b', 'c']);
  assert.equal(index.first('svc'), 'a');
  index.delete('svc', 'a');
  index.delete('svc', 'c');
  assert.deepEqual([...index.get('svc')], ['b']);
  assert.equal(index.first('svc'), 'b');
  index.add('svc', 'd');
  assert.deepEqual([...index.get('svc')], ['b', 'd']);
  index.delete('svc', 'b');
  index.delete('svc', 'x');
  index.delete('svc', 'd');
  assert.deepEqual([...index.get('svc')], []);
  index.delete('svc', 'd');
  assert.equal(index.first('svc'), undefined);
});

test('keys are independent', () => {
  const index = new KeyIndex();
  index.add('a', '1');
  index.add('b', '1');
  index.add('b', '2');
  index.delete('a', '1');
  assert.deepEqual([...index.get('a')], []);
  assert.deepEqual([...index.get('b')], ['1', '2']);
});
