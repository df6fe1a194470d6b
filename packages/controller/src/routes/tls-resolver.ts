/**
 * Checks the `kubernetes.io/tls` Secrets Ingresses name in `spec.tls[].secretName`. Pure apart
 * from parsing with `node:crypto`: no client, no clock (an expired certificate is still
 * served; warning about expiry is a job for the maintenance schedule, not the compiler).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { ObjectRef } from '@pier/shared';

/** The Secret type TLS certificates must have. */
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** A usable certificate, its private key still in plaintext: the caller seals it. */
export interface CheckedCertificate {
  ok: true;
  /** {@link certificateId} of the Secret; the key in the route table and the sealing AAD. */
  id: string;
  secret: ObjectRef;
  /** The CERTIFICATE blocks of `tls.crt`, verbatim and in order; nothing else. */
  certificatePem: string;
  /** `tls.key` as stored in the Secret. */
  keyPem: string;
  /** Expiry of the leaf (first) certificate, ISO 8601. */
  notAfter: string;
}

/** Why a Secret gives no certificate; the hosts naming it fall back to the default one. */
export interface RejectedCertificate {
  ok: false;
  reason: 'TLSSecretNotFound' | 'TLSSecretInvalid';
  message: string;
}

export type CertificateCheck = CheckedCertificate | RejectedCertificate;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/** The id of the certificate from Secret `namespace/name`: `namespace/name`. */
export function certificateId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** TLS Secrets by namespace/name; each is checked at most once per compile. */
export class TlsResolver {
  readonly #secrets = new Map<string, V1Secret>();
  readonly #checked = new Map<string, CertificateCheck>();

  constructor(secrets: readonly V1Secret[]) {
    for (const secret of secrets) {
      const { namespace, name } = secret.metadata ?? {};
      if (namespace && name) this.#secrets.set(certificateId(namespace, name), secret);
    }
  }

  /**
   * Checks Secret `namespace/name`: it must exist, have type `kubernetes.io/tls`, hold a
   * parsable PEM chain in `tls.crt` and, in `tls.key`, the private key of the chain's first
   * (leaf) certificate.
   */
  check(namespace: string, name: string): CertificateCheck {
    const id = certificateId(namespace, name);
    let result = this.#checked.get(id);
    if (result === undefined) {
      result = checkTlsSecret(namespace, name, this.#secrets.get(id));
      this.#checked.set(id, result);
    }
    return result;
  }
}

/** Checks `secret`, the Secret named `namespace/name` (undefined: it does not exist), as {@link TlsResolver.check}. */
export function checkTlsSecret(
  namespace: string,
  name: string,
  secret: V1Secret | undefined,
): CertificateCheck {
  const id = certificateId(namespace, name);
  const ref: ObjectRef = { namespace, name };
  const invalid = (why: string): RejectedCertificate => ({
    ok: false,
    reason: 'TLSSecretInvalid',
    message: `Secret ${id} ${why}; the default certificate is served instead`,
  });
  if (secret === undefined) {
    return {
      ok: false,
      reason: 'TLSSecretNotFound',
      message: `Secret ${id} not found; the default certificate is served instead`,
    };
  }
  if (secret.type !== TLS_SECRET_TYPE) {
    return invalid(`has type '${secret.type ?? 'Opaque'}', not '${TLS_SECRET_TYPE}'`);
  }
  const certText = secretText(secret, 'tls.crt');
  const keyPem = secretText(secret, 'tls.key');
  if (certText === undefined) return invalid('has no tls.crt');
  if (keyPem === undefined) return invalid('has no tls.key');

  const blocks = certText.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return invalid('has no PEM certificate in tls.crt');
  let leaf: X509Certificate | undefined;
  for (const [i, block] of blocks.entries()) {
    try {
      const parsed = new X509Certificate(block);
      leaf ??= parsed;
    } catch {
      return invalid(`has an unparsable certificate in tls.crt (block ${i + 1})`);
    }
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    // The error text is not included: it could quote parts of the key.
    return invalid('has no usable unencrypted PEM private key in tls.key');
  }
  let matches = false;
  try {
    matches = (leaf as X509Certificate).checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) return invalid('has a tls.key that does not match the certificate in tls.crt');
  return {
    ok: true,
    id,
    secret: ref,
    certificatePem: `${blocks.join('\n')}\n`,
    keyPem,
    notAfter: (leaf as X509Certificate).validToDate.toISOString(),
  };
}

/** A Secret entry as text: `stringData` (plain, as written in manifests) over `data` (base64). */
function secretText(secret: V1Secret, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (typeof plain === 'string' && plain !== '') return plain;
  const encoded = secret.data?.[key];
  if (typeof encoded !== 'string' || encoded === '') return undefined;
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  return text === '' ? undefined : text;
}
