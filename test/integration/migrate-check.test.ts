/**
 * `./pier migrate-check`, offline, as a user runs it on the shipped examples of ingress-nginx
 * Ingresses (examples/nginx-migration/): the JSON report is pinned, the table and the exit codes
 * are what a script relies on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../lib/child-process.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';

const PIER = join(REPO_ROOT, 'pier');
const EXAMPLES = join(REPO_ROOT, 'examples', 'nginx-migration');
const EXPECTED = join(import.meta.dirname, 'migrate-check.expected.json');

test('the JSON report on the 30 example manifests is the pinned one, and exits 1', async () => {
  const { code, stdout } = await run(
    PIER,
    ['migrate-check', '--dir', EXAMPLES, '--output', 'json'],
    {
      allowFailure: true,
    },
  );
  assert.equal(code, 1, 'some of them would change');
  assert.deepEqual(JSON.parse(stdout), JSON.parse(readFileSync(EXPECTED, 'utf8')));
});

test('the table: one line per Ingress, then what changes, then the sum', async () => {
  const { code, stdout } = await run(PIER, ['migrate-check', '--dir', EXAMPLES], {
    allowFailure: true,
    cwd: REPO_ROOT,
  });
  assert.equal(code, 1);
  const lines = stdout.trimEnd().split('\n');
  assert.match(
    lines[0] ?? '',
    /^INGRESS\s+CLASS\s+HONOURED\s+IGNORED\s+NEVER RUN\s+INVALID\s+VERDICT$/,
  );
  assert.match(stdout, /^api\/backend-api\s+nginx\s+2\s+0\s+0\s+0\s+unchanged$/m);
  assert.match(
    stdout,
    /^ {2}never run {2}nginx\.ingress\.kubernetes\.io\/configuration-snippet: a snippet of nginx configuration; Pier never executes snippets$/m,
  );
  assert.match(
    lines.at(-1) ?? '',
    /^36 Ingresses of class nginx or none: 25 served as ingress-nginx serves them, 11 with changes$/,
  );
});

test('only unchanged Ingresses: exit 0; mistakes: exit 2 with one clear line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-migrate-'));
  try {
    writeFileSync(join(dir, 'docs.yaml'), readFileSync(join(EXAMPLES, '05-plain-docs-site.yaml')));
    const clean = await run(PIER, ['migrate-check', '--dir', dir], { allowFailure: true });
    assert.equal(clean.code, 0, clean.stdout);
    writeFileSync(join(dir, 'broken.yaml'), 'kind: Ingress\nmetadata: [\n');
    const broken = await run(PIER, ['migrate-check', '--dir', dir], { allowFailure: true });
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^pier migrate-check: .*broken\.yaml: not YAML/m);
    const usage = await run(PIER, ['migrate-check', '--output', 'xml', '--dir', dir], {
      allowFailure: true,
    });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--output/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
