/**
 * A client for L2 tests, run inside the lab's client namespace (`node test/lib/l2-client.ts
 * <url> <host> <intervalMs> <timeoutMs> <attempts>`): requests `url` with `Host: host` every
 * `intervalMs` on a fresh connection (so each request goes wherever ARP now points), each
 * attempt limited to `timeoutMs`, up to `attempts` tries per request, and prints one JSON line
 * per request: `{"at": <ms since the epoch, start>, "ok": bool, "node": <body>, "attempts": n,
 * "error": <code>}`. Runs until killed.
 */
import { request } from 'node:http';

const [url = '', host = '', intervalText = '50', timeoutText = '500', attemptsText = '1'] =
  process.argv.slice(2);
const intervalMs = Number(intervalText);
const timeoutMs = Number(timeoutText);
const attempts = Number(attemptsText);

function attempt(): Promise<{ ok: boolean; node?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers: { host }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () =>
        resolve(
          res.statusCode === 200
            ? { ok: true, node: body }
            : { ok: false, error: `HTTP ${res.statusCode}` },
        ),
      );
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ ok: false, error: err.code ?? err.message }),
      );
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, error: err.code ?? err.message }),
    );
    req.end();
  });
}

for (;;) {
  const at = Date.now();
  let result: { ok: boolean; node?: string; error?: string } = { ok: false };
  let tries = 0;
  while (tries < attempts) {
    tries++;
    result = await attempt();
    if (result.ok) break;
  }
  process.stdout.write(`${JSON.stringify({ at, ...result, attempts: tries })}\n`);
  const wait = at + intervalMs - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
