/**
 * Runs the dataplane's L2 announcer once, for tests that check what the kernel and the
 * neighbours make of it: `node --conditions=@pier/source test/lib/l2-announce-once.ts
 * <address> <interface>` adds the address to the interface and sends one round of
 * announcements, in whatever network namespace it is started in.
 */
import { IpCommandAnnouncer } from '../../packages/dataplane/src/l2/l2-announcer.ts';

const [address = '', iface = ''] = process.argv.slice(2);
const announcer = new IpCommandAnnouncer();
await announcer.add(address, iface);
await announcer.announce(address, iface);
