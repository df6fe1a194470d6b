/**
 * Which threads of a dataplane process yield the core when the serving thread wants it.
 *
 * Linux keeps a nice value per thread. The threads that do the heavy work beside the serving
 * thread run at {@link BACKGROUND_NICE}: the background thread (route sync, health checks) and
 * V8's platform workers, the garbage-collection helpers and concurrent compilers that every
 * isolate of the process shares. Each weighs 110 against the serving thread's 1024, so under
 * contention the serving thread gets nine tenths of a core against one of them and two thirds
 * against all five at once, and waits at most a short slice of each (about 4 ms). The helpers
 * sit at the same value as the background thread, not below it, because the serving thread also
 * waits for them (a collection of its own joins their work); below it they would be starved by
 * the very thread they yield to. Lowering a thread's priority needs no privilege.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of the background thread and of V8's platform workers. */
export const BACKGROUND_NICE = 10;

/** How Node names V8's platform worker threads (`/proc/<pid>/task/<tid>/comm`). */
const HELPER_THREAD_NAME = 'V8Worker';
const TASKS = '/proc/self/task';

/** Lowers the calling thread to {@link BACKGROUND_NICE}; throws as `os.setPriority` does. */
export function lowerThisThread(): void {
  setPriority(BACKGROUND_NICE);
}

/**
 * Lowers V8's platform worker threads to {@link BACKGROUND_NICE}. Node starts them with the
 * process and keeps them, so one call at start is enough. Returns how many were lowered, or
 * `undefined` where the process cannot list its threads (no `/proc`, so not Linux).
 */
export function lowerHelperThreads(): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(TASKS);
  } catch {
    return undefined;
  }
  let lowered = 0;
  for (const tid of tids) {
    try {
      if (readFileSync(`${TASKS}/${tid}/comm`, 'utf8').trim() !== HELPER_THREAD_NAME) continue;
      setPriority(Number(tid), BACKGROUND_NICE);
      lowered++;
    } catch {
      // The thread ended between the listing and the call: nothing to lower.
    }
  }
  return lowered;
}
