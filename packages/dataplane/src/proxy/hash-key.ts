/**
 * The key a request hashes by on a backend with `balancing.hashBy` (ingress-nginx's
 * `upstream-hash-by`): its nginx string filled in from the request (nginx-string-value.ts).
 */
import type { IncomingMessage } from 'node:http';
import { nginxStringOf } from './nginx-string-value.ts';

/**
 * The key of `req` under `template`, or undefined when the template is not one (the table was
 * validated, so only a newer controller's variable can get here: the backend's algorithm then
 * applies).
 */
export function hashKeyOf(template: string, req: IncomingMessage): string | undefined {
  return nginxStringOf(template, req);
}
