import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import { createLogger, objectFields } from './logger.ts';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, destination: { write: (s: string) => void lines.push(JSON.parse(s)) } };
}

test('lines carry the component and object fields, as JSON', () => {
  const { lines, destination } = capture();
  const log = createLogger({ name: 'controller', level: 'info', destination });
  log.info(objectFields({ namespace: 'shop', name: 'web' }), 'address assigned');
  log.debug('below the level');
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line?.component, 'controller');
  assert.equal(line?.namespace, 'shop');
  assert.equal(line?.name, 'web');
  assert.equal(line?.msg, 'address assigned');
  assert.equal(line?.level, 30);
  assert.equal(line?.pid, undefined);
});

test('level defaults to info and is validated', () => {
  assert.equal(createLogger({ name: 'x', destination: capture().destination }).level, 'info');
  assert.equal(createLogger({ name: 'x', level: 'silent' }).level, 'silent');
  assert.throws(
    () => createLogger({ name: 'x', level: 'verbose' }),
    (err) => isPierError(err, 'PIER_INVALID_CONFIG') && /'verbose'/.test(err.message),
  );
});

test('objectFields copies only namespace and name', () => {
  const ref = { namespace: 'a', name: 'b', extra: 1 };
  assert.deepEqual(objectFields(ref), { namespace: 'a', name: 'b' });
});
