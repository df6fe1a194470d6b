#!/usr/bin/env node
/**
 * pier-controller: the entry point. Parses the configuration, wires the
 * controller and handles signals; nothing else.
 */
import { createLogger, isPierError } from '@pier/shared';
import { controllerUsage, parseControllerConfig } from './config.ts';
import { ControllerApp } from './controller-app.ts';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(controllerUsage());
  process.exit(0);
}

let config: ReturnType<typeof parseControllerConfig>;
try {
  config = parseControllerConfig(argv, process.env);
} catch (err) {
  if (!isPierError(err)) throw err;
  for (const line of err.message.split('\n')) console.error(`pier-controller: ${line}`);
  process.exit(2);
}

const logger = createLogger({ name: 'controller', level: config.logLevel });
let app: ControllerApp;
try {
  app = new ControllerApp(config, logger);
} catch (err) {
  if (!isPierError(err)) throw err;
  for (const line of err.message.split('\n')) console.error(`pier-controller: ${line}`);
  process.exit(2);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const timer = setTimeout(() => {
    logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown took too long; exiting');
    process.exit(1);
  }, config.shutdownGraceMs);
  timer.unref();
  await app.stop();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  await app.start();
} catch (err) {
  logger.fatal({ err }, 'start failed');
  process.exit(1);
}
