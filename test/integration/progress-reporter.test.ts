/**
 * The reporter of ./run-tests (test/lib/progress-reporter.ts) under node's real test runner, on
 * files made here: a line as each file begins, the failed files before the totals, and all that
 * spec prints (the totals CI reads, each failure with its details, the exit code) unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../lib/child-process.ts';
import { FILE_COUNT_ENV } from '../lib/progress-reporter.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'pier-reporter-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FILES = {
  'passes.test.ts': [
    "import { test } from 'node:test';",
    "test('waits a little', async () => { await new Promise((r) => setTimeout(r, 50)); });",
    "test('passes', () => {});",
  ],
  'fails.test.ts': [
    "import assert from 'node:assert/strict';",
    "import { test } from 'node:test';",
    "test('passes too', () => {});",
    "test('compares', () => { assert.equal(1 + 1, 3); });",
  ],
  'crashes.test.ts': ["throw new Error('the file does not load');"],
};
for (const [name, lines] of Object.entries(FILES)) writeFileSync(join(dir, name), lines.join('\n'));

/** `node --test` over `files` as test/run.ts runs it, from `dir`. */
async function nodeTest(files: string[]): Promise<{ code: number; lines: string[] }> {
  // A test file runs with NODE_TEST_CONTEXT set; the run below must be a runner of its own.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const result = await run(
    process.execPath,
    [
      '--test',
      `--test-reporter=${join(REPO_ROOT, 'test', 'lib', 'progress-reporter.ts')}`,
      '--test-reporter-destination=stdout',
      '--test-concurrency=1',
      ...files,
    ],
    { cwd: dir, env: { ...env, [FILE_COUNT_ENV]: String(files.length) }, allowFailure: true },
  );
  return { code: result.code, lines: result.stdout.split('\n') };
}

function indexOf(lines: readonly string[], pattern: RegExp): number {
  const i = lines.findIndex((l) => pattern.test(l));
  assert.ok(i >= 0, `no line matches ${pattern} in:\n${lines.join('\n')}`);
  return i;
}

test('each file is announced with its place and the time so far; the failed files come before the totals', async () => {
  const { code, lines } = await nodeTest(['passes.test.ts', 'fails.test.ts', 'crashes.test.ts']);
  assert.equal(code, 1, 'a failed test still fails the run');

  // The runner takes the files in name order.
  const order = [
    /^▶ \[1\/3\] crashes\.test\.ts \(\d+s elapsed\)$/,
    /^Error: the file does not load$/,
    /^✖ crashes\.test\.ts \(/,
    /^▶ \[2\/3\] fails\.test\.ts \(\d+s elapsed\)$/,
    /^✔ passes too \(/,
    /^✖ compares \(/,
    /^▶ \[3\/3\] passes\.test\.ts \(\d+s elapsed\)$/,
    /^✔ waits a little \(/,
    /^✔ passes \(/,
    /^✖ 2 of 3 files failed \(\d+s\):$/,
    /^ {2}crashes\.test\.ts$/,
    /^ {2}fails\.test\.ts$/,
    /^ℹ tests 5$/,
    /^ℹ pass 3$/,
    /^ℹ fail 2$/,
    /^✖ failing tests:$/,
    /^test at crashes\.test\.ts:1:1$/,
    /^test at fails\.test\.ts:4:1$/,
    /^\s+2 !== 3$/,
  ];
  let previous = -1;
  for (const pattern of order) {
    const i = indexOf(lines, pattern);
    assert.ok(i > previous, `${pattern} is out of order in:\n${lines.join('\n')}`);
    previous = i;
  }
});

test('a run that passes says so, and its totals are spec’s', async () => {
  const { code, lines } = await nodeTest(['passes.test.ts']);
  assert.equal(code, 0);
  const said = indexOf(lines, /^✔ the file passed \(\d+s\)$/);
  assert.equal(lines[said + 1], 'ℹ tests 2');
  indexOf(lines, /^ℹ fail 0$/);
  assert.equal(lines.filter((l) => l.startsWith('▶')).length, 1, 'one line for the one file');
});
