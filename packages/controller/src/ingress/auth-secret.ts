/**
 * The users of an Ingress's basic authentication, read from the Secret its `auth-secret` names
 * and sealed for the route table. Pure apart from what `seal` does.
 *
 * As ingress-nginx: the Secret is in the Ingress's namespace (another one is refused, as
 * ingress-nginx refuses it unless `allow-cross-namespace-resources` is set); `auth-file` reads
 * the htpasswd file in key `auth`, `auth-map` takes each key as a user and its value as the
 * hash. A missing Secret or key fails closed (every request 503) with an Event naming the
 * Ingress's annotation and the Secret; users whose hash Pier cannot check are named too, and
 * cannot sign in.
 */
import type { V1Secret } from '@kubernetes/client-node';
import {
  type BasicAuth,
  basicAuthAad,
  MAX_USERS_BYTES,
  type ObjectRef,
  parseHtpasswd,
  passwordHashProblem,
  type SealedKey,
} from '@pier/shared';
import { REASON_KEY_SEAL_FAILED } from '../routes/certificate-entry.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import type { NginxAuthRequest } from './nginx-auth.ts';

/** Event reasons on the Ingress. Stable: documented for users. */
export const REASON_AUTH_SECRET_NOT_FOUND = 'AuthSecretNotFound';
export const REASON_AUTH_SECRET_INVALID = 'AuthSecretInvalid';
/** A bad annotation value (as ingress-plan's REASON_INVALID_ANNOTATION). */
const REASON_INVALID_ANNOTATION = 'InvalidAnnotation';

/** What reading the users needs: the Secrets, and the sealing of what is published. */
export interface AuthSecretLookup {
  /** The Secret `namespace/name`, as cached (auth Secrets are `Opaque`). */
  secret(namespace: string, name: string): V1Secret | undefined;
  /** Seals `text` with the key ring for `aad`; memoised by the caller. */
  seal(aad: string, text: string): SealedKey;
}

/** The route field, and the Secret it was read from (for the compiler's dependencies). */
export interface ResolvedBasicAuth {
  auth: BasicAuth;
  /** `namespace/name` of the Secret read, when one was looked up. */
  secretKey?: string;
}

const ANNOTATION = `${NGINX_ANNOTATION_PREFIX}auth-secret`;
const CLOSED = "every request to the Ingress's paths is answered 503 until it is fixed";
/** Users named at most in one Event. */
const NAMED_USERS = 5;

/** Reads and seals the users `request` names for an Ingress in `namespace`. */
export function resolveBasicAuth(
  request: NginxAuthRequest,
  namespace: string,
  lookup: AuthSecretLookup | undefined,
  report: (reason: string, message: string) => void,
): ResolvedBasicAuth {
  const closed = { auth: { realm: request.realm } };
  if (request.secret === undefined) return closed;
  const secretNamespace = request.secret.namespace ?? namespace;
  const ref: ObjectRef = { namespace: secretNamespace, name: request.secret.name };
  const key = `${ref.namespace}/${ref.name}`;
  if (secretNamespace !== namespace) {
    report(
      REASON_INVALID_ANNOTATION,
      `${ANNOTATION}: Secret ${key} is in another namespace; ingress-nginx allows that only with allow-cross-namespace-resources, Pier never does; ${CLOSED}`,
    );
    return closed;
  }
  const secret = lookup?.secret(ref.namespace, ref.name);
  const invalid = (why: string): ResolvedBasicAuth => {
    report(REASON_AUTH_SECRET_INVALID, `${ANNOTATION}: Secret ${key} ${why}; ${CLOSED}`);
    return { ...closed, secretKey: key };
  };
  if (secret === undefined) {
    report(
      REASON_AUTH_SECRET_NOT_FOUND,
      `${ANNOTATION}: Secret ${key} not found (Pier reads users from Opaque Secrets); ${CLOSED}`,
    );
    return { ...closed, secretKey: key };
  }
  if ((secret.type ?? 'Opaque') !== 'Opaque') {
    return invalid(`is of type ${secret.type}, not Opaque`);
  }
  const data = secret.data ?? {};
  let text: string;
  if (request.secretType === 'auth-file') {
    if (data.auth === undefined) {
      return invalid("has no key 'auth' (auth-secret-type auth-file reads an htpasswd file there)");
    }
    text = decode(data.auth);
  } else {
    // As ingress-nginx writes the map out: a `key:value` line per key (in key order here).
    text = Object.keys(data)
      .sort()
      .map((user) => `${user}:${decode(data[user] as string)}\n`)
      .join('');
  }
  if (text.length > MAX_USERS_BYTES) {
    return invalid(
      `holds ${text.length} bytes of users, more than the ${MAX_USERS_BYTES} Pier serves`,
    );
  }

  const lines: string[] = [];
  const refused: string[] = [];
  for (const entry of parseHtpasswd(text)) {
    const problem = passwordHashProblem(entry.hash);
    if (problem === undefined) lines.push(`${entry.user}:${entry.hash}\n`);
    else refused.push(`${entry.user}: its hash ${problem}`);
  }
  if (refused.length > 0) {
    const more = refused.length > NAMED_USERS ? ` (and ${refused.length - NAMED_USERS} more)` : '';
    report(
      REASON_AUTH_SECRET_INVALID,
      `${ANNOTATION}: Secret ${key}: ${refused.length} user(s) cannot sign in: ${refused.slice(0, NAMED_USERS).join('; ')}${more}`,
    );
  } else if (lines.length === 0) {
    report(
      REASON_AUTH_SECRET_INVALID,
      `${ANNOTATION}: Secret ${key} holds no user; every request is answered 401`,
    );
  }
  let users: SealedKey;
  try {
    users = (lookup as AuthSecretLookup).seal(basicAuthAad(ref), lines.join(''));
  } catch (err) {
    report(
      REASON_KEY_SEAL_FAILED,
      `${ANNOTATION}: the users of Secret ${key} could not be sealed (${err instanceof Error ? err.message : String(err)}); ${CLOSED}`,
    );
    return { ...closed, secretKey: key };
  }
  return { auth: { realm: request.realm, secret: ref, users }, secretKey: key };
}

/** A Secret value's bytes as a byte string (names and hashes are compared as bytes). */
function decode(base64: string): string {
  return Buffer.from(base64, 'base64').toString('latin1');
}
