import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import {
  DEFAULT_HEALTH_CHECK,
  parseDuration,
  parseStatusRanges,
  statusInRanges,
} from './health-check-defaults.ts';

test('the cluster default health check is the documented one, and deeply frozen', () => {
  assert.deepEqual(DEFAULT_HEALTH_CHECK, {
    http: { path: '/', expectedStatuses: [[200, 399]] },
    intervalMs: 5000,
    timeoutMs: 2000,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    passive: { consecutiveFailures: 5, ejectionMs: 30000, maxEjectionPercent: 50 },
  });
  assert.ok(Object.isFrozen(DEFAULT_HEALTH_CHECK));
  assert.ok(Object.isFrozen(DEFAULT_HEALTH_CHECK.http.expectedStatuses[0]));
  assert.ok(Object.isFrozen(DEFAULT_HEALTH_CHECK.passive));
  assert.throws(() => {
    (DEFAULT_HEALTH_CHECK.passive as { ejectionMs: number }).ejectionMs = 1;
  }, TypeError);
});

test('parseStatusRanges accepts lists of statuses and ranges', () => {
  const rows: Array<[string, Array<[number, number]>]> = [
    [
      '200-399,404',
      [
        [200, 399],
        [404, 404],
      ],
    ],
    ['200', [[200, 200]]],
    [
      ' 200 - 299 , 301 ',
      [
        [200, 299],
        [301, 301],
      ],
    ],
    ['100-599', [[100, 599]]],
    [
      '404,200-204',
      [
        [404, 404],
        [200, 204],
      ],
    ],
  ];
  for (const [text, expected] of rows) assert.deepEqual(parseStatusRanges(text), expected, text);
});

test('parseStatusRanges rejects bad input with a message naming the item', () => {
  const rows: Array<[string, RegExp]> = [
    ['', /'' is not a status/],
    ['200,', /'' is not a status/],
    ['2xx', /'2xx' is not a status/],
    ['200-', /'200-' is not a status/],
    ['99', /'99' is not a status/],
    ['600', /outside 100-599/],
    ['200-600', /outside 100-599/],
    ['099', /outside 100-599/],
    ['399-200', /low end 399 above its high end 200/],
  ];
  for (const [text, message] of rows) {
    assert.throws(
      () => parseStatusRanges(text),
      (err) => isPierError(err, 'PIER_INVALID_CONFIG') && message.test(err.message),
      text,
    );
  }
});

test('statusInRanges', () => {
  const ranges: Array<[number, number]> = [
    [200, 299],
    [404, 404],
  ];
  const rows: Array<[number, boolean]> = [
    [200, true],
    [299, true],
    [300, false],
    [404, true],
    [403, false],
    [199, false],
  ];
  for (const [status, expected] of rows) assert.equal(statusInRanges(status, ranges), expected);
});

test('parseDuration accepts Go-style durations', () => {
  const rows: Array<[string, number]> = [
    ['5s', 5000],
    ['500ms', 500],
    ['1m', 60000],
    ['1m30s', 90000],
    ['1h', 3600000],
    ['1.5s', 1500],
    ['1.1s', 1100],
    ['2m500ms', 120500],
    ['0', 0],
    ['0s', 0],
  ];
  for (const [text, expected] of rows) assert.equal(parseDuration(text), expected, text);
});

test('parseDuration rejects what it cannot read exactly', () => {
  const rows: Array<[string, RegExp]> = [
    ['', /expected a number with a unit/],
    ['5', /expected a number with a unit/],
    ['5 s', /expected a number with a unit/],
    ['-5s', /expected a number with a unit/],
    ['5sec', /expected a number with a unit/],
    ['1d', /expected a number with a unit/],
    ['s', /expected a number with a unit/],
    ['0.5ms', /whole number of milliseconds/],
  ];
  for (const [text, message] of rows) {
    assert.throws(
      () => parseDuration(text),
      (err) => isPierError(err, 'PIER_INVALID_CONFIG') && message.test(err.message),
      text,
    );
  }
});
