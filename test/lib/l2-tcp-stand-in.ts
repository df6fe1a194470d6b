/**
 * TCP stand-ins for a Service of type LoadBalancer in the L2 lab, run inside an edge namespace:
 *
 *   node test/lib/l2-tcp-stand-in.ts endpoint <address> <port> <text>
 *     a pod: writes `text` (the node's name) to each connection and closes it;
 *   node test/lib/l2-tcp-stand-in.ts forward <port> <toAddress> <toPort>
 *     kube-proxy's part, which Pier leaves to kube-proxy: listens on 0.0.0.0:<port>, so it
 *     accepts connections to the Service address once the node's dataplane puts it on eth0, and
 *     pipes each to the endpoint.
 *
 * Prints `{"listening": "<address>:<port>"}` once it listens; runs until killed.
 */
import { connect, createServer, type Server } from 'node:net';

const [mode = '', ...args] = process.argv.slice(2);

function endpoint(address: string, port: number, text: string): Server {
  return createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(text);
  }).listen(port, address, () => listening(address, port));
}

function forward(port: number, toAddress: string, toPort: number): Server {
  return createServer((downstream) => {
    const upstream = connect({ host: toAddress, port: toPort });
    upstream.on('error', () => downstream.destroy());
    downstream.on('error', () => upstream.destroy());
    downstream.pipe(upstream).pipe(downstream);
  }).listen(port, '0.0.0.0', () => listening('0.0.0.0', port));
}

function listening(address: string, port: number): void {
  process.stdout.write(`${JSON.stringify({ listening: `${address}:${port}` })}\n`);
}

const [first = '', second = '', third = ''] = args;
let server: Server;
if (mode === 'endpoint') server = endpoint(first, Number(second), third);
else if (mode === 'forward') server = forward(Number(first), second, Number(third));
else throw new Error(`unknown mode ${JSON.stringify(mode)}: expected endpoint or forward`);
server.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
