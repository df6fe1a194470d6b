import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { testEnv } from '../lib/env.ts';

const env = testEnv();
const clients: Redis[] = [];

/** Connects and resolves with the server's refusal, or 'ready'. */
async function connectOutcome(client: Redis): Promise<string> {
  let refusal = '';
  client.once('error', (err: Error) => {
    refusal = err.message;
  });
  try {
    await client.connect();
    return 'ready';
  } catch (err) {
    return refusal || (err as Error).message;
  }
}

function connect(password: string | undefined): Redis {
  const client = new Redis({
    host: env.redisHost,
    port: env.redisPort,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

after(() => {
  for (const c of clients) c.disconnect();
});

test('a round trip through ioredis with the right password', async () => {
  const redis = connect(env.redisPassword);
  assert.equal(await connectOutcome(redis), 'ready');
  const key = `pier:v1:test:${process.pid}`;
  await redis.set(key, 'hello', 'PX', 60_000);
  assert.equal(await redis.get(key), 'hello');
  await redis.xadd(`${key}:log`, '*', 'rev', '1');
  const entries = await redis.xrange(`${key}:log`, '-', '+');
  assert.deepEqual(
    entries.map(([, fields]) => fields),
    [['rev', '1']],
  );
  await redis.del(key, `${key}:log`);
});

test('a wrong password is refused', async () => {
  const outcome = await connectOutcome(connect(`${env.redisPassword}-wrong`));
  assert.match(outcome, /^WRONGPASS/);
});

test('a client without a password is refused', async () => {
  const outcome = await connectOutcome(connect(undefined));
  assert.match(outcome, /^NOAUTH/);
});

test('persistence is off, so tests leave nothing on disk', async () => {
  const redis = connect(env.redisPassword);
  await redis.connect();
  const save = (await redis.call('CONFIG', 'GET', 'save')) as string[];
  const aof = (await redis.call('CONFIG', 'GET', 'appendonly')) as string[];
  assert.deepEqual(save, ['save', '']);
  assert.deepEqual(aof, ['appendonly', 'no']);
});
