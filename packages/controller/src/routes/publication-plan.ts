/**
 * What a publication writes, decided without I/O (route-publisher.ts does the I/O): which pieces
 * differ from what Redis holds, compared by digest; the next revision; the delta for the change
 * log; the refusal of plaintext keys; and what Redis holds after the write.
 */
import { hash } from 'node:crypto';
import {
  type ChangedKeys,
  canonicalJson,
  KeySealError,
  ROUTE_SECTIONS,
  ROUTES_LOG_MAX_DELTA_BYTES,
  type RouteEntries,
  type RouteSection,
} from '@pier/shared';

/**
 * Per section, the {@link pieceDigest} of every piece Redis holds, by key. Digests, not the
 * texts: the texts of a 10,000-host table are 14 MiB the controller would keep only to compare.
 */
export type SectionDigests = Record<RouteSection, Map<string, string>>;

/** The table Redis holds in format 2, as far as a publication needs to know it. */
export interface PublishedPieces {
  revision: number;
  digests: SectionDigests;
}

/** What a piece's text is compared by: its SHA-256, base64 (44 characters). */
export function pieceDigest(text: string): string {
  return hash('sha256', text, 'base64');
}

/** What Redis holds, as far as a publication needs to know. */
export interface RedisRouteState {
  /**
   * The table at the revision key, when Redis holds format 2 with pieces that go with that
   * revision (or nothing at all: the empty table at 0); undefined when the base is unknown
   * (another format, an unreadable revision, pieces without a revision).
   */
  base: PublishedPieces | undefined;
  /** Highest revision seen anywhere (revision key, newest log entry), to stay above it. */
  highest: number;
  /** The change log does not end with the base's revision: write even unchanged content. */
  logBehind: boolean;
}

/** The pieces one publication writes in one section. */
export interface SectionWrites {
  /** Entry key → canonical JSON, to `HSET`. */
  set: Map<string, string>;
  /** Entry key → {@link pieceDigest} of its text in `set`. */
  digests: Map<string, string>;
  /** Keys to `HDEL`. */
  remove: string[];
}

/** What to write: the changed pieces, the revision and the log entry, or nothing. */
export type PublicationPlan =
  | { write: false; revision: number }
  | {
      write: true;
      revision: number;
      fromRevision: number;
      /** Unknown base: every hash is deleted and written whole, the format key set. */
      full: boolean;
      writes: Record<RouteSection, SectionWrites>;
      /** The delta's canonical JSON (`encodeRoutePatch`), or undefined when none is logged. */
      delta: string | undefined;
    };

/** Options of {@link planPublication}. */
export interface PlanOptions {
  /** Keys that may differ from the base; 'all' (the default) compares every entry. */
  changed?: ChangedKeys | 'all';
  /** A delta longer than this is not logged (default {@link ROUTES_LOG_MAX_DELTA_BYTES}). */
  maxDeltaBytes?: number;
}

/**
 * Decides the next publication (pure). Only entries listed in `changed` are compared with the
 * base, by the digest of their canonical JSON; unchanged content writes nothing. The next revision is the one after
 * the base, and its log entry carries the delta. When the base is unknown the publication
 * rewrites every piece and skips a revision: its entry's base is a revision no reader holds, so
 * every reader reads the pieces instead of applying a delta to a table it was not made from.
 */
export function planPublication(
  state: RedisRouteState,
  entries: RouteEntries,
  options: PlanOptions = {},
): PublicationPlan {
  const base = state.base;
  const changed = base === undefined ? 'all' : (options.changed ?? 'all');
  const writes = emptyWrites();
  let count = 0;
  for (const section of ROUTE_SECTIONS) {
    const next = entries[section] as ReadonlyMap<string, object>;
    const known = base?.digests[section] ?? new Map<string, string>();
    const keys = changed === 'all' ? new Set([...next.keys(), ...known.keys()]) : changed[section];
    for (const key of keys) {
      const entry = next.get(key);
      const before = known.get(key);
      if (entry === undefined) {
        if (before !== undefined) writes[section].remove.push(key);
        continue;
      }
      const { digest, text } = entryDigest(entry);
      if (digest === before) continue;
      writes[section].set.set(key, text ?? canonicalJson(entry));
      writes[section].digests.set(key, digest);
    }
    count += writes[section].set.size + writes[section].remove.length;
  }
  if (base !== undefined && count === 0 && !state.logBehind) {
    return { write: false, revision: base.revision };
  }
  const fromRevision = base?.revision ?? state.highest + 1;
  const revision = fromRevision + 1;
  for (const section of ROUTE_SECTIONS) writes[section].remove.sort();
  const delta = base === undefined ? undefined : encodeDelta(fromRevision, revision, writes);
  const logged =
    delta !== undefined && delta.length <= (options.maxDeltaBytes ?? ROUTES_LOG_MAX_DELTA_BYTES)
      ? delta
      : undefined;
  return { write: true, revision, fromRevision, full: base === undefined, writes, delta: logged };
}

/**
 * The canonical JSON of the RoutePatch that `writes` make, from the pieces' texts (each entry is
 * encoded once): byte for byte `encodeRoutePatch` of that patch, with set keys sorted.
 */
export function encodeDelta(
  fromRevision: number,
  toRevision: number,
  writes: Record<RouteSection, SectionWrites>,
): string {
  const sections = [...ROUTE_SECTIONS].sort();
  const removes: string[] = [];
  const sets: string[] = [];
  for (const section of sections) {
    const { set, remove } = writes[section];
    if (remove.length > 0) removes.push(`${JSON.stringify(section)}:${JSON.stringify(remove)}`);
    if (set.size > 0) {
      const items = [...set.keys()]
        .sort()
        .map((key) => `${JSON.stringify(key)}:${set.get(key) as string}`);
      sets.push(`${JSON.stringify(section)}:{${items.join(',')}}`);
    }
  }
  return `{"fromRevision":${fromRevision},"remove":{${removes.join(',')}},"set":{${sets.join(',')}},"toRevision":${toRevision}}`;
}

/**
 * Refuses a planned write that carries a plaintext private key (design invariant 4): route
 * tables hold sealed keys only. Every piece and the delta are checked.
 *
 * @throws KeySealError when a piece or the delta contains `PRIVATE KEY`.
 */
export function assertNoPrivateKey(plan: Extract<PublicationPlan, { write: true }>): void {
  const leaking = new Set<string>();
  for (const section of ROUTE_SECTIONS) {
    for (const [key, text] of plan.writes[section].set) {
      if (text.includes('PRIVATE KEY')) leaking.add(`${section}/${key}`);
    }
  }
  if (leaking.size === 0 && plan.delta?.includes('PRIVATE KEY') !== true) return;
  const certificates = [...plan.writes.certificates.set]
    .filter(([, text]) => text.includes('PRIVATE KEY'))
    .map(([key]) => key);
  throw new KeySealError(
    `refusing to publish revision ${plan.revision}: it contains a plaintext private key`,
    { details: { revision: plan.revision, certificates, entries: [...leaking] } },
  );
}

/**
 * The payload a planned write sends: each piece's key and text, each removed key, and the log
 * entry's delta (UTF-8 bytes; the commands' framing and the few fixed keys are not counted).
 */
export function writtenBytes(plan: Extract<PublicationPlan, { write: true }>): number {
  let bytes = plan.delta === undefined ? 0 : Buffer.byteLength(plan.delta);
  for (const section of ROUTE_SECTIONS) {
    const { set, remove } = plan.writes[section];
    for (const [key, text] of set) bytes += Buffer.byteLength(key) + Buffer.byteLength(text);
    for (const key of remove) bytes += Buffer.byteLength(key);
  }
  return bytes;
}

/**
 * Digests by entry object: entries are immutable, and unchanged ones keep their object, so an
 * entry is encoded once to be compared however often. Only the digest is kept.
 */
const digests = new WeakMap<object, string>();

/** The entry's digest, and its text when it had to be encoded for it. */
export function entryDigest(entry: object): { digest: string; text?: string } {
  const known = digests.get(entry);
  if (known !== undefined) return { digest: known };
  const text = canonicalJson(entry);
  const digest = pieceDigest(text);
  digests.set(entry, digest);
  return { digest, text };
}

function emptyWrites(): Record<RouteSection, SectionWrites> {
  const make = (): SectionWrites => ({ set: new Map(), digests: new Map(), remove: [] });
  return { virtualHosts: make(), backends: make(), certificates: make() };
}

export function emptyDigests(): SectionDigests {
  return { virtualHosts: new Map(), backends: new Map(), certificates: new Map() };
}

/** The digests of a section's pieces as `HGETALL` returned them. */
export function digestsOf(pieces: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of Object.keys(pieces)) out.set(key, pieceDigest(pieces[key] as string));
  return out;
}

/** The pieces after a successful write: `base` with the writes applied (mutated in place). */
export function applyWrites(
  base: PublishedPieces | undefined,
  plan: Extract<PublicationPlan, { write: true }>,
): PublishedPieces {
  const digests = base?.digests ?? emptyDigests();
  for (const section of ROUTE_SECTIONS) {
    const into = digests[section];
    for (const key of plan.writes[section].remove) into.delete(key);
    for (const [key, digest] of plan.writes[section].digests) into.set(key, digest);
  }
  return { revision: plan.revision, digests };
}
