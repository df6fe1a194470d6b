/**
 * How an address is announced at layer 2 (MetalLB's announcer; the decision whether to is
 * `L2Election`): iproute2 puts it on the interface, so the kernel answers ARP/NDP for it and
 * accepts its traffic, and a burst of unsolicited messages moves the neighbours' caches over:
 *
 * - IPv4: `ip -4 addr replace <a>/32 dev <if>`, then gratuitous ARP with iputils `arping -U`.
 * - IPv6: `ip -6 addr replace <a>/128 dev <if> nodad` (no duplicate address detection: the
 *   previous holder may still have it during a hand-over, and DAD would delay it by a second),
 *   then an unsolicited neighbour advertisement for every address of the interface. The kernel
 *   sends those (with the override flag) when the link-layer address is set and the interface's
 *   `ndisc_notify` is 1; setting it to the address it already has does exactly that and changes
 *   nothing else. A plain `ip addr add` does not send one (checked on Linux 6.x).
 *
 * Needs CAP_NET_ADMIN (addresses, link address, sysctl) and CAP_NET_RAW (arping).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';

/** Runs a program without a shell; resolves with its exit code and output. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** The real runner: `execFile`, 5 s limit. */
export const execCommand: CommandRunner = (file, args) =>
  new Promise((resolve) => {
    execFile(file, args, { timeout: 5_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || err?.message || '') });
    });
  });

/** The `ip` arguments that put the address on the interface (idempotent: `replace`). */
export function addAddressArgs(address: string, iface: string): string[] {
  return isIP(address) === 6
    ? ['-6', 'addr', 'replace', `${address}/128`, 'dev', iface, 'nodad']
    : ['-4', 'addr', 'replace', `${address}/32`, 'dev', iface];
}

/** The `ip` arguments that take the address off the interface. */
export function removeAddressArgs(address: string, iface: string): string[] {
  return isIP(address) === 6
    ? ['-6', 'addr', 'del', `${address}/128`, 'dev', iface]
    : ['-4', 'addr', 'del', `${address}/32`, 'dev', iface];
}

/** The `arping` arguments of one gratuitous ARP (IPv4 only). */
export function gratuitousArpArgs(address: string, iface: string): string[] {
  return ['-U', '-c', '1', '-I', iface, '-s', address, address];
}

/** What `ip` says when the address to delete is not there: the goal is already met. */
const ABSENT = /Cannot assign requested address|does not exist|not found/i;

/** Host-side actions of L2 mode; injectable so the speaker can be driven without a kernel. */
export interface L2Announcer {
  add(address: string, iface: string): Promise<void>;
  remove(address: string, iface: string): Promise<void>;
  /** One round of unsolicited announcements for the address on the interface. */
  announce(address: string, iface: string): Promise<void>;
  /** The host addresses (/32, /128) on the interface. */
  hostAddresses(iface: string): Promise<Set<string>>;
  /** The interface of this node's route to the address (for pools that name no interface). */
  routeInterface(address: string): Promise<string | undefined>;
  /** Whether the interface is up with a carrier. */
  linkUp(iface: string): Promise<boolean>;
}

/** {@link L2Announcer} with iproute2, iputils-arping and sysfs. */
export class IpCommandAnnouncer implements L2Announcer {
  readonly #run: CommandRunner;
  readonly #sysfs: string;
  readonly #procSys: string;

  constructor(options: { run?: CommandRunner; sysfs?: string; procSys?: string } = {}) {
    this.#run = options.run ?? execCommand;
    this.#sysfs = options.sysfs ?? '/sys/class/net';
    this.#procSys = options.procSys ?? '/proc/sys/net/ipv6/conf';
  }

  async add(address: string, iface: string): Promise<void> {
    await this.#must('ip', addAddressArgs(address, iface));
  }

  async remove(address: string, iface: string): Promise<void> {
    const r = await this.#run('ip', removeAddressArgs(address, iface));
    if (r.code !== 0 && !ABSENT.test(r.stderr)) {
      throw new Error(`ip ${removeAddressArgs(address, iface).join(' ')}: ${r.stderr.trim()}`);
    }
  }

  async announce(address: string, iface: string): Promise<void> {
    if (isIP(address) !== 6) {
      await this.#must('arping', gratuitousArpArgs(address, iface));
      return;
    }
    await writeFile(`${this.#procSys}/${iface}/ndisc_notify`, '1');
    const mac = await this.#linkAddress(iface);
    if (mac === undefined) throw new Error(`${iface} has no link-layer address`);
    await this.#must('ip', ['link', 'set', 'dev', iface, 'address', mac]);
  }

  async hostAddresses(iface: string): Promise<Set<string>> {
    const r = await this.#must('ip', ['-j', 'addr', 'show', 'dev', iface]);
    const found = new Set<string>();
    const links = JSON.parse(r.stdout || '[]') as Array<{
      addr_info?: Array<{ local?: string; prefixlen?: number }>;
    }>;
    for (const link of links) {
      for (const a of link.addr_info ?? []) {
        if (a.local && (a.prefixlen === 32 || a.prefixlen === 128)) found.add(a.local);
      }
    }
    return found;
  }

  async routeInterface(address: string): Promise<string | undefined> {
    const r = await this.#run('ip', ['-j', 'route', 'get', address]);
    if (r.code !== 0) return undefined;
    const routes = JSON.parse(r.stdout || '[]') as Array<{ dev?: string }>;
    return routes[0]?.dev;
  }

  async linkUp(iface: string): Promise<boolean> {
    try {
      const state = (await readFile(`${this.#sysfs}/${iface}/operstate`, 'utf8')).trim();
      if (state === 'up') return true;
      // Some virtual links (tun, some bridges) never report an operstate: trust the carrier.
      if (state !== 'unknown') return false;
      return (await readFile(`${this.#sysfs}/${iface}/carrier`, 'utf8')).trim() === '1';
    } catch {
      return false;
    }
  }

  async #linkAddress(iface: string): Promise<string | undefined> {
    const r = await this.#must('ip', ['-j', 'link', 'show', 'dev', iface]);
    const links = JSON.parse(r.stdout || '[]') as Array<{ address?: string }>;
    return links[0]?.address;
  }

  async #must(file: string, args: string[]): Promise<{ stdout: string }> {
    const r = await this.#run(file, args);
    if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr.trim()}`);
    return r;
  }
}
