import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileHashKey, rendezvousIndex } from './upstream-hash.ts';

test('compileHashKey reads nginx variables and literal text', () => {
  assert.deepEqual(compileHashKey('$request_uri'), [{ variable: 'request_uri' }]);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: nginx's ${name} form, not a template
  assert.deepEqual(compileHashKey('${http_x_user}-$cookie_session$arg_id'), [
    { variable: 'http', name: 'x-user' },
    { text: '-' },
    { variable: 'cookie', name: 'session' },
    { variable: 'arg', name: 'id' },
  ]);
  assert.deepEqual(compileHashKey('u:$binary_remote_addr'), [
    { text: 'u:' },
    { variable: 'remote_addr' },
  ]);
  assert.match(String(compileHashKey('$upstream_addr')), /\$upstream_addr is not a variable/);
  assert.match(String(compileHashKey('fixed')), /names no request variable/);
  assert.match(String(compileHashKey('')), /must be 1-256 characters/);
});

test('rendezvousIndex: a key keeps its endpoint when another leaves, keys spread evenly', () => {
  const ids = ['192.0.2.1:80', '192.0.2.2:80', '192.0.2.3:80', '192.0.2.4:80'];
  const counts = [0, 0, 0, 0];
  let moved = 0;
  for (let k = 0; k < 4000; k++) {
    const key = `/item/${k}`;
    const at = rendezvousIndex(key, ids);
    counts[at] = (counts[at] ?? 0) + 1;
    assert.equal(rendezvousIndex(key, ids), at, 'the same key, the same endpoint');
    const without = ids.filter((_, i) => i !== 3);
    const after = rendezvousIndex(key, without);
    if (at !== 3 && without[after] !== ids[at]) moved++;
  }
  assert.equal(moved, 0, 'only the keys of the endpoint that left move');
  for (const count of counts) assert.ok(count > 850 && count < 1150, `spread: ${counts}`);
});
