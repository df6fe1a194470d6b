// The package's public API: what another process embedding a dataplane (standalone mode) needs.
export * from './config.ts';
export * from './dataplane-app.ts';
export * from './dataplane-metrics.ts';
export * from './dataplane-parts.ts';
export * from './health/local-health-checker.ts';
export { type CertificatePair, generateDefaultCertificate } from './tls/default-certificate.ts';
