/**
 * MD5-crypt (`$1$`, Poul-Henning Kamp's FreeBSD algorithm) and Apache's variant of it (`$apr1$`,
 * which differs only in the magic string), as `htpasswd -m` and `openssl passwd -1 / -apr1` make
 * them. Pure, with node:crypto's MD5. About a thousand MD5 rounds a check.
 */
import { createHash } from 'node:crypto';
import { cryptBase64 } from './crypt-base64.ts';

/** The two magic strings. */
export type Md5CryptMagic = '$1$' | '$apr1$';

const md5 = () => createHash('md5');

/**
 * The hash of `password` with `salt` (at most 8 characters, up to a `$`; latin1 bytes), in the
 * form `<magic><salt>$<22 characters>`.
 */
export function md5Crypt(password: Buffer, salt: string, magic: Md5CryptMagic): string {
  const dollar = salt.indexOf('$');
  const s = Buffer.from((dollar < 0 ? salt : salt.slice(0, dollar)).slice(0, 8), 'latin1');
  const ctx = md5().update(password).update(magic).update(s);
  const alternate = md5().update(password).update(s).update(password).digest();
  for (let left = password.length; left > 0; left -= 16) {
    ctx.update(alternate.subarray(0, Math.min(left, 16)));
  }
  // As the original: a zero byte for a set bit, the password's first byte for a clear one.
  for (let i = password.length; i > 0; i >>= 1) {
    ctx.update((i & 1) !== 0 ? Buffer.alloc(1) : password.subarray(0, 1));
  }
  let final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const round = md5();
    round.update((i & 1) !== 0 ? password : final);
    if (i % 3 !== 0) round.update(s);
    if (i % 7 !== 0) round.update(password);
    round.update((i & 1) !== 0 ? final : password);
    final = round.digest();
  }
  const f = final;
  const encoded =
    cryptBase64(f[0] as number, f[6] as number, f[12] as number, 4) +
    cryptBase64(f[1] as number, f[7] as number, f[13] as number, 4) +
    cryptBase64(f[2] as number, f[8] as number, f[14] as number, 4) +
    cryptBase64(f[3] as number, f[9] as number, f[15] as number, 4) +
    cryptBase64(f[4] as number, f[10] as number, f[5] as number, 4) +
    cryptBase64(0, 0, f[11] as number, 2);
  return `${magic}${s.toString('latin1')}$${encoded}`;
}
