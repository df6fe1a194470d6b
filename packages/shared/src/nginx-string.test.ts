import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileNginxString, escapeUri } from './nginx-string.ts';

test('compileNginxString reads the variables of auth URLs, literal text around them', () => {
  const cases: Array<[string, unknown]> = [
    ['http://auth.svc/check', [{ text: 'http://auth.svc/check' }]],
    [
      'https://$host/oauth2/start?rd=$escaped_request_uri',
      [
        { text: 'https://' },
        { variable: 'host' },
        { text: '/oauth2/start?rd=' },
        { variable: 'escaped_request_uri' },
      ],
    ],
    [
      '$pass_access_scheme:$request_method',
      [{ variable: 'scheme' }, { text: ':' }, { variable: 'request_method' }],
    ],
    [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an nginx variable, not a template
      '${http_x_user}$arg_id',
      [
        { variable: 'http', name: 'x-user' },
        { variable: 'arg', name: 'id' },
      ],
    ],
  ];
  for (const [template, parts] of cases)
    assert.deepEqual(compileNginxString(template, 256), parts, template);
  assert.match(
    String(compileNginxString('$upstream_addr', 256)),
    /\$upstream_addr is not a variable/,
  );
  assert.match(String(compileNginxString('x'.repeat(9), 8)), /must be 1-8 characters/);
  assert.match(String(compileNginxString('a\nb', 8)), /visible ASCII/);
});

test('escapeUri encodes all but letters, digits and -._~, as set_escape_uri', () => {
  const cases: Array<[string, string]> = [
    ['/private?a=1', '%2Fprivate%3Fa%3D1'],
    ['/a-b_c.d~e', '%2Fa-b_c.d~e'],
    ['/x y&z#%', '%2Fx%20y%26z%23%25'],
    ['', ''],
  ];
  for (const [text, escaped] of cases) assert.equal(escapeUri(text), escaped, text);
});
