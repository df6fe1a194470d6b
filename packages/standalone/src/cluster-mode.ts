/**
 * `pier standalone` with `REDIS_URL` and `KUBECONFIG` both set: the real controller and the real
 * dataplane, unchanged, in one process, against the real cluster and Redis. Each is configured
 * exactly as its own binary is, from the environment (`PIER_KEY_RING_FILE`, `PIER_HTTP_LISTEN`,
 * `PIER_LISTEN`… see docs/addresses.md and docs/dataplane.md); this file only starts and stops
 * them together.
 */
import { ControllerApp, parseControllerConfig } from '@pier/controller';
import { createDataplaneMetrics, DataplaneApp, parseDataplaneConfig } from '@pier/dataplane';
import { type OpsServer, type PierLogger, startOpsServer } from '@pier/shared';
import type { Print } from './standalone-app.ts';

/** The running pair. */
export interface ClusterMode {
  stop(): Promise<void>;
}

/**
 * Parses both configurations (throwing InvalidConfigError naming the variable on a mistake),
 * then starts the controller, the dataplane (one worker) and the dataplane's ops server.
 */
export async function startClusterMode(
  env: Readonly<Record<string, string | undefined>>,
  logger: PierLogger,
  print: Print,
): Promise<ClusterMode> {
  const controllerConfig = parseControllerConfig([], env);
  const dataplaneConfig = parseDataplaneConfig(['--workers', '1'], env);
  const controller = new ControllerApp(controllerConfig, logger.child({ part: 'controller' }));
  const metrics = createDataplaneMetrics();
  const dataplane = new DataplaneApp(
    dataplaneConfig,
    logger.child({ part: 'dataplane' }),
    metrics,
    {
      index: 0,
      count: 1,
      probes: true,
      reusePort: false,
    },
  );
  let ops: OpsServer | undefined;
  const stop = async (): Promise<void> => {
    await dataplane.stop();
    await ops?.close();
    await controller.stop();
  };
  try {
    await controller.start();
    await dataplane.start();
    ops = await startOpsServer({
      host: dataplaneConfig.ops.host,
      port: dataplaneConfig.ops.port,
      registry: metrics.registry,
      readiness: () => (dataplane.ready ? undefined : 'no route table or listener yet'),
    });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  print(
    `Pier on the cluster of ${env.KUBECONFIG} with Redis: controller and dataplane (node ${dataplaneConfig.nodeName}) in one process`,
  );
  return { stop };
}
