/**
 * A small layer-2 network for L2-mode tests, made of network namespaces nested in the suite's
 * own (so nothing touches the host): a "switch" namespace with a bridge, and one namespace per
 * edge node and for the client, each with a veth `eth0` plugged into the bridge, addressed from
 * 198.51.100.0/24. There is no default route anywhere: nothing can leave the lab.
 *
 * Each namespace is held open by a `sleep` that also has a mount namespace of its own with
 * sysfs mounted fresh, so `/sys/class/net` inside shows the namespace's own interfaces (the
 * dataplane reads link state there). Killing the holders removes namespaces and veths.
 */
import { join } from 'node:path';
import { type ManagedProcess, run, startProcess, waitUntil } from './child-process.ts';
import { inPrivateNetwork } from './private-network.ts';

/** The link subnet of the lab. */
export const LAB_SUBNET = '198.51.100.0/24';

/** A network namespace of the lab. */
export interface LabNamespace {
  readonly name: string;
  /** Pid of the process holding it (for `nsenter -t`). */
  readonly pid: number;
  /** Its address on the lab link (`eth0`), when it has one. */
  readonly address: string | undefined;
  /** Runs a command inside and waits for it. */
  exec(
    command: string,
    args: readonly string[],
    options?: { allowFailure?: boolean },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts a long-running command inside, output to `logFile`. */
  spawn(command: string, args: readonly string[], logFile: string): ManagedProcess;
}

/** The lab: a switch, edges and a client. */
export interface L2Lab {
  readonly switch: LabNamespace;
  readonly edges: readonly LabNamespace[];
  readonly client: LabNamespace;
  /** Kills every namespace holder: the namespaces and veths go with them. */
  remove(): Promise<void>;
}

const HOLD = 'mount -t sysfs sysfs /sys && echo ready && exec sleep infinity';

async function createNamespace(
  name: string,
  address: string | undefined,
  stateDir: string,
  holders: ManagedProcess[],
): Promise<LabNamespace> {
  const holder = startProcess(
    'unshare',
    ['-nm', 'sh', '-c', HOLD],
    join(stateDir, `ns-${name}.log`),
  );
  holders.push(holder);
  const pid = holder.child.pid;
  if (pid === undefined) throw new Error(`namespace ${name} did not start`);
  const enter = ['-t', String(pid), '-n', '-m'];
  const ns: LabNamespace = {
    name,
    pid,
    address,
    exec: (command, args, options = {}) => run('nsenter', [...enter, command, ...args], options),
    spawn: (command, args, logFile) =>
      startProcess('nsenter', [...enter, command, ...args], logFile),
  };
  // Ready once sysfs inside lists only the namespace's own loopback.
  await waitUntil(`namespace ${name}`, async () => {
    const { stdout } = await ns.exec('ls', ['/sys/class/net'], { allowFailure: true });
    return stdout.trim() === 'lo' ? true : undefined;
  });
  await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  return ns;
}

/**
 * Builds the lab: `edges` (name → link address) and a client at `clientAddress`, all on one
 * bridge. Routes for `vipRange` on the client point at the link (on-link, so the client ARPs for
 * each VIP as it would on a real segment).
 */
export async function createL2Lab(options: {
  stateDir: string;
  edges: ReadonlyArray<{ name: string; address: string }>;
  client: string;
  vipRange: string;
}): Promise<L2Lab> {
  if (!inPrivateNetwork()) {
    throw new Error('refusing to build namespaces outside the suite namespace');
  }
  const holders: ManagedProcess[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(holders.map((h) => h.stop(1_000)));
  };
  try {
    const sw = await createNamespace('switch', undefined, options.stateDir, holders);
    await sw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
    await sw.exec('ip', ['link', 'set', 'br0', 'up']);
    const plug = async (name: string, address: string): Promise<LabNamespace> => {
      const ns = await createNamespace(name, address, options.stateDir, holders);
      const port = `${name}-br`.slice(0, 15);
      const peer = `${name}-if`.slice(0, 15);
      await sw.exec('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', peer]);
      await sw.exec('ip', ['link', 'set', peer, 'netns', String(ns.pid)]);
      await sw.exec('ip', ['link', 'set', port, 'master', 'br0', 'up']);
      await ns.exec('ip', ['link', 'set', peer, 'name', 'eth0']);
      await ns.exec('ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
      return ns;
    };
    const edges = [];
    for (const edge of options.edges) edges.push(await plug(edge.name, edge.address));
    const client = await plug('client', options.client);
    await client.exec('ip', ['route', 'add', options.vipRange, 'dev', 'eth0']);
    return { switch: sw, edges, client, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
