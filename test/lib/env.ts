/**
 * What the runner (test/run.ts) tells the test files through the environment:
 * where the real API server and Redis it started can be reached.
 */
export interface TestEnv {
  /** Admin kubeconfig (system:masters) of the test API server. */
  readonly kubeconfig: string;
  readonly server: string;
  readonly redisUrl: string;
  readonly redisHost: string;
  readonly redisPort: number;
  readonly redisPassword: string;
  /** Scratch directory for this run (logs, state); removed on the next run. */
  readonly stateDir: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: integration tests run through ./run-tests, which starts the API server and Redis`,
    );
  }
  return value;
}

let cached: TestEnv | undefined;

export function testEnv(): TestEnv {
  cached ??= Object.freeze({
    kubeconfig: required('PIER_TEST_KUBECONFIG'),
    server: required('PIER_TEST_SERVER'),
    redisUrl: required('PIER_TEST_REDIS_URL'),
    redisHost: required('PIER_TEST_REDIS_HOST'),
    redisPort: Number(required('PIER_TEST_REDIS_PORT')),
    redisPassword: required('PIER_TEST_REDIS_PASSWORD'),
    stateDir: required('PIER_TEST_STATE_DIR'),
  });
  return cached;
}
