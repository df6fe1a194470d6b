/**
 * The messages dataplanes exchange on `healthChannel()` (docs/redis-keyspace.md): JSON, parsed
 * strictly so that a stray publisher cannot poison any node's health state.
 */
import { parseHealthState, type SharedHealthState } from './health-state.ts';

/** The longest ejection a message may announce: 8 × the 1 h maximum ejection time. */
const MAX_EJECTION_MS = 8 * 3_600_000;

/** A message on `healthChannel()` (JSON). */
export type HealthMessage =
  /** The owner changed an endpoint's status; the state is the hash field's new value. */
  | { type: 'health'; backend: string; endpoint: string; state: SharedHealthState }
  /** A node ejected an endpoint for `ms` more milliseconds. */
  | { type: 'ejection'; backend: string; endpoint: string; ms: number; by: string }
  /** A node joined or left: rescan the live nodes now. */
  | { type: 'node'; node: string; event: 'join' | 'leave' };

/** Encodes a {@link HealthMessage}. */
export function encodeHealthMessage(message: HealthMessage): string {
  return JSON.stringify(message);
}

/**
 * Parses a {@link HealthMessage}; undefined for anything else (bad JSON, unknown type, a
 * malformed state, an ejection that is not 1 ms to 8 h), so a stray publisher cannot poison
 * state.
 */
export function parseHealthMessage(text: string): HealthMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.type === 'node') {
    if (!isName(m.node) || (m.event !== 'join' && m.event !== 'leave')) return undefined;
    return { type: 'node', node: m.node, event: m.event };
  }
  if (!isName(m.backend) || !isName(m.endpoint)) return undefined;
  if (m.type === 'health') {
    const state = parseHealthState(JSON.stringify(m.state ?? null));
    return state && { type: 'health', backend: m.backend, endpoint: m.endpoint, state };
  }
  if (m.type === 'ejection') {
    const { ms, by } = m;
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms <= 0) return undefined;
    if (ms > MAX_EJECTION_MS || !isName(by)) return undefined;
    return { type: 'ejection', backend: m.backend, endpoint: m.endpoint, ms, by };
  }
  return undefined;
}

function isName(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The `health` message for a serialized state, or undefined if it does not parse back. */
export function healthMessage(
  backend: string,
  endpoint: string,
  value: string,
): string | undefined {
  const state = parseHealthState(value);
  return state && encodeHealthMessage({ type: 'health', backend, endpoint, state });
}
