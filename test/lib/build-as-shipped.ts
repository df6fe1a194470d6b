/**
 * Builds the packages as the image does (see the Dockerfile): `tsc --build`, then the
 * controller's bundle (`scripts/bundle-controller.ts`). What runs "as shipped" in a test or a
 * benchmark runs what this makes.
 */
import { join } from 'node:path';
import { run } from './child-process.ts';
import { REPO_ROOT } from './test-cluster.ts';

/** The file `deploy/image/bin/pier-controller` runs, in the repository. */
export const SHIPPED_CONTROLLER = join(
  REPO_ROOT,
  'packages',
  'controller',
  'dist',
  'pier-controller.js',
);

/** `tsc --build` and the controller's bundle; rejects with their output when either fails. */
export async function buildAsShipped(): Promise<void> {
  await run(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '--build'],
    {
      cwd: REPO_ROOT,
    },
  );
  await run(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle-controller.ts')], {
    cwd: REPO_ROOT,
  });
}
