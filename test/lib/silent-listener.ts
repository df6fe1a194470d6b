/**
 * A stand-in pod that never answers a connection: a listener whose accept queue is full, in a
 * process whose event loop is parked, so the kernel drops every further SYN and a connect hangs
 * until the connecting side gives up. This is how an overloaded or half-dead pod looks to a
 * proxy's connect timeout (a refused connect, what a free port gives, fails at once instead).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** Listens with the smallest queue, prints its port, then parks its only thread. */
const SCRIPT = `
const server = require('node:net').createServer();
server.listen({ host: process.argv[1], port: 0, backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n');
  setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
});`;

export interface SilentListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A connection to `address:port` if it completes within `ms`. */
function connects(address: string, port: number, ms: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Starts one on `address` (a documentation-range address of the suite's namespace). */
export async function startSilentListener(address: string): Promise<SilentListener> {
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, address], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  // Fill the accept queue: connections complete until it is full, then SYNs are dropped.
  const fillers: Socket[] = [];
  for (let i = 0; ; i++) {
    const socket = await connects(address, port, 300);
    if (socket === undefined) break;
    fillers.push(socket);
    if (i === 10) throw new Error(`the listener on ${address}:${port} keeps accepting`);
  }
  return {
    address,
    port,
    async close() {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}
