import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNginxBool } from './nginx-bool.ts';

// Go's strconv.ParseBool, which ingress-nginx's GetBoolAnnotation uses.
test('nginx booleans: every spelling strconv.ParseBool accepts, nothing else', () => {
  const rows: Array<[string, boolean | undefined]> = [
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['t', true],
    ['T', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['FALSE', false],
    ['f', false],
    ['F', false],
    ['0', false],
    ['yes', undefined],
    ['on', undefined],
    ['tRUE', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of rows) assert.equal(parseNginxBool(text), expected, text);
});
