/**
 * Redis key names. Every key Pier uses is built here, under {@link KEY_PREFIX}, so the keyspace
 * is documented in one place (docs/redis-keyspace.md) and a layout change is one version bump.
 */
import type { RouteSection } from './route-entries.ts';

/** Version of the key layout; part of every key, so two layouts can coexist during upgrades. */
export const keyspaceVersion = 1;

/** Prefix of every Pier key and channel. */
export const KEY_PREFIX = `pier:v${keyspaceVersion}:`;

/** Approximate length the route change log is trimmed to (`XTRIM MAXLEN ~`). */
export const ROUTES_LOG_MAX_LENGTH = 1000;

/**
 * Format of the route table's keys (`routes:*`), the value of {@link routesFormatKey}. Format 1
 * was one snapshot string rewritten per revision; format 2 keeps the table in one hash per
 * section, entry by entry, and logs deltas. A reader refuses any other format loudly and keeps
 * serving its last good table (docs/redis-keyspace.md, "Upgrading from format 1").
 */
export const ROUTES_FORMAT = 2;

/**
 * A change-log entry whose encoded delta would be larger than this carries none: readers at its
 * base read the pieces instead. Keeps the log's size bounded by its length.
 */
export const ROUTES_LOG_MAX_DELTA_BYTES = 1024 * 1024;

/**
 * Field names of a route change-log entry (format 2). Format 1's entries named the base `from`
 * and the patch `patch`: a reader of either format finds no base in the other's entries and
 * resyncs, which is where it refuses the format.
 */
export const ROUTES_LOG_FIELDS = Object.freeze({
  /** The revision the entry publishes. */
  revision: 'rev',
  /** The revision the delta applies to (`rev - 1`). */
  from: 'base',
  /** The encoded RoutePatch; absent when the change was too large to log (read the pieces). */
  patch: 'delta',
} as const);

/** String: the latest published route-table revision, a decimal integer. */
export function routesRevisionKey(): string {
  return `${KEY_PREFIX}routes:revision`;
}

/** String: the format of the route keys, {@link ROUTES_FORMAT} as a decimal integer. */
export function routesFormatKey(): string {
  return `${KEY_PREFIX}routes:format`;
}

/**
 * Hash: the entries of one section of the route table at the latest revision, field = the
 * entry's key, value = the entry's canonical JSON.
 */
export function routesSectionKey(section: RouteSection): string {
  return `${KEY_PREFIX}routes:${SECTION_KEY_NAMES[section]}`;
}

const SECTION_KEY_NAMES = Object.freeze({
  virtualHosts: 'vhosts',
  backends: 'backends',
  certificates: 'certificates',
} as const);

/**
 * String: format 1's snapshot. Format 2 leaves a marker there that a format-1 reader refuses
 * with an error naming the format ({@link ROUTES_FORMAT_1_MARKER}).
 */
export function routesSnapshotKey(): string {
  return `${KEY_PREFIX}routes:snapshot`;
}

/**
 * What format 2 writes into {@link routesSnapshotKey}: JSON whose `revision` is a sentence, so
 * that a format-1 reader's error ("revision must be a non-negative integer, got …") says why.
 */
export const ROUTES_FORMAT_1_MARKER = JSON.stringify({
  revision: `routes are format ${ROUTES_FORMAT} (${KEY_PREFIX}routes:format); this reader knows format 1: upgrade it`,
});

/** Stream: one entry per revision with fields {@link ROUTES_LOG_FIELDS}, trimmed. */
export function routesLogKey(): string {
  return `${KEY_PREFIX}routes:log`;
}

/** Hash: health state of one backend's endpoints, field {@link endpointField} → JSON state. */
export function healthKey(backendId: string): string {
  return `${KEY_PREFIX}health:${nonEmpty(backendId, 'backendId')}`;
}

/**
 * Pub/sub channel announcing health changes. Cannot collide with {@link healthKey}: a backend id
 * always contains '/', `events` does not.
 */
export function healthChannel(): string {
  return `${KEY_PREFIX}health:events`;
}

/** String with a TTL: a dataplane node is alive while its heartbeat key exists. */
export function nodeHeartbeatKey(nodeName: string): string {
  return `${KEY_PREFIX}nodes:${nonEmpty(nodeName, 'nodeName')}`;
}

/** Pattern matching every {@link nodeHeartbeatKey} (`SCAN … MATCH`); node names hold no glob characters. */
export function nodeHeartbeatPattern(): string {
  return `${KEY_PREFIX}nodes:*`;
}

/** The node name of a {@link nodeHeartbeatKey}, or undefined for any other key. */
export function nodeOfHeartbeatKey(key: string): string | undefined {
  const prefix = `${KEY_PREFIX}nodes:`;
  return key.startsWith(prefix) && key.length > prefix.length
    ? key.slice(prefix.length)
    : undefined;
}

/**
 * String with a TTL, beside the heartbeat and renewed with it: what a dataplane node reports of
 * itself for operators (`encodeDataplaneReport`: the route-table revision it serves, since when).
 * A key of its own rather than the heartbeat's value, which stays the bare token its release
 * script compares.
 */
export function dataplaneReportKey(nodeName: string): string {
  return `${KEY_PREFIX}dataplanes:${nonEmpty(nodeName, 'nodeName')}`;
}

/** Pattern matching every {@link dataplaneReportKey} (`SCAN … MATCH`). */
export function dataplaneReportPattern(): string {
  return `${KEY_PREFIX}dataplanes:*`;
}

/** The node name of a {@link dataplaneReportKey}, or undefined for any other key. */
export function nodeOfDataplaneReportKey(key: string): string | undefined {
  const prefix = `${KEY_PREFIX}dataplanes:`;
  return key.startsWith(prefix) && key.length > prefix.length
    ? key.slice(prefix.length)
    : undefined;
}

/**
 * String with a TTL: a passive ejection of one endpoint of one backend, alive while the ejection
 * lasts (`SET … PX ejectionMs`), value the name of the node that ejected it. `|` occurs in
 * neither a backend id nor an {@link endpointField}, so the key splits back unambiguously
 * ({@link parseEjectionKey}).
 */
export function ejectionKey(backendId: string, endpoint: string): string {
  return `${KEY_PREFIX}ejection:${nonEmpty(backendId, 'backendId')}|${nonEmpty(endpoint, 'endpoint')}`;
}

/** Pattern matching every {@link ejectionKey} (`SCAN … MATCH`). */
export function ejectionPattern(): string {
  return `${KEY_PREFIX}ejection:*`;
}

/** The backend id and endpoint of an {@link ejectionKey}, or undefined for any other key. */
export function parseEjectionKey(key: string): { backendId: string; endpoint: string } | undefined {
  const prefix = `${KEY_PREFIX}ejection:`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  const bar = rest.indexOf('|');
  if (bar <= 0 || bar === rest.length - 1) return undefined;
  return { backendId: rest.slice(0, bar), endpoint: rest.slice(bar + 1) };
}

/**
 * String with a TTL: the node currently announcing an external address in L2 mode, value
 * `formatL2Lease(…)` (`<epoch> <node> <token>`), set with `SET NX PX` and renewed by
 * compare-and-set by its holder.
 */
export function vipLeaseKey(address: string): string {
  return `${KEY_PREFIX}l2:lease:${nonEmpty(address, 'address')}`;
}

/**
 * String, a decimal integer: the fencing epoch of an address's L2 lease, incremented by every
 * acquisition (in the same script as the `SET NX`), never expired, so that each holding of an
 * address has a number no earlier holding had.
 */
export function vipEpochKey(address: string): string {
  return `${KEY_PREFIX}l2:epoch:${nonEmpty(address, 'address')}`;
}

/**
 * String with a TTL: an L2 speaker (a dataplane running with `--l2`) is alive on this node,
 * value a random token of its process (a new token: a restarted process).
 */
export function l2SpeakerKey(nodeName: string): string {
  return `${KEY_PREFIX}l2:speakers:${nonEmpty(nodeName, 'nodeName')}`;
}

/** Pattern matching every {@link l2SpeakerKey} (`SCAN … MATCH`). */
export function l2SpeakerPattern(): string {
  return `${KEY_PREFIX}l2:speakers:*`;
}

/** The node name of an {@link l2SpeakerKey}, or undefined for any other key. */
export function nodeOfL2SpeakerKey(key: string): string | undefined {
  const prefix = `${KEY_PREFIX}l2:speakers:`;
  return key.startsWith(prefix) && key.length > prefix.length
    ? key.slice(prefix.length)
    : undefined;
}

/**
 * String: the addresses to announce in L2 mode with their interfaces and eligible nodes
 * (`encodeL2Announcements`), written by the controller leader whenever they change.
 */
export function l2AnnouncementsKey(): string {
  return `${KEY_PREFIX}l2:announcements`;
}

/**
 * The field of an endpoint in a {@link healthKey} hash: `address:port`, with an IPv6 address in
 * brackets (`[2001:db8::1]:8080`) so the port stays unambiguous.
 */
export function endpointField(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** An empty or whitespace id would silently merge keys of different objects. */
function nonEmpty(value: string, what: string): string {
  if (value === '' || /\s/.test(value)) {
    throw new TypeError(`${what} must be non-empty and contain no whitespace`);
  }
  return value;
}
