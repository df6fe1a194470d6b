/**
 * Matching one value of a request (a header or a cookie) against a rule: `Exact`, equal and
 * case-sensitive, or `RegularExpression`, found anywhere in the value. These are the matches of
 * ingress-nginx's canary rules (`canary-by-header-value`, `canary-by-header-pattern`, compared
 * by its Lua with `==` and an unanchored `ngx.re.match`) and of the Gateway API's header matches.
 * Pure; a pattern is compiled once, by {@link valueMatcher}, when a route table is indexed.
 *
 * Cost is bounded by the input: patterns are at most {@link MAX_MATCH_PATTERN_LENGTH} characters
 * and exact values at most {@link MAX_MATCH_VALUE_LENGTH}; the request side is bounded by Node's
 * limit on the size of a request head (16 KiB by default).
 */

/** How a value is compared. */
export type ValueMatchType = 'Exact' | 'RegularExpression';

/** The match types, for validation. */
export const VALUE_MATCH_TYPES: readonly ValueMatchType[] = Object.freeze([
  'Exact',
  'RegularExpression',
]);

/** Longest regular expression a rule may hold: it runs on every request of its route. */
export const MAX_MATCH_PATTERN_LENGTH = 256;
/** Longest exact value a rule may hold. */
export const MAX_MATCH_VALUE_LENGTH = 4096;
/** Longest header or cookie name a rule may read. */
export const MAX_MATCH_NAME_LENGTH = 256;

/** An RFC 9110 token: header field names and cookie names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII and spaces: what a header value may be compared with. */
const VISIBLE = /^[\x20-\x7e]*$/;

/** Why `name` cannot be a header or cookie name, or undefined when it can. */
export function matchNameProblem(name: string): string | undefined {
  if (name.length > MAX_MATCH_NAME_LENGTH)
    return `is longer than ${MAX_MATCH_NAME_LENGTH} characters`;
  return TOKEN.test(name) ? undefined : 'is not a header or cookie name (an RFC 9110 token)';
}

/** Why `value` cannot be matched with `type`, or undefined when it can. */
export function matchValueProblem(type: ValueMatchType, value: string): string | undefined {
  if (type === 'Exact') {
    if (value.length > MAX_MATCH_VALUE_LENGTH)
      return `is longer than ${MAX_MATCH_VALUE_LENGTH} characters`;
    return VISIBLE.test(value) ? undefined : 'must be visible ASCII';
  }
  if (value.length > MAX_MATCH_PATTERN_LENGTH)
    return `is longer than ${MAX_MATCH_PATTERN_LENGTH} characters`;
  if (value === '') return 'must not be empty';
  try {
    new RegExp(value);
    return undefined;
  } catch (err) {
    return `is not a regular expression: ${(err as Error).message}`;
  }
}

/** Tests one request value; `undefined` (not sent) never matches. */
export type ValueMatcher = (value: string | undefined) => boolean;

/**
 * The matcher of a checked rule ({@link matchValueProblem} says it is fine). A pattern that does
 * not compile after all matches nothing, as ingress-nginx counts a regex error as no match.
 */
export function valueMatcher(type: ValueMatchType, value: string): ValueMatcher {
  if (type === 'Exact') return (sent) => sent === value;
  let re: RegExp;
  try {
    re = new RegExp(value);
  } catch {
    return () => false;
  }
  return (sent) => sent !== undefined && re.test(sent);
}

/** Node's parsed request headers: lower-case names, repeated headers joined or listed. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The value of header `name` (lower-case): repeated headers joined with `, `, as nginx's
 * `$http_<name>` gives them. Node has joined most already; `set-cookie`-like lists are joined here.
 */
export function headerValue(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The value of cookie `name` in a Cookie header, if present: the first one of that name, trimmed,
 * not decoded. `ignoreCase` compares names as nginx's `$cookie_<name>` does; Pier's own cookies
 * (affinity) are matched exactly.
 */
export function cookieValue(
  header: string | undefined,
  name: string,
  ignoreCase = false,
): string | undefined {
  if (!header) return undefined;
  const want = ignoreCase ? name.toLowerCase() : name;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    if ((ignoreCase ? key.toLowerCase() : key) === want) return part.slice(eq + 1).trim();
  }
  return undefined;
}
