/**
 * ingress-nginx's `server-alias`: further names for the hosts of an Ingress, read as
 * ingress-nginx reads them (internal/ingress/annotations/alias): a comma-separated list, each
 * name trimmed, empty ones skipped, repeats dropped, sorted. Pure.
 *
 * ingress-nginx refuses a value with characters outside its server-name set (its Ingress is then
 * not served); Pier reports it and serves the Ingress without aliases. Names within that set
 * that Pier cannot serve (nginx wildcards and regular expressions) are reported and dropped
 * alone. Names are lowercased: nginx compares server names case-insensitively.
 */
import { MAX_SERVER_ALIASES, serverAliasProblem } from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';

const ANNOTATION = `${NGINX_ANNOTATION_PREFIX}server-alias`;

/** ingress-nginx's `ValidateServerName`: the characters of a server name or of its regex. */
const NGINX_SERVER_NAME = /^[/\-._~a-zA-Z0-9:^$[\](){}*+?|&=\\]*$/;

/** The aliases an Ingress asks for, sorted, or undefined for none. */
export function parseNginxServerAlias(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): string[] | undefined {
  const value = annotations?.[ANNOTATION];
  if (value === undefined || value.trim() === '') return undefined;
  const problem = (message: string) => problems.push({ annotation: ANNOTATION, message });
  const names = value.split(',').map((name) => name.trim());
  const refused = names.find((name) => !NGINX_SERVER_NAME.test(name));
  if (refused !== undefined) {
    problem(`'${shown(refused)}' is not a server name; no alias is served`);
    return undefined;
  }
  const aliases = new Set<string>();
  for (const name of names) {
    if (name === '') continue;
    const alias = name.toLowerCase();
    const why = serverAliasProblem(alias);
    if (why === undefined) aliases.add(alias);
    else problem(`'${shown(name)}' ${why}; dropped`);
  }
  const sorted = [...aliases].sort();
  if (sorted.length > MAX_SERVER_ALIASES) {
    problem(`names ${sorted.length} aliases; only the first ${MAX_SERVER_ALIASES} are served`);
    sorted.length = MAX_SERVER_ALIASES;
  }
  return sorted.length > 0 ? sorted : undefined;
}

/** A name as quoted in a message, cut short. */
function shown(name: string): string {
  return name.length > 80 ? `${name.slice(0, 80)}…` : name;
}
