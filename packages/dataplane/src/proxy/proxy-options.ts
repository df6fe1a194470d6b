/**
 * The proxy's settings, validated once at start-up. Shared by the request and the upgrade
 * handler.
 */

/** Proxy behaviour, validated once by {@link assertProxyOptions}. */
export interface ProxyOptions {
  /** The scheme clients use on this listener (X-Forwarded-Proto). */
  scheme: 'http' | 'https';
  /** TCP connect timeout to an endpoint, ms (enforced by the upstream pools; used for upgrades). */
  connectTimeoutMs: number;
  /** From request sent to complete response headers, ms; beyond it 504. */
  headersTimeoutMs: number;
  /** Longest silence while the response body streams, ms; beyond it the response is cut. */
  idleTimeoutMs: number;
  /** Largest request body, bytes; beyond it 413 (at once for Content-Length, while streaming for chunked). */
  maxRequestBodyBytes: number;
  /** Extra attempts on other endpoints after a failure before anything was sent (see handler). */
  maxRetries: number;
  /** Whether a peer address belongs to a trusted proxy whose X-Forwarded-* headers are kept. */
  trustedProxies: (remoteAddress: string) => boolean;
  /** The HTTPS listener's port, named by https redirects that ask for it. */
  httpsPort: number;
}

/** Defaults close to nginx / ingress-nginx. */
export const DEFAULT_PROXY_OPTIONS: Readonly<ProxyOptions> = Object.freeze({
  scheme: 'http',
  connectTimeoutMs: 5_000,
  headersTimeoutMs: 60_000,
  idleTimeoutMs: 60_000,
  maxRequestBodyBytes: 100 * 1024 * 1024,
  maxRetries: 1,
  trustedProxies: () => false,
  httpsPort: 443,
});

/**
 * Checks proxy options and returns them frozen.
 *
 * @throws RangeError naming the first bad option.
 */
export function assertProxyOptions(options: ProxyOptions): Readonly<ProxyOptions> {
  if (options.scheme !== 'http' && options.scheme !== 'https') {
    throw new RangeError(`scheme must be 'http' or 'https', got '${String(options.scheme)}'`);
  }
  for (const name of [
    'connectTimeoutMs',
    'headersTimeoutMs',
    'idleTimeoutMs',
    'maxRequestBodyBytes',
  ] as const) {
    const value = options[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`${name} must be a positive number, got ${value}`);
    }
  }
  if (!Number.isInteger(options.maxRetries) || options.maxRetries < 0) {
    throw new RangeError(`maxRetries must be a non-negative integer, got ${options.maxRetries}`);
  }
  if (!Number.isInteger(options.httpsPort) || options.httpsPort < 1 || options.httpsPort > 65535) {
    throw new RangeError(`httpsPort must be a port number, got ${options.httpsPort}`);
  }
  if (typeof options.trustedProxies !== 'function') {
    throw new RangeError('trustedProxies must be a function');
  }
  return Object.freeze({ ...options });
}
