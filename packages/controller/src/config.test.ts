import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from '@pier/shared';
import { parseControllerConfig, parseListen } from './config.ts';

test('defaults and environment', () => {
  const c = parseControllerConfig([], {
    POD_NAME: 'ctrl-7',
    POD_NAMESPACE: 'lb',
    REDIS_URL: 'redis://r:6379',
  });
  assert.equal(c.identity, 'ctrl-7');
  assert.equal(c.leaseNamespace, 'lb');
  assert.equal(c.leaseName, 'pier-controller');
  assert.equal(c.leaseDurationMs, 15_000);
  assert.equal(c.renewDeadlineMs, 10_000);
  assert.equal(c.retryPeriodMs, 2_000);
  assert.equal(c.listenHost, '0.0.0.0');
  assert.equal(c.listenPort, 9090);
  assert.equal(c.kubeconfig, undefined);
  assert.equal(c.dashboard, undefined, 'the dashboard is off unless asked for');
  assert.ok(Object.isFrozen(c));
});

test('the dashboard listens where --dashboard-listen says; empty is off, nonsense is refused', () => {
  const env = { REDIS_URL: 'redis://r:6379' };
  assert.deepEqual(parseControllerConfig(['--dashboard-listen=127.0.0.1:9092'], env).dashboard, {
    host: '127.0.0.1',
    port: 9092,
  });
  assert.equal(parseControllerConfig(['--dashboard-listen='], env).dashboard, undefined);
  assert.deepEqual(
    parseControllerConfig([], { ...env, PIER_DASHBOARD_LISTEN: '[::1]:0' }).dashboard,
    { host: '::1', port: 0 },
  );
  assert.throws(
    () => parseControllerConfig(['--dashboard-listen', 'nope'], env),
    /--dashboard-listen \(\$PIER_DASHBOARD_LISTEN\): "nope" is not host:port/,
  );
});

test('flags win over the environment', () => {
  const c = parseControllerConfig(
    ['--identity', 'flag', '--listen', '[::1]:0', '--log-level', 'debug'],
    {
      POD_NAME: 'env',
      PIER_LISTEN: '1.2.3.4:5',
      REDIS_URL: 'redis://r:6379',
    },
  );
  assert.equal(c.identity, 'flag');
  assert.equal(c.listenHost, '::1');
  assert.equal(c.listenPort, 0);
  assert.equal(c.logLevel, 'debug');
});

test('every mistake is reported on its own line naming the flag and variable', () => {
  try {
    parseControllerConfig(
      ['--lease-duration', 'soon', '--listen', 'nope', '--lease-name', 'Bad_Name'],
      {
        PIER_LOG_LEVEL: 'loud',
        REDIS_URL: 'redis://r:6379',
      },
    );
    assert.fail('should have thrown');
  } catch (err) {
    assert.ok(isPierError(err, 'PIER_INVALID_CONFIG'));
    const lines = (err as Error).message.split('\n');
    assert.equal(lines.length, 4, (err as Error).message);
    assert.match(lines[0] ?? '', /^--lease-duration \(\$PIER_LEASE_DURATION\): "soon"/);
    assert.ok(lines.some((l) => l.startsWith('--listen ($PIER_LISTEN): "nope"')));
    assert.ok(lines.some((l) => l.startsWith('--log-level ($PIER_LOG_LEVEL): "loud"')));
    assert.ok(lines.some((l) => l.startsWith('--lease-name ($PIER_LEASE_NAME): "Bad_Name"')));
  }
});

test('lease timings must nest: retry < renew deadline < lease duration', () => {
  assert.throws(
    () =>
      parseControllerConfig(['--lease-duration', '5s', '--renew-deadline', '5s'], {
        REDIS_URL: 'redis://r',
      }),
    /lease duration must be longer than the renew deadline/,
  );
  assert.throws(
    () => parseControllerConfig(['--retry-period', '10s'], { REDIS_URL: 'redis://r' }),
    /renew deadline must be longer than the retry period/,
  );
});

test('Redis is required and its URL checked', () => {
  assert.throws(() => parseControllerConfig([], {}), /--redis-url \(\$REDIS_URL\): required/);
  assert.throws(
    () => parseControllerConfig(['--redis-url', 'http://x'], {}),
    /"http:\/\/x" is not redis:\/\//,
  );
  const c = parseControllerConfig(['--redis-url', 'redis://:pw@127.0.0.1:6379/0'], {
    REDIS_PASSWORD: 's3',
  });
  assert.equal(c.redisPassword, 's3');
});

test('unknown flags are refused', () => {
  assert.throws(() => parseControllerConfig(['--leader'], {}), /Unknown option '--leader'/);
});

test('listen addresses', () => {
  const cases: Array<[string, ReturnType<typeof parseListen>]> = [
    ['0.0.0.0:9090', { host: '0.0.0.0', port: 9090 }],
    ['[::]:80', { host: '::', port: 80 }],
    [':9090', { host: '', port: 9090 }],
    ['localhost:65536', undefined],
    ['9090', undefined],
    ['::1:80', undefined],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseListen(text), want, text);
});

test('--services-without-class: off by default, on by flag or environment, else refused', () => {
  const redis = { REDIS_URL: 'redis://r:6379' };
  const rows: Array<[string, string[], Record<string, string>, boolean]> = [
    ['default', [], redis, false],
    ['flag', ['--services-without-class', 'true'], redis, true],
    ['environment', [], { ...redis, PIER_SERVICES_WITHOUT_CLASS: 'true' }, true],
    [
      'flag over environment',
      ['--services-without-class', 'false'],
      { ...redis, PIER_SERVICES_WITHOUT_CLASS: 'true' },
      false,
    ],
  ];
  for (const [name, argv, env, expected] of rows) {
    assert.equal(parseControllerConfig(argv, env).servicesWithoutClass, expected, name);
  }
  assert.throws(
    () => parseControllerConfig(['--services-without-class', 'maybe'], redis),
    (err: unknown) =>
      isPierError(err, 'PIER_INVALID_CONFIG') &&
      /^--services-without-class \(\$PIER_SERVICES_WITHOUT_CLASS\): "maybe" is not true or false$/.test(
        err.message,
      ),
  );
});

test('--ingress-class-compat: off by default, a list of class names, a bad name refused', () => {
  const redis = { REDIS_URL: 'redis://r:6379' };
  assert.deepEqual([...parseControllerConfig([], redis).ingressClassCompat], []);
  assert.deepEqual(
    [
      ...parseControllerConfig(['--ingress-class-compat', 'nginx, nginx-internal'], redis)
        .ingressClassCompat,
    ],
    ['nginx', 'nginx-internal'],
  );
  assert.deepEqual(
    [
      ...parseControllerConfig([], { ...redis, PIER_INGRESS_CLASS_COMPAT: 'nginx' })
        .ingressClassCompat,
    ],
    ['nginx'],
  );
  assert.throws(
    () => parseControllerConfig(['--ingress-class-compat', 'nginx,Bad_Name'], redis),
    (err: unknown) =>
      isPierError(err, 'PIER_INVALID_CONFIG') &&
      /^--ingress-class-compat \(\$PIER_INGRESS_CLASS_COMPAT\): "Bad_Name" is not an IngressClass name$/.test(
        err.message,
      ),
  );
});
