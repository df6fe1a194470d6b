/**
 * A directory of manifests (`*.yaml`, `*.yml`, not recursive), read at start and again shortly
 * after anything in it changes (`fs.watch` on the directory, so editors that save by renaming
 * are seen too, with a debounce so one save is one reload). Each reload hands over a whole
 * snapshot: the version to serve of every object, and every problem as a line naming file,
 * object and field.
 *
 * Nothing already working is lost to a mistake (`LastGoodObjects`): a document that stops
 * passing its check keeps its object's last good version serving, and a file whose YAML stops
 * parsing keeps serving the objects it held at its last good parse.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LastGoodObjects, type ManifestSnapshot } from './last-good-objects.ts';
import { type ParsedManifestFile, parseManifestFile } from './manifest-file.ts';

/** Time from the last change seen to the reload, ms. */
export const RELOAD_DEBOUNCE_MS = 150;

/** Options of {@link ManifestDirectory}. */
export interface ManifestDirectoryOptions {
  /** The directory as the user named it; files are shown as `<dir>/<file>`. */
  dir: string;
  /** Called with every snapshot, the first one from start(). */
  onSnapshot: (snapshot: ManifestSnapshot) => void;
  debounceMs?: number;
}

/** A watched manifest directory; see the module comment. */
export class ManifestDirectory {
  readonly #options: ManifestDirectoryOptions;
  readonly #versions = new LastGoodObjects();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<void> = Promise.resolve();
  #again = false;
  #stopped = false;

  constructor(options: ManifestDirectoryOptions) {
    this.#options = options;
  }

  /**
   * Reads the directory, hands over the first snapshot, and starts watching.
   *
   * @throws Error naming the directory when it cannot be read.
   */
  async start(): Promise<void> {
    await this.#load();
    this.#watcher = watch(this.#options.dir, { persistent: false }, () => this.#changed());
    this.#watcher.on('error', () => this.#changed());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#watcher?.close();
    await this.#loading;
  }

  #changed(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#reload(), this.#options.debounceMs ?? RELOAD_DEBOUNCE_MS);
  }

  #reload(): void {
    this.#again = true;
    this.#loading = this.#loading.then(async () => {
      while (this.#again && !this.#stopped) {
        this.#again = false;
        await this.#load().catch((err: unknown) => {
          this.#options.onSnapshot({
            objects: [],
            problems: [{ file: this.#options.dir, message: `cannot be read: ${String(err)}` }],
          });
        });
      }
    });
  }

  async #load(): Promise<void> {
    const dir = this.#options.dir;
    const names = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
      .map((e) => e.name)
      .sort();
    const files: ParsedManifestFile[] = [];
    for (const name of names) {
      const file = join(dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // Removed between the listing and the read: the next change event reloads.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      files.push(parseManifestFile(file, text));
    }
    if (!this.#stopped) this.#options.onSnapshot(this.#versions.combine(files));
  }
}
