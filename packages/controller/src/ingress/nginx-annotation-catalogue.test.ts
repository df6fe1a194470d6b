import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NGINX_ANNOTATIONS, type NginxSupport } from './nginx-annotation-catalogue.ts';

const DOC = new URL('../../../../docs/migrating-from-ingress-nginx.md', import.meta.url);
const WORD: Record<NginxSupport, string> = {
  honoured: 'honoured',
  ignored: 'ignored',
  refused: 'never run',
};

test('docs/migrating-from-ingress-nginx.md lists every annotation of the catalogue, as the catalogue says', () => {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('<!-- nginx-annotation-table');
  const end = text.indexOf('<!-- /nginx-annotation-table -->');
  assert.ok(start >= 0 && end > start, 'the table markers are there');
  const rows = text
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const documented = new Map(
    rows.map((cells) => [cells[1]?.replaceAll('`', ''), [cells[2], cells[3]]]),
  );
  const expected = new Map(
    Object.entries(NGINX_ANNOTATIONS).map(([name, info]) => [
      name,
      [WORD[info?.support ?? 'ignored'], info?.note],
    ]),
  );
  assert.deepEqual(
    Object.fromEntries([...documented].sort()),
    Object.fromEntries([...expected].sort()),
    'run: node --conditions=@pier/source scripts/nginx-annotation-table.ts',
  );
});
