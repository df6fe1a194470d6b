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

import { ENTRY_TEXT_PROBE, type EntryTextProbe } from '@pier/shared';

/** Messages smaller than this are not compacted (the copy would save next to nothing). */
const COMPACT_MIN_BYTES = 16 * 1024;

/** The bytes of one message and the entries made from them. */
interface Chunk {
  readonly bytes: Buffer;
  readonly entries: readonly LazyEntry[];
  /** Bytes of the entries still unread and in the table that read from this chunk. */
  liveBytes: number;
  /** Where the last needle probed for occurs in `bytes` (one scan a chunk, not one an entry). */
  found?: { needle: Buffer; at: number[] };
}

/** One entry: its JSON text until first read, its value after. */
export class LazyEntry {
  /** Where the text is; undefined once parsed. */
  #chunk: Chunk | undefined;
  #start: number;
  #end: number;
  /** Unread and in the newest table: its bytes count in its chunk's `liveBytes`. */
  #live = true;
  #value: unknown;

  private constructor(chunk: Chunk, start: number, end: number) {
    this.#chunk = chunk;
    this.#start = start;
    this.#end = end;
  }

  /**
   * The entries of one message: entry i is the UTF-8 JSON text of `text` from `ends[i - 1]` (0
   * for the first) to `ends[i]`.
   */
  static fromMessage(text: Uint8Array, ends: readonly number[]): LazyEntry[] {
    const entries: LazyEntry[] = [];
    const chunk: Chunk = {
      bytes: Buffer.from(text.buffer, text.byteOffset, text.byteLength),
      entries,
      liveBytes: ends.at(-1) ?? 0,
    };
    for (let i = 0; i < ends.length; i++) {
      entries.push(new LazyEntry(chunk, ends[i - 1] ?? 0, ends[i] as number));
    }
    return entries;
  }

  /** The parsed entry (parsed now if this is the first read). */
  get value(): unknown {
    const chunk = this.#chunk;
    if (chunk === undefined) return this.#value;
    this.#value = JSON.parse(chunk.bytes.toString('utf8', this.#start, this.#end));
    this.#chunk = undefined;
    this.#release(chunk);
    return this.#value;
  }

  /**
   * Whether the entry's text may contain `needle` (UTF-8), found without parsing it; true once
   * it is parsed (reading the value is then cheap).
   */
  mayContain(needle: Buffer): boolean {
    const chunk = this.#chunk;
    if (chunk === undefined) return true;
    if (chunk.found?.needle !== needle)
      chunk.found = { needle, at: occurrences(chunk.bytes, needle) };
    const { at } = chunk.found;
    // The first occurrence at or after the entry's start, by bisection.
    let low = 0;
    let high = at.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((at[mid] as number) < this.#start) low = mid + 1;
      else high = mid;
    }
    const first = at[low];
    return first !== undefined && first + needle.length <= this.#end;
  }

  /**
   * The entry left the newest table. It can still be read (an older table may be serving until
   * the newest is applied), but its bytes no longer keep the message's alive.
   */
  left(): void {
    if (this.#chunk !== undefined) this.#release(this.#chunk);
  }

  #release(chunk: Chunk): void {
    if (!this.#live) return;
    this.#live = false;
    chunk.liveBytes -= this.#end - this.#start;
    const { bytes } = chunk;
    if (chunk.liveBytes === 0 || bytes.length < COMPACT_MIN_BYTES) return;
    if (chunk.liveBytes * 4 >= bytes.length) return;
    const moved: LazyEntry[] = [];
    const compacted: Chunk = {
      bytes: Buffer.allocUnsafeSlow(chunk.liveBytes),
      entries: moved,
      liveBytes: chunk.liveBytes,
    };
    let at = 0;
    for (const entry of chunk.entries) {
      if (!entry.#live || entry.#chunk !== chunk) continue;
      bytes.copy(compacted.bytes, at, entry.#start, entry.#end);
      entry.#chunk = compacted;
      entry.#end = at + entry.#end - entry.#start;
      entry.#start = at;
      at = entry.#end;
      moved.push(entry);
    }
    chunk.liveBytes = 0;
  }
}

/** Where `needle` starts in `bytes`, in order. */
function occurrences(bytes: Buffer, needle: Buffer): number[] {
  const at: number[] = [];
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + 1)) at.push(i);
  return at;
}

/** The UTF-8 of the last needle probed for (readers ask for one or two, over and over). */
let lastNeedle = { text: '', bytes: Buffer.alloc(0) };

function needleBytes(text: string): Buffer {
  if (lastNeedle.text !== text) lastNeedle = { text, bytes: Buffer.from(text) };
  return lastNeedle.bytes;
}

/**
 * A section's entries by key as a plain read-only record; see the module. It answers
 * `ENTRY_TEXT_PROBE` from the entries' text.
 */
export class LazySection<T> {
  readonly record: Readonly<Record<string, T>>;

  constructor(entries: ReadonlyMap<string, LazyEntry>) {
    const probe: EntryTextProbe = (key, needle) =>
      entries.get(key)?.mayContain(needleBytes(needle)) ?? false;
    const own = { [ENTRY_TEXT_PROBE]: probe } as unknown as Record<string, T>;
    // Anything that is not an entry (a symbol, `toString`) is the plain object's own.
    this.record = new Proxy(own, {
      get: (target, key, receiver) => {
        const entry = typeof key === 'string' ? entries.get(key) : undefined;
        return entry === undefined ? Reflect.get(target, key, receiver) : entry.value;
      },
      has: (target, key) => (typeof key === 'string' && entries.has(key)) || key in target,
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
