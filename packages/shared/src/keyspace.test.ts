import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ejectionKey,
  ejectionPattern,
  endpointField,
  healthChannel,
  healthKey,
  KEY_PREFIX,
  keyspaceVersion,
  l2AnnouncementsKey,
  l2SpeakerKey,
  l2SpeakerPattern,
  nodeHeartbeatKey,
  nodeHeartbeatPattern,
  nodeOfHeartbeatKey,
  nodeOfL2SpeakerKey,
  parseEjectionKey,
  ROUTES_LOG_FIELDS,
  routesFormatKey,
  routesLogKey,
  routesRevisionKey,
  routesSectionKey,
  routesSnapshotKey,
  vipEpochKey,
  vipLeaseKey,
} from './keyspace.ts';

test('key names are the documented ones (docs/redis-keyspace.md)', () => {
  assert.equal(keyspaceVersion, 1);
  assert.equal(KEY_PREFIX, 'pier:v1:');
  const rows: Array<[string, string]> = [
    [routesRevisionKey(), 'pier:v1:routes:revision'],
    [routesSnapshotKey(), 'pier:v1:routes:snapshot'],
    [routesFormatKey(), 'pier:v1:routes:format'],
    [routesSectionKey('virtualHosts'), 'pier:v1:routes:vhosts'],
    [routesSectionKey('backends'), 'pier:v1:routes:backends'],
    [routesSectionKey('certificates'), 'pier:v1:routes:certificates'],
    [routesLogKey(), 'pier:v1:routes:log'],
    [healthKey('shop/web:80'), 'pier:v1:health:shop/web:80'],
    [healthChannel(), 'pier:v1:health:events'],
    [nodeHeartbeatKey('edge-1'), 'pier:v1:nodes:edge-1'],
    [vipLeaseKey('203.0.113.7'), 'pier:v1:l2:lease:203.0.113.7'],
    [vipLeaseKey('2001:db8::7'), 'pier:v1:l2:lease:2001:db8::7'],
    [vipEpochKey('203.0.113.7'), 'pier:v1:l2:epoch:203.0.113.7'],
    [l2AnnouncementsKey(), 'pier:v1:l2:announcements'],
    [l2SpeakerKey('edge-1'), 'pier:v1:l2:speakers:edge-1'],
    [l2SpeakerPattern(), 'pier:v1:l2:speakers:*'],
    [nodeHeartbeatPattern(), 'pier:v1:nodes:*'],
    [
      ejectionKey('shop/web:80', '[2001:db8::10]:8080'),
      'pier:v1:ejection:shop/web:80|[2001:db8::10]:8080',
    ],
    [ejectionPattern(), 'pier:v1:ejection:*'],
  ];
  for (const [actual, expected] of rows) assert.equal(actual, expected);
  assert.deepEqual({ ...ROUTES_LOG_FIELDS }, { revision: 'rev', from: 'base', patch: 'delta' });
});

test('heartbeat and ejection keys split back into their parts', () => {
  assert.equal(nodeOfHeartbeatKey(nodeHeartbeatKey('edge-1')), 'edge-1');
  assert.equal(nodeOfHeartbeatKey(healthKey('shop/web:80')), undefined);
  const endpoint = endpointField('2001:db8::10', 8080);
  assert.deepEqual(parseEjectionKey(ejectionKey('shop/web:http', endpoint)), {
    backendId: 'shop/web:http',
    endpoint,
  });
  for (const key of ['pier:v1:ejection:|x', 'pier:v1:ejection:a|', 'pier:v1:ejection:a', 'x']) {
    assert.equal(parseEjectionKey(key), undefined, key);
  }
});

test('endpoint fields keep the port unambiguous for IPv6', () => {
  assert.equal(endpointField('192.0.2.10', 8080), '192.0.2.10:8080');
  assert.equal(endpointField('2001:db8::10', 8080), '[2001:db8::10]:8080');
});

test('empty or whitespace ids are refused rather than merged into one key', () => {
  for (const make of [
    () => healthKey(''),
    () => nodeHeartbeatKey(''),
    () => vipLeaseKey(' '),
    () => healthKey('a b'),
    () => ejectionKey('shop/web:80', ''),
  ]) {
    assert.throws(make, TypeError);
  }
});

test('speaker keys split back into node names', () => {
  assert.equal(nodeOfL2SpeakerKey(l2SpeakerKey('edge-1')), 'edge-1');
  assert.equal(nodeOfL2SpeakerKey('pier:v1:l2:speakers:'), undefined);
  assert.equal(nodeOfL2SpeakerKey(nodeHeartbeatKey('edge-1')), undefined);
});
