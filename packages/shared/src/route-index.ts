/**
 * The lookup structure a dataplane builds once per route-table revision and queries per request.
 * Every step is a Map lookup or a walk over the request's own path elements, so the cost of a
 * lookup does not grow with the number of hosts or routes.
 *
 * Building places each virtual host by its key (`address|host`) alone; its routes are indexed,
 * and its backends looked up, when a request or handshake first needs it. An update of 10,000
 * hosts so costs the index a small object per host, and reads no entry of the table (a
 * dataplane keeps entries as text until read: `LazySection`). Only the entries whose text may
 * hold `aliases` are read at placement, for their server aliases.
 */
import { RouteSplit, splitBackendIds } from './backend-split.ts';
import { normalizeHost } from './host-match.ts';
import { unmapIPv4 } from './ip-address.ts';
import { pathElements, stripQuery } from './path-match.ts';
import { type ChangedKeys, type EntryTextProbe, entryTextProbe } from './route-entries.ts';
import { regexPathMatches } from './route-rewrite.ts';
import type { Backend, Certificate, Route, RouteTable, VirtualHost } from './route-table.ts';
import { AliasClaims } from './server-aliases.ts';

/** What serves a request. */
export interface RouteMatch {
  /** The virtual host that supplied the backend (the any-host one when `viaDefault`). */
  virtualHost: VirtualHost;
  /** The matching route; absent when the default backend serves. */
  route?: Route;
  /** The backend to proxy to; with `split`, the one a request goes to unless it says otherwise. */
  backend: Backend;
  /** The route's choice among its backends (`Route.split`), compiled; absent for most routes. */
  split?: RouteSplit | undefined;
  /** The route's error backend (`Route.errors.backend`), resolved; absent for most routes. */
  errorBackend?: Backend | undefined;
  /** True when no route matched and the address's default backend serves. */
  viaDefault: boolean;
}

/** A route with its backend (and split) resolved at build time. */
interface Target {
  route: Route;
  backend: Backend;
  split: RouteSplit | undefined;
  errorBackend: Backend | undefined;
}

/** A trie node per path element; `target` is set where a Prefix route ends. */
interface PrefixNode {
  children: Map<string, PrefixNode>;
  target?: Target;
}

/** One virtual host, indexed: Exact routes by path, Prefix routes in a trie of path elements. */
interface HostEntry {
  vhost: VirtualHost;
  /** Regex mode (`pathRegex`): every route, in the table's order. */
  ordered?: Target[];
  exact: Map<string, Target>;
  prefixes: PrefixNode;
  defaultBackend?: Backend;
}

/** A virtual host by its key; `entry` is made by the first lookup that reaches it. */
interface HostSlot {
  key: string;
  entry?: HostEntry;
  /** The server aliases it claimed when placed. */
  aliases?: readonly string[];
}

/** The virtual hosts of one address ('*' included). */
interface AddressScope {
  exact: Map<string, HostSlot>;
  /** Wildcard hosts by their suffix: `*.foo.com` under `foo.com`. */
  wildcard: Map<string, HostSlot>;
  /** Server aliases of its virtual hosts: after exact hosts, before wildcards (nginx's order). */
  aliases: AliasClaims<HostSlot>;
  anyHost?: HostSlot;
}

/**
 * Route lookup by Ingress semantics, built from one route table.
 *
 * Address scoping: the virtual hosts of the local address are considered first; only when that
 * address has no candidate at all (no matching exact or wildcard host, no any-host virtual host)
 * are those of address '*' considered, the same way. Within an address: exact host, then a
 * server alias, then the wildcard one label up, then the any-host ('') virtual host.
 */
/** Virtual hosts placed per step of {@link RouteIndex.build}. */
const HOSTS_PER_STEP = 256;
/** Marks the constructor call of {@link RouteIndex.build}. */
const DEFERRED: unique symbol = Symbol('deferred');

export class RouteIndex {
  #revision: number;
  readonly #scopes = new Map<string, AddressScope>();
  readonly #certificates: Map<string, Certificate>;
  #virtualHosts: Readonly<Record<string, VirtualHost>>;
  /** Whether an entry of `#virtualHosts` may hold aliases, when the record can say unread. */
  #probe: EntryTextProbe | undefined;
  #backends: Readonly<Record<string, Backend>>;
  /** The slots whose indexed entry was made with each backend id (present or missing then). */
  readonly #dependents = new Map<string, Set<HostSlot>>();

  /**
   * Builds the index. Expects a validated table (each virtual host under
   * `virtualHostKey(address, host)`); routes to missing backends are ignored. `deferred` (for
   * {@link RouteIndex.build} only) leaves it empty.
   */
  constructor(table: RouteTable, deferred?: typeof DEFERRED) {
    this.#revision = table.revision;
    this.#certificates = new Map(Object.entries(table.certificates));
    this.#virtualHosts = table.virtualHosts;
    this.#probe = entryTextProbe(table.virtualHosts);
    this.#backends = table.backends;
    if (deferred !== DEFERRED) for (const _ of this.#fill(table));
  }

  /**
   * Builds the index a few virtual hosts per step, for `runSliced`: a large table is indexed
   * without holding the event loop. The index is complete when the generator returns it.
   */
  static *build(table: RouteTable): Generator<void, RouteIndex> {
    const index = new RouteIndex(table, DEFERRED);
    yield* index.#fill(table);
    return index;
  }

  *#fill(table: RouteTable): Generator<void> {
    // Keys of a validated table are distinct (address, host) pairs, so no two virtual hosts
    // contend for a slot (in other input, the first key listed wins). A table's keys are all
    // enumerable strings: Reflect.ownKeys lists them without asking each for its descriptor,
    // which a dataplane's lazily read sections answer one call at a time.
    const keys = Reflect.ownKeys(table.virtualHosts) as string[];
    yield;
    let step = 0;
    for (const key of keys) {
      this.#place(key);
      if (++step % HOSTS_PER_STEP === 0) yield;
    }
  }

  /** Alias names claimed, counted once per address (a claimed name may still lose to a host). */
  get aliasCount(): number {
    let count = 0;
    for (const scope of this.#scopes.values()) count += scope.aliases.size;
    return count;
  }

  /** The revision of the table the index was built from (or last patched to). */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Brings the index to `table` in place, where `table` is the table the index was built from
   * (the same section records) with the entries `changed` names set, replaced or removed: only
   * those virtual hosts are placed again, and only the indexed hosts that used a changed backend
   * are indexed again (by their next lookup). Synchronous: the caller makes sure no request
   * runs between the table changing and this call.
   */
  patch(table: RouteTable, changed: ChangedKeys): void {
    this.#revision = table.revision;
    this.#virtualHosts = table.virtualHosts;
    this.#probe = entryTextProbe(table.virtualHosts);
    this.#backends = table.backends;
    for (const id of changed.certificates) {
      const certificate = own(table.certificates, id);
      if (certificate === undefined) this.#certificates.delete(id);
      else this.#certificates.set(id, certificate);
    }
    for (const key of changed.virtualHosts) {
      this.#unplace(key);
      if (Object.hasOwn(table.virtualHosts, key)) this.#place(key);
    }
    for (const id of changed.backends) {
      const slots = this.#dependents.get(id);
      if (slots === undefined) continue;
      this.#dependents.delete(id);
      for (const slot of slots) this.#forget(slot);
    }
  }

  /** The slot's virtual host indexed (now, if no lookup reached it before). */
  #entry(slot: HostSlot): HostEntry {
    if (slot.entry !== undefined) return slot.entry;
    const vhost = this.#virtualHosts[slot.key] as VirtualHost;
    slot.entry = indexHost(vhost, this.#backends);
    for (const id of backendIdsOf(vhost)) this.#depend(id, slot);
    return slot.entry;
  }

  #depend(backendId: string, slot: HostSlot): void {
    let slots = this.#dependents.get(backendId);
    if (slots === undefined) {
      slots = new Set();
      this.#dependents.set(backendId, slots);
    }
    slots.add(slot);
  }

  /** Drops the slot's indexed entry and what it depended on. */
  #forget(slot: HostSlot): void {
    const entry = slot.entry;
    if (entry === undefined) return;
    slot.entry = undefined;
    for (const id of backendIdsOf(entry.vhost)) this.#dependents.get(id)?.delete(slot);
  }

  /** Puts the virtual host of `key` (`address|host`) in its address's scope. */
  #place(key: string): void {
    const bar = key.indexOf('|');
    const host = key.slice(bar + 1);
    const slot: HostSlot = { key };
    const scope = this.#scope(key.slice(0, bar));
    if (host === '') {
      if (scope.anyHost !== undefined) return;
      scope.anyHost = slot;
    } else if (
      !setIfAbsent(host.startsWith('*.') ? scope.wildcard : scope.exact, mapKey(host), slot)
    )
      return;
    if (this.#probe !== undefined && !this.#probe(key, '"aliases"')) return;
    const aliases = this.#virtualHosts[key]?.aliases;
    if (aliases === undefined || aliases.length === 0) return;
    slot.aliases = aliases;
    for (const alias of aliases) scope.aliases.claim(alias, host, slot);
  }

  /** Takes the virtual host of `key` out of its scope, if it is the one placed there. */
  #unplace(key: string): void {
    const bar = key.indexOf('|');
    const host = key.slice(bar + 1);
    const scope = this.#scopes.get(key.slice(0, bar));
    if (scope === undefined) return;
    const map = host.startsWith('*.') ? scope.wildcard : scope.exact;
    const slot = host === '' ? scope.anyHost : map.get(mapKey(host));
    if (slot?.key !== key) return;
    this.#forget(slot);
    for (const alias of slot.aliases ?? []) scope.aliases.release(alias, host);
    if (host === '') delete scope.anyHost;
    else map.delete(mapKey(host));
  }

  /**
   * Finds what serves a request, or undefined for a 404.
   *
   * In the chosen host's virtual host, an Exact route equal to the path wins, else the Prefix
   * route with the most path elements; if none matches, the default backend of the any-host
   * virtual host of the same address serves. When no host virtual host matches, the any-host
   * virtual host's routes are tried, then its default backend.
   *
   * @param localAddress the address the client connected to (`socket.localAddress`; an
   *   IPv4-mapped IPv6 form is accepted).
   * @param hostHeader the raw Host header or `:authority`; normalized here.
   * @param requestPath the request target in origin form; query ignored, not percent-decoded.
   */
  lookup(localAddress: string, hostHeader: string, requestPath: string): RouteMatch | undefined {
    const host = normalizeHost(hostHeader);
    for (const address of [unmapIPv4(localAddress), '*']) {
      const scope = this.#scopes.get(address);
      const slot = scope && (hostSlot(scope, host) ?? scope.anyHost);
      // An address with no candidate at all leaves the request to '*'.
      if (scope === undefined || slot === undefined) continue;
      const match = matchPath(this.#entry(slot), requestPath);
      if (match !== undefined) return match;
      const fallback = scope.anyHost && this.#entry(scope.anyHost);
      return fallback?.defaultBackend === undefined
        ? undefined
        : {
            virtualHost: fallback.vhost,
            backend: fallback.defaultBackend,
            split: undefined,
            viaDefault: true,
          };
    }
    return undefined;
  }

  /**
   * The certificate for a TLS server name (SNI): the exact host's, else the wildcard one label
   * up, else undefined. With `localAddress`, only virtual hosts served on that address (or on
   * '*') are considered, address first; without it, any address.
   */
  certificateFor(serverName: string, localAddress?: string): Certificate | undefined {
    const host = normalizeHost(serverName);
    if (host === '') return undefined;
    const scopes =
      localAddress === undefined
        ? [...this.#scopes.values()]
        : [this.#scopes.get(unmapIPv4(localAddress)), this.#scopes.get('*')];
    for (const pick of [exactHost, aliasHost, wildcardHost]) {
      for (const scope of scopes) {
        const slot = scope === undefined ? undefined : pick(scope, host);
        const certificate = slot && this.#entry(slot).vhost.tls?.certificate;
        if (certificate !== undefined) return this.#certificates.get(certificate);
      }
    }
    return undefined;
  }

  #scope(address: string): AddressScope {
    let scope = this.#scopes.get(address);
    if (scope === undefined) {
      scope = { exact: new Map(), wildcard: new Map(), aliases: new AliasClaims() };
      this.#scopes.set(address, scope);
    }
    return scope;
  }
}

/** Every backend id the virtual host's entry reads: routes, their splits, the default backend. */
function backendIdsOf(vhost: VirtualHost): string[] {
  const ids: string[] = [];
  for (const route of vhost.routes) {
    ids.push(route.backend);
    if (route.split !== undefined) ids.push(...splitBackendIds(route.split));
    if (route.errors?.backend !== undefined) ids.push(route.errors.backend);
  }
  if (vhost.defaultBackend !== undefined) ids.push(vhost.defaultBackend);
  return ids;
}

function indexHost(vhost: VirtualHost, backends: Readonly<Record<string, Backend>>): HostEntry {
  const entry: HostEntry = { vhost, exact: new Map(), prefixes: { children: new Map() } };
  if (vhost.pathRegex === true) entry.ordered = [];
  // The routes array is in precedence order for equal rules, so the first one of a path wins.
  for (const route of vhost.routes) {
    const backend = own(backends, route.backend);
    if (backend === undefined) continue;
    const errorId = route.errors?.backend;
    const target: Target = {
      route,
      backend,
      split: RouteSplit.of(route, backend, backends),
      errorBackend: errorId === undefined ? undefined : own(backends, errorId),
    };
    if (entry.ordered !== undefined) {
      entry.ordered.push(target);
      continue;
    }
    if (route.pathType === 'Exact') {
      setIfAbsent(entry.exact, route.path, target);
      continue;
    }
    let node = entry.prefixes;
    for (const element of pathElements(route.path)) {
      let child = node.children.get(element);
      if (child === undefined) {
        child = { children: new Map() };
        node.children.set(element, child);
      }
      node = child;
    }
    node.target ??= target;
  }
  if (vhost.defaultBackend !== undefined)
    entry.defaultBackend = own(backends, vhost.defaultBackend);
  return entry;
}

function matchPath(entry: HostEntry, requestPath: string): RouteMatch | undefined {
  // Exact wins over Prefix: an Exact match is the whole path, never shorter than a prefix.
  let target = entry.ordered === undefined ? entry.exact.get(stripQuery(requestPath)) : undefined;
  if (entry.ordered !== undefined) {
    // Regex mode: nginx's `~*` locations, the first that matches wins.
    const path = stripQuery(requestPath);
    target = entry.ordered.find((t) => regexPathMatches(t.route, path));
  } else if (target === undefined) {
    // Walk as deep as the request goes; the deepest node holding a route is the longest prefix.
    let node: PrefixNode | undefined = entry.prefixes;
    target = node.target;
    for (const element of pathElements(requestPath)) {
      node = node.children.get(element);
      if (node === undefined) break;
      target = node.target ?? target;
    }
  }
  if (target === undefined) return undefined;
  return {
    virtualHost: entry.vhost,
    route: target.route,
    backend: target.backend,
    split: target.split,
    errorBackend: target.errorBackend,
    viaDefault: false,
  };
}

function exactHost(scope: AddressScope, host: string): HostSlot | undefined {
  return scope.exact.get(host);
}

/** `bar.foo.com` → the `*.foo.com` slot; the first label must be non-empty. */
function wildcardHost(scope: AddressScope, host: string): HostSlot | undefined {
  const dot = host.indexOf('.');
  return dot > 0 ? scope.wildcard.get(host.slice(dot + 1)) : undefined;
}

/** The virtual host answering to `host` as an alias, unless one is named so (it wins). */
function aliasHost(scope: AddressScope, host: string): HostSlot | undefined {
  return scope.exact.has(host) ? undefined : scope.aliases.winner(host);
}

function hostSlot(scope: AddressScope, host: string): HostSlot | undefined {
  if (host === '') return undefined;
  const exact = exactHost(scope, host);
  if (exact !== undefined) return exact;
  // No exact host: `aliasHost` without asking again; an address without aliases pays a size check.
  const alias = scope.aliases.size === 0 ? undefined : scope.aliases.winner(host);
  return alias ?? wildcardHost(scope, host);
}

/** Where a host is kept in its map: `*.foo.com` under `foo.com`, others as they are. */
function mapKey(host: string): string {
  return host.startsWith('*.') ? host.slice(2) : host;
}

/** The record's own value for `key` (never one of Object.prototype's). */
function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets `key` unless present; whether it did. */
function setIfAbsent<K, V>(map: Map<K, V>, key: K, value: V): boolean {
  if (map.has(key)) return false;
  map.set(key, value);
  return true;
}
