import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { createLogger } from '@pier/shared';
import { type DashboardSource, startDashboardServer } from './dashboard-server.ts';
import { type DashboardState, healthSummary } from './dashboard-state.ts';

function state(overrides: Partial<DashboardState> = {}): DashboardState {
  return {
    mode: 'cluster',
    at: Date.now(),
    controller: { identity: 'ctrl-0', leader: true },
    store: 'connected',
    revision: 3,
    pools: [],
    addresses: [],
    nodes: [],
    health: healthSummary([]),
    routes: [],
    backends: [],
    events: [],
    ...overrides,
  };
}

/** A source whose state the test changes; counts reads. */
class SettableSource implements DashboardSource {
  current = state();
  reads = 0;
  async read(): Promise<DashboardState> {
    this.reads++;
    return { ...this.current, at: Date.now() };
  }
}

async function serve(source: DashboardSource, options: { maxStreams?: number } = {}) {
  return startDashboardServer({
    host: '127.0.0.1',
    port: 0,
    source,
    logger: createLogger({ name: 'test', level: 'silent' }),
    intervalMs: 100,
    ...options,
  });
}

function get(
  port: number,
  path: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('pages answer with escaped content and a strict policy; anything but GET/HEAD is refused', async (t) => {
  const source = new SettableSource();
  source.current = state({
    events: [
      {
        at: Date.parse('2026-12-01T10:00:00Z'),
        type: 'Warning',
        reason: 'ServiceNotFound',
        object: 'Ingress shop/<script>',
        message: 'backend "<img src=x>" not found',
        count: 2,
      },
    ],
  });
  const server = await serve(source);
  t.after(() => server.close());
  const page = await get(server.port, '/events');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  assert.match(page.body, /Ingress shop\/&lt;script&gt;/);
  assert.match(page.body, /backend &quot;&lt;img src=x&gt;&quot; not found/);
  assert.doesNotMatch(page.body, /<img src=x>/);
  assert.equal((await get(server.port, '/backends?id=none%2Fhere%3A80')).status, 404);
  assert.equal((await get(server.port, '/nowhere')).status, 404);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    assert.equal((await get(server.port, '/', method)).status, 405, method);
  }
  const js = await get(server.port, '/assets/dashboard.js');
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-type']), /javascript/);
  const json = JSON.parse((await get(server.port, '/api/state')).body) as DashboardState;
  assert.equal(json.revision, 3);
});

test('the live stream sends a page again only when its content changed', async (t) => {
  const source = new SettableSource();
  const server = await serve(source);
  t.after(() => server.close());
  const events: string[] = [];
  const req = request({
    host: '127.0.0.1',
    port: server.port,
    path: `/live?page=${encodeURIComponent('/')}`,
  });
  const opened = new Promise<void>((resolve) =>
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        for (const block of chunk.split('\n\n')) {
          const name = /^event: (\w+)/m.exec(block)?.[1];
          if (name) events.push(`${name}:${/^data: (.*)$/m.exec(block)?.[1] ?? ''}`);
        }
      });
      resolve();
    }),
  );
  req.end();
  await opened;
  await new Promise((r) => setTimeout(r, 450));
  const contents = (): string[] => events.filter((e) => e.startsWith('content:'));
  assert.equal(contents().length, 1, 'the first content, then only ticks while nothing changes');
  assert.ok(events.filter((e) => e.startsWith('tick:')).length >= 3);
  source.current = state({ revision: 4 });
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(contents().length, 2);
  assert.match(contents()[1] ?? '', /newest-revision\\">4</);
  req.destroy();
  await new Promise((r) => setTimeout(r, 250));
  const reads = source.reads;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(source.reads, reads, 'nobody looks: nothing is read');
});

test('viewers beyond the limit are refused with 503 rather than slowing the others', async (t) => {
  const server = await serve(new SettableSource(), { maxStreams: 1 });
  t.after(() => server.close());
  const first = request({ host: '127.0.0.1', port: server.port, path: '/live?page=%2F' });
  await new Promise((resolve) => first.on('response', resolve).end());
  t.after(() => first.destroy());
  assert.equal((await get(server.port, '/live?page=%2F')).status, 503);
});
