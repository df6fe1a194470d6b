import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEND_TIMEOUT } from './exchange-marks.ts';
import { classifyUpstreamError, eventKind, type UpstreamFailure } from './upstream-failure.ts';

test('classifyUpstreamError: the answer, the retry and the endpoint outcome of each failure', () => {
  const rows: [string, string, boolean, UpstreamFailure][] = [
    [
      'connect timeout',
      'UND_ERR_CONNECT_TIMEOUT',
      false,
      {
        code: 'PIER_UPSTREAM_CONNECT_TIMEOUT',
        retriable: true,
        outcome: 'failure',
        condition: 'timeout',
      },
    ],
    [
      'no response head in time',
      'UND_ERR_HEADERS_TIMEOUT',
      true,
      { code: 'PIER_UPSTREAM_TIMEOUT', retriable: false, outcome: 'failure', condition: 'timeout' },
    ],
    [
      'the body was not taken in time: never sent again, not even by a retry policy',
      SEND_TIMEOUT,
      true,
      { code: 'PIER_UPSTREAM_SEND_TIMEOUT', retriable: false, outcome: 'failure' },
    ],
    [
      'refused before the request went out',
      'ECONNREFUSED',
      false,
      {
        code: 'PIER_UPSTREAM_CONNECT_FAILED',
        retriable: true,
        outcome: 'failure',
        condition: 'error',
      },
    ],
    [
      'reset under the request',
      'ECONNRESET',
      true,
      { code: 'PIER_UPSTREAM_RESET', retriable: true, outcome: 'failure', condition: 'error' },
    ],
  ];
  for (const [name, code, sent, expected] of rows) {
    assert.deepEqual(classifyUpstreamError({ code }, sent), expected, name);
  }
  assert.equal(eventKind('PIER_UPSTREAM_SEND_TIMEOUT'), 'timeout');
});
