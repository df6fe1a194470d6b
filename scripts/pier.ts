/**
 * The `./pier` command: dispatches to the package that implements each command.
 */
import { dirname, resolve } from 'node:path';
import { runMigrateCheck } from '@pier/controller';
import { runStandalone } from '@pier/standalone';

const [command, ...rest] = process.argv.slice(2);

const usage = `usage: ./pier <command>

commands:
  standalone   run controller and dataplane in one process from a directory of manifests
               (the shipped examples by default; ./pier standalone --help for flags)
  migrate-check  report, Ingress by Ingress, what Pier serves of Ingresses written for
               ingress-nginx (--dir <manifests> or --kubeconfig; ./pier migrate-check --help)
  version      print the version of Node running Pier`;

switch (command) {
  case 'standalone': {
    const root = resolve(dirname(import.meta.filename), '..');
    process.exitCode = await runStandalone(rest, process.env, { root, cwd: process.cwd() });
    // Whatever an embedded library left open (sockets, timers) must not keep Ctrl-C waiting.
    process.exit();
    break;
  }
  case 'migrate-check': {
    // Relative paths from where the user stands, as `./pier` promises.
    process.exitCode = await runMigrateCheck(rest, process.env, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    });
    break;
  }
  case 'version':
    console.log(`node ${process.version}`);
    break;
  default:
    console.error(usage);
    process.exitCode = command === undefined || command === 'help' ? 0 : 2;
}
