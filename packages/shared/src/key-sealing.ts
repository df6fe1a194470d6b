/**
 * Sealing of TLS private keys, so that no plaintext private key ever reaches Redis (design
 * invariant 4). The controller seals with the current key of a key ring mounted from a Secret;
 * every dataplane opens with the same ring. Rotation: add a new key as the first line (the
 * current one), keep the old ones until every published certificate was re-sealed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InvalidConfigError, KeyOpenError, KeySealError } from './errors.ts';

/** An AES-256-GCM encrypted private key as stored in a route table. All binary fields base64. */
export interface SealedKey {
  /** Always AES-256-GCM; present so a future algorithm can be told apart. */
  alg: 'AES-256-GCM';
  /** Id of the key-ring key that sealed it. */
  keyId: string;
  /** 12-byte random nonce, base64. */
  iv: string;
  /** 16-byte GCM authentication tag, base64. */
  tag: string;
  /** The encrypted PEM, base64. */
  ciphertext: string;
}

/** What a {@link KeyRing} is built from. */
export interface KeyRingSpec {
  /** Id of the key new seals use; must be in `keys`. */
  current: string;
  /** Every key that may still open sealed keys, by id; each exactly 32 bytes. */
  keys: Readonly<Record<string, Uint8Array>>;
}

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Key ids appear in `keyId=base64` lines and in logs, so they stay plain. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The set of AES-256 keys that seal and open TLS private keys. Holds copies of the key bytes;
 * never logs or exposes them.
 */
export class KeyRing {
  /** Id of the key {@link KeyRing.seal} uses. */
  readonly currentKeyId: string;
  readonly #keys: Map<string, Buffer>;

  /** @throws InvalidConfigError naming the offending key id when the spec is unusable. */
  constructor(spec: KeyRingSpec) {
    if (typeof spec !== 'object' || spec === null) {
      throw new InvalidConfigError('key ring: spec must be an object');
    }
    const { current, keys } = spec;
    if (typeof keys !== 'object' || keys === null) {
      throw new InvalidConfigError('key ring: keys must be an object of keyId → 32-byte key');
    }
    this.#keys = new Map();
    for (const [keyId, key] of Object.entries(keys)) {
      assertKeyId(keyId);
      if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
        const size = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
        throw new InvalidConfigError(
          `key ring: key '${keyId}' is ${size}; AES-256-GCM needs exactly ${KEY_BYTES} bytes`,
          { details: { keyId } },
        );
      }
      this.#keys.set(keyId, Buffer.from(key));
    }
    if (this.#keys.size === 0) throw new InvalidConfigError('key ring: no keys');
    if (typeof current !== 'string' || !this.#keys.has(current)) {
      const ids = [...this.#keys.keys()].join(', ');
      throw new InvalidConfigError(
        `key ring: current key id '${String(current)}' is not one of the keys (${ids})`,
        { details: { current: String(current) } },
      );
    }
    this.currentKeyId = current;
  }

  /** Parses a key-ring file ({@link parseKeyRingSpec}) and builds the ring. */
  static fromSpecText(text: string): KeyRing {
    return new KeyRing(parseKeyRingSpec(text));
  }

  /** Ids of all keys, current first. */
  get keyIds(): string[] {
    const others = [...this.#keys.keys()].filter((id) => id !== this.currentKeyId);
    return [this.currentKeyId, ...others];
  }

  /**
   * Encrypts a PEM private key with the current key.
   *
   * @param aad the id of the certificate the key belongs to. It is authenticated, not stored:
   *   a sealed key copied onto another certificate fails to open.
   * @throws KeySealError when `aad` is empty or encryption fails.
   */
  seal(plaintextPem: string, aad: string): SealedKey {
    if (typeof aad !== 'string' || aad === '') {
      throw new KeySealError('cannot seal a key without associated data (the certificate id)');
    }
    const key = this.#keys.get(this.currentKeyId) as Buffer;
    try {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(aad, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintextPem, 'utf8'), cipher.final()]);
      return {
        alg: 'AES-256-GCM',
        keyId: this.currentKeyId,
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        ciphertext: ciphertext.toString('base64'),
      };
    } catch (cause) {
      throw new KeySealError(`sealing with key '${this.currentKeyId}' failed`, {
        cause,
        details: { keyId: this.currentKeyId, certificate: aad },
      });
    }
  }

  /**
   * Decrypts a sealed key. Any key of the ring opens what it sealed, so rotation does not break
   * certificates published before it.
   *
   * @param aad the certificate id the key was sealed for.
   * @throws KeyOpenError on an unknown key id, malformed fields, a wrong `aad` or tampering.
   */
  open(sealed: SealedKey, aad: string): string {
    const details = { keyId: sealed.keyId, certificate: aad };
    if (sealed.alg !== 'AES-256-GCM') {
      throw new KeyOpenError(`unsupported sealing algorithm '${String(sealed.alg)}'`, { details });
    }
    const key = this.#keys.get(sealed.keyId);
    if (key === undefined) {
      throw new KeyOpenError(
        `unknown key id '${sealed.keyId}' (the key ring has ${this.keyIds.join(', ')})`,
        { details },
      );
    }
    const iv = decodeBase64(sealed.iv);
    const tag = decodeBase64(sealed.tag);
    const ciphertext = decodeBase64(sealed.ciphertext);
    // An exact tag length matters: GCM would otherwise accept a truncated, easier-to-forge tag.
    if (iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
      throw new KeyOpenError('malformed sealed key (iv, tag or ciphertext)', { details });
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw new KeyOpenError(
        `sealed key failed authentication with key '${sealed.keyId}' (tampered, or sealed for another certificate)`,
        { cause, details },
      );
    }
  }
}

/**
 * Checks that a value has the shape of a {@link SealedKey} (algorithm, key id, a 12-byte iv, a
 * 16-byte tag, non-empty ciphertext), without any key. Used when validating route tables, so a
 * corrupt certificate is dropped on read rather than failing at the first TLS handshake.
 *
 * @returns the first problem as `{ field, message }`, or undefined when the shape is right.
 */
export function sealedKeyProblem(value: unknown): { field: string; message: string } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { field: '', message: 'must be a sealed key object' };
  }
  const sealed = value as Record<string, unknown>;
  if (sealed.alg !== 'AES-256-GCM') return { field: 'alg', message: "must be 'AES-256-GCM'" };
  if (typeof sealed.keyId !== 'string' || !KEY_ID.test(sealed.keyId)) {
    return { field: 'keyId', message: 'must be a key id (1-64 of A-Z a-z 0-9 . _ -)' };
  }
  const sizes: Array<[string, number | undefined]> = [
    ['iv', IV_BYTES],
    ['tag', TAG_BYTES],
    ['ciphertext', undefined],
  ];
  for (const [field, size] of sizes) {
    const raw = sealed[field];
    const bytes = typeof raw === 'string' ? decodeBase64(raw) : undefined;
    if (bytes === undefined) return { field, message: 'must be a base64 string' };
    if (size === undefined ? bytes.length === 0 : bytes.length !== size) {
      return { field, message: size === undefined ? 'must not be empty' : `must be ${size} bytes` };
    }
  }
  return undefined;
}

function assertKeyId(keyId: string): void {
  if (!KEY_ID.test(keyId)) {
    throw new InvalidConfigError(
      `key ring: key id '${keyId}' must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'`,
      { details: { keyId } },
    );
  }
}

/** Strict base64: Buffer.from silently skips junk, which would hide corruption. */
function decodeBase64(text: string): Buffer | undefined {
  return typeof text === 'string' && BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/**
 * Parses the key-ring file mounted from a Secret: one `keyId=base64key` per line, the first key
 * line being the current key. Blank lines and lines starting with `#` are ignored. Error
 * messages name the line and key id, never the key material.
 *
 * @throws InvalidConfigError on a malformed line, a duplicate id, a key that is not 32 bytes,
 *   or a file with no key.
 */
export function parseKeyRingSpec(text: string): KeyRingSpec {
  const keys: Record<string, Uint8Array> = {};
  let current: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `key ring line ${i + 1}`;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`${where}: expected keyId=base64key`);
    const keyId = line.slice(0, eq).trim();
    const encoded = line.slice(eq + 1).trim();
    assertKeyId(keyId);
    if (Object.hasOwn(keys, keyId)) {
      throw new InvalidConfigError(`${where}: duplicate key id '${keyId}'`, {
        details: { keyId },
      });
    }
    const key = decodeBase64(encoded);
    if (key === undefined) {
      throw new InvalidConfigError(`${where}: key '${keyId}' is not valid base64`, {
        details: { keyId },
      });
    }
    if (key.length !== KEY_BYTES) {
      throw new InvalidConfigError(
        `${where}: key '${keyId}' is ${key.length} bytes; AES-256-GCM needs exactly ${KEY_BYTES}`,
        { details: { keyId } },
      );
    }
    Object.defineProperty(keys, keyId, { value: key, enumerable: true });
    current ??= keyId;
  }
  if (current === undefined) throw new InvalidConfigError('key ring: no keys in the file');
  return { current, keys };
}
