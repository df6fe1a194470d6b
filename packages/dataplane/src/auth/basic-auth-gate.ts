/**
 * Decides whether a request may pass a route's basic authentication (`route.basicAuth`), as
 * nginx's `auth_basic`: the user's first htpasswd line, the password checked against its hash.
 *
 * - The route's users are opened with the key ring once per sealing and kept (bounded), so a
 *   table change that leaves them as they were costs nothing, and a changed Secret (sealed anew)
 *   is read afresh.
 * - Accepted credentials are remembered (credential-cache.ts): then a request costs one SHA-256.
 * - Cheap hashes ({SHA}, {SSHA}, {PLAIN}) are checked inline; the others on the password thread
 *   (password-thread.ts), answered through a promise.
 */
import {
  type BasicAuth,
  basicAuthAad,
  basicCredentials,
  type KeyRing,
  parseHtpasswd,
} from '@pier/shared';
import { CredentialCache } from './credential-cache.ts';
import { isCheapHash, verifyPassword } from './password-hash.ts';
import type { PasswordThread } from './password-thread.ts';

/**
 * What the request gets: `allow` (proxy it), `deny` (401), `unavailable` (503: the route's users
 * cannot be read, it fails closed), `busy` (503: too many checks are waiting).
 */
export type AuthVerdict = 'allow' | 'deny' | 'unavailable' | 'busy';

/** How a check ended, for the metric: `cached` (accepted without a check) or `accepted`… */
export type AuthOutcome = 'cached' | 'accepted' | 'rejected' | 'unavailable' | 'busy';

/** Distinct user sets kept open at most. */
const MAX_USER_SETS = 1024;

/** Options of {@link BasicAuthGate}. */
export interface BasicAuthGateOptions {
  keyRing: Pick<KeyRing, 'open'>;
  thread: Pick<PasswordThread, 'check'>;
  cache?: CredentialCache;
  /** Each check's outcome (metrics). */
  onOutcome?: (outcome: AuthOutcome) => void;
  /** A route's users could not be opened (logged once per sealing). */
  onOpenFailed?: (auth: BasicAuth, err: unknown) => void;
}

interface UserSet {
  id: string;
  hashes: Map<string, string>;
}

export class BasicAuthGate {
  readonly #o: BasicAuthGateOptions;
  readonly #cache: CredentialCache;
  /** Opened user sets by sealing (iv and tag); null when it could not be opened. */
  readonly #sets = new Map<string, UserSet | null>();

  constructor(options: BasicAuthGateOptions) {
    this.#o = options;
    this.#cache = options.cache ?? new CredentialCache();
  }

  /** The verdict on a request with this Authorization header (undefined: none sent). */
  check(auth: BasicAuth, authorization: string | undefined): AuthVerdict | Promise<AuthVerdict> {
    const users = this.#users(auth);
    if (users === undefined) return this.#end('unavailable');
    if (authorization === undefined) return this.#end('rejected');
    const key = this.#cache.key(users.id, authorization);
    if (this.#cache.has(key)) return this.#end('cached');
    const credentials = basicCredentials(authorization);
    const hash = credentials === undefined ? undefined : users.hashes.get(credentials.user);
    if (credentials === undefined || hash === undefined) return this.#end('rejected');
    if (isCheapHash(hash)) return this.#settle(verifyPassword(credentials.password, hash), key);
    const checked = this.#o.thread.check(credentials.password, hash);
    if (checked === 'busy') return this.#end('busy');
    return checked.then(
      (ok) => this.#settle(ok, key),
      () => this.#end('unavailable'),
    );
  }

  #settle(ok: boolean, key: string): AuthVerdict {
    if (!ok) return this.#end('rejected');
    this.#cache.add(key);
    return this.#end('accepted');
  }

  #end(outcome: AuthOutcome): AuthVerdict {
    this.#o.onOutcome?.(outcome);
    switch (outcome) {
      case 'cached':
      case 'accepted':
        return 'allow';
      case 'rejected':
        return 'deny';
      default:
        return outcome;
    }
  }

  /** The route's users, opened once per sealing; undefined when it has none or they do not open. */
  #users(auth: BasicAuth): UserSet | undefined {
    const sealed = auth.users;
    const secret = auth.secret;
    if (sealed === undefined || secret === undefined) return undefined;
    const id = `${sealed.keyId}:${sealed.iv}:${sealed.tag}`;
    const known = this.#sets.get(id);
    if (known !== undefined) return known ?? undefined;
    let set: UserSet | null = null;
    try {
      const text = this.#o.keyRing.open(sealed, basicAuthAad(secret));
      const hashes = new Map<string, string>();
      for (const entry of parseHtpasswd(text)) hashes.set(entry.user, entry.hash);
      set = { id, hashes };
    } catch (err) {
      this.#o.onOpenFailed?.(auth, err);
    }
    if (this.#sets.size >= MAX_USER_SETS) {
      this.#sets.delete(this.#sets.keys().next().value as string);
    }
    this.#sets.set(id, set);
    return set ?? undefined;
  }
}
