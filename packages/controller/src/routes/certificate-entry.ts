/**
 * One certificate of the route table: a checked TLS Secret with its private key sealed. Pure
 * apart from what `sealKey` does. A key that cannot be sealed leaves the certificate out (its
 * hosts fall back to the default certificate) and is reported on its Secret, rather than
 * failing the whole table.
 */
import type { Certificate, SealedKey } from '@pier/shared';
import type { CompileProblem } from './compile-problems.ts';
import type { CheckedCertificate } from './tls-resolver.ts';

/** Event reason on a Secret whose key could not be sealed; its hosts lose TLS. */
export const REASON_KEY_SEAL_FAILED = 'KeySealFailed';

/** Seals the key of `checked` into its table entry, or says why it cannot be. */
export function certificateEntry(
  checked: CheckedCertificate,
  sealKey: (certificateId: string, keyPem: string) => SealedKey,
): { ok: true; certificate: Certificate } | { ok: false; problem: CompileProblem } {
  let key: SealedKey;
  try {
    key = sealKey(checked.id, checked.keyPem);
  } catch (err) {
    return {
      ok: false,
      problem: {
        object: { kind: 'Secret', ...checked.secret },
        type: 'Warning',
        reason: REASON_KEY_SEAL_FAILED,
        message: `the private key could not be sealed (${err instanceof Error ? err.message : String(err)}); the default certificate is served instead`,
      },
    };
  }
  return {
    ok: true,
    certificate: {
      id: checked.id,
      secret: { ...checked.secret },
      certificatePem: checked.certificatePem,
      key,
      notAfter: checked.notAfter,
    },
  };
}
