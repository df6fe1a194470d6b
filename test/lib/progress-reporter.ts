/**
 * The test reporter of ./run-tests: node's spec reporter, plus a line as each test file begins
 * (which file, how far the run is, how long it has taken) and, just before spec's totals, which
 * files failed. Everything spec prints (each test, the failures with their details at the end,
 * the `ℹ tests N`, `ℹ pass N`, `ℹ fail N` … totals) is unchanged:
 *
 *   ▶ [12/57] test/integration/controller-routes.test.ts (3m12s elapsed)
 *   ✔ an Ingress, its Service and Pods are published, and status follows publication (812ms)
 *   …
 *   ✖ 1 of 57 files failed (14m05s):
 *     test/integration/controller-routes.test.ts
 *   ℹ tests 412
 *
 * Our lines reach spec as `test:stdout` events, which it prints as they come, so they keep
 * their place among its own. The run's file count comes from PIER_TEST_FILE_COUNT (a reporter
 * is not told the files; the runner, test/run.ts, sets it).
 *
 * Usage: node --test --test-reporter=./test/lib/progress-reporter.ts
 *          --test-reporter-destination=stdout FILES…
 */
import { relative } from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { spec, type TestEvent } from 'node:test/reporters';
import { formatElapsed } from './elapsed.ts';

/** Set by test/run.ts: how many files the run has. */
export const FILE_COUNT_ENV = 'PIER_TEST_FILE_COUNT';

/**
 * Whether an event is about a test file as a whole rather than a test in it: the runner reports
 * each file as a top-level test named after the file, without the `entryFile` its tests carry.
 */
function fileOf(event: TestEvent): string | undefined {
  if (event.type !== 'test:dequeue') return undefined;
  const data = event.data as typeof event.data & { entryFile?: string };
  if (data.nesting !== 0 || data.file === undefined || data.entryFile !== undefined) {
    return undefined;
  }
  return data.file.endsWith(data.name) ? data.file : undefined;
}

/** Tracks the run's files and writes the progress lines. Pure but for the clock it is given. */
export class FileProgress {
  readonly #total: number | undefined;
  readonly #now: () => number;
  readonly #started: number;
  readonly #cwd: string;
  #begun = 0;
  readonly #failed = new Set<string>();
  #summarized = false;

  constructor(options: { total?: number; now?: () => number; cwd?: string } = {}) {
    this.#total = options.total;
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
    this.#cwd = options.cwd ?? process.cwd();
  }

  /** The lines to print before `event` (none for most events). */
  before(event: TestEvent): string | undefined {
    const file = fileOf(event);
    if (file !== undefined) {
      this.#begun += 1;
      const of = this.#total === undefined ? '' : `/${this.#total}`;
      return `▶ [${this.#begun}${of}] ${this.#name(file)} (${this.#elapsed()} elapsed)\n`;
    }
    if (event.type === 'test:fail' && event.data.file !== undefined && !event.data.todo) {
      this.#failed.add(this.#name(event.data.file));
    }
    if (event.type === 'test:summary' && event.data.file !== undefined && !event.data.success) {
      this.#failed.add(this.#name(event.data.file));
    }
    // The run's totals are the root's diagnostics: the files' summary goes just before them.
    if (
      event.type === 'test:diagnostic' &&
      event.data.file === undefined &&
      event.data.nesting === 0 &&
      /^tests \d+$/.test(event.data.message)
    ) {
      return this.summary();
    }
    return undefined;
  }

  /** Which files failed, once (undefined when already given or no file ran). */
  summary(): string | undefined {
    if (this.#summarized || this.#begun === 0) return undefined;
    this.#summarized = true;
    const took = formatElapsed(this.#now() - this.#started);
    if (this.#failed.size === 0) {
      return `✔ ${this.#begun === 1 ? 'the file' : `all ${this.#begun} files`} passed (${took})\n`;
    }
    const names = [...this.#failed].sort().map((f) => `  ${f}\n`);
    return `✖ ${this.#failed.size} of ${this.#begun} files failed (${took}):\n${names.join('')}`;
  }

  #name(file: string): string {
    return relative(this.#cwd, file);
  }

  #elapsed(): string {
    return formatElapsed(this.#now() - this.#started);
  }
}

/** The events with our lines among them, as `test:stdout` events that spec prints verbatim. */
async function* withProgress(
  source: AsyncIterable<TestEvent>,
  progress: FileProgress,
): AsyncGenerator<TestEvent> {
  const say = (message: string): TestEvent => ({
    type: 'test:stdout',
    data: { file: '', message },
  });
  for await (const event of source) {
    const line = progress.before(event);
    if (line !== undefined) yield say(line);
    yield event;
  }
  const last = progress.summary();
  if (last !== undefined) yield say(last);
}

function fileCount(): number | undefined {
  const value = Number(process.env[FILE_COUNT_ENV]);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

export default async function* progressReporter(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<string> {
  const progress = new FileProgress({ total: fileCount() });
  const out = new PassThrough({ encoding: 'utf8' });
  pipeline(Readable.from(withProgress(source, progress)), spec(), out, () => undefined);
  yield* out;
}
