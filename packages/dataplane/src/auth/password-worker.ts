/**
 * The password thread's worker (see password-thread.ts): checks one password at a time, as
 * asked, and answers with the result. No state beyond the module cache.
 */
import { parentPort } from 'node:worker_threads';
import { verifyPassword } from './password-hash.ts';

/** A check asked of the worker. */
export interface PasswordCheck {
  id: number;
  password: Uint8Array;
  hash: string;
}

/** Its answer. */
export interface PasswordResult {
  id: number;
  ok: boolean;
}

parentPort?.on('message', (check: PasswordCheck) => {
  let ok = false;
  try {
    ok = verifyPassword(Buffer.from(check.password), check.hash);
  } catch {
    ok = false;
  }
  parentPort?.postMessage({ id: check.id, ok } satisfies PasswordResult);
});
