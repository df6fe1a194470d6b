#!/usr/bin/env node
/**
 * pier-dataplane: the entry point. With more than one worker, a primary
 * process forks the workers (each listens with SO_REUSEPORT, so the kernel
 * spreads connections over them), serves /metrics aggregated over all of
 * them, restarts a worker that dies, and drains them all on SIGTERM. Worker 0
 * sends the node's health probes and heartbeats; every worker follows Redis
 * and the shared health state on its own.
 */
import cluster from 'node:cluster';
import { createLogger, isPierError, type OpsServer, startOpsServer } from '@pier/shared';
import { AggregatorRegistry } from 'prom-client';
import { lowerHelperThreads } from './background/thread-priority.ts';
import { type DataplaneConfig, dataplaneUsage, parseDataplaneConfig } from './config.ts';
import { DataplaneApp } from './dataplane-app.ts';
import { createDataplaneMetrics } from './dataplane-metrics.ts';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(dataplaneUsage());
  process.exit(0);
}

function fail(err: unknown): never {
  if (!isPierError(err)) throw err;
  for (const line of err.message.split('\n')) console.error(`pier-dataplane: ${line}`);
  process.exit(2);
}

let config: DataplaneConfig;
try {
  config = parseDataplaneConfig(argv, process.env);
} catch (err) {
  fail(err);
}
const logger = createLogger({ name: 'dataplane', level: config.logLevel });

async function runPrimary(): Promise<void> {
  const aggregator = new AggregatorRegistry();
  const ready = new Set<number>();
  let stopping = false;
  const fork = (index: number): void => {
    const worker = cluster.fork({ PIER_WORKER_INDEX: String(index) });
    worker.on('message', (m: unknown) => {
      if (m === 'ready') ready.add(index);
    });
    worker.on('exit', (code, signal) => {
      ready.delete(index);
      if (stopping) return;
      logger.error({ worker: index, code, signal }, 'worker died; starting another');
      setTimeout(() => fork(index), 500).unref();
    });
  };
  for (let i = 0; i < config.workers; i++) fork(i);
  const ops: OpsServer = await startOpsServer({
    host: config.ops.host,
    port: config.ops.port,
    registry: { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
    readiness: () =>
      ready.size === config.workers ? undefined : `${ready.size}/${config.workers} workers ready`,
  });
  logger.info({ workers: config.workers, opsPort: ops.port }, 'dataplane started');
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    const workers = Object.values(cluster.workers ?? {});
    for (const w of workers) w?.send('drain');
    const deadline = setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, config.drainGraceMs + 5_000);
    deadline.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        void ops.close().then(() => process.exit(0));
      }
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function runWorker(index: number, count: number): Promise<void> {
  // V8's helpers yield the core to this (the serving) thread, as the background thread does.
  const helperThreads = lowerHelperThreads();
  const metrics = createDataplaneMetrics();
  const inCluster = cluster.isWorker;
  if (inCluster) {
    // Constructing one installs the worker's answer to the primary's metrics requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
  }
  const app = new DataplaneApp(config, logger.child({ worker: index }), metrics, {
    index,
    count,
    probes: index === 0,
    reusePort: count > 1,
  });
  let ops: OpsServer | undefined;
  let stopping = false;
  const drain = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ worker: index, reason }, 'draining');
    await app.stop();
    await ops?.close();
    process.exit(0);
  };
  try {
    await app.start();
  } catch (err) {
    if (isPierError(err)) fail(err);
    logger.fatal({ err }, 'start failed');
    process.exit(1);
  }
  if (inCluster) {
    process.on('message', (m: unknown) => {
      if (m === 'drain') void drain('primary');
    });
    // The primary handles signals for the whole group.
    process.on('SIGTERM', () => undefined);
    process.on('SIGINT', () => undefined);
    process.send?.('ready');
  } else {
    ops = await startOpsServer({
      host: config.ops.host,
      port: config.ops.port,
      registry: metrics.registry,
      readiness: () => (app.ready ? undefined : 'no route table or listener yet'),
    });
    process.on('SIGTERM', () => void drain('SIGTERM'));
    process.on('SIGINT', () => void drain('SIGINT'));
  }
  logger.info(
    {
      worker: index,
      http: app.listeners.map((l) => l.port),
      opsPort: ops?.port,
      node: config.nodeName,
      helperThreads,
    },
    'dataplane serving',
  );
}

if (config.workers > 1 && cluster.isPrimary) {
  await runPrimary();
} else {
  const index = Number(process.env.PIER_WORKER_INDEX ?? 0);
  await runWorker(index, config.workers);
}
