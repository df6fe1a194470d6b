/**
 * Benchmark: from publishing a route change to Redis to the dataplane serving
 * it, through the real `pier-dataplane` binary and a real redis-server.
 *
 *   node test/bench/route-change-latency.ts [--changes 200] [--routes 1000]
 *
 * Each change adds one Exact route to a table that already holds `routes`
 * virtual hosts; the clock runs from the start of the publication to the
 * first request that the new route answers (polled every millisecond on a
 * kept-alive connection). Prints the figures and writes them to
 * docs/benchmarks.md.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startDataplane } from '../lib/dataplane-process.ts';
import { startRedis } from '../lib/redis-server.ts';
import {
  backend,
  connectPublisher,
  endpoint,
  type RouteContent,
  type RouteRule,
  routeContent,
  virtualHost,
} from '../lib/route-tables.ts';
import { machineLine, quantile, startBenchEnv, writeBenchSection } from './bench-env.ts';
import { BenchProgress } from './bench-progress.ts';

const { values } = parseArgs({
  options: {
    changes: { type: 'string', default: '200' },
    routes: { type: 'string', default: '1000' },
  },
});
const changes = Number(values.changes);
const extraRoutes = Number(values.routes);

const progress = new BenchProgress('route-change-latency', { parts: 2 });
progress.part('set-up: API server, Redis, dataplane');
const env = await startBenchEnv('route-change-latency');
const redis = await startRedis(
  join(process.env.PIER_TEST_STATE_DIR ?? '.test-state', 'redis-latency'),
);
const upstream = createServer((req, res) => res.end(req.url));
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const at = { address: '127.0.0.1', port: (upstream.address() as AddressInfo).port };
const publisher = await connectPublisher(redis);
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });

const b = backend('bench', 'web', [endpoint(at)]);
const filler = Array.from({ length: extraRoutes }, (_, i) =>
  virtualHost(`filler-${i}.example.test`, [['Prefix', '/', b]]),
);
const rules: RouteRule[] = [['Exact', '/base', b]];
const content = (): RouteContent =>
  routeContent({
    virtualHosts: [virtualHost('latency.example.test', rules), ...filler],
    backends: [b],
  });

await publisher.publish(content());
const dp = await startDataplane({ node: 'bench-latency', redisUrl: redis.url });

async function served(path: string): Promise<boolean> {
  const res = await request(`http://127.0.0.1:${dp.httpPort}${path}`, {
    headers: { host: 'latency.example.test' },
    dispatcher: agent,
  });
  await res.body.text();
  return res.statusCode === 200;
}

const deadline = Date.now() + 30_000;
while (!(await served('/base'))) {
  if (Date.now() > deadline) throw new Error('the dataplane never served the first table');
  await new Promise((r) => setTimeout(r, 20));
}

progress.part(`route changes on a table of ${extraRoutes + 1} virtual hosts`);
const took: number[] = [];
try {
  for (let i = 0; i < changes; i++) {
    const path = `/change-${i}`;
    rules.push(['Exact', path, b]);
    const started = performance.now();
    await publisher.publish(content());
    while (!(await served(path))) {
      if (performance.now() - started > 5_000) throw new Error(`${path} not served after 5 s`);
      await new Promise((r) => setTimeout(r, 1));
    }
    took.push(performance.now() - started);
    progress.step(i + 1, changes, 'changes served');
  }
} finally {
  await dp.stop();
  publisher.close();
  await agent.close();
  upstream.close();
  await redis.stop();
  await env.stop();
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;
const table = [
  '| changes | virtual hosts in the table | p50 | p99 | max |',
  '| --- | --- | --- | --- | --- |',
  `| ${changes} | ${extraRoutes + 1} | ${ms(quantile(took, 0.5))} | ${ms(quantile(took, 0.99))} | ${ms(Math.max(...took))} |`,
].join('\n');
console.log(table);
writeBenchSection(
  'route-change-latency',
  `## Route change: published to served by the dataplane

\`node test/bench/route-change-latency.ts --changes ${changes} --routes ${extraRoutes}\`: real redis-server and the
\`pier-dataplane\` binary (one worker), on ${machineLine()}, ${new Date().toISOString().slice(0, 10)}. Each change adds one
route; the clock runs from the start of the publication (one MULTI/EXEC) to the first request the new route answers,
polled every millisecond on a kept-alive connection. It includes the dataplane's XREAD, the patch, validation of the
whole table and the rebuild of the route index. No reload of anything.

${table}

Anchors, not measured here: ingress-nginx applies endpoint changes through Lua but reloads NGINX for most Ingress
changes (0.2-12 s reported); Traefik throttles dynamic configuration to one change every 2 s by default.`,
);
progress.done();
