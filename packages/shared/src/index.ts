// The package's public API. Internal helpers (field-reader.ts) are deliberately not exported.
export {
  type AffinityPin,
  MAX_SPLIT_RULES,
  RouteSplit,
  splitBackendIds,
} from './backend-split.ts';
export * from './dataplane-report.ts';
export * from './errors.ts';
export * from './flag-reader.ts';
export * from './header-match.ts';
export * from './health-check-defaults.ts';
export { checkHealthCheckSettings } from './health-check-validation.ts';
export * from './host-match.ts';
export * from './ip-address.ts';
export * from './key-ring-file.ts';
export * from './key-sealing.ts';
export * from './keyspace.ts';
export * from './l2-announcements.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './nginx-string.ts';
export * from './ops-server.ts';
export * from './path-match.ts';
export * from './probe-ownership.ts';
export * from './redis-reconnect.ts';
export { canonicalCidr, parseCidrList } from './route-access.ts';
export {
  authCacheKeyProblem,
  authCacheMs,
  DEFAULT_AUTH_CACHE_DURATION,
  MAX_AUTH_CACHE_KEY_LENGTH,
  parseAuthCacheDuration,
} from './route-auth-cache.ts';
export {
  type BasicCredentials,
  basicAuthAad,
  basicCredentials,
  type HtpasswdEntry,
  MAX_BCRYPT_COST,
  MAX_SHA_CRYPT_ROUNDS,
  MAX_USERS_BYTES,
  type PasswordScheme,
  parseHtpasswd,
  passwordHashProblem,
  passwordScheme,
  realmProblem,
} from './route-basic-auth.ts';
export * from './route-codec.ts';
export { corsHeaders, corsOriginAllowed, corsOriginProblem } from './route-cors.ts';
export * from './route-entries.ts';
export {
  type ErrorContext,
  errorHeaders,
  interceptsOwn,
  interceptsUpstream,
  isErrorCode,
  MAX_ERROR_CODES,
} from './route-errors.ts';
export {
  AUTH_METHODS,
  authCookieOnStatus,
  authHeaderNameProblem,
  authUrlProblem,
  type ExternalAuthDecision,
  externalAuthDecision,
  MAX_AUTH_RESPONSE_HEADERS,
  MAX_AUTH_URL_LENGTH,
} from './route-external-auth.ts';
export * from './route-index.ts';
export * from './route-log-reader.ts';
export * from './route-patch.ts';
export { MAX_RATE_LIMIT } from './route-rate-limit.ts';
export {
  appRootLocation,
  appRootProblem,
  HTTPS_REDIRECT_CODES,
  hostWithoutPort,
  httpsRedirectLocation,
  isRootRequest,
  redirectUrlProblem,
} from './route-redirects.ts';
export {
  MAX_REGEX_PATH_LENGTH,
  regexPathMatches,
  regexPathProblem,
  rewriteTarget,
} from './route-rewrite.ts';
export * from './route-table.ts';
export * from './route-table-state.ts';
export * from './route-table-validation.ts';
export {
  forwardedPrefixProblem,
  MAX_ROUTE_TIMEOUT_MS,
  RETRY_STATUSES,
  type RetryCondition,
  type RetryState,
  retryAllowed,
} from './route-upstream.ts';
export {
  MAX_UPSTREAM_HOST_LENGTH,
  upstreamHostProblem,
  usableUpstreamHost,
} from './route-upstream-host.ts';
export * from './route-weights.ts';
export { MAX_SERVER_ALIASES, serverAliasProblem } from './server-aliases.ts';
export * from './shared-health-state.ts';
export * from './time-slicer.ts';
export * from './upstream-hash.ts';
