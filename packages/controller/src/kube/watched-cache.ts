/**
 * A list-then-watch cache of one resource, built on @kubernetes/client-node's
 * informer (which resumes a watch from the last resourceVersion and relists on
 * 410 Gone), made resilient: any other watch or list error restarts it with
 * exponential back-off instead of leaving the cache silently stale.
 */
import { type KubeConfig, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import { listInPages } from './paged-list.ts';
import { rawListPage } from './raw-list.ts';

export type ChangeKind = 'add' | 'update' | 'delete';

export interface WatchedCacheOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /**
   * API path to list and watch, e.g. `/apis/networking.k8s.io/v1/ingresses`. The list is read in
   * pages (paged-list.ts) as plain JSON, as the watch is (raw-list.ts).
   */
  path: string;
  /** Restricts the list and the watch. */
  fieldSelector?: string;
  /** Short resource name for logs and metrics, e.g. `ingresses`. */
  resource: string;
  onChange: (kind: ChangeKind, object: T) => void;
  /**
   * What of each object the cache keeps (object-trim.ts); default: all of it. Applied to each
   * listed page as it arrives and to every watch event before the informer stores them, so the
   * full object is garbage as soon as it is trimmed.
   */
  trim?: (object: T) => T;
  onError?: (resource: string, err: unknown, retryInMs: number) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** A watch that hands the informer trimmed objects (BOOKMARK and ERROR events as they came). */
class TrimmingWatch<T> extends Watch {
  readonly #trim: (object: T) => T;

  constructor(kubeConfig: KubeConfig, trim: (object: T) => T) {
    super(kubeConfig);
    this.#trim = trim;
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, apiObj) => {
        const object =
          phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED'
            ? this.#trim(apiObj as T)
            : apiObj;
        // The raw event is not passed on: the informer does not read it, and it holds the
        // untrimmed object.
        callback(phase, object);
      },
      done,
    );
  }
}

export class WatchedCache<T extends KubernetesObject> {
  readonly resource: string;
  readonly #informer: ListWatch<T>;
  readonly #o: WatchedCacheOptions<T>;
  #backoffMs: number;
  #stopped = true;
  #synced = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: WatchedCacheOptions<T>) {
    this.#o = options;
    this.resource = options.resource;
    this.#backoffMs = options.minBackoffMs ?? 500;
    const trim = options.trim;
    this.#informer = new ListWatch<T>(
      options.path,
      trim === undefined
        ? new Watch(options.kubeConfig)
        : new TrimmingWatch(options.kubeConfig, trim),
      () =>
        listInPages(rawListPage<T>(options.kubeConfig, options.path, options.fieldSelector), trim),
      false,
      undefined,
      options.fieldSelector,
    );
    this.#informer.on('add', (o) => this.#changed('add', o));
    this.#informer.on('update', (o) => this.#changed('update', o));
    this.#informer.on('delete', (o) => this.#changed('delete', o));
    this.#informer.on('error', (err) => this.#failed(err));
  }

  /** True once the initial list has completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Lists, then watches; resolves once the initial list is in the cache. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#informer.start();
    this.#synced = true;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    await this.#informer.stop();
  }

  list(namespace?: string): readonly T[] {
    return this.#informer.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  #changed(kind: ChangeKind, object: T): void {
    // A delivered event proves the watch healthy again.
    this.#backoffMs = this.#o.minBackoffMs ?? 500;
    this.#o.onChange(kind, object);
  }

  #failed(err: unknown): void {
    if (this.#stopped) return;
    const delay = Math.round(this.#backoffMs * (0.8 + Math.random() * 0.4));
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#o.maxBackoffMs ?? 30_000);
    this.#o.onError?.(this.resource, err, delay);
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped) return;
      this.#informer.start().then(
        () => {
          this.#synced = true;
        },
        (e: unknown) => this.#failed(e),
      );
    }, delay);
    this.#restartTimer.unref();
  }
}
