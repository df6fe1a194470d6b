/**
 * Which live dataplane probes which target, so probe work is spread over the nodes instead of
 * repeated by each (design invariant 7). Rendezvous (highest-random-weight) hashing: every node
 * computes the same owner from the same live-node list, with no coordination, and when a node
 * joins or leaves only the keys it owns (or takes) move.
 */
import { createHash } from 'node:crypto';
import { endpointField } from './keyspace.ts';
import type { Endpoint, HealthCheckSettings } from './route-table.ts';

/**
 * The identity of a probe: what goes on the wire, `${endpointId}|${probe port}|${Host}|${path}`.
 * Backends (two Services over the same pods, or two ports of one Service) whose probes are
 * identical share one key and so one probe; each backend still judges the outcome with its own
 * expected statuses and thresholds.
 */
export function probeKey(
  endpoint: Pick<Endpoint, 'address' | 'port'>,
  healthCheck: Pick<HealthCheckSettings, 'port' | 'http'>,
): string {
  const id = endpointField(endpoint.address, endpoint.port);
  const port = healthCheck.port ?? endpoint.port;
  const key = `${id}|${port}|${healthCheck.http.host ?? ''}|${healthCheck.http.path}`;
  // Plain-HTTP keys are as they always were, so shared health state survives an upgrade.
  return healthCheck.http.tls === true ? `${key}|tls` : key;
}

/** The weight of `node` for `key`: the first 8 bytes of sha256(node NUL key), big-endian. */
export function rendezvousWeight(node: string, key: string): bigint {
  return createHash('sha256').update(`${node}\0${key}`).digest().readBigUInt64BE(0);
}

/**
 * The live node that owns `key`: the highest weight wins, a tie goes to the smallest node name
 * (code-unit order). Undefined when no node is live.
 */
export function ownerOf(key: string, liveNodes: readonly string[]): string | undefined {
  let owner: string | undefined;
  let best = -1n;
  for (const node of liveNodes) {
    const weight = rendezvousWeight(node, key);
    if (weight > best || (weight === best && owner !== undefined && node < owner)) {
      owner = node;
      best = weight;
    }
  }
  return owner;
}

/**
 * The keys `node` owns among `keys`; empty when `node` is not live. Costs one hash per key and
 * live node, so callers recompute it when the live nodes or the keys change, not per probe.
 */
export function ownedBy(
  node: string,
  keys: Iterable<string>,
  liveNodes: readonly string[],
): string[] {
  if (!liveNodes.includes(node)) return [];
  const owned: string[] = [];
  for (const key of keys) if (ownerOf(key, liveNodes) === node) owned.push(key);
  return owned;
}
