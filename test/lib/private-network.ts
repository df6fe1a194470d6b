import { writeFile } from 'node:fs/promises';
import { run } from './child-process.ts';

/**
 * Documentation ranges (RFC 5737, RFC 3849) the suite may use for stand-in
 * pods. Nothing answers on them outside the suite's own network namespace.
 */
export const DOCUMENTATION_RANGES = {
  ipv4: ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'],
  ipv6: ['2001:db8::/64'],
} as const;

/** Set by the runner once it has re-executed itself inside its own namespace. */
export const NETNS_ENV = 'PIER_TEST_NETNS';

export function inPrivateNetwork(): boolean {
  return process.env[NETNS_ENV] === '1';
}

/**
 * Prepares the loopback of a fresh network namespace (made by `unshare -rn`):
 * brings `lo` up and makes every documentation-range address local to it
 * ("AnyIP" local routes), so a stand-in pod can bind any such address without
 * adding it first. All of it vanishes with the namespace.
 */
export async function prepareLoopback(): Promise<void> {
  if (!inPrivateNetwork()) {
    throw new Error('refusing to change the host network: not inside the suite namespace');
  }
  await run('ip', ['link', 'set', 'lo', 'up']);
  for (const range of DOCUMENTATION_RANGES.ipv4) {
    await run('ip', ['route', 'add', 'local', range, 'dev', 'lo']);
  }
  for (const range of DOCUMENTATION_RANGES.ipv6) {
    await run('ip', ['-6', 'route', 'add', 'local', range, 'dev', 'lo']);
  }
  // IPv6 checks bind() against assigned addresses, not local routes; this
  // namespace-local switch lets it bind the routed range as IPv4 does.
  await writeFile('/proc/sys/net/ipv6/ip_nonlocal_bind', '1');
}
