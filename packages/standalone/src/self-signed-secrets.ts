/**
 * Fills the TLS Secrets that carry standalone's `pier.dev/standalone-self-signed: <host>`
 * annotation with a self-signed certificate for that host, made at start-up in memory, so the
 * shipped example needs no private key in the repository. Only the certificate (public) is
 * written to `<state-dir>/<host>.crt`, for `curl --cacert`; the key never leaves the process.
 * A Secret that already has `tls.crt` is left as written.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CertificatePair, generateDefaultCertificate } from '@pier/dataplane';
import type { SourcedObject } from './manifest-file.ts';
import { SELF_SIGNED_ANNOTATION } from './manifest-validation.ts';

interface SecretDoc {
  metadata?: { annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** Makes (once per host) and hands out the self-signed certificates; see the module comment. */
export class SelfSignedSecrets {
  readonly #stateDir: string;
  readonly #made = new Map<string, Promise<CertificatePair>>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  /** Where the certificate for `host` is written. */
  certificateFile(host: string): string {
    return join(this.#stateDir, `${host}.crt`);
  }

  /** Hosts whose certificate has been made, sorted. */
  get hosts(): string[] {
    return [...this.#made.keys()].sort();
  }

  /** The objects with every annotated Secret filled in (others unchanged). */
  async fill(objects: readonly SourcedObject[]): Promise<SourcedObject[]> {
    const out: SourcedObject[] = [];
    for (const o of objects) {
      const secret = o.object as SecretDoc;
      const host = secret.metadata?.annotations?.[SELF_SIGNED_ANNOTATION];
      const has =
        secret.data?.['tls.crt'] !== undefined || secret.stringData?.['tls.crt'] !== undefined;
      if (o.kind !== 'Secret' || host === undefined || has) {
        out.push(o);
        continue;
      }
      const pair = await this.#certificate(host);
      const data = {
        ...secret.data,
        'tls.crt': Buffer.from(pair.certPem).toString('base64'),
        'tls.key': Buffer.from(pair.keyPem).toString('base64'),
      };
      out.push({ ...o, object: { ...o.object, data } });
    }
    return out;
  }

  #certificate(host: string): Promise<CertificatePair> {
    let made = this.#made.get(host);
    if (made === undefined) {
      made = generateDefaultCertificate({ commonName: host, validDays: 30 }).then(async (pair) => {
        await mkdir(this.#stateDir, { recursive: true });
        await writeFile(this.certificateFile(host), pair.certPem, { mode: 0o644 });
        return pair;
      });
      this.#made.set(host, made);
    }
    return made;
  }
}
