import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { RequestMetrics } from './request-metrics.ts';

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

test('requests are counted by host, status and backend, once per scrape', async () => {
  const registry = new Registry();
  const m = new RequestMetrics(registry);
  m.record('shop.example.test', 200, 'default/shop:80', 0.002);
  m.record('shop.example.test', 200, 'default/shop:80', 0.02);
  m.record('shop.example.test', 502, 'default/shop:80', undefined);
  m.record('', 404, '', undefined);
  const first = await registry.metrics();
  assert.deepEqual(lines(first, 'pier_dataplane_requests_total{'), [
    'pier_dataplane_requests_total{host="shop.example.test",status="200",backend="default/shop:80"} 2',
    'pier_dataplane_requests_total{host="shop.example.test",status="502",backend="default/shop:80"} 1',
    'pier_dataplane_requests_total{host="",status="404",backend=""} 1',
  ]);
  m.record('shop.example.test', 200, 'default/shop:80', 0.2);
  const second = await registry.metrics();
  assert.ok(
    second.includes(
      'pier_dataplane_requests_total{host="shop.example.test",status="200",backend="default/shop:80"} 3',
    ),
    'a second scrape adds only what came since',
  );
});

test('the duration histogram has cumulative buckets, +Inf, sum and count per backend', async () => {
  const registry = new Registry();
  const m = new RequestMetrics(registry);
  const cases: [number, string][] = [
    [0.0004, '0.0005'],
    [0.0005, '0.0005'],
    [0.003, '0.005'],
    [7, '10'],
    [12, '+Inf'],
  ];
  for (const [seconds] of cases) m.record('a.example.test', 200, 'ns/a:80', seconds);
  const text = await registry.metrics();
  const bucket = (le: string) =>
    Number(
      lines(text, `pier_dataplane_request_duration_seconds_bucket{le="${le}",backend="ns/a:80"}`)[0]
        ?.split(' ')
        .pop(),
    );
  assert.equal(bucket('0.0005'), 2, 'a value on a bound counts in that bucket');
  assert.equal(bucket('0.001'), 2);
  assert.equal(bucket('0.005'), 3);
  assert.equal(bucket('5'), 3);
  assert.equal(bucket('10'), 4);
  assert.equal(bucket('+Inf'), 5);
  assert.ok(text.includes('pier_dataplane_request_duration_seconds_count{backend="ns/a:80"} 5'));
  assert.ok(text.includes('# TYPE pier_dataplane_request_duration_seconds histogram'));
  const sum = Number(
    lines(text, 'pier_dataplane_request_duration_seconds_sum{backend="ns/a:80"}')[0]
      ?.split(' ')
      .pop(),
  );
  assert.ok(Math.abs(sum - 19.0039) < 1e-9, `sum ${sum}`);
});
