/**
 * Seals TLS private keys for the route table, remembering what it sealed.
 *
 * Sealing draws a fresh nonce, so sealing the same key twice gives different
 * bytes; without memory every compile would look like a change and be
 * republished. A sealed key is reused while the certificate id, the key
 * itself and the key ring's current key are unchanged.
 */
import { createHash } from 'node:crypto';
import type { KeyRing, SealedKey } from '@pier/shared';

export class KeySealer {
  readonly #ring: KeyRing;
  #memo = new Map<string, SealedKey>();
  #used = new Set<string>();

  constructor(ring: KeyRing) {
    this.#ring = ring;
  }

  /** Seals `keyPem` for certificate `certificateId` (the AAD), reusing an earlier sealing. */
  seal(certificateId: string, keyPem: string): SealedKey {
    const digest = createHash('sha256').update(keyPem).digest('hex');
    const memoKey = `${this.#ring.currentKeyId}\u0000${certificateId}\u0000${digest}`;
    this.#used.add(memoKey);
    let sealed = this.#memo.get(memoKey);
    if (sealed === undefined) {
      sealed = this.#ring.seal(keyPem, certificateId);
      this.#memo.set(memoKey, sealed);
    }
    return sealed;
  }

  /** Forgets sealings not used since the last sweep (call after each compile). */
  sweep(): void {
    for (const key of this.#memo.keys()) if (!this.#used.has(key)) this.#memo.delete(key);
    this.#used = new Set();
  }
}
