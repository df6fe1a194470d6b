/**
 * The base-64 of `crypt(3)` hashes (`./0-9A-Za-z`, least significant six bits first), shared by
 * MD5-crypt and SHA-crypt. Pure.
 */

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `chars` characters of the 24-bit value `(b2 << 16) | (b1 << 8) | b0`, low bits first. */
export function cryptBase64(b2: number, b1: number, b0: number, chars: number): string {
  let value = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += ALPHABET[value & 0x3f];
    value >>= 6;
  }
  return out;
}
