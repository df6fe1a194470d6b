import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPierError } from '@pier/shared';
import { parseStandaloneConfig, standaloneMode } from './standalone-config.ts';

const paths = { root: '/repo', cwd: '/home/me' };

describe('standaloneMode', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['neither: in memory', {}, 'memory'],
    ['empty values count as unset', { REDIS_URL: '', KUBECONFIG: '' }, 'memory'],
    [
      'both: the real cluster and Redis',
      { REDIS_URL: 'redis://r:6379', KUBECONFIG: '/k' },
      'cluster',
    ],
  ];
  for (const [name, env, mode] of cases) test(name, () => assert.equal(standaloneMode(env), mode));

  test('only one of them is refused, naming both', () => {
    assert.throws(
      () => standaloneMode({ KUBECONFIG: '/k' }),
      (err: unknown) =>
        isPierError(err) && /KUBECONFIG is set but REDIS_URL is not/.test(err.message),
    );
  });
});

describe('parseStandaloneConfig', () => {
  test('defaults: the shipped examples with demo backends, localhost high ports', () => {
    const c = parseStandaloneConfig([], {}, paths);
    assert.equal(c.manifestsPath, '/repo/examples/standalone');
    assert.equal(c.manifests, '../../repo/examples/standalone');
    assert.equal(c.demoBackends, true);
    assert.deepEqual(
      [c.http, c.https, c.ops, c.dashboard],
      [
        { host: '127.0.0.1', port: 8080 },
        { host: '127.0.0.1', port: 8443 },
        { host: '127.0.0.1', port: 9090 },
        { host: '127.0.0.1', port: 9092 },
      ],
    );
    assert.equal(
      parseStandaloneConfig(['--dashboard-listen', 'off'], {}, paths).dashboard,
      undefined,
    );
    assert.equal(c.stateDir, '/repo/.pier');
    assert.ok(Object.isFrozen(c));
  });

  test('a directory of your own: relative to where you are, demo backends only when asked', () => {
    const own = parseStandaloneConfig(['--manifests', 'mine'], {}, paths);
    assert.deepEqual(
      [own.manifests, own.manifestsPath, own.demoBackends],
      ['mine', '/home/me/mine', false],
    );
    const asked = parseStandaloneConfig(
      ['--manifests', 'mine', '--demo-backends', 'on'],
      {},
      paths,
    );
    assert.equal(asked.demoBackends, true);
    const off = parseStandaloneConfig(['--demo-backends', 'off'], {}, paths);
    assert.equal(off.demoBackends, false);
  });

  test('mistakes are one line each, naming flag and variable', () => {
    assert.throws(
      () =>
        parseStandaloneConfig(
          ['--http-listen', 'off', '--https-listen', 'off', '--demo-backends', 'maybe'],
          {},
          paths,
        ),
      (err: unknown) =>
        isPierError(err) &&
        err.message ===
          [
            '--http-listen/--https-listen: at least one listener is needed',
            '--demo-backends ($PIER_DEMO_BACKENDS): "maybe" is not one of auto, on, off',
          ].join('\n'),
    );
  });
});
