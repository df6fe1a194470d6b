/**
 * Server aliases (ingress-nginx's `server-alias`): further names a virtual host answers to, as
 * extra `server_name`s of its nginx server. Pure: what an alias may be, the check of
 * `VirtualHost.aliases` in a route table, and the claims a dataplane's index keeps per address.
 *
 * The rules the index follows (docs/migrating-from-ingress-nginx.md#server-alias):
 * - a virtual host whose host is the name always wins over an alias of another (ingress-nginx
 *   drops such an alias);
 * - of two virtual hosts on one address claiming one alias, the one whose host sorts first
 *   (byte order) wins: ingress-nginx writes its servers sorted by hostname, and nginx keeps the
 *   first server of a conflicting `server_name`.
 */
import { fail, type Report } from './field-reader.ts';
import { isWildcardHost, validateIngressHost } from './host-match.ts';

/** The most aliases a virtual host carries (and an Ingress's annotation may name). */
export const MAX_SERVER_ALIASES = 64;

/** Why `alias` cannot be a server alias, or undefined when it can: an exact, lowercase DNS name. */
export function serverAliasProblem(alias: string): string | undefined {
  if (alias === '') return 'must not be empty';
  if (isWildcardHost(alias) || alias.includes('*')) {
    return 'is a wildcard; Pier serves exact alias names only';
  }
  if (alias.startsWith('~')) return 'is a regular expression; Pier serves exact alias names only';
  return validateIngressHost(alias);
}

/**
 * Checks `virtualHost.aliases` of a route table: a list of at most {@link MAX_SERVER_ALIASES}
 * names. A bad name is reported and dropped, the others kept; undefined when none is left.
 */
export function checkServerAliases(raw: unknown, report: Report): string[] | undefined {
  if (!Array.isArray(raw)) return fail(report, 'aliases', 'must be an array; aliases dropped');
  if (raw.length > MAX_SERVER_ALIASES) {
    return fail(report, 'aliases', `must have at most ${MAX_SERVER_ALIASES}; aliases dropped`);
  }
  const aliases: string[] = [];
  for (const [i, alias] of raw.entries()) {
    const problem = typeof alias === 'string' ? serverAliasProblem(alias) : 'must be a string';
    if (problem !== undefined) report(`aliases[${i}]`, `${problem}; dropped`);
    else if (!aliases.includes(alias)) aliases.push(alias);
  }
  return aliases.length > 0 ? aliases : undefined;
}

/** One claim on an alias: the host of the claiming virtual host, and its slot in the index. */
interface Claim<S> {
  host: string;
  slot: S;
}

/**
 * The alias claims of the virtual hosts of one address, kept as hosts come and go in any order:
 * per alias, its claimants sorted by host, so the winner is the first and does not depend on the
 * order the claims arrived in.
 */
export class AliasClaims<S> {
  readonly #claims = new Map<string, Claim<S>[]>();

  /** `host`'s virtual host (in `slot`) answers to `alias` too, unless another host wins it. */
  claim(alias: string, host: string, slot: S): void {
    const claims = this.#claims.get(alias);
    if (claims === undefined) {
      this.#claims.set(alias, [{ host, slot }]);
      return;
    }
    const at = claims.findIndex((c) => c.host >= host);
    if (at < 0) claims.push({ host, slot });
    else if (claims[at]?.host === host) (claims[at] as Claim<S>).slot = slot;
    else claims.splice(at, 0, { host, slot });
  }

  /** `host`'s virtual host no longer claims `alias`. */
  release(alias: string, host: string): void {
    const claims = this.#claims.get(alias);
    if (claims === undefined) return;
    const at = claims.findIndex((c) => c.host === host);
    if (at >= 0) claims.splice(at, 1);
    if (claims.length === 0) this.#claims.delete(alias);
  }

  /** The slot that answers to `alias`: its claimant whose host sorts first. */
  winner(alias: string): S | undefined {
    return this.#claims.get(alias)?.[0]?.slot;
  }

  /** How many names are claimed. */
  get size(): number {
    return this.#claims.size;
  }
}
