/**
 * Rewrites the table of every ingress-nginx annotation in docs/migrating-from-ingress-nginx.md
 * from the controller's catalogue (nginx-annotation-catalogue.ts), between its two markers.
 * `nginx-annotation-catalogue.test.ts` fails until this has been run after a catalogue change:
 *   node --conditions=@pier/source scripts/nginx-annotation-table.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NGINX_ANNOTATIONS,
  type NginxSupport,
} from '../packages/controller/src/ingress/nginx-annotation-catalogue.ts';

const DOC = join(import.meta.dirname, '..', 'docs', 'migrating-from-ingress-nginx.md');
const START = '<!-- nginx-annotation-table';
const END = '<!-- /nginx-annotation-table -->';
const WORD: Record<NginxSupport, string> = {
  honoured: 'honoured',
  ignored: 'ignored',
  refused: 'never run',
};

const rows = Object.entries(NGINX_ANNOTATIONS)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(
    ([name, info]) => `| \`${name}\` | ${WORD[info?.support ?? 'ignored']} | ${info?.note ?? ''} |`,
  );
const table = ['| annotation | Pier | what Pier does |', '| --- | --- | --- |', ...rows].join('\n');

const text = readFileSync(DOC, 'utf8');
const start = text.indexOf('\n', text.indexOf(START)) + 1;
const end = text.indexOf(END);
if (start <= 0 || end < start) throw new Error(`${DOC}: the table markers are missing`);
writeFileSync(DOC, `${text.slice(0, start)}\n${table}\n\n${text.slice(end)}`);
console.log(`${DOC}: ${rows.length} annotations`);
