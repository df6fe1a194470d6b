import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cookieValue,
  headerValue,
  MAX_MATCH_PATTERN_LENGTH,
  matchNameProblem,
  matchValueProblem,
  type ValueMatchType,
  valueMatcher,
} from './header-match.ts';

// ingress-nginx's balancer.lua: `headerValue == header`, `ngx.re.match(header, headerPattern)`.
test('value matches: Exact is whole and case-sensitive; RegularExpression is found anywhere', () => {
  const rows: Array<[ValueMatchType, string, string | undefined, boolean]> = [
    ['Exact', 'always', 'always', true],
    ['Exact', 'always', 'Always', false],
    ['Exact', 'always', 'always ', false],
    ['Exact', 'always', undefined, false],
    ['Exact', '', '', true],
    ['RegularExpression', '^v2', 'v2-beta', true],
    ['RegularExpression', 'beta', 'v2-beta', true],
    ['RegularExpression', '^beta$', 'v2-beta', false],
    ['RegularExpression', 'BETA', 'v2-beta', false],
    ['RegularExpression', '.*', undefined, false],
    ['RegularExpression', '(', 'x', false],
  ];
  for (const [type, value, sent, want] of rows) {
    assert.equal(valueMatcher(type, value)(sent), want, `${type} ${value} ${sent}`);
  }
});

test('value and name checks: bounded lengths, patterns that compile, tokens', () => {
  assert.equal(matchValueProblem('Exact', 'always'), undefined);
  assert.equal(matchValueProblem('Exact', 'a\nb'), 'must be visible ASCII');
  assert.equal(matchValueProblem('RegularExpression', '^(a|b)+$'), undefined);
  assert.match(matchValueProblem('RegularExpression', '(') ?? '', /^is not a regular expression: /);
  assert.equal(matchValueProblem('RegularExpression', ''), 'must not be empty');
  assert.equal(
    matchValueProblem('RegularExpression', 'a'.repeat(MAX_MATCH_PATTERN_LENGTH + 1)),
    `is longer than ${MAX_MATCH_PATTERN_LENGTH} characters`,
  );
  assert.equal(matchNameProblem('x-canary'), undefined);
  assert.equal(matchNameProblem('x canary'), 'is not a header or cookie name (an RFC 9110 token)');
  assert.equal(matchNameProblem(''), 'is not a header or cookie name (an RFC 9110 token)');
});

test('headerValue joins repeated headers as nginx does; cookieValue finds the first of a name', () => {
  assert.equal(headerValue({ 'x-canary': 'always' }, 'x-canary'), 'always');
  assert.equal(headerValue({ 'x-list': ['a', 'b'] }, 'x-list'), 'a, b');
  assert.equal(headerValue({}, 'x-canary'), undefined);
  const rows: Array<[string | undefined, string, boolean, string | undefined]> = [
    ['a=1; canary=always; b=2', 'canary', false, 'always'],
    ['canary=never; canary=always', 'canary', false, 'never'],
    ['Canary=always', 'canary', false, undefined],
    ['Canary=always', 'canary', true, 'always'],
    ['xcanary=always', 'canary', true, undefined],
    ['canary', 'canary', false, undefined],
    ['=always', '', false, undefined],
    [undefined, 'canary', false, undefined],
    ['canary= always ', 'canary', false, 'always'],
  ];
  for (const [header, name, ignoreCase, want] of rows) {
    assert.equal(cookieValue(header, name, ignoreCase), want, `${header} ${name}`);
  }
});
