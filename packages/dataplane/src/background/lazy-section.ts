/**
 * A section of the route table on the serving thread as the background thread sent it: each
 * entry stays JSON text (the UTF-8 bytes of the message it came in, off the heap) until something
 * reads it, and is parsed once then. A large update so costs the serving thread one small object
 * per changed entry instead of the entry's whole object graph, which its collector would copy
 * (scavenges) while the table is young: a 50,000-endpoint update parsed at once was 8.6 MiB of
 * backends and 3 MiB of virtual hosts. A backend that takes no traffic is never parsed.
 *
 * {@link LazySection.record} is the section as a read-only `Record` (a Proxy) for the code that
 * reads tables (`RouteIndex`, `TlsStore`, `ServedRoutes`): keys and membership come from the map
 * without parsing anything, and reading a value parses that entry alone. An unchanged entry is
 * the same {@link LazyEntry} from table to table, so its value keeps its identity too.
 *
 * Bytes are freed as entries are read or leave the table: once the entries still unread and in
 * the table hold under a quarter of a message's bytes, theirs are copied into a buffer of their
 * own and the message's is left to the entries that left (which an older table may still read).
 */

/** Messages smaller than this are not compacted (the copy would save next to nothing). */
const COMPACT_MIN_BYTES = 16 * 1024;

/** The bytes of one message and the entries still unread and in the table that need them. */
interface Chunk {
  readonly bytes: Buffer;
  /** Bytes of `live` entries. */
  liveBytes: number;
  readonly live: Set<LazyEntry>;
}

/** One entry: its JSON text until first read, its value after. */
export class LazyEntry {
  #chunk: Chunk | undefined;
  #start: number;
  #end: number;
  #value: unknown;

  private constructor(chunk: Chunk, start: number, end: number) {
    this.#chunk = chunk;
    this.#start = start;
    this.#end = end;
    chunk.live.add(this);
    chunk.liveBytes += end - start;
  }

  /**
   * The entries of one message: entry i is the UTF-8 JSON text of `text` from `ends[i - 1]` (0
   * for the first) to `ends[i]`.
   */
  static fromMessage(text: Uint8Array, ends: readonly number[]): LazyEntry[] {
    const chunk: Chunk = {
      bytes: Buffer.from(text.buffer, text.byteOffset, text.byteLength),
      liveBytes: 0,
      live: new Set(),
    };
    return ends.map((end, i) => new LazyEntry(chunk, ends[i - 1] ?? 0, end));
  }

  /** The parsed entry (parsed now if this is the first read). */
  get value(): unknown {
    const chunk = this.#chunk;
    if (chunk === undefined) return this.#value;
    this.#value = JSON.parse(chunk.bytes.toString('utf8', this.#start, this.#end));
    this.#chunk = undefined;
    if (chunk.live.has(this)) LazyEntry.#release(chunk, this);
    return this.#value;
  }

  /**
   * The entry left the newest table. It can still be read (an older table may be serving until
   * the newest is applied), but its bytes no longer keep the message's alive.
   */
  left(): void {
    const chunk = this.#chunk;
    if (chunk?.live.has(this) === true) LazyEntry.#release(chunk, this);
  }

  static #release(chunk: Chunk, entry: LazyEntry): void {
    chunk.live.delete(entry);
    chunk.liveBytes -= entry.#end - entry.#start;
    if (chunk.bytes.length < COMPACT_MIN_BYTES || chunk.liveBytes * 4 >= chunk.bytes.length) return;
    const compacted: Chunk = {
      bytes: Buffer.allocUnsafeSlow(chunk.liveBytes),
      liveBytes: 0,
      live: new Set(),
    };
    for (const moved of chunk.live) {
      const length = moved.#end - moved.#start;
      chunk.bytes.copy(compacted.bytes, compacted.liveBytes, moved.#start, moved.#end);
      moved.#chunk = compacted;
      moved.#start = compacted.liveBytes;
      moved.#end = compacted.liveBytes + length;
      compacted.live.add(moved);
      compacted.liveBytes += length;
    }
    chunk.live.clear();
    chunk.liveBytes = 0;
  }
}

/** A section's entries by key, and the section as a plain read-only record; see the module. */
export class LazySection<T> {
  readonly entries: ReadonlyMap<string, LazyEntry>;
  readonly record: Readonly<Record<string, T>>;

  constructor(entries: ReadonlyMap<string, LazyEntry>) {
    this.entries = entries;
    this.record = new Proxy({} as Record<string, T>, {
      get: (_target, key) => (typeof key === 'string' ? entries.get(key)?.value : undefined) as T,
      has: (_target, key) => typeof key === 'string' && entries.has(key),
      ownKeys: () => [...entries.keys()],
      // An accessor, so that listing keys (Object.keys asks for every key's descriptor) parses
      // nothing; reading the property parses its entry.
      getOwnPropertyDescriptor: (_target, key) => {
        const entry = typeof key === 'string' ? entries.get(key) : undefined;
        if (entry === undefined) return undefined;
        return { configurable: true, enumerable: true, get: () => entry.value };
      },
      set: () => false,
      defineProperty: () => false,
      deleteProperty: () => false,
    });
  }
}
