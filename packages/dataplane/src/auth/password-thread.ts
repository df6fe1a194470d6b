/**
 * A worker thread for the costly password checks (bcrypt: ~100 ms at cost 10 on one core;
 * SHA-crypt ~20 ms; apr1 ~3.5 ms), so that they never hold up the serving thread. bcryptjs's
 * own asynchronous API does not do that: it runs each hash in slices of up to 100 ms on the
 * calling thread, and four concurrent checks at cost 10 kept a 10 ms timer waiting 385 ms.
 *
 * Checks run one at a time, in order; at most `maxPending` wait, and a check beyond that is
 * refused at once ('busy'), so a flood of wrong passwords costs one core at most and a bounded
 * queue, never the memory of an unbounded one. The worker starts on the first check (a
 * dataplane without such hashes never has one) and is started again after it failed.
 */
import { Worker } from 'node:worker_threads';
import type { PasswordCheck, PasswordResult } from './password-worker.ts';

/** Checks waiting or running at most, by default. */
export const DEFAULT_MAX_PENDING = 64;

/** What {@link PasswordThread.check} gives. */
export type ThreadCheck = Promise<boolean> | 'busy';

interface Waiting {
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
}

export class PasswordThread {
  readonly #maxPending: number;
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #waiting = new Map<number, Waiting>();

  constructor(options: { maxPending?: number } = {}) {
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  /** Checks waiting or running now. */
  get pending(): number {
    return this.#waiting.size;
  }

  /**
   * Whether `password` matches `hash`, checked on the worker; 'busy' when `maxPending` checks
   * are already waiting. Rejects when the worker failed during the check.
   */
  check(password: Buffer, hash: string): ThreadCheck {
    if (this.#waiting.size >= this.#maxPending) return 'busy';
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, password: new Uint8Array(password), hash } satisfies PasswordCheck);
    });
  }

  /** Ends the worker; checks still waiting are rejected. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error('password thread closed'));
    await worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(workerUrl());
    // The thread must not keep a stopping process alive; the checks it holds keep their sockets.
    worker.unref();
    worker.on('message', (result: PasswordResult) => {
      const waiting = this.#waiting.get(result.id);
      this.#waiting.delete(result.id);
      waiting?.resolve(result.ok === true);
    });
    const failed = (err: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(err);
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`password thread exited with ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #failAll(err: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(err);
  }
}

function workerUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./password-worker${extension}`, import.meta.url);
}
