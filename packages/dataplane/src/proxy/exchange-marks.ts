/**
 * The errors the request handler raises itself to end an attempt, marked with a `code` so that
 * its `onResponseError` tells them apart from upstream failures.
 */

/** Marks the error a `BodyLimit` raises, so the exchange answers 413. */
export const BODY_TOO_LARGE = 'PIER_BODY_TOO_LARGE';
/** Marks the error a `SendWatch` raises when the upstream took none of the body in time. */
export const SEND_TIMEOUT = 'PIER_UPSTREAM_SEND_TIMEOUT';
/** Marks the abort the exchange causes itself when the client left. */
export const CLIENT_GONE = 'PIER_CLIENT_GONE';
/** Marks the abort of an attempt whose status the route's retry policy sends elsewhere. */
export const RETRY_STATUS = 'PIER_RETRY_STATUS';
/** Marks the abort of an attempt whose status the route's custom errors replace. */
export const INTERCEPTED = 'PIER_INTERCEPTED';

/** An Error with `code`. */
export function markedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
