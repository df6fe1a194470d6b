/**
 * The Secrets an installation needs, generated in the cluster on first install
 * (the `pier-install-secrets` Job of deploy/install/): the Redis password and
 * the key ring that seals TLS private keys. Random values cannot come from
 * kustomize, and should not sit in git.
 *
 * Each Secret is created only if absent: an existing one is never read,
 * replaced or checked, so re-applying deploy/ keeps passwords and keys. "Already
 * exists" (409) is how absence is tested, which needs only the `create` verb.
 */
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';

/** Secret with the Redis AUTH password (key {@link REDIS_PASSWORD_KEY}). */
export const REDIS_SECRET_NAME = 'pier-redis';
export const REDIS_PASSWORD_KEY = 'password';
/** Secret with the key ring (key {@link KEY_RING_KEY}), mounted as /etc/pier/key-ring/keys. */
export const KEY_RING_SECRET_NAME = 'pier-key-ring';
export const KEY_RING_KEY = 'keys';

/** What one run did to one Secret. */
export interface SecretOutcome {
  readonly name: string;
  readonly created: boolean;
}

/** A fresh Redis password: 32 random bytes, base64url (no characters a URL or shell would mangle). */
export function generateRedisPassword(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * A fresh key ring in the format of docs/routing.md: one `keyId=base64` line
 * of 32 random bytes. The id carries the date, so that a later rotation can add
 * a key with another id.
 */
export function generateKeyRing(now: Date = new Date()): string {
  const id = `k${now.toISOString().slice(0, 10).replaceAll('-', '')}`;
  return [
    '# keyId=base64 of 32 random bytes; the first key seals, all keys open (docs/routing.md)',
    `${id}=${randomBytes(32).toString('base64')}`,
    '',
  ].join('\n');
}

function secret(namespace: string, name: string, key: string, value: string): V1Secret {
  return {
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/part-of': 'pier',
        'app.kubernetes.io/managed-by': 'pier-install-secrets',
      },
    },
    type: 'Opaque',
    stringData: { [key]: value },
  };
}

/** Creates `body` unless a Secret of that name exists; other errors propagate. */
async function createIfAbsent(core: CoreV1Api, body: V1Secret): Promise<SecretOutcome> {
  const name = body.metadata?.name ?? '';
  const namespace = body.metadata?.namespace ?? '';
  try {
    await core.createNamespacedSecret({ namespace, body });
    return { name, created: true };
  } catch (err) {
    if ((err as { code?: number }).code === 409) return { name, created: false };
    throw err;
  }
}

/**
 * Makes sure `pier-redis` and `pier-key-ring` exist in `namespace`, creating
 * whichever is missing with fresh random values.
 */
export async function ensureInstallSecrets(
  core: CoreV1Api,
  namespace: string,
): Promise<SecretOutcome[]> {
  return [
    await createIfAbsent(
      core,
      secret(namespace, REDIS_SECRET_NAME, REDIS_PASSWORD_KEY, generateRedisPassword()),
    ),
    await createIfAbsent(
      core,
      secret(namespace, KEY_RING_SECRET_NAME, KEY_RING_KEY, generateKeyRing()),
    ),
  ];
}
