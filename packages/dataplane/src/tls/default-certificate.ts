/**
 * The certificate the dataplane presents when no route-table certificate fits: clients without
 * SNI, unknown server names, and hosts whose certificate could not be loaded. Either a
 * configured PEM pair ({@link loadCertificateFiles}) or a self-signed one made at start-up
 * ({@link generateDefaultCertificate}), like an ingress controller's "fake" certificate.
 */
import { createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type * as X509 from '@peculiar/x509';
import { InvalidConfigError, validateIngressHost } from '@pier/shared';

/** A certificate chain (leaf first) and its private key, both PEM. */
export interface CertificatePair {
  /** PEM certificate chain, leaf first. */
  certPem: string;
  /** PEM private key (PKCS#8 when generated here). Never log it. */
  keyPem: string;
}

/** Options of {@link generateDefaultCertificate}. */
export interface DefaultCertificateOptions {
  /** Subject CN and the only DNS SAN; default `pier-default`. */
  commonName?: string;
  /** Validity from now, in whole days (1-3650); default 365. */
  validDays?: number;
}

/** The common name of the generated default certificate unless configured otherwise. */
export const DEFAULT_COMMON_NAME = 'pier-default';
const DEFAULT_VALID_DAYS = 365;
const MAX_VALID_DAYS = 3650;
const DAY_MS = 86_400_000;
/** Backdating absorbs small clock differences between the edge node and its clients. */
const BACKDATE_MS = 5 * 60_000;
const SERIAL_BYTES = 16;
const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/**
 * Makes a self-signed ECDSA P-256 certificate for `commonName`: subject CN and a DNS SAN of that
 * name, serverAuth extended key usage, a random 128-bit serial, valid from five minutes ago for
 * `validDays` days. Clients cannot verify it; it exists so that a TLS handshake for an unknown
 * name completes and the client gets a certificate error instead of a reset connection.
 *
 * @throws InvalidConfigError when the common name is not a DNS name or the validity is out of
 *   range.
 */
export async function generateDefaultCertificate(
  options: DefaultCertificateOptions = {},
): Promise<CertificatePair> {
  const commonName = options.commonName ?? DEFAULT_COMMON_NAME;
  const validDays = options.validDays ?? DEFAULT_VALID_DAYS;
  assertDefaultCertificateOptions(commonName, validDays);
  const x509 = await loadX509();
  const keys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validDays * DAY_MS),
    signingAlgorithm: ECDSA_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: commonName }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' });
  // @peculiar/x509 ends the PEM without a newline; files and concatenated chains need one.
  return { certPem: `${certificate.toString('pem').trimEnd()}\n`, keyPem: String(keyPem) };
}

/**
 * Checks the options of {@link generateDefaultCertificate} without generating anything.
 *
 * @throws InvalidConfigError naming the bad option.
 */
export function assertDefaultCertificateOptions(commonName: string, validDays: number): void {
  const nameProblem =
    typeof commonName !== 'string' || commonName === ''
      ? 'must not be empty'
      : commonName.startsWith('*.')
        ? 'must not be a wildcard'
        : validateIngressHost(commonName);
  if (nameProblem !== undefined) {
    throw new InvalidConfigError(
      `default certificate: common name '${String(commonName)}' ${nameProblem}`,
      { details: { commonName: String(commonName) } },
    );
  }
  if (!Number.isInteger(validDays) || validDays < 1 || validDays > MAX_VALID_DAYS) {
    throw new InvalidConfigError(
      `default certificate: validity of ${String(validDays)} days is not a whole number from 1 to ${MAX_VALID_DAYS}`,
      { details: { validDays: String(validDays) } },
    );
  }
}

/**
 * Reads a configured default certificate: a PEM chain (leaf first) and its PEM private key. Both
 * may name the same combined file; only the CERTIFICATE blocks of the chain are ever served.
 *
 * @throws InvalidConfigError naming the file when a file cannot be read, holds no usable PEM, or
 *   the key does not belong to the leaf certificate. Messages never contain key material.
 */
export async function loadCertificateFiles(
  certFile: string,
  keyFile: string,
): Promise<CertificatePair> {
  const certPem = await readConfigFile(certFile, 'certificate');
  const keyPem = await readConfigFile(keyFile, 'private key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (cause) {
    throw new InvalidConfigError(`default certificate file ${certFile}: not a PEM certificate`, {
      cause,
      details: { file: certFile },
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (cause) {
    // The cause is OpenSSL's decoder error, which never quotes the input.
    throw new InvalidConfigError(`default certificate key file ${keyFile}: not a PEM private key`, {
      cause,
      details: { file: keyFile },
    });
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new InvalidConfigError(
      `default certificate key file ${keyFile}: the key does not match the certificate in ${certFile}`,
      { details: { file: keyFile, certificateFile: certFile } },
    );
  }
  return { certPem, keyPem };
}

async function readConfigFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new InvalidConfigError(`default ${what} file ${file}: cannot be read (${reason})`, {
      cause,
      details: { file },
    });
  }
}

/** 16 random bytes as hex, first byte 0x01-0x7f: a positive, minimally encoded DER integer. */
function randomSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

let x509Module: Promise<typeof X509> | undefined;

/**
 * Loads @peculiar/x509 on first use (only this start-up path needs it) and points it at Node's
 * WebCrypto, as its documentation asks.
 */
function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    // @peculiar/x509 depends on tsyringe, which needs the Reflect metadata API loaded first.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto);
    return x509;
  })();
  return x509Module;
}
