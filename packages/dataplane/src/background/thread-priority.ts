/**
 * The background thread's priority, and that of the threads that do its garbage collector's
 * work. Linux keeps a nice value per thread, and lowering one needs no privilege.
 *
 * V8's platform threads (named `V8Worker`) run the helper tasks of both isolates' collectors:
 * concurrent marking, parallel evacuation. At nice 0 they took the core from the serving thread
 * on behalf of the background isolate, whose heap grows by hundreds of MiB while it sets up
 * 50,000 probe targets: in the update-stall benchmark (dataplane pinned to one core) the serving
 * thread stalled for 59 ms while only the background isolate was collecting, and for 81 ms in a
 * collection of its own that waited on helpers busy with the other isolate. At the background
 * thread's nice the helpers yield to the serving thread. The serving isolate's own collections
 * are not held up by that: the thread that pauses for one does its share of the work itself, and
 * helpers lose only to the serving thread, which is then waiting for them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The name Node gives V8's platform worker threads. */
const V8_WORKER_THREAD = 'V8Worker';

/**
 * Sets the calling thread, and V8's platform threads of this process, to `nice`. Returns what
 * could not be done, as sentences for a warning (none on Linux as an ordinary user).
 */
export function lowerBackgroundPriority(nice: number): string[] {
  const problems: string[] = [];
  try {
    setPriority(nice);
  } catch (err) {
    problems.push(`the background thread runs at the priority of the serving one: ${err}`);
  }
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch (err) {
    return [...problems, `the collector's helper threads keep their priority: ${err}`];
  }
  for (const tid of tasks) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      if (name === V8_WORKER_THREAD) setPriority(Number(tid), nice);
    } catch (err) {
      // A thread that ended meanwhile has nothing left to lower.
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOENT' &&
        (err as NodeJS.ErrnoException).code !== 'ESRCH'
      )
        problems.push(`helper thread ${tid} keeps its priority: ${err}`);
    }
  }
  return problems;
}
