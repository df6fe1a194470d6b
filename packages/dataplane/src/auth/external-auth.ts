/**
 * External authentication (`route.externalAuth`, ingress-nginx's `auth-url`): asks the route's
 * auth service about a request before it is proxied, and says what the client gets. One bounded
 * undici pool per auth origin, kept alive; nginx's timeouts of the auth location (connect 5 s,
 * response 60 s); the auth response's body is read up to a cap and dropped. Host names are
 * resolved by the node's resolver (the DaemonSet's ClusterFirstWithHostNet: cluster DNS).
 */
import type { IncomingMessage } from 'node:http';
import {
  authCacheMs,
  authCookieOnStatus,
  type ExternalAuth,
  externalAuthDecision,
  unmapIPv4,
} from '@pier/shared';
import { type Dispatcher, Pool } from 'undici';
import type { ProxyErrorCode } from '../proxy/error-pages.ts';
import { nginxStringOf, requestScheme } from '../proxy/nginx-string-value.ts';
import { AuthAnswerCache } from './auth-answer-cache.ts';
import {
  type AuthResponseHeaders,
  authRequestHeaders,
  headerValues,
  signinLocation,
} from './external-auth-request.ts';

/** ingress-nginx's `proxy-connect-timeout` default, which its auth location uses. */
export const AUTH_CONNECT_TIMEOUT_MS = 5_000;
/** ingress-nginx's `proxy-read-timeout` default, which its auth location uses. */
export const AUTH_RESPONSE_TIMEOUT_MS = 60_000;
/** Connections per auth origin. */
const CONNECTIONS_PER_ORIGIN = 64;
/** Pools kept; the oldest is closed past this (auth URLs with `$host` can name many). */
const MAX_ORIGINS = 256;
/** Auth requests waiting or under way in this process; more are answered 500 at once. */
const MAX_PENDING = 1024;
/** Bytes of an auth response's body read before the connection is dropped instead. */
const MAX_BODY_BYTES = 64 * 1024;

/** Errors of a connection closed under a request before its answer: worth one more try. */
const STALE_CONNECTION: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Methods whose auth answers are kept (nginx's `proxy_cache_methods`). */
const CACHED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** What the metrics count: the request went through, was refused, or could not be decided. */
export type ExternalAuthOutcome = 'allowed' | 'denied' | 'error';

/** What the client gets. */
export type ExternalAuthAnswer =
  | {
      kind: 'allow';
      /** The auth response's headers, for `auth-response-headers`. */
      response: AuthResponseHeaders;
      /** Its `Set-Cookie` values, for the client's response (see {@link cookiesFor}). */
      cookies: string[];
    }
  /** Answered with this page and these extra headers (a flat name/value list). */
  | { kind: 'refuse'; code: ProxyErrorCode; headers: string[] }
  /** A 401 with `auth-signin`: 302 to `location`. */
  | { kind: 'signin'; location: string; headers: string[] };

/** The client's options. */
export interface ExternalAuthOptions {
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
  /** One decision, for metrics: the route's zone (its Ingress) and the outcome. */
  onDecision?: (zone: string, outcome: ExternalAuthOutcome) => void;
  /** A look-up of a kept answer (`auth-cache-key`), for metrics. */
  onCache?: (result: 'hit' | 'miss') => void;
  /** The clock of kept answers, ms. */
  now?: () => number;
  /** An auth request that failed (no response), for a debug log. */
  onFailure?: (auth: ExternalAuth, err: unknown) => void;
}

/**
 * The cookies of an allowed request's answer of `status`: ingress-nginx's
 * `add_header Set-Cookie` applies to a few statuses only, unless `auth-always-set-cookie`.
 */
export function cookiesFor(auth: ExternalAuth, cookies: string[], status: number): string[] {
  return authCookieOnStatus(status, auth.alwaysSetCookie === true) ? cookies : [];
}

/** Asks auth services; see the module comment. */
export class ExternalAuthClient {
  readonly #pools = new Map<string, Pool>();
  readonly #kept = new AuthAnswerCache();
  readonly #options: ExternalAuthOptions;
  #pending = 0;

  constructor(options: ExternalAuthOptions = {}) {
    this.#options = options;
  }

  /** The answer for `req` on a route with `auth`. Never rejects. */
  async check(auth: ExternalAuth, req: IncomingMessage): Promise<ExternalAuthAnswer> {
    let answer: ExternalAuthAnswer;
    try {
      answer = await this.#ask(auth, req);
    } catch (err) {
      this.#options.onFailure?.(auth, err);
      answer = refuse('PIER_AUTH_SERVICE_FAILED');
    }
    const outcome = outcomeOf(answer);
    this.#options.onDecision?.(auth.zone, outcome);
    return answer;
  }

  async #ask(auth: ExternalAuth, req: IncomingMessage): Promise<ExternalAuthAnswer> {
    if (auth.url === undefined) return refuse('PIER_AUTH_SERVICE_INVALID');
    const cache = auth.cache;
    // As nginx's proxy_cache_methods: only GET and HEAD auth requests are kept.
    const keep = cache !== undefined && CACHED_METHODS.has(auth.method ?? 'GET');
    const key = keep
      ? `${cache.scope}\n${nginxStringOf('$host', req)}\n${nginxStringOf(cache.key, req) ?? ''}`
      : undefined;
    const now = this.#options.now ?? Date.now;
    if (key !== undefined) {
      const kept = this.#kept.get(key, now());
      this.#options.onCache?.(kept === undefined ? 'miss' : 'hit');
      if (kept !== undefined) return this.#decide(auth, req, kept.status, kept.headers);
    }
    const got = await this.#send(auth, req);
    if ('kind' in got) return got;
    if (key !== undefined && cache !== undefined) {
      const names = [...(auth.responseHeaders ?? []), 'www-authenticate'];
      const ms = authCacheMs(got.status, got.headers, cache.valid, now());
      this.#kept.set(key, got.status, got.headers, names, ms, now());
    }
    return this.#decide(auth, req, got.status, got.headers);
  }

  /** The auth service's answer to the auth request of `req`, or the refusal when there is none. */
  async #send(
    auth: ExternalAuth,
    req: IncomingMessage,
  ): Promise<{ status: number; headers: AuthResponseHeaders } | ExternalAuthAnswer> {
    const filled = nginxStringOf(auth.url as string, req);
    let url: URL;
    try {
      url = new URL(filled ?? '');
    } catch (err) {
      // A variable made it something else (an empty $host…): nginx's proxy_pass fails, 500.
      this.#options.onFailure?.(auth, err);
      return refuse('PIER_AUTH_SERVICE_FAILED');
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
      this.#options.onFailure?.(auth, new Error(`not an http(s) URL: ${filled}`));
      return refuse('PIER_AUTH_SERVICE_FAILED');
    }
    if (this.#pending >= MAX_PENDING) return refuse('PIER_AUTH_SERVICE_FAILED');
    this.#pending++;
    let status: number;
    let headers: AuthResponseHeaders;
    try {
      const options: Dispatcher.RequestOptions = {
        path: url.pathname + url.search,
        method: (auth.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: authRequestHeaders(auth, url.hostname.replace(/^\[(.*)\]$/, '$1'), {
          rawHeaders: req.rawHeaders,
          method: req.method ?? 'GET',
          requestUri: req.url ?? '/',
          scheme: requestScheme(req),
          remoteAddress: unmapIPv4(req.socket.remoteAddress ?? ''),
        }),
        headersTimeout: this.#options.responseTimeoutMs ?? AUTH_RESPONSE_TIMEOUT_MS,
        bodyTimeout: this.#options.responseTimeoutMs ?? AUTH_RESPONSE_TIMEOUT_MS,
      };
      const pool = this.#pool(url);
      const response = await pool.request(options).catch((err: unknown) => {
        // A kept-alive connection the auth service closed as it was reused: once more, on
        // another. (nginx, which opens a connection per auth request, never meets this.)
        if (!STALE_CONNECTION.has((err as { code?: string }).code ?? '')) throw err;
        return pool.request(options);
      });
      status = response.statusCode;
      headers = response.headers;
      // The status decides; the body is dropped (past the cap, with its connection).
      await response.body.dump({ limit: MAX_BODY_BYTES }).catch(() => undefined);
    } catch (err) {
      this.#options.onFailure?.(auth, err);
      return refuse('PIER_AUTH_SERVICE_FAILED');
    } finally {
      this.#pending--;
    }
    return { status, headers };
  }

  /** What the client gets for the auth service's `status` and `headers`. */
  #decide(
    auth: ExternalAuth,
    req: IncomingMessage,
    status: number,
    headers: AuthResponseHeaders,
  ): ExternalAuthAnswer {
    const cookies = headerValues(headers, 'set-cookie');
    const always = auth.alwaysSetCookie === true;
    const withCookies = (extra: string[], answerStatus: number): string[] => {
      if (authCookieOnStatus(answerStatus, always))
        for (const cookie of cookies) extra.push('set-cookie', cookie);
      return extra;
    };
    switch (externalAuthDecision(status, auth.signin !== undefined)) {
      case 'allow':
        return { kind: 'allow', response: headers, cookies };
      case 'signin': {
        const location = signinLocation(nginxStringOf(auth.signin as string, req));
        if (location === undefined) return refuse('PIER_AUTH_SERVICE_FAILED');
        return { kind: 'signin', location, headers: withCookies([], 302) };
      }
      case 'unauthorized': {
        // As nginx's auth_request: the auth service's challenge goes to the client.
        const challenge: string[] = [];
        for (const value of headerValues(headers, 'www-authenticate'))
          challenge.push('www-authenticate', value);
        return {
          kind: 'refuse',
          code: 'PIER_AUTH_SERVICE_UNAUTHORIZED',
          headers: withCookies(challenge, 401),
        };
      }
      case 'forbidden':
        return {
          kind: 'refuse',
          code: 'PIER_AUTH_SERVICE_FORBIDDEN',
          headers: withCookies([], 403),
        };
      case 'error':
        return { kind: 'refuse', code: 'PIER_AUTH_SERVICE_FAILED', headers: withCookies([], 500) };
    }
  }

  #pool(url: URL): Pool {
    const origin = url.origin;
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      if (this.#pools.size >= MAX_ORIGINS) {
        const [oldest, old] = this.#pools.entries().next().value as [string, Pool];
        this.#pools.delete(oldest);
        void old.close().catch(() => undefined);
      }
      pool = new Pool(origin, {
        connections: CONNECTIONS_PER_ORIGIN,
        connect: {
          timeout: this.#options.connectTimeoutMs ?? AUTH_CONNECT_TIMEOUT_MS,
          // nginx's proxy_ssl_verify is off: the auth service's certificate is not checked.
          rejectUnauthorized: false,
        },
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes every pool (shutdown). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)));
  }
}

function outcomeOf(answer: ExternalAuthAnswer): ExternalAuthOutcome {
  if (answer.kind === 'allow') return 'allowed';
  if (answer.kind === 'signin') return 'denied';
  return answer.code === 'PIER_AUTH_SERVICE_FAILED' || answer.code === 'PIER_AUTH_SERVICE_INVALID'
    ? 'error'
    : 'denied';
}

function refuse(code: ProxyErrorCode): ExternalAuthAnswer {
  return { kind: 'refuse', code, headers: [] };
}
