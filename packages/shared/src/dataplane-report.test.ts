import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeDataplaneReport, parseDataplaneReport } from './dataplane-report.ts';
import { dataplaneReportKey, nodeOfDataplaneReportKey, nodeOfHeartbeatKey } from './keyspace.ts';

test('a report survives encoding', () => {
  const report = { revision: 42, revisionSince: 1_767_225_600_000, startedAt: 1_767_225_500_000 };
  assert.deepEqual(parseDataplaneReport(encodeDataplaneReport(report)), report);
});

test('what is not a report reads as none, never as a wrong figure', () => {
  for (const text of [
    null,
    undefined,
    '',
    'not json',
    '42',
    'null',
    '{"revision":-1,"revisionSince":0,"startedAt":0}',
    '{"revision":1.5,"revisionSince":0,"startedAt":0}',
    '{"revision":"7","revisionSince":0,"startedAt":0}',
    '{"revision":7,"startedAt":0}',
  ]) {
    assert.equal(parseDataplaneReport(text), undefined, String(text));
  }
});

test('report keys name their node and are no heartbeat keys', () => {
  const key = dataplaneReportKey('edge-1');
  assert.equal(key, 'pier:v1:dataplanes:edge-1');
  assert.equal(nodeOfDataplaneReportKey(key), 'edge-1');
  assert.equal(nodeOfHeartbeatKey(key), undefined);
  assert.equal(nodeOfDataplaneReportKey('pier:v1:nodes:edge-1'), undefined);
});
