import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import { FlagReader, flagUsage, parseListen } from './flag-reader.ts';

const specs = {
  port: { env: 'APP_PORT', default: '80', help: 'port' },
  wait: { env: 'APP_WAIT', default: '5s', help: 'a duration' },
  name: { env: 'APP_NAME', help: 'required name' },
  verbose: { env: 'APP_VERBOSE', default: 'false', help: 'a switch' },
  mode: { env: 'APP_MODE', default: 'a', help: 'a choice' },
};

test('command line beats environment beats default; empty env counts as unset', () => {
  const f = new FlagReader(specs, ['--port', '8080'], {
    APP_PORT: '90',
    APP_WAIT: '',
    APP_NAME: 'x',
  });
  assert.equal(f.integer('port', 1, 65535), 8080);
  assert.equal(f.duration('wait'), 5000);
  assert.equal(f.required('name'), 'x');
  assert.equal(f.boolean('verbose'), false);
  f.finish();
});

test('every mistake is collected and reported on its own line', () => {
  const f = new FlagReader(specs, ['--port', '70000', '--wait', 'soon', '--mode', 'c'], {
    APP_VERBOSE: 'maybe',
  });
  f.integer('port', 1, 65535);
  f.duration('wait');
  f.required('name');
  f.boolean('verbose');
  f.oneOf('mode', ['a', 'b']);
  assert.throws(
    () => f.finish(),
    (err) => {
      assert.ok(isPierError(err, 'PIER_INVALID_CONFIG'));
      assert.deepEqual(
        (err as Error).message.split('\n').map((l) => l.split(':')[0]),
        [
          '--port ($APP_PORT)',
          '--wait ($APP_WAIT)',
          '--name ($APP_NAME)',
          '--verbose ($APP_VERBOSE)',
          '--mode ($APP_MODE)',
        ],
      );
      return true;
    },
  );
});

test('unknown flags and missing values are refused at once', () => {
  assert.throws(() => new FlagReader(specs, ['--nope'], {}), /Unknown option '--nope'/);
  assert.throws(() => new FlagReader(specs, ['--port'], {}), /argument missing/);
});

test('listen addresses and usage', () => {
  assert.deepEqual(parseListen('[::]:443'), { host: '::', port: 443 });
  assert.equal(parseListen('0.0.0.0:99999'), undefined);
  assert.match(flagUsage('app', specs), /--port\s+\$APP_PORT\s+port \[80\]/);
});

test('Redis URLs: TCP with optional password and db, or a Unix socket path', () => {
  const rows: Array<[string, boolean]> = [
    ['redis://pier-redis:6379', true],
    ['redis://:secret@127.0.0.1:6379/2', true],
    ['rediss://redis.example:6380', true],
    ['unix:///run/redis/redis.sock', true],
    ['unix://relative.sock', false],
    ['unix:///run/redis.sock?password=x', false],
    ['http://x', false],
  ];
  for (const [url, ok] of rows) {
    const f = new FlagReader({ url: { env: 'APP_URL', help: 'redis' } }, ['--url', url], {});
    assert.equal(f.redisUrl('url'), url);
    if (ok) f.finish();
    else assert.throws(() => f.finish(), /--url/, url);
  }
});
