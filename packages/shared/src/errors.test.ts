import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorCode, PierErrorOptions, PierError as PierErrorType } from './errors.ts';
import {
  AddressHeldError,
  AddressOutsidePoolsError,
  ERROR_CODES,
  InvalidAddressError,
  InvalidAnnotationError,
  InvalidConfigError,
  InvalidRoutePatchError,
  InvalidRouteTableError,
  isPierError,
  KeyOpenError,
  KeySealError,
  NoPoolError,
  PierError,
  PoolExhaustedError,
  PoolNotAllowedError,
  PoolOverlapError,
  RevisionGapError,
  RouteFormatError,
  SharingConflictError,
  UnknownPoolError,
} from './errors.ts';

type ErrorClass = new (message: string, options?: PierErrorOptions) => PierErrorType;

const CATALOGUE: Array<[ErrorClass, ErrorCode, string]> = [
  [InvalidConfigError, 'PIER_INVALID_CONFIG', 'InvalidConfigError'],
  [InvalidRouteTableError, 'PIER_INVALID_ROUTE_TABLE', 'InvalidRouteTableError'],
  [InvalidRoutePatchError, 'PIER_INVALID_ROUTE_PATCH', 'InvalidRoutePatchError'],
  [RevisionGapError, 'PIER_REVISION_GAP', 'RevisionGapError'],
  [RouteFormatError, 'PIER_ROUTE_FORMAT_UNKNOWN', 'RouteFormatError'],
  [KeySealError, 'PIER_KEY_SEAL_FAILED', 'KeySealError'],
  [KeyOpenError, 'PIER_KEY_OPEN_FAILED', 'KeyOpenError'],
  [PoolExhaustedError, 'PIER_POOL_EXHAUSTED', 'PoolExhaustedError'],
  [AddressOutsidePoolsError, 'PIER_ADDRESS_OUTSIDE_POOLS', 'AddressOutsidePoolsError'],
  [AddressHeldError, 'PIER_ADDRESS_HELD', 'AddressHeldError'],
  [UnknownPoolError, 'PIER_UNKNOWN_POOL', 'UnknownPoolError'],
  [InvalidAddressError, 'PIER_INVALID_ADDRESS', 'InvalidAddressError'],
  [NoPoolError, 'PIER_NO_POOL', 'NoPoolError'],
  [PoolOverlapError, 'PIER_POOL_OVERLAP', 'PoolOverlapError'],
  [InvalidAnnotationError, 'PIER_INVALID_ANNOTATION', 'InvalidAnnotationError'],
  [PoolNotAllowedError, 'PIER_POOL_NOT_ALLOWED', 'PoolNotAllowedError'],
  [SharingConflictError, 'PIER_SHARING_CONFLICT', 'SharingConflictError'],
];

for (const [ErrorClass, code, name] of CATALOGUE) {
  test(`${name} carries the stable code ${code}`, () => {
    const err = new ErrorClass('something broke', { details: { pool: 'default' } });
    assert.ok(err instanceof PierError);
    assert.ok(err instanceof Error);
    assert.equal(err.code, code);
    assert.equal(err.name, name);
    assert.equal(err.message, 'something broke');
    assert.deepEqual(err.details, { pool: 'default' });
    assert.ok(isPierError(err, code));
  });
}

test('every catalogued code has exactly one error class, and the list is frozen', () => {
  assert.deepEqual([...ERROR_CODES].sort(), CATALOGUE.map(([, code]) => code).sort());
  assert.ok(Object.isFrozen(ERROR_CODES));
});

test('details are a frozen copy, cause is kept', () => {
  const details = { keyId: 'k1' };
  const cause = new Error('low level');
  const err = new KeyOpenError('cannot open', { details, cause });
  details.keyId = 'changed';
  assert.deepEqual(err.details, { keyId: 'k1' });
  assert.ok(Object.isFrozen(err.details));
  assert.equal(err.cause, cause);
});

test('isPierError tells Pier errors and codes apart', () => {
  const rows: Array<[unknown, ErrorCode | undefined, boolean]> = [
    [new PoolExhaustedError('full'), undefined, true],
    [new PoolExhaustedError('full'), 'PIER_POOL_EXHAUSTED', true],
    [new PoolExhaustedError('full'), 'PIER_ADDRESS_HELD', false],
    [new Error('plain'), undefined, false],
    [{ code: 'PIER_POOL_EXHAUSTED' }, 'PIER_POOL_EXHAUSTED', false],
  ];
  for (const [err, code, expected] of rows) assert.equal(isPierError(err, code), expected);
});
