/**
 * ingress-nginx's basic authentication annotations (`auth-type`, `auth-secret`,
 * `auth-secret-type`, `auth-realm`), read as its `auth` parser reads them, into what the
 * Ingress asks for. Pure: the Secret is read when the Ingress is planned (auth-secret.ts).
 *
 * Without `auth-type` nothing is asked (the other three are unused, as in ingress-nginx). With
 * it, every fault ingress-nginx answers by denying the location (503) or by refusing the
 * Ingress fails closed here: the request has no Secret and the routes answer 503. Only a bad
 * realm keeps authentication, with an empty realm.
 */
import { MAX_REALM_LENGTH } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';

/** The two forms of the Secret's content (`auth-secret-type`). */
export type AuthSecretType = 'auth-file' | 'auth-map';

/** What an Ingress's basic authentication annotations ask for. */
export interface NginxAuthRequest {
  realm: string;
  /**
   * `auth-secret`: `name`, or `namespace/name`; absent when the annotations cannot be used, and
   * then every request is answered 503.
   */
  secret?: { namespace?: string; name: string };
  secretType: AuthSecretType;
}

/** ingress-nginx's validators: `BasicCharsRegex` for the Secret, `CharsWithSpace` for the realm. */
const SECRET_CHARS = /^[-._~a-zA-Z0-9:/]*$/;
const REALM_CHARS = /^[-._~a-zA-Z0-9:/ ]*$/;
const CLOSED = '; every request to its paths is answered 503';

/** The request of `annotations`, or undefined without `auth-type`. */
export function parseNginxAuth(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): NginxAuthRequest | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });
  const type = read('auth-type');
  if (type === undefined) return undefined;

  const realmText = read('auth-realm') ?? '';
  let realm = realmText;
  if (!REALM_CHARS.test(realmText) || realmText.length > MAX_REALM_LENGTH) {
    problem(
      'auth-realm',
      `'${realmText}' is not a realm ingress-nginx accepts (at most ${MAX_REALM_LENGTH} letters, digits, spaces, - . _ ~ : /); using an empty realm`,
    );
    realm = '';
  }
  const closed: NginxAuthRequest = { realm, secretType: 'auth-file' };
  if (type === 'digest') {
    problem('auth-type', `digest authentication is not supported by Pier${CLOSED}`);
    return closed;
  }
  if (type !== 'basic') {
    problem('auth-type', `'${type}' is not basic or digest${CLOSED}`);
    return closed;
  }

  const secretType = read('auth-secret-type') ?? 'auth-file';
  if (secretType !== 'auth-file' && secretType !== 'auth-map') {
    problem('auth-secret-type', `'${secretType}' is not auth-file or auth-map${CLOSED}`);
    return closed;
  }
  const secret = read('auth-secret');
  if (secret === undefined) {
    problem('auth-secret', `auth-type basic needs the Secret of its users${CLOSED}`);
    return { ...closed, secretType };
  }
  const parts = secret.split('/');
  const name = parts.at(-1) ?? '';
  if (!SECRET_CHARS.test(secret) || parts.length > 2 || name === '') {
    problem('auth-secret', `'${secret}' is not a Secret name or namespace/name${CLOSED}`);
    return { ...closed, secretType };
  }
  const namespace = parts.length === 2 && parts[0] !== '' ? parts[0] : undefined;
  return {
    realm,
    secret: namespace === undefined ? { name } : { namespace, name },
    secretType,
  };
}
