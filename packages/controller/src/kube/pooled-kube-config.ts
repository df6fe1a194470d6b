/**
 * A KubeConfig whose API requests share one connection pool.
 *
 * @kubernetes/client-node 2.0 gives every request a dispatcher of its own: each call of
 * `applySecurityAuthentication` builds a new undici Agent, so every API call opens a new TLS
 * connection to the API server (a handshake and a fresh SecureContext with the CA parsed again)
 * and leaves it to idle out. At a few requests a minute that does not matter; writing the status
 * and the Event of 10,000 new Ingresses, the handshakes took most of the controller's CPU time
 * and capped it at about 130 writes a second. Here the first Agent the library builds for a set
 * of TLS credentials serves every later request (undici multiplexes them over HTTP/2 when the
 * server offers it, as kube-apiserver does), and watches share it too.
 *
 * The Agent is renewed every {@link POOL_RENEW_MS} (new requests take a fresh one built by the
 * library, so rotated certificate files are read again; the old one's connections idle out),
 * and whenever the credentials in the config change. Users whose TLS credentials come from an exec
 * plugin or an auth provider keep the library's behaviour: their certificates are known only
 * per request.
 */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/** How long one Agent serves before new requests get a fresh one, ms. */
export const POOL_RENEW_MS = 5 * 60_000;

export class PooledKubeConfig extends KubeConfig {
  #pool: { key: string; dispatcher: Dispatcher; until: number } | undefined;
  readonly #now: () => number;

  /** `now` is injectable for tests. */
  constructor(now: () => number = Date.now) {
    super();
    this.#now = now;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const made = context.getDispatcher();
    const key = this.#credentialsKey();
    // No Agent (plain HTTP, or no TLS options) or credentials known per request: as it came.
    if (made === undefined || key === undefined) return;
    const now = this.#now();
    if (this.#pool === undefined || this.#pool.key !== key || now >= this.#pool.until) {
      this.#pool = { key, dispatcher: made, until: now + POOL_RENEW_MS };
    }
    context.setDispatcher(this.#pool.dispatcher);
  }

  /** What the library builds an Agent from; undefined when it can change per request. */
  #credentialsKey(): string | undefined {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (user?.exec !== undefined || user?.authProvider !== undefined) return undefined;
    return JSON.stringify([
      this.getCurrentContext(),
      cluster?.server,
      cluster?.caData,
      cluster?.caFile,
      cluster?.skipTLSVerify,
      cluster?.tlsServerName,
      cluster?.proxyUrl,
      user?.name,
      user?.certData,
      user?.certFile,
      user?.keyData,
      user?.keyFile,
    ]);
  }
}
