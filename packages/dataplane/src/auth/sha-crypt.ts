/**
 * SHA-crypt (`$5$` SHA-256 and `$6$` SHA-512, Ulrich Drepper's "Unix crypt using SHA-256 and
 * SHA-512"), as glibc's and musl's `crypt(3)`, `openssl passwd -5 / -6` and `mkpasswd` make
 * them. Pure, with node:crypto's hashes. `rounds=` as the specification says: 5000 by default,
 * clamped to 1000-999999999 (callers refuse high counts first, see MAX_SHA_CRYPT_ROUNDS).
 */
import { createHash } from 'node:crypto';
import { cryptBase64 } from './crypt-base64.ts';

/** The two variants by their prefix. */
export type ShaCryptPrefix = '$5$' | '$6$';

const DEFAULT_ROUNDS = 5000;

/**
 * The hash of `password` for the setting `hash` (its prefix, optional `rounds=N$` and salt;
 * anything after the salt's `$` is ignored), in the same form, or undefined for a setting that
 * is not SHA-crypt.
 */
export function shaCrypt(password: Buffer, hash: string): string | undefined {
  const prefix = hash.slice(0, 3);
  if (prefix !== '$5$' && prefix !== '$6$') return undefined;
  const algorithm = prefix === '$5$' ? 'sha256' : 'sha512';
  const size = prefix === '$5$' ? 32 : 64;
  let rest = hash.slice(3);
  let rounds = DEFAULT_ROUNDS;
  let custom = false;
  const asked = /^rounds=([0-9]{1,9})\$/.exec(rest);
  if (asked !== null) {
    rounds = Math.min(Math.max(Number(asked[1]), 1000), 999_999_999);
    custom = true;
    rest = rest.slice(asked[0].length);
  }
  const dollar = rest.indexOf('$');
  const salt = Buffer.from((dollar < 0 ? rest : rest.slice(0, dollar)).slice(0, 16), 'latin1');
  const h = () => createHash(algorithm);
  const p = password;

  const b = h().update(p).update(salt).update(p).digest();
  const ctx = h().update(p).update(salt);
  let left = p.length;
  for (; left > size; left -= size) ctx.update(b);
  ctx.update(b.subarray(0, left));
  for (let i = p.length; i > 0; i >>= 1) ctx.update((i & 1) !== 0 ? b : p);
  const a = ctx.digest();

  const dp = h();
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pBytes = repeatTo(dp.digest(), p.length);
  const ds = h();
  for (let i = 0; i < 16 + (a[0] as number); i++) ds.update(salt);
  const sBytes = repeatTo(ds.digest(), salt.length);

  let c = a;
  for (let i = 0; i < rounds; i++) {
    const round = h();
    round.update((i & 1) !== 0 ? pBytes : c);
    if (i % 3 !== 0) round.update(sBytes);
    if (i % 7 !== 0) round.update(pBytes);
    round.update((i & 1) !== 0 ? c : pBytes);
    c = round.digest();
  }

  const at = (i: number) => c[i] as number;
  let encoded = '';
  if (size === 32) {
    // (i, i+10, i+20), turned right by i % 3; then bytes 31 and 30.
    for (let i = 0; i < 10; i++) {
      const t = [i, i + 10, i + 20];
      const r = i % 3;
      const [x, y, z] = [t[(3 - r) % 3], t[(4 - r) % 3], t[(5 - r) % 3]] as number[];
      encoded += cryptBase64(at(x as number), at(y as number), at(z as number), 4);
    }
    encoded += cryptBase64(0, at(31), at(30), 3);
  } else {
    // (i, i+21, i+42), turned left by i % 3; then byte 63.
    for (let i = 0; i < 21; i++) {
      const t = [i, i + 21, i + 42];
      const r = i % 3;
      const [x, y, z] = [t[r % 3], t[(r + 1) % 3], t[(r + 2) % 3]] as number[];
      encoded += cryptBase64(at(x as number), at(y as number), at(z as number), 4);
    }
    encoded += cryptBase64(0, 0, at(63), 2);
  }
  const setting = custom ? `rounds=${rounds}$` : '';
  return `${prefix}${setting}${salt.toString('latin1')}$${encoded}`;
}

/** `digest` repeated to `length` bytes. */
function repeatTo(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += digest.length)
    digest.copy(out, i, 0, Math.min(digest.length, length - i));
  return out;
}
