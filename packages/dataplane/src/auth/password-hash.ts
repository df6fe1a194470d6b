/**
 * Checks a password against one htpasswd hash, in every format Pier accepts
 * (`passwordScheme` in @pier/shared). Pure and synchronous: the costly formats (bcrypt,
 * MD5-crypt, SHA-crypt) run on the password thread (password-thread.ts), the cheap ones inline.
 * Results are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { type PasswordScheme, passwordScheme } from '@pier/shared';
import bcrypt from 'bcryptjs';
import { md5Crypt } from './md5-crypt.ts';
import { shaCrypt } from './sha-crypt.ts';

/** Formats that cost one hash or less: checked on the serving thread. */
const CHEAP: ReadonlySet<PasswordScheme> = new Set(['sha1', 'ssha', 'plain']);

/** Whether `hash` is checked inline (one SHA-1 at most) rather than on the password thread. */
export function isCheapHash(hash: string): boolean {
  const scheme = passwordScheme(hash);
  return scheme !== undefined && CHEAP.has(scheme);
}

/** Whether `password` (its bytes) matches `hash`; false for a hash Pier cannot check. */
export function verifyPassword(password: Buffer, hash: string): boolean {
  switch (passwordScheme(hash)) {
    case 'bcrypt': {
      // bcryptjs hashes a string's UTF-8: only a password that is valid UTF-8 has one.
      const text = password.toString('utf8');
      if (!Buffer.from(text, 'utf8').equals(password)) return false;
      return bcrypt.compareSync(text, hash);
    }
    case 'apr1':
      return sameText(md5Crypt(password, hash.slice(6), '$apr1$'), hash);
    case 'md5-crypt':
      return sameText(md5Crypt(password, hash.slice(3), '$1$'), hash);
    case 'sha256-crypt':
    case 'sha512-crypt':
      return sameText(shaCrypt(password, hash) ?? '', hash);
    case 'sha1':
      return sameText(`{SHA}${createHash('sha1').update(password).digest('base64')}`, hash);
    case 'ssha': {
      const decoded = Buffer.from(hash.slice(6), 'base64');
      const digest = createHash('sha1').update(password).update(decoded.subarray(20)).digest();
      return sameBytes(digest, decoded.subarray(0, 20));
    }
    case 'plain':
      return sameBytes(password, Buffer.from(hash.slice(7), 'latin1'));
    case undefined:
      return false;
  }
}

function sameText(a: string, b: string): boolean {
  return sameBytes(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/** Constant time for equal lengths; a length says nothing a hash's format does not. */
function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
