import { NGINX_ANNOTATIONS } from '../packages/controller/src/ingress/nginx-annotation-catalogue.ts';
const word = { honoured: 'honoured', ignored: 'ignored', refused: 'never run' };
const rows = Object.entries(NGINX_ANNOTATIONS).sort(([a],[b]) => a.localeCompare(b));
console.log('| annotation | Pier | what Pier does |');
console.log('| --- | --- | --- |');
for (const [name, info] of rows) console.log(`| \`${name}\` | ${word[info!.support]} | ${info!.note} |`);
