// The package's public API: the `pier standalone` command and its parts.
export * from './cluster-mode.ts';
export * from './demo-backends.ts';
export * from './last-good-objects.ts';
export * from './manifest-compiler.ts';
export * from './manifest-directory.ts';
export * from './manifest-file.ts';
export * from './manifest-validation.ts';
export * from './memory-route-source.ts';
export * from './run-standalone.ts';
export * from './self-signed-secrets.ts';
export * from './standalone-app.ts';
export * from './standalone-config.ts';
