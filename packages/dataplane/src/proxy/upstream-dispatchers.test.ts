import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamDispatchers } from './upstream-dispatchers.ts';

test('a route with its own connect timeout gets a pool of its own, closed with the endpoint', async () => {
  const dispatchers = new UpstreamDispatchers({ connectTimeoutMs: 5_000 });
  const plain = dispatchers.for('192.0.2.1', 8080, '192.0.2.1:8080', 'ns/web:80');
  assert.equal(dispatchers.for('192.0.2.1', 8080, '192.0.2.1:8080', 'ns/web:80', 5_000), plain);
  const own = dispatchers.for('192.0.2.1', 8080, '192.0.2.1:8080', 'ns/web:80', 2_000);
  assert.notEqual(own, plain);
  assert.equal(dispatchers.for('192.0.2.1', 8080, '192.0.2.1:8080', 'ns/web:80', 2_000), own);
  assert.deepEqual([...dispatchers.owners()], [['192.0.2.1:8080', 'ns/web:80']]);
  dispatchers.closePools(['192.0.2.1:8080']);
  assert.equal((own as unknown as { closed: boolean }).closed, true);
  assert.equal((plain as unknown as { closed: boolean }).closed, true);
  assert.deepEqual([...dispatchers.owners()], []);
  await dispatchers.close();
});
