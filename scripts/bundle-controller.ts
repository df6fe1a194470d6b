/**
 * Bundles the controller as the image ships it: `packages/controller/dist/main.js` (what
 * `tsc --build` emitted, type-checked) and every module it imports, into one file,
 * `packages/controller/dist/pier-controller.js`, which `deploy/image/bin/pier-controller` runs.
 *
 * Why a bundle: the entry point of @kubernetes/client-node loads every API group and model the
 * library has (about 1,000 modules, 62 MB of JavaScript, two of them over 6 MB) although the
 * controller calls six APIs. Loaded whole they held about 20 MiB of the controller's live heap
 * and took half a second to load at every start (docs/benchmarks.md, "what each step bought");
 * the bundle keeps only what the controller reaches.
 *
 *   node scripts/bundle-controller.ts   (after tsc --build; `pnpm build` runs both)
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'packages', 'controller', 'dist');
const OUT = join(DIST, 'pier-controller.js');

/**
 * Writes every character above U+007F as a `\u` escape. V8 stores a script's source for as long
 * as the script lives, two bytes a character if any one character needs it: a few typographic
 * quotes in the comments of a dependency double the bundle's 8 MB in memory. The escape means
 * the same character in strings, templates, regular expressions and identifiers alike; in a
 * comment it is only text.
 */
function asciiOnly(source: string): string {
  return source.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const result = await build({
  entryPoints: [join(DIST, 'main.js')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  // Workspace packages resolve to their dist/ (no @pier/source condition), as in the image.
  conditions: [],
  // CommonJS dependencies require Node's built-in modules; an ES module has no `require`.
  banner: {
    js: "import { createRequire as pierCreateRequire } from 'node:module'; const require = pierCreateRequire(import.meta.url);",
  },
  // Not minified: a stack trace names readable lines, and an uncaught error prints one of them.
  minify: false,
  // Licence notices of the bundled packages, kept together at the end of the file.
  legalComments: 'eof',
  write: false,
  logLevel: 'warning',
});
const [file] = result.outputFiles;
if (file === undefined || result.outputFiles.length !== 1) {
  throw new Error(`esbuild wrote ${result.outputFiles.length} files, expected one`);
}
// A character beyond U+FFFF is two UTF-16 units, escaped one by one: JavaScript reads the pair back.
const text = asciiOnly(file.text);
writeFileSync(OUT, text, { mode: 0o755 });
console.log(
  `bundled ${relative(ROOT, OUT)}: ${(Buffer.byteLength(text) / 2 ** 20).toFixed(1)} MiB`,
);
