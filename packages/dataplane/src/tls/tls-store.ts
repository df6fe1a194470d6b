/**
 * The dataplane's TLS certificates: one SecureContext per route-table certificate, opened from
 * its sealed key (design invariant 4: keys are only ever plaintext in this process's memory),
 * chosen per handshake by SNI. A certificate that cannot be opened affects only its own hosts,
 * which get the default certificate (invariant 6).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import {
  type Certificate,
  emptyRouteTable,
  InvalidConfigError,
  type KeyRing,
  objectFields,
  type PierLogger,
  RouteIndex,
  type RouteTable,
  type SealedKey,
} from '@pier/shared';

/** Lowest TLS version a {@link TlsStore} can be told to accept. */
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** Options of {@link TlsStore}. */
export interface TlsStoreOptions {
  /** Opens the sealed private keys of the route table. */
  keyRing: KeyRing;
  /** Served to clients without SNI, to unknown names, and for certificates that fail to load. */
  defaultCertificate: { certPem: string; keyPem: string };
  /** Where load failures and changes are reported; never receives key material. */
  logger?: PierLogger;
  /** Oldest protocol accepted; default TLSv1.2. */
  minVersion?: TlsMinVersion;
  /** OpenSSL cipher string (TLS 1.3 suites included); default {@link DEFAULT_CIPHERS}. */
  ciphers?: string;
}

/** A certificate that {@link TlsStore.update} could not load; its hosts get the default. */
export interface CertificateProblem {
  /** The certificate id (its key in the route table). */
  certificate: string;
  /** Why, for logs and Events; never contains key material. */
  message: string;
}

/** Node's `SNICallback` shape. */
export type SniCallback = (
  servername: string,
  cb: (err: Error | null, ctx?: SecureContext) => void,
) => void;

/**
 * The TLS 1.3 suites, then ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2: forward secrecy
 * and AEAD only (Mozilla's "intermediate" list without finite-field DHE).
 */
export const DEFAULT_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Lifetime of a resumable session (ticket), seconds. */
export const SESSION_TIMEOUT_SECONDS = 300;

const MIN_VERSIONS: readonly TlsMinVersion[] = ['TLSv1.2', 'TLSv1.3'];

/** A PEM certificate chain and its PEM private key. */
interface CertificatePairLike {
  certPem: string;
  keyPem: string;
}

/** A certificate loaded (context) or not (message), remembered by content so reloads are free. */
interface Loaded {
  fingerprint: string;
  /** The table entry it was loaded for (or found unchanged in). */
  certificate?: Certificate;
  context?: SecureContext;
  message?: string;
}

/** Certificates looked at per step of {@link TlsStore.updating}. */
const CERTIFICATES_PER_STEP = 32;

/** Everything one handshake reads; replaced whole by {@link TlsStore.update}. */
interface State {
  index: RouteIndex;
  certificates: ReadonlyMap<string, Loaded>;
  loaded: ReadonlySet<string>;
}

/**
 * Holds the SecureContexts of the current route table and picks one per TLS handshake.
 *
 * Changes are live and atomic: {@link TlsStore.update} builds the new index and contexts aside
 * and swaps them in with one assignment, so each handshake sees one table, new handshakes use
 * the new certificates, and established connections keep the context they negotiated.
 */
export class TlsStore {
  /**
   * `SNICallback` for `tls.createServer` / `https.createServer`. Picks the certificate with
   * {@link RouteIndex.certificateFor}, passing the connection's local address: Node calls the
   * callback with the server-side TLSSocket as `this` (not in Node's documentation; the
   * integration test pins it), so a host served on two addresses with two certificates gets
   * the right one. Where `this` carries no address the lookup spans every address, which is
   * exact whenever a host name has one certificate. Unknown names, clients without SNI and
   * certificates that failed to load get the server's default context.
   */
  readonly sniCallback: SniCallback;
  readonly #keyRing: KeyRing;
  readonly #defaultCertificate: CertificatePairLike;
  readonly #logger: PierLogger | undefined;
  readonly #contextOptions: Readonly<TlsOptions>;
  #state: State;

  /** @throws InvalidConfigError on a bad option, an unusable default certificate or cipher list. */
  constructor(options: TlsStoreOptions) {
    // Duck-typed rather than instanceof, so a second copy of @pier/shared cannot trip it.
    if (typeof options.keyRing?.open !== 'function') {
      throw new InvalidConfigError('TLS store: keyRing must be a KeyRing');
    }
    const minVersion = options.minVersion ?? 'TLSv1.2';
    if (!MIN_VERSIONS.includes(minVersion)) {
      throw new InvalidConfigError(
        `TLS store: minVersion '${String(minVersion)}' is not one of ${MIN_VERSIONS.join(', ')}`,
        { details: { minVersion: String(minVersion) } },
      );
    }
    const ciphers = options.ciphers ?? DEFAULT_CIPHERS;
    this.#keyRing = options.keyRing;
    this.#logger = options.logger;
    // Every context gets the same protocol settings: OpenSSL negotiates the version with the
    // server's default context, but a context chosen by SNI must not widen or narrow it.
    this.#contextOptions = Object.freeze({
      minVersion,
      ciphers,
      honorCipherOrder: true,
      sessionTimeout: SESSION_TIMEOUT_SECONDS,
    });
    const pair: Partial<CertificatePairLike> | undefined = options.defaultCertificate;
    const certPem = pair?.certPem;
    const keyPem = pair?.keyPem;
    const problem = contextProblem(certPem, keyPem);
    if (problem !== undefined) {
      throw new InvalidConfigError(`TLS store: default certificate: ${problem}`);
    }
    try {
      createSecureContext({ ...this.#contextOptions, cert: certPem, key: keyPem });
    } catch (cause) {
      throw new InvalidConfigError(
        `TLS store: default certificate or ciphers '${ciphers}' rejected: ${messageOf(cause)}`,
        { cause, details: { ciphers } },
      );
    }
    this.#defaultCertificate = { certPem, keyPem } as CertificatePairLike;
    const empty = emptyRouteTable();
    this.#state = { index: new RouteIndex(empty), certificates: new Map(), loaded: new Set() };
    this.sniCallback = sniCallbackFor((servername, localAddress) =>
      this.#contextFor(servername, localAddress),
    );
  }

  /** Ids of the certificates currently loaded (opened and matching). */
  get loaded(): ReadonlySet<string> {
    return this.#state.loaded;
  }

  /**
   * Applies a route table and the index built from it. Certificates whose PEM and sealed key
   * are unchanged keep their SecureContext object; new or changed ones are opened and built;
   * removed ones are dropped. A certificate whose key cannot be opened, or does not match, is
   * skipped and reported (its hosts get the default certificate); the rest load regardless.
   * Never throws.
   *
   * @returns the certificates of this table that are not served, with the reason.
   */
  update(table: RouteTable, index: RouteIndex): CertificateProblem[] {
    const steps = this.updating(table, index);
    for (;;) {
      const step = steps.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * {@link TlsStore.update} a certificate per step, for `runSliced`: the contexts are built
   * first, and the table, index and contexts change together in the generator's last step.
   */
  *updating(table: RouteTable, index: RouteIndex): Generator<void, CertificateProblem[]> {
    const previous = this.#state.certificates;
    const certificates = new Map<string, Loaded>();
    const loaded = new Set<string>();
    const problems: CertificateProblem[] = [];
    let opened = 0;
    let step = 0;
    for (const [id, certificate] of Object.entries(table.certificates ?? {})) {
      if (++step % CERTIFICATES_PER_STEP === 0) yield;
      const before = previous.get(id);
      // Opening a key and building a context take a millisecond or more.
      if (before?.certificate !== certificate) yield;
      const { entry, opened: fresh } = this.#settle(id, certificate, before);
      if (fresh) opened++;
      certificates.set(id, entry);
      if (entry.context !== undefined) loaded.add(id);
      else problems.push({ certificate: id, message: entry.message ?? 'not loaded' });
    }
    // One assignment: a handshake sees either the old table and contexts or the new ones.
    this.#state = { index, certificates, loaded };
    const removed = [...previous.keys()].filter((id) => !certificates.has(id)).length;
    if (opened > 0 || removed > 0) {
      this.#logger?.info(
        { revision: table.revision, loaded: loaded.size, opened, removed, failed: problems.length },
        'TLS certificates updated',
      );
    }
    return problems;
  }

  /**
   * Options to spread into `https.createServer` / `tls.createServer`: the default certificate,
   * protocol floor, ciphers with server preference, session tickets (Node's built-in ticket
   * keys, {@link SESSION_TIMEOUT_SECONDS}) and the {@link TlsStore.sniCallback}.
   */
  serverOptions(): TlsOptions {
    return {
      ...this.#contextOptions,
      cert: this.#defaultCertificate.certPem,
      key: this.#defaultCertificate.keyPem,
      SNICallback: this.sniCallback,
    };
  }

  /**
   * {@link TlsStore.update} for a table changed in place, with `index` patched to it: only the
   * certificates `changed` names are looked at. Synchronous, for small changes.
   *
   * @returns how many certificates of the table are not served.
   */
  patch(table: RouteTable, index: RouteIndex, changed: ReadonlySet<string>): number {
    const certificates = new Map(this.#state.certificates);
    const loaded = new Set(this.#state.loaded);
    let opened = 0;
    let removed = 0;
    for (const id of changed) {
      const certificate = Object.hasOwn(table.certificates, id)
        ? table.certificates[id]
        : undefined;
      if (certificate === undefined) {
        if (certificates.delete(id)) removed++;
        loaded.delete(id);
        continue;
      }
      const { entry, opened: fresh } = this.#settle(id, certificate, certificates.get(id));
      if (fresh) opened++;
      certificates.set(id, entry);
      if (entry.context !== undefined) loaded.add(id);
      else loaded.delete(id);
    }
    this.#state = { index, certificates, loaded };
    if (opened > 0 || removed > 0) {
      this.#logger?.info(
        { revision: table.revision, loaded: loaded.size, opened, removed },
        'TLS certificates updated',
      );
    }
    return certificates.size - loaded.size;
  }

  /**
   * What `certificate` loads as, given what its id held before: the same entry when the object
   * or its content is unchanged (`opened` false), else the key opened and a context built.
   */
  #settle(
    id: string,
    certificate: Certificate,
    before: Loaded | undefined,
  ): { entry: Loaded; opened: boolean } {
    // The same object as before (a table keeps unchanged entries): nothing to compare.
    if (before?.certificate === certificate) return { entry: before, opened: false };
    const fingerprint = fingerprintOf(certificate);
    let entry = before;
    let opened = false;
    if (entry?.fingerprint !== fingerprint) {
      opened = true;
      entry = this.#load(id, certificate, fingerprint);
      if (entry.message !== undefined) {
        this.#logger?.warn(
          { certificate: id, ...secretFields(certificate), reason: entry.message },
          'TLS certificate not loaded; its hosts get the default certificate',
        );
      }
    }
    if (entry.certificate !== certificate) entry = { ...entry, certificate };
    return { entry, opened };
  }

  /** The context for a server name; undefined means the server's default certificate. */
  #contextFor(servername: string, localAddress: string | undefined): SecureContext | undefined {
    const { index, certificates } = this.#state;
    const certificate = index.certificateFor(servername, localAddress);
    return certificate === undefined ? undefined : certificates.get(certificate.id)?.context;
  }

  #load(id: string, certificate: Certificate, fingerprint: string): Loaded {
    if (certificate.id !== id) {
      return { fingerprint, message: `certificate id '${certificate.id}' differs from its key` };
    }
    let keyPem: string;
    try {
      keyPem = this.#keyRing.open(certificate.key, certificate.id);
    } catch (err) {
      return { fingerprint, message: `private key cannot be opened: ${messageOf(err)}` };
    }
    const problem = contextProblem(certificate.certificatePem, keyPem);
    if (problem !== undefined) return { fingerprint, message: problem };
    try {
      const context = createSecureContext({
        ...this.#contextOptions,
        cert: certificate.certificatePem,
        key: keyPem,
      });
      return { fingerprint, context };
    } catch (err) {
      return { fingerprint, message: `TLS context rejected the certificate: ${messageOf(err)}` };
    }
  }
}

/**
 * Why a certificate chain and a private key cannot serve together, or undefined when they can:
 * unparsable PEM, or a key that is not the leaf certificate's. OpenSSL would otherwise accept a
 * mismatched pair silently and fail every handshake.
 */
export function contextProblem(certPem: unknown, keyPem: unknown): string | undefined {
  if (typeof certPem !== 'string' || !certPem.includes('-----BEGIN CERTIFICATE-----')) {
    return 'not a PEM certificate';
  }
  if (typeof keyPem !== 'string') return 'no private key';
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    return `certificate cannot be parsed: ${messageOf(err)}`;
  }
  try {
    // OpenSSL's decoder errors never quote the input, so the message is safe to report.
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) {
      return 'private key does not match the certificate';
    }
  } catch (err) {
    return `private key cannot be parsed: ${messageOf(err)}`;
  }
  return undefined;
}

/**
 * Wraps a lookup as Node's SNICallback. Node invokes it with the server-side TLSSocket as
 * `this`, which is where the local address comes from; anything else means "no address". A
 * failing lookup falls back to the default certificate rather than aborting the handshake.
 */
export function sniCallbackFor(
  lookup: (servername: string, localAddress: string | undefined) => SecureContext | undefined,
): SniCallback {
  return function sniCallback(this: unknown, servername, cb) {
    let context: SecureContext | undefined;
    try {
      context = lookup(servername, localAddressOf(this));
    } catch {
      context = undefined;
    }
    cb(null, context);
  };
}

function localAddressOf(socket: unknown): string | undefined {
  if (typeof socket !== 'object' || socket === null || !('localAddress' in socket)) {
    return undefined;
  }
  const address = socket.localAddress;
  return typeof address === 'string' && address !== '' ? address : undefined;
}

/** What decides whether a loaded context is still right: the public chain and the sealed key. */
function fingerprintOf(certificate: Certificate): string {
  // Tolerates an unvalidated entry without a key: update() must not throw.
  const { alg, keyId, iv, tag, ciphertext }: Partial<SealedKey> = certificate.key ?? {};
  return JSON.stringify([certificate.certificatePem, alg, keyId, iv, tag, ciphertext]);
}

/** The Secret as `namespace` and `name` log fields, as for every Kubernetes object. */
function secretFields(certificate: Certificate): { namespace?: string; name?: string } {
  return certificate.secret === undefined ? {} : objectFields(certificate.secret);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
