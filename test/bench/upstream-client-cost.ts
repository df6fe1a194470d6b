/**
 * CPU time per request of an HTTP/1.1 keep-alive client against a server, in this process:
 * undici's Pool through `dispatch` (what Pier's proxy uses, same options and header shape), or a
 * minimal client written on `node:net` for reference (one request per connection at a time,
 * Content-Length bodies only: a floor, not a usable client). Run by test/bench/proxy-cpu.ts:
 *
 *   node test/bench/upstream-client-cost.ts <port> undici|raw [requests] [concurrency]
 *
 * Prints one JSON line: { client, requests, cpuUs, userUs, sysUs }.
 */
import { connect } from 'node:net';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const client = process.argv[3];
const total = Number(process.argv[4] ?? 200_000);
const concurrency = Number(process.argv[5] ?? 50);
if (!Number.isInteger(port) || (client !== 'undici' && client !== 'raw')) {
  console.error('usage: upstream-client-cost.ts <port> undici|raw [requests] [concurrency]');
  process.exit(2);
}

const HOST = 'bench.example.test';
let finished = 0;
const started = process.cpuUsage();

function done(): void {
  finished++;
  if (finished < total) return;
  const used = process.cpuUsage(started);
  console.log(
    JSON.stringify({
      client,
      requests: total,
      cpuUs: (used.user + used.system) / total,
      userUs: used.user / total,
      sysUs: used.system / total,
    }),
  );
  process.exit(0);
}

function fail(err: unknown): never {
  console.error(err);
  process.exit(1);
}

if (client === 'undici') {
  const pool = new Pool(`http://127.0.0.1:${port}`, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    allowH2: false,
    connect: { noDelay: true },
  });
  const headers = [
    'host',
    HOST,
    'user-agent',
    'wrk',
    'x-forwarded-for',
    '127.0.0.1',
    'x-forwarded-proto',
    'http',
    'x-forwarded-host',
    HOST,
    'x-forwarded-port',
    '80',
  ];
  const send = (): void => {
    pool.dispatch(
      { path: '/', method: 'GET', headers, headersTimeout: 60_000, bodyTimeout: 60_000 },
      {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData() {},
        onResponseEnd() {
          done();
          send();
        },
        onResponseError(_controller: unknown, err: Error) {
          fail(err);
        },
      },
    );
  };
  for (let i = 0; i < concurrency; i++) send();
} else {
  const request = Buffer.from(
    `GET / HTTP/1.1\r\nhost: ${HOST}\r\nuser-agent: wrk\r\nx-forwarded-for: 127.0.0.1\r\n` +
      `x-forwarded-proto: http\r\nx-forwarded-host: ${HOST}\r\nx-forwarded-port: 80\r\n\r\n`,
    'latin1',
  );
  const HEAD_END = Buffer.from('\r\n\r\n');
  for (let i = 0; i < concurrency; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request));
    socket.on('error', fail);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const end = pending.indexOf(HEAD_END);
      if (end < 0) return;
      const head = pending.toString('latin1', 0, end).toLowerCase();
      const at = head.indexOf('content-length:');
      const length = at < 0 ? 0 : Number.parseInt(head.slice(at + 15), 10);
      if (pending.length < end + 4 + length) return;
      pending = pending.subarray(end + 4 + length);
      done();
      socket.write(request);
    });
  }
}
