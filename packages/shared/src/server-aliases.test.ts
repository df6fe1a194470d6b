import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reporter } from './field-reader.ts';
import {
  AliasClaims,
  checkServerAliases,
  MAX_SERVER_ALIASES,
  serverAliasProblem,
} from './server-aliases.ts';

test('server alias names: exact lowercase DNS names only', () => {
  const rows: Array<[string, string | undefined]> = [
    ['www.example.com', undefined],
    ['a', undefined],
    ['', 'must not be empty'],
    ['*.example.com', 'is a wildcard; Pier serves exact alias names only'],
    ['www.example.*', 'is a wildcard; Pier serves exact alias names only'],
    ['~^www\\d+\\.example\\.com$', 'is a regular expression; Pier serves exact alias names only'],
    ['Www.example.com', 'must be lowercase'],
    ['192.0.2.1', 'must be a DNS name, not an IP address'],
    ['example.com:80', 'must not contain a port'],
    ['a..b', 'must not contain empty labels (leading, trailing or doubled dots)'],
  ];
  for (const [alias, problem] of rows) assert.equal(serverAliasProblem(alias), problem, alias);
});

test('VirtualHost.aliases: bad names dropped one by one, too many or not a list dropped whole', () => {
  const check = (raw: unknown) => {
    const problems: string[] = [];
    const got = checkServerAliases(
      raw,
      reporter((field, message) => problems.push(`${field}: ${message}`)),
    );
    return { got, problems };
  };
  assert.deepEqual(check(['a.example', 'A.example', 'a.example', 7]), {
    got: ['a.example'],
    problems: ['aliases[1]: must be lowercase; dropped', 'aliases[3]: must be a string; dropped'],
  });
  assert.deepEqual(check('a.example'), {
    got: undefined,
    problems: ['aliases: must be an array; aliases dropped'],
  });
  const many = Array.from({ length: MAX_SERVER_ALIASES + 1 }, (_, i) => `h${i}.example`);
  assert.deepEqual(check(many).problems, [
    `aliases: must have at most ${MAX_SERVER_ALIASES}; aliases dropped`,
  ]);
  assert.deepEqual(check([]), { got: undefined, problems: [] });
});

test('alias claims: the claimant whose host sorts first wins, whatever the order of claims', () => {
  const hosts = ['m.example', 'b.example', 'z.example', 'a.example'];
  const orders = [
    hosts,
    [...hosts].reverse(),
    ['z.example', 'a.example', 'm.example', 'b.example'],
  ];
  for (const order of orders) {
    const claims = new AliasClaims<string>();
    for (const host of order) claims.claim('alias.example', host, `slot:${host}`);
    assert.equal(claims.winner('alias.example'), 'slot:a.example', order.join());
    claims.release('alias.example', 'a.example');
    assert.equal(claims.winner('alias.example'), 'slot:b.example');
    claims.claim('alias.example', 'b.example', 'slot:b2');
    assert.equal(
      claims.winner('alias.example'),
      'slot:b2',
      'a new claim of a host replaces its old',
    );
    for (const host of order) claims.release('alias.example', host);
    assert.equal(claims.winner('alias.example'), undefined);
    assert.equal(claims.size, 0);
  }
});
