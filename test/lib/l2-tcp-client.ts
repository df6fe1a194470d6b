/**
 * A TCP client for L2 tests, run inside the lab's client namespace (`node
 * test/lib/l2-tcp-client.ts <address> <port> <intervalMs> <timeoutMs>`): opens a new connection
 * to `address:port` every `intervalMs` (so each goes wherever ARP now points), reads what the
 * server writes until it closes, each connection limited to `timeoutMs`, and prints one JSON line
 * per connection: `{"at": <ms since the epoch, start>, "ok": bool, "node": <what was read>,
 * "error": <code>}`. Runs until killed.
 */
import { connect } from 'node:net';

const [address = '', portText = '0', intervalText = '50', timeoutText = '500'] =
  process.argv.slice(2);
const port = Number(portText);
const intervalMs = Number(intervalText);
const timeoutMs = Number(timeoutText);

type Result = { ok: boolean; node?: string; error?: string };

function attempt(): Promise<Result> {
  return new Promise((resolve) => {
    let body = '';
    let finished = false;
    const socket = connect({ host: address, port });
    const finish = (result: Result): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // The whole exchange, connecting included (a SYN to a node that dropped the address is
    // never answered).
    const timer = setTimeout(() => finish({ ok: false, error: 'TIMEOUT' }), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      body += d;
    });
    // A forwarder whose endpoint is unreachable closes without writing anything.
    socket.on('end', () =>
      finish(body === '' ? { ok: false, error: 'EMPTY' } : { ok: true, node: body }),
    );
    socket.on('error', (err: NodeJS.ErrnoException) =>
      finish({ ok: false, error: err.code ?? err.message }),
    );
  });
}

for (;;) {
  const at = Date.now();
  const result = await attempt();
  process.stdout.write(`${JSON.stringify({ at, ...result })}\n`);
  const wait = at + intervalMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
