/**
 * HTTP basic authentication as nginx's `auth_basic` reads it: the `Authorization` header, the
 * htpasswd lines (`user:hash`) and the hash formats Pier can check. Pure; validation of
 * `route.basicAuth` in a route table too. Names and passwords are byte strings (latin1: one
 * character a byte), as nginx compares bytes.
 */
import { fail, isObject, type Report, readObjectRef, readString } from './field-reader.ts';
import { sealedKeyProblem } from './key-sealing.ts';
import { type BasicAuth, MAX_REALM_LENGTH, type ObjectRef } from './route-table.ts';

/** The hash formats Pier checks: those nginx's `auth_basic` accepts, but DES `crypt(3)`. */
export type PasswordScheme =
  | 'bcrypt'
  | 'apr1'
  | 'md5-crypt'
  | 'sha256-crypt'
  | 'sha512-crypt'
  | 'sha1'
  | 'ssha'
  | 'plain';

/** bcrypt costs above this are refused: one check at cost 15 takes seconds. */
export const MAX_BCRYPT_COST = 14;
/** SHA-crypt `rounds=` above this are refused, for the same reason (the default is 5000). */
export const MAX_SHA_CRYPT_ROUNDS = 100_000;
/** The most bytes of `user:hash` lines a route carries (ingress-nginx has only the Secret's 1 MiB). */
export const MAX_USERS_BYTES = 256 * 1024;

const CRYPT64 = '[./0-9A-Za-z]';
const FORMATS: ReadonlyArray<readonly [PasswordScheme, RegExp]> = [
  ['bcrypt', new RegExp(`^\\$2[aby]\\$([0-9]{2})\\$${CRYPT64}{53}$`)],
  ['apr1', new RegExp(`^\\$apr1\\$[^$]{0,8}\\$${CRYPT64}{22}$`)],
  ['md5-crypt', new RegExp(`^\\$1\\$[^$]{0,8}\\$${CRYPT64}{22}$`)],
  ['sha256-crypt', new RegExp(`^\\$5\\$(?:rounds=([0-9]{1,9})\\$)?[^$]{0,16}\\$${CRYPT64}{43}$`)],
  ['sha512-crypt', new RegExp(`^\\$6\\$(?:rounds=([0-9]{1,9})\\$)?[^$]{0,16}\\$${CRYPT64}{86}$`)],
  ['sha1', /^\{SHA\}[A-Za-z0-9+/]{27}=$/],
  ['ssha', /^\{SSHA\}(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/],
  ['plain', /^\{PLAIN\}/],
];

/** The format of `hash`, or undefined when Pier cannot check it (see {@link passwordHashProblem}). */
export function passwordScheme(hash: string): PasswordScheme | undefined {
  return passwordHashProblem(hash) === undefined ? schemeOf(hash)?.[0] : undefined;
}

/** Why Pier cannot check `hash`, or undefined when it can. */
export function passwordHashProblem(hash: string): string | undefined {
  const found = schemeOf(hash);
  if (found === undefined) {
    return /^[./0-9A-Za-z]{13}$/.test(hash)
      ? 'is a DES crypt(3) hash, which Pier does not check; use bcrypt (htpasswd -B)'
      : 'is not a bcrypt, apr1, MD5-crypt, SHA-crypt, {SHA}, {SSHA} or {PLAIN} hash';
  }
  const [scheme, match] = found;
  if (scheme === 'bcrypt' && Number(match[1]) > MAX_BCRYPT_COST) {
    return `has bcrypt cost ${match[1]}, above the ${MAX_BCRYPT_COST} Pier checks`;
  }
  if (scheme === 'bcrypt' && Number(match[1]) < 4) return 'has a bcrypt cost below 4';
  if ((scheme === 'sha256-crypt' || scheme === 'sha512-crypt') && match[1] !== undefined) {
    if (Number(match[1]) > MAX_SHA_CRYPT_ROUNDS) {
      return `has ${match[1]} SHA-crypt rounds, above the ${MAX_SHA_CRYPT_ROUNDS} Pier checks`;
    }
  }
  if (scheme === 'ssha' && Buffer.from(hash.slice(6), 'base64').length <= 20) {
    return 'is an {SSHA} hash without salt';
  }
  return undefined;
}

function schemeOf(hash: string): readonly [PasswordScheme, RegExpExecArray] | undefined {
  for (const [scheme, pattern] of FORMATS) {
    const match = pattern.exec(hash);
    if (match !== null) return [scheme, match];
  }
  return undefined;
}

/** One line of an htpasswd file that names a user. */
export interface HtpasswdEntry {
  user: string;
  hash: string;
  /** 1-based line number, for messages. */
  line: number;
}

/**
 * The users of htpasswd text, as nginx reads `auth_basic_user_file`: lines split at LF; empty
 * lines, lines starting with `#` or CR, and lines without `:` or without a user name are
 * skipped; the hash ends at the next `:`, CR or LF; a user named twice keeps its first line
 * (nginx stops at the first line whose name matches).
 */
export function parseHtpasswd(text: string): HtpasswdEntry[] {
  const out: HtpasswdEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '' || line[0] === '#' || line[0] === '\r') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const user = line.slice(0, colon);
    if (seen.has(user)) continue;
    seen.add(user);
    const rest = line.slice(colon + 1);
    const end = rest.search(/[:\r]/);
    out.push({ user, hash: end < 0 ? rest : rest.slice(0, end), line: i + 1 });
  }
  return out;
}

/** Credentials from a `Basic` Authorization header: the user, and the password's bytes. */
export interface BasicCredentials {
  user: string;
  password: Buffer;
}

const BASE64_CHAR = /^[A-Za-z0-9+/]*$/;

/**
 * Reads `Authorization: Basic <base64>` as nginx does: the scheme case-insensitively, spaces
 * after it skipped, base64 up to the first `=` (strict alphabet), the user before the first `:`
 * of what it decodes to. Undefined (answered 401) for anything else, and for an empty user.
 */
export function basicCredentials(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined || header.length < 6) return undefined;
  if (header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  let start = 6;
  while (header.charCodeAt(start) === 32) start++;
  const pad = header.indexOf('=', start);
  const encoded = header.slice(start, pad < 0 ? header.length : pad);
  if (encoded === '' || encoded.length % 4 === 1 || !BASE64_CHAR.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon <= 0) return undefined;
  return { user: decoded.toString('latin1', 0, colon), password: decoded.subarray(colon + 1) };
}

/** The associated data users are sealed with: bound to their Secret. */
export function basicAuthAad(secret: ObjectRef): string {
  return `basic-auth:${secret.namespace}/${secret.name}`;
}

/** Why `realm` cannot be sent in `WWW-Authenticate`, or undefined. */
export function realmProblem(realm: string): string | undefined {
  if (realm.length > MAX_REALM_LENGTH) return `must be at most ${MAX_REALM_LENGTH} characters`;
  return /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(realm)
    ? undefined
    : 'must be visible ASCII or spaces, without " or \\';
}

/**
 * Checks `route.basicAuth`. A bad one is reported and read as a route without users (every
 * request 503): authentication that cannot be read must not be dropped, or the route would be
 * served to everyone.
 */
export function checkBasicAuth(raw: unknown, at: string, report: Report): BasicAuth {
  const closed: BasicAuth = { realm: '' };
  if (!isObject(raw)) {
    fail(report, at.slice(0, -1), 'must be an object; every request is refused');
    return closed;
  }
  const before = report.count();
  const realm = readString(raw, 'realm', at, report, realmProblem);
  let secret: ObjectRef | undefined;
  if (raw.users !== undefined) {
    secret = readObjectRef(raw.secret, `${at}secret.`, report);
    const sealed = sealedKeyProblem(raw.users);
    if (sealed !== undefined) {
      report(sealed.field ? `${at}users.${sealed.field}` : `${at}users`, sealed.message);
    }
  }
  if (report.count() !== before) return realm === undefined ? closed : { realm };
  const auth: BasicAuth = { realm: realm as string };
  if (secret !== undefined) {
    const { alg, keyId, iv, tag, ciphertext } = raw.users as NonNullable<BasicAuth['users']>;
    auth.secret = secret;
    auth.users = { alg, keyId, iv, tag, ciphertext };
  }
  return auth;
}
