/**
 * A stand-in pod that stops reading an upload: of `POST /upload` it reads the head and then
 * nothing more (`socket.pause()`), so the connection's buffers fill and stay full, as a pod too
 * busy to read its socket looks to a proxy's send timeout. Any other request (health probes, the
 * stand's probe) gets a 200 with the echo's `{"url"}` and the connection closes.
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

export interface StallingPod {
  readonly address: string;
  readonly port: number;
  /** Upload heads taken so far. */
  readonly uploads: number;
  close(): Promise<void>;
}

/** Listens on `address` (port chosen by the kernel). */
export async function startStallingPod(address: string): Promise<StallingPod> {
  /** Every open connection, destroyed on close. */
  const open = new Set<Socket>();
  let uploads = 0;
  const server = createServer((socket) => {
    let head = '';
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) {
        if (head.length > 16 * 1024) socket.destroy();
        return;
      }
      socket.off('data', onData);
      const [method, url] = head.slice(0, head.indexOf('\r\n')).split(' ');
      if (method === 'POST' && url === '/upload') {
        socket.pause();
        uploads++;
        return;
      }
      const body = JSON.stringify({ url });
      socket.end(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    socket.on('data', onData);
  });
  server.listen(0, address);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    address,
    port,
    get uploads() {
      return uploads;
    },
    async close() {
      for (const socket of open) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
