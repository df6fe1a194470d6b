/**
 * What a virtual host's server aliases lose to, told to the Ingress that set them: the dataplane
 * answers an alias only where no virtual host has that name, and of two hosts on one address
 * claiming an alias, only the one whose host sorts first (server-aliases.ts in the contract).
 * ingress-nginx drops such an alias silently; Pier says so. Pure: both compilers give it the
 * virtual hosts and claims they know.
 *
 * The problems of one virtual host depend on its own aliases and on the virtual hosts and
 * claims of those alias names on its address: the incremental compiler keeps claims by alias
 * key (`address|alias`) to know whom a change concerns.
 */
import { virtualHostKey } from '@pier/shared';
import { type CompileProblem, ingressProblem } from './compile-problems.ts';
import type { HostPlacement } from './host-placement.ts';
import { hostText, REASON_ANNOTATION_CONFLICT } from './placement-reasons.ts';

/** How the compilers answer about the virtual hosts of the table. */
export interface AliasView {
  /** Whether the virtual host `address|host` is in the table. */
  served(key: string): boolean;
  /** The hosts of the virtual hosts claiming the alias key `address|alias`. */
  claimants(aliasKey: string): Iterable<string>;
}

const ANNOTATION = 'nginx.ingress.kubernetes.io/server-alias';

/** Whether a placement is a virtual host of the table (not one only canaries ask for). */
export function isServed(placement: HostPlacement | undefined): boolean {
  return placement !== undefined && placement.onlyCanaries !== true;
}

/** The alias keys (`address|alias`) a placement claims. */
export function aliasKeysOf(placement: HostPlacement | undefined): string[] {
  if (placement?.aliases === undefined || placement.onlyCanaries === true) return [];
  return placement.aliases.map((alias) => virtualHostKey(placement.address, alias));
}

/** Problems, on the Ingress whose `server-alias` the placement took, of the aliases it loses. */
export function aliasProblems(placement: HostPlacement, view: AliasView): CompileProblem[] {
  const owner = placement.aliasOwner;
  if (owner === undefined || placement.aliases === undefined || placement.onlyCanaries === true)
    return [];
  const slash = owner.indexOf('/');
  const [namespace, name] = [owner.slice(0, slash), owner.slice(slash + 1)];
  const problems: CompileProblem[] = [];
  const lost = (alias: string, why: string) =>
    problems.push(
      ingressProblem(
        namespace,
        name,
        REASON_ANNOTATION_CONFLICT,
        `${ANNOTATION} '${alias}' is ignored for ${hostText(placement.host)}: ${why}`,
      ),
    );
  for (const alias of placement.aliases) {
    const key = virtualHostKey(placement.address, alias);
    if (view.served(key)) {
      lost(alias, `${hostText(alias)} is served by its own Ingress, which wins over an alias`);
      continue;
    }
    let first = placement.host;
    for (const host of view.claimants(key)) if (host < first) first = host;
    if (first !== placement.host) {
      lost(alias, `${hostText(first)} claims it too, and sorts first`);
    }
  }
  return problems;
}
