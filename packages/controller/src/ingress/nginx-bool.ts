/**
 * ingress-nginx's booleans: its GetBoolAnnotation reads a value with Go's `strconv.ParseBool`,
 * so `"True"`, `"1"` or `"t"` turn a setting on as `"true"` does. Pure.
 */
const TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** `text` as `strconv.ParseBool` reads it; undefined when it is no boolean. */
export function parseNginxBool(text: string): boolean | undefined {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}
