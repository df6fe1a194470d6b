/**
 * The `./pier` command: dispatches to the package that implements each command.
 */
import { dirname, resolve } from 'node:path';
import { runStandalone } from '@pier/standalone';

const [command, ...rest] = process.argv.slice(2);

const usage = `usage: ./pier <command>

commands:
  standalone   run controller and dataplane in one process from a directory of manifests
               (the shipped examples by default; ./pier standalone --help for flags)
  version      print the version of Node running Pier`;

switch (command) {
  case 'standalone': {
    const root = resolve(dirname(import.meta.filename), '..');
    process.exitCode = await runStandalone(rest, process.env, { root, cwd: process.cwd() });
    // Whatever an embedded library left open (sockets, timers) must not keep Ctrl-C waiting.
    process.exit();
    break;
  }
  case 'version':
    console.log(`node ${process.version}`);
    break;
  default:
    console.error(usage);
    process.exitCode = command === undefined || command === 'help' ? 0 : 2;
}
