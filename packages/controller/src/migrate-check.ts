/**
 * `pier migrate-check`: reads Ingresses from a directory of manifests (offline) or from a cluster
 * (a kubeconfig), and prints {@link migrationReport}: a table for people or JSON for scripts.
 * Exits 0 when every checked Ingress would be served as ingress-nginx serves it, 1 when something
 * would change, 2 on a usage error or when the input cannot be read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, loadAllYaml, NetworkingV1Api, type V1Ingress } from '@kubernetes/client-node';
import { FlagReader, type FlagSpecs, flagUsage, isPierError } from '@pier/shared';
import { formatMigrationReport, migrationReport } from './ingress/migration-report.ts';

export const MIGRATE_CHECK_FLAGS: FlagSpecs = Object.freeze({
  dir: {
    env: 'PIER_MIGRATE_DIR',
    help: 'read Ingresses from the manifests (*.yaml, *.yml, *.json) under this directory',
  },
  kubeconfig: {
    env: 'KUBECONFIG',
    help: 'read every Ingress of the cluster (used when --dir is not given)',
  },
  class: {
    env: 'PIER_MIGRATE_CLASS',
    default: 'nginx',
    help: 'comma-separated ingress-nginx class names',
  },
  output: { env: 'PIER_MIGRATE_OUTPUT', default: 'table', help: 'table or json' },
});

/** Where the command writes. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Runs the command; resolves to its exit code. */
export async function runMigrateCheck(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CommandIo,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(`${flagUsage('pier migrate-check', MIGRATE_CHECK_FLAGS)}\n`);
    return 0;
  }
  let options: { dir?: string; kubeconfig?: string; classes: string[]; output: 'table' | 'json' };
  try {
    const flags = new FlagReader(MIGRATE_CHECK_FLAGS, argv, env);
    const dir = flags.string('dir');
    const kubeconfig = flags.string('kubeconfig');
    if (dir === undefined && kubeconfig === undefined) {
      flags.errorAbout(['dir', 'kubeconfig'], 'give a directory of manifests or a kubeconfig');
    }
    const output = flags.oneOf('output', ['table', 'json'] as const);
    const classes = (flags.string('class') ?? '')
      .split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '');
    if (classes.length === 0) flags.error('class', 'names no class');
    flags.finish();
    options = {
      classes,
      output,
      ...(dir === undefined ? {} : { dir }),
      ...(kubeconfig === undefined ? {} : { kubeconfig }),
    };
  } catch (err) {
    if (!isPierError(err, 'PIER_INVALID_CONFIG')) throw err;
    io.err(`${err.message}\n`);
    return 2;
  }

  let ingresses: V1Ingress[];
  try {
    ingresses =
      options.dir !== undefined
        ? ingressesInDirectory(options.dir)
        : await ingressesInCluster(options.kubeconfig as string);
  } catch (err) {
    io.err(`pier migrate-check: ${(err as Error).message}\n`);
    return 2;
  }
  const report = migrationReport(ingresses, options.classes);
  io.out(
    options.output === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : formatMigrationReport(report),
  );
  return report.summary.changes > 0 ? 1 : 0;
}

/** Every Ingress in the manifests under `dir`, in file name order. */
export function ingressesInDirectory(dir: string): V1Ingress[] {
  const found: V1Ingress[] = [];
  for (const file of manifestFiles(dir)) {
    let documents: unknown[];
    try {
      documents = loadAllYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    for (const doc of documents) collectIngresses(doc, found);
  }
  return found;
}

function manifestFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...manifestFiles(path));
    else if (/\.(ya?ml|json)$/.test(entry)) files.push(path);
  }
  return files;
}

/** Ingresses of a document, and of a `List` (as `kubectl get -o yaml` writes). */
function collectIngresses(doc: unknown, into: V1Ingress[]): void {
  if (typeof doc !== 'object' || doc === null) return;
  const o = doc as { kind?: unknown; items?: unknown };
  if (o.kind === 'Ingress') into.push(doc as V1Ingress);
  else if (Array.isArray(o.items)) for (const item of o.items) collectIngresses(item, into);
}

async function ingressesInCluster(kubeconfig: string): Promise<V1Ingress[]> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(NetworkingV1Api);
  const items: V1Ingress[] = [];
  let next: string | undefined;
  do {
    const page = await api.listIngressForAllNamespaces({
      limit: 500,
      ...(next ? { _continue: next } : {}),
    });
    items.push(...page.items);
    next = page.metadata?._continue || undefined;
  } while (next !== undefined);
  return items;
}
