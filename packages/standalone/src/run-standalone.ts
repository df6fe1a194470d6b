/**
 * The `pier standalone` command: chooses the mode, parses the configuration, starts, and stops
 * on SIGINT/SIGTERM. A configuration mistake or a taken port ends it with one line and exit 2.
 */
import { createLogger, isPierError } from '@pier/shared';
import pino from 'pino';
import { startClusterMode } from './cluster-mode.ts';
import { StandaloneApp } from './standalone-app.ts';
import {
  parseStandaloneConfig,
  type StandalonePaths,
  standaloneMode,
  standaloneUsage,
} from './standalone-config.ts';

/** Something that can be stopped on a signal. */
interface Running {
  stop(): Promise<void>;
}

/**
 * Runs the command until a signal; resolves with the exit code.
 *
 * @param paths the repository root and the user's working directory.
 */
export async function runStandalone(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  paths: StandalonePaths,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(standaloneUsage());
    return 0;
  }
  const print = (line: string): void => console.log(line);
  let running: Running;
  try {
    const mode = standaloneMode(env);
    if (mode === 'cluster') {
      if (argv.length > 0) {
        console.error(
          'pier standalone: with REDIS_URL and KUBECONFIG set, configure through the environment variables of pier-controller and pier-dataplane; flags are for the in-memory mode',
        );
        return 2;
      }
      const logger = createLogger({ name: 'pier', level: env.PIER_LOG_LEVEL ?? 'info' });
      running = await startClusterMode(env, logger, print);
    } else {
      const config = parseStandaloneConfig(argv, env, paths);
      // Logs go to stderr as JSON; stdout is the plain account for the user.
      const logger = createLogger({
        name: 'standalone',
        level: config.logLevel,
        destination: pino.destination({ fd: 2, sync: true }),
      });
      const app = new StandaloneApp(config, logger, print, paths.cwd);
      try {
        await app.start();
      } catch (err) {
        await app.stop().catch(() => undefined);
        throw err;
      }
      running = app;
    }
  } catch (err) {
    if (!isPierError(err)) throw err;
    for (const line of err.message.split('\n')) console.error(`pier standalone: ${line}`);
    return 2;
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  print(`${signal}: stopping`);
  await running.stop();
  return 0;
}
