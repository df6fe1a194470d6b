/**
 * The `./pier` command. Standalone mode (controller and dataplane in one
 * process, fed from a directory of manifests) is not built yet: it lands with
 * the standalone-mode issue. Until then this says so plainly instead of
 * pretending.
 */
const [command] = process.argv.slice(2);

const usage = `usage: ./pier <command>

commands:
  standalone   run controller and dataplane in one process from example manifests
               (not built yet: see README.md, "Status")
  version      print the version of Node running Pier`;

switch (command) {
  case 'standalone':
    console.error(
      'pier: standalone mode is not built yet. Today the repository holds the foundation\n' +
        '(workspace, shared route model, test ground); see README.md, "Status".',
    );
    process.exitCode = 2;
    break;
  case 'version':
    console.log(`node ${process.version}`);
    break;
  default:
    console.error(usage);
    process.exitCode = command === undefined || command === 'help' ? 0 : 2;
}
