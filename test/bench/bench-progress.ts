/**
 * A benchmark's progress on stderr, so that a run of many minutes shows where it is: which part
 * (scenario, phase, round) of how many, how far a long loop in it is, and the time so far.
 *
 *   [route-publication] 3/4 restart (2m41s elapsed)
 *   [route-publication] 3/4 restart: 6120/10000 hosts complete (2m52s elapsed)
 *   [route-publication] done (4m03s)
 *
 * Only stderr: stdout is each script's own (its figures and log lines) and stays as it was, so
 * whatever reads it, and the sections written to docs/benchmarks.md, see no change.
 */
import { formatElapsed } from '../lib/elapsed.ts';

export interface BenchProgressOptions {
  /** How many parts the run has, when known. */
  parts?: number;
  /** Where the lines go; stderr. */
  out?: { write(text: string): unknown };
  /** The clock, ms; performance.now. */
  now?: () => number;
  /** A loop's steps are shown at most this often (the last one always), ms; 1000. */
  stepEveryMs?: number;
}

export class BenchProgress {
  readonly #name: string;
  readonly #parts: number | undefined;
  readonly #out: { write(text: string): unknown };
  readonly #now: () => number;
  readonly #stepEveryMs: number;
  readonly #started: number;
  #part = 0;
  #title = '';
  #lastStep = Number.NEGATIVE_INFINITY;

  constructor(name: string, options: BenchProgressOptions = {}) {
    this.#name = name;
    this.#parts = options.parts;
    this.#out = options.out ?? process.stderr;
    this.#now = options.now ?? (() => performance.now());
    this.#stepEveryMs = options.stepEveryMs ?? 1000;
    this.#started = this.#now();
  }

  /** The next part of the run begins. */
  part(title: string): void {
    this.#part += 1;
    this.#title = title;
    this.#lastStep = Number.NEGATIVE_INFINITY;
    this.#say(this.#where());
  }

  /** `done` of the current part's `total` steps (`what` names them): throttled, the last shown. */
  step(done: number, total: number, what = ''): void {
    const now = this.#now();
    if (done < total && now - this.#lastStep < this.#stepEveryMs) return;
    this.#lastStep = now;
    this.#say(`${this.#where()}: ${done}/${total}${what === '' ? '' : ` ${what}`}`);
  }

  /** The run is over. */
  done(): void {
    this.#out.write(`[${this.#name}] done (${formatElapsed(this.#now() - this.#started)})\n`);
  }

  #where(): string {
    const of = this.#parts === undefined ? '' : `/${this.#parts}`;
    return `${this.#part}${of} ${this.#title}`;
  }

  #say(text: string): void {
    const elapsed = formatElapsed(this.#now() - this.#started);
    this.#out.write(`[${this.#name}] ${text} (${elapsed} elapsed)\n`);
  }
}
