import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENTRY_TEXT_PROBE, type EntryTextProbe } from '@pier/shared';
import { LazyEntry, LazySection } from './lazy-section.ts';

/** One `entries` message's text and ends, as the worker encodes them. */
function message(texts: string[]): { text: Uint8Array; ends: number[] } {
  const encoded = texts.map((t) => Buffer.from(t));
  const ends: number[] = [];
  let at = 0;
  for (const e of encoded) {
    at += e.length;
    ends.push(at);
  }
  return { text: new Uint8Array(Buffer.concat(encoded)), ends };
}

function section(keys: string[], texts: string[]): LazySection<unknown> {
  const { text, ends } = message(texts);
  const entries = LazyEntry.fromMessage(text, ends);
  return new LazySection(new Map(keys.map((k, i) => [k, entries[i] as LazyEntry])));
}

test('an entry is parsed when first read, once; listing keys reads none', () => {
  // Text that is not JSON throws when parsed: listing and membership must not parse it.
  const { record } = section(['a', 'bad', 'ü'], ['{"n":1}', '{not json', '{"s":"grüße"}']);
  assert.deepEqual(Object.keys(record), ['a', 'bad', 'ü']);
  assert.equal('bad' in record, true);
  assert.equal(Object.hasOwn(record, 'bad'), true);
  assert.equal(Object.hasOwn(record, 'missing'), false);
  assert.equal(record.missing, undefined);
  const first = record.a;
  assert.deepEqual(first, { n: 1 });
  assert.equal(record.a, first, 'the same object on every read');
  assert.deepEqual(record.ü, { s: 'grüße' });
  assert.throws(() => record.bad, SyntaxError);
});

test('the record is read-only and reads like a plain object', () => {
  const { record } = section(['a', 'b'], ['[1]', '{"x":true}']);
  assert.equal(JSON.stringify(record), '{"a":[1],"b":{"x":true}}');
  assert.deepEqual(Object.entries(record), [
    ['a', [1]],
    ['b', { x: true }],
  ]);
  assert.throws(() => {
    (record as Record<string, unknown>).c = 1;
  }, TypeError);
  assert.throws(() => {
    delete (record as Record<string, unknown>).a;
  }, TypeError);
  assert.equal(Object.keys(record).length, 2);
  assert.equal(String(record), '[object Object]');
});

test('entries read back right after most of their message left the table (compaction)', () => {
  // 400 entries of ~100 bytes: a message large enough to be compacted.
  const texts = Array.from({ length: 400 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(90) }));
  const { text, ends } = message(texts);
  const entries = LazyEntry.fromMessage(text, ends);
  const at = (i: number) => ((entries[i] as LazyEntry).value as { i: number }).i;
  // Some are read first, then nine in ten leave (past the quarter, so the rest are moved).
  for (let i = 0; i < 400; i += 50) assert.equal(at(i), i);
  for (let i = 0; i < 400; i++) if (i % 10 !== 0) (entries[i] as LazyEntry).left();
  for (let i = 0; i < 400; i++) {
    assert.equal(at(i), i, `entry ${i}, left or not`);
  }
});

test('the text probe finds a needle in an entry without parsing it, and only in that entry', () => {
  const { record } = section(['a', 'b', 'bad'], ['{"aliases":["x"]}', '{"n":2}', '{not "aliases"']);
  const probe = (record as unknown as Record<symbol, EntryTextProbe>)[ENTRY_TEXT_PROBE];
  assert.equal(probe?.('a', '"aliases"'), true);
  assert.equal(probe?.('b', '"aliases"'), false, 'the next entry’s text is not looked at');
  assert.equal(probe?.('bad', '"aliases"'), true, 'found in text that does not even parse');
  assert.equal(probe?.('missing', '"aliases"'), false);
  assert.equal(record.b !== undefined && probe?.('b', '"aliases"'), true, 'parsed: true');
  assert.equal(Reflect.ownKeys(record).length, 3, 'the probe is no key of the section');
});
