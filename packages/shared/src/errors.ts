/**
 * Pier's error catalogue. Every error Pier raises on purpose is a {@link PierError} with a stable
 * `code`: callers branch on the code, never on the message, and the codes are public API
 * (documented in docs/errors.md). Messages are for humans and may change.
 */

/** Every error code Pier defines, in catalogue order. Frozen: the list is public API. */
export const ERROR_CODES = Object.freeze([
  'PIER_INVALID_CONFIG',
  'PIER_INVALID_ROUTE_TABLE',
  'PIER_INVALID_ROUTE_PATCH',
  'PIER_REVISION_GAP',
  'PIER_ROUTE_FORMAT_UNKNOWN',
  'PIER_KEY_SEAL_FAILED',
  'PIER_KEY_OPEN_FAILED',
  'PIER_POOL_EXHAUSTED',
  'PIER_ADDRESS_OUTSIDE_POOLS',
  'PIER_ADDRESS_HELD',
  'PIER_UNKNOWN_POOL',
  'PIER_INVALID_ADDRESS',
  'PIER_NO_POOL',
  'PIER_POOL_OVERLAP',
  'PIER_INVALID_ANNOTATION',
  'PIER_POOL_NOT_ALLOWED',
  'PIER_SHARING_CONFLICT',
] as const);

/** One of {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Structured, log-friendly facts about an error (object names, revisions, addresses). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** Options every Pier error accepts. */
export interface PierErrorOptions {
  /** Facts worth logging as fields; never secrets or key material. */
  details?: ErrorDetails;
  /** The lower-level error this one explains. */
  cause?: unknown;
}

/**
 * Base class of every Pier error. Subclasses only fix the code and the name, so code that
 * catches errors needs `err instanceof PierError` and `err.code`, nothing else.
 */
export class PierError extends Error {
  /** Stable identifier; see docs/errors.md. */
  readonly code: ErrorCode;
  /** Structured facts for logs and Events, if any. */
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, options: PierErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PierError';
    this.code = code;
    this.details =
      options.details === undefined ? undefined : Object.freeze({ ...options.details });
  }
}

/** True when `err` is a {@link PierError}, optionally with the given code. */
export function isPierError(err: unknown, code?: ErrorCode): err is PierError {
  return err instanceof PierError && (code === undefined || err.code === code);
}

/** A flag, environment variable, config file or key-ring file is unusable. */
export class InvalidConfigError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_INVALID_CONFIG', message, options);
    this.name = 'InvalidConfigError';
  }
}

/** A route table (snapshot) is not a table at all: not an object, or no usable revision. */
export class InvalidRouteTableError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_INVALID_ROUTE_TABLE', message, options);
    this.name = 'InvalidRouteTableError';
  }
}

/** A route patch (change-log entry) is malformed; the reader must resync from the snapshot. */
export class InvalidRoutePatchError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_INVALID_ROUTE_PATCH', message, options);
    this.name = 'InvalidRoutePatchError';
  }
}

/** A patch does not start at the table's revision; the reader must resync from the snapshot. */
export class RevisionGapError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_REVISION_GAP', message, options);
    this.name = 'RevisionGapError';
  }
}

/**
 * The route keys in Redis are of a format this reader does not know (an older or newer
 * controller wrote them); the reader keeps serving its last good table.
 */
export class RouteFormatError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_ROUTE_FORMAT_UNKNOWN', message, options);
    this.name = 'RouteFormatError';
  }
}

/** A TLS private key could not be encrypted for storage. */
export class KeySealError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_KEY_SEAL_FAILED', message, options);
    this.name = 'KeySealError';
  }
}

/** A sealed TLS private key could not be decrypted: unknown key id, or authentication failed. */
export class KeyOpenError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_KEY_OPEN_FAILED', message, options);
    this.name = 'KeyOpenError';
  }
}

/** Every address of the eligible pools is taken. */
export class PoolExhaustedError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_POOL_EXHAUSTED', message, options);
    this.name = 'PoolExhaustedError';
  }
}

/** A requested address belongs to no IPAddressPool. */
export class AddressOutsidePoolsError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_ADDRESS_OUTSIDE_POOLS', message, options);
    this.name = 'AddressOutsidePoolsError';
  }
}

/** A requested address is already allocated to another owner. */
export class AddressHeldError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_ADDRESS_HELD', message, options);
    this.name = 'AddressHeldError';
  }
}

/** A named IPAddressPool does not exist. */
export class UnknownPoolError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_UNKNOWN_POOL', message, options);
    this.name = 'UnknownPoolError';
  }
}

/** A string that should be an IP address, CIDR or range is not one. */
export class InvalidAddressError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_INVALID_ADDRESS', message, options);
    this.name = 'InvalidAddressError';
  }
}

/** No pool with `autoAssign: true` exists for an Ingress that names no pool and no address. */
export class NoPoolError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_NO_POOL', message, options);
    this.name = 'NoPoolError';
  }
}

/** Two IPAddressPools share addresses (reported as a condition on both). */
export class PoolOverlapError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_POOL_OVERLAP', message, options);
    this.name = 'PoolOverlapError';
  }
}

/** A `pier.dev/` annotation on an Ingress is malformed. */
export class InvalidAnnotationError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_INVALID_ANNOTATION', message, options);
    this.name = 'InvalidAnnotationError';
  }
}

/**
 * A pool named or holding a requested address does not serve this object (its allocateTo or
 * serviceAllocation).
 */
export class PoolNotAllowedError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_POOL_NOT_ALLOWED', message, options);
    this.name = 'PoolNotAllowedError';
  }
}

/**
 * Services that share an address disagree: a port used twice, or another externalTrafficPolicy
 * or pods under Local.
 */
export class SharingConflictError extends PierError {
  constructor(message: string, options?: PierErrorOptions) {
    super('PIER_SHARING_CONFLICT', message, options);
    this.name = 'SharingConflictError';
  }
}
