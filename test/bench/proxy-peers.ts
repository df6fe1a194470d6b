/**
 * The servers Pier's dataplane is compared with in test/bench/proxy-throughput.ts: an nginx
 * backend, nginx and HAProxy as reverse proxies to it, and a bare node:http server. Each runs in
 * its own process group (see bench-processes.ts), optionally pinned with `taskset -c`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { waitUntil } from '../lib/child-process.ts';
import { freePort } from '../lib/redis-server.ts';
import { type GroupProcess, startGroup } from './bench-processes.ts';

/** `taskset -c <cores> command args...`, or the command itself when unpinned. */
export function pinned(
  cores: string | undefined,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return cores === undefined ? [command, [...args]] : ['taskset', ['-c', cores, command, ...args]];
}

const isRoot = process.getuid?.() === 0;

/** The parts every nginx instance shares: foreground, files in `dir`, no access log. */
function nginxMain(dir: string, workers: number, http: string): string {
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  return `${isRoot ? 'user root;\n' : ''}daemon off;
worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  # nginx alone closes a keep-alive connection after 1000 requests by default; the others never do.
  keepalive_requests 1000000;
${http}
}
`;
}

/** The backend every proxy forwards to: `return 200 "ok\n"`, one worker. */
export function backendNginxConf(dir: string, port: number): string {
  return nginxMain(
    dir,
    1,
    `  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { return 200 "ok\\n"; }
  }`,
  );
}

/** TLS 1.3 suites in Pier's order (tls-store DEFAULT_CIPHERS), server preference. */
const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** nginx as a reverse proxy to `backendPort`, on `port` and (TLS) `tlsPort`. */
export function proxyNginxConf(
  dir: string,
  options: {
    port: number;
    backendPort: number;
    workers: number;
    tls?: { port: number; certFile: string; keyFile: string };
  },
): string {
  const location = `    location / {
      proxy_pass http://b;
    }`;
  const tls = options.tls
    ? `
  server {
    listen 127.0.0.1:${options.tls.port} ssl backlog=4096;
    ssl_certificate ${options.tls.certFile};
    ssl_certificate_key ${options.tls.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_conf_command Ciphersuites ${TLS13_SUITES};
    ssl_prefer_server_ciphers on;
${location}
  }`
    : '';
  return nginxMain(
    dir,
    options.workers,
    `  upstream b {
    server 127.0.0.1:${options.backendPort};
    keepalive 512;
    keepalive_requests 1000000;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  server {
    listen 127.0.0.1:${options.port} backlog=4096;
${location}
  }${tls}`,
  );
}

/**
 * HAProxy's maxconn: 10000, or less when the hard limit on open files is too low for it
 * (HAProxy wants 2 × maxconn plus a few per thread, and refuses to start without them).
 */
export function haproxyMaxconn(): number {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const hard = Number(/^Max open files\s+\S+\s+(\d+)/m.exec(limits)?.[1] ?? Number.NaN);
  return Number.isFinite(hard) ? Math.min(10_000, Math.floor((hard - 100) / 2)) : 10_000;
}

/** HAProxy in HTTP mode to `backendPort`, no logging. */

export function haproxyConf(options: {
  port: number;
  backendPort: number;
  threads: number;
  maxconn: number;
}): string {
  return `global
  nbthread ${options.threads}
  maxconn ${options.maxconn}

defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always

frontend fe
  bind 127.0.0.1:${options.port}
  default_backend be

backend be
  server s1 127.0.0.1:${options.backendPort}
`;
}

/** A bare node:http server answering "ok\n": what Node's HTTP stack does without proxying. */
export const NODE_BARE_SERVER = `import { createServer } from 'node:http';
const port = Number(process.argv[2]);
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
  res.end('ok\\n');
}).listen(port, '127.0.0.1');
`;

/** Starts nginx with `conf` written to `dir/nginx.conf`. */
export function startNginx(
  name: string,
  dir: string,
  conf: string,
  cores: string | undefined,
): GroupProcess {
  mkdirSync(dir, { recursive: true });
  const confFile = join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const [command, args] = pinned(cores, '/usr/sbin/nginx', [
    '-p',
    dir,
    '-c',
    confFile,
    '-e',
    join(dir, 'error.log'),
  ]);
  return startGroup(name, command, args, join(dir, 'stdout.log'));
}

/**
 * Starts the backend nginx ({@link backendNginxConf}) on a free port, in `stateDir/backend`;
 * resolves once it answers `ok\n` for `host`, and stops it if it does not.
 */
export async function startBackendNginx(
  stateDir: string,
  host: string,
  cores: string | undefined,
): Promise<{ process: GroupProcess; port: number }> {
  const port = await freePort();
  const dir = join(stateDir, 'backend');
  const proc = startNginx('backend', dir, backendNginxConf(dir, port), cores);
  try {
    await waitForBody('the backend nginx', `http://127.0.0.1:${port}/`, host, 'ok\n', proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { process: proc, port };
}

/** Starts HAProxy in the foreground (`-db`) with `conf` written to `dir/haproxy.cfg`. */
export function startHaproxy(
  name: string,
  dir: string,
  conf: string,
  cores: string | undefined,
): GroupProcess {
  mkdirSync(dir, { recursive: true });
  const confFile = join(dir, 'haproxy.cfg');
  writeFileSync(confFile, conf);
  const [command, args] = pinned(cores, '/usr/sbin/haproxy', ['-db', '-f', confFile]);
  return startGroup(name, command, args, join(dir, 'haproxy.log'));
}

/** Starts the bare Node server on `port` with this process's Node. */
export function startNodeBare(dir: string, port: number, cores: string | undefined): GroupProcess {
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'node-bare.mjs');
  writeFileSync(script, NODE_BARE_SERVER);
  const [command, args] = pinned(cores, process.execPath, [script, String(port)]);
  return startGroup('node-bare', command, args, join(dir, 'node-bare.log'));
}

/** GET `url` with a Host header; resolves with status and body (TLS: any certificate). */
export function getBody(
  url: string,
  host: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { host }, agent: false, rejectUnauthorized: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Waits until `url` answers `body`; fails at once if `process` exits first. */
export async function waitForBody(
  what: string,
  url: string,
  host: string,
  body: string,
  process: GroupProcess,
  timeoutMs = 30_000,
): Promise<void> {
  const exited = process.exited.then((code) => {
    throw new Error(`${process.name} exited (${code}); see ${process.logFile}`);
  });
  exited.catch(() => undefined); // it exits later, when stopped: not an error then
  await Promise.race([
    exited,
    waitUntil(
      what,
      async () => {
        const res = await getBody(url, host);
        return res.status === 200 && res.body === body ? true : undefined;
      },
      timeoutMs,
      100,
    ),
  ]);
}

/** One TLS connection with an HTTP request; resolves with the socket's session after the response. */
function tlsExchange(
  port: number,
  host: string,
  session: Buffer | undefined,
): Promise<{ session: Buffer | undefined; reused: boolean; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    let reused = false;
    let protocol: string | null = null;
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    socket.on('session', (s: Buffer) => {
      latest = s;
    });
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      protocol = socket.getProtocol();
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    socket.resume();
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.once('error', reject);
    socket.once('close', () => resolve({ session: latest, reused, protocol }));
  });
}

/** Whether a server resumes a TLS session a client offers again; and the protocol used. */
export async function tlsResumption(
  port: number,
  host: string,
): Promise<{ resumes: boolean; protocol: string }> {
  const first = await tlsExchange(port, host, undefined);
  if (first.session === undefined) return { resumes: false, protocol: first.protocol ?? '?' };
  const second = await tlsExchange(port, host, first.session);
  return { resumes: second.reused, protocol: first.protocol ?? '?' };
}
