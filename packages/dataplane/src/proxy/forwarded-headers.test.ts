import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientAddress,
  connectionTokens,
  type ForwardingContext,
  forwardRequestHeaders,
  forwardResponseHeaders,
  isHopByHop,
} from './forwarded-headers.ts';

const CLIENT: ForwardingContext = {
  remoteAddress: '203.0.113.7',
  trusted: false,
  scheme: 'http',
  localPort: 80,
  upgrade: false,
};

/** The headers as a name → values map (lower-case names), for order-independent checks. */
function byName(flat: ReadonlyArray<string | string[]>): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = String(flat[i]).toLowerCase();
    const value = flat[i + 1] as string | string[];
    map.set(name, [...(map.get(name) ?? []), ...(Array.isArray(value) ? value : [value])]);
  }
  return map;
}

test('forwardRequestHeaders: X-Forwarded-* and X-Real-IP', () => {
  const rows: Array<{
    name: string;
    raw: string[];
    ctx?: Partial<ForwardingContext>;
    want: Record<string, string[] | undefined>;
  }> = [
    {
      name: 'a direct client gets its address, the scheme, Host and the local port',
      raw: ['Host', 'shop.example.com:8080'],
      want: {
        'x-forwarded-for': ['203.0.113.7'],
        'x-forwarded-proto': ['http'],
        'x-forwarded-host': ['shop.example.com:8080'],
        'x-forwarded-port': ['80'],
        'x-real-ip': ['203.0.113.7'],
      },
    },
    {
      name: 'an untrusted client cannot forge any of them',
      raw: [
        'Host',
        'shop.example.com',
        'X-Forwarded-For',
        '10.0.0.1',
        'x-forwarded-proto',
        'https',
        'X-Forwarded-Host',
        'evil.example',
        'X-Forwarded-Port',
        '1',
        'X-Real-IP',
        '10.0.0.1',
      ],
      want: {
        'x-forwarded-for': ['203.0.113.7'],
        'x-forwarded-proto': ['http'],
        'x-forwarded-host': ['shop.example.com'],
        'x-forwarded-port': ['80'],
        'x-real-ip': ['203.0.113.7'],
      },
    },
    {
      name: 'a trusted proxy has its list extended and its values kept',
      raw: [
        'Host',
        'shop.example.com',
        'X-Forwarded-For',
        '198.51.100.1, 198.51.100.2',
        'X-Forwarded-For',
        '198.51.100.3',
        'X-Forwarded-Proto',
        'https',
        'X-Forwarded-Host',
        'www.example.com',
        'X-Forwarded-Port',
        '443',
        'X-Real-IP',
        '198.51.100.1',
      ],
      ctx: { trusted: true },
      want: {
        'x-forwarded-for': ['198.51.100.1, 198.51.100.2, 198.51.100.3, 203.0.113.7'],
        'x-forwarded-proto': ['https'],
        'x-forwarded-host': ['www.example.com'],
        'x-forwarded-port': ['443'],
        'x-real-ip': ['198.51.100.1'],
      },
    },
    {
      name: 'a trusted proxy that sent nothing gets Pier values',
      raw: ['Host', 'a.example'],
      ctx: { trusted: true, scheme: 'https', localPort: 443 },
      want: {
        'x-forwarded-for': ['203.0.113.7'],
        'x-forwarded-proto': ['https'],
        'x-forwarded-host': ['a.example'],
        'x-forwarded-port': ['443'],
      },
    },
    {
      name: 'IPv4-mapped and IPv6 clients are written bare',
      raw: ['Host', 'a.example'],
      ctx: { remoteAddress: '::ffff:192.0.2.9' },
      want: { 'x-forwarded-for': ['192.0.2.9'], 'x-real-ip': ['192.0.2.9'] },
    },
    {
      name: 'IPv6 client',
      raw: ['Host', 'a.example'],
      ctx: { remoteAddress: '2001:db8::7' },
      want: { 'x-forwarded-for': ['2001:db8::7'] },
    },
    {
      name: 'no Host (HTTP/1.0): no X-Forwarded-Host',
      raw: ['Accept', '*/*'],
      want: { 'x-forwarded-host': undefined },
    },
  ];
  for (const row of rows) {
    const head = forwardRequestHeaders(row.raw, { ...CLIENT, ...row.ctx });
    const got = byName(head.headers);
    for (const [name, values] of Object.entries(row.want)) {
      assert.deepEqual(got.get(name), values, `${row.name}: ${name}`);
    }
  }
});

test('forwardRequestHeaders: hop-by-hop headers are removed, end-to-end ones kept as sent', () => {
  const rows: Array<{
    name: string;
    raw: string[];
    gone: string[];
    kept: Array<[string, string]>;
  }> = [
    {
      name: 'the fixed hop-by-hop set',
      raw: [
        'Host',
        'a.example',
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'keep-alive',
        'Transfer-Encoding',
        'chunked',
        'Trailer',
        'Expires',
        'Upgrade',
        'h2c',
        'Proxy-Authorization',
        'Basic eDp5',
        'Proxy-Authenticate',
        'Basic',
        'Expect',
        '100-continue',
        'Accept',
        'text/html',
      ],
      gone: [
        'connection',
        'keep-alive',
        'proxy-connection',
        'transfer-encoding',
        'trailer',
        'upgrade',
        'proxy-authorization',
        'proxy-authenticate',
        'expect',
      ],
      kept: [
        ['Host', 'a.example'],
        ['Accept', 'text/html'],
      ],
    },
    {
      name: 'headers named by Connection',
      raw: [
        'Host',
        'a.example',
        'Connection',
        'close, X-Secret-Hop',
        'connection',
        'x-other',
        'X-Secret-Hop',
        '1',
        'X-Other',
        '2',
        'X-Kept',
        '3',
      ],
      gone: ['x-secret-hop', 'x-other', 'connection'],
      kept: [['X-Kept', '3']],
    },
    {
      name: 'TE survives only as "trailers"',
      raw: ['Host', 'a.example', 'TE', 'gzip, trailers;q=1'],
      gone: [],
      kept: [['TE', 'trailers']],
    },
    {
      name: 'TE without trailers is dropped',
      raw: ['Host', 'a.example', 'TE', 'gzip'],
      gone: ['te'],
      kept: [],
    },
    {
      name: 'a second Host or Content-Length is not forwarded',
      raw: ['Host', 'a.example', 'Content-Length', '3', 'host', 'b.example', 'Content-Length', '3'],
      gone: [],
      kept: [
        ['Host', 'a.example'],
        ['Content-Length', '3'],
      ],
    },
  ];
  for (const row of rows) {
    const head = forwardRequestHeaders(row.raw, CLIENT);
    const got = byName(head.headers);
    for (const name of row.gone) assert.equal(got.has(name), false, `${row.name}: ${name} removed`);
    for (const [name, value] of row.kept) {
      const index = head.headers.indexOf(name);
      assert.ok(index >= 0 && index % 2 === 0, `${row.name}: ${name} kept with its case`);
      assert.equal(head.headers[index + 1], value, `${row.name}: ${name} value`);
      assert.equal(
        got.get(name.toLowerCase())?.length,
        1,
        `${row.name}: ${name} forwarded exactly once`,
      );
    }
  }
});

test('forwardRequestHeaders: facts about the request head', () => {
  const rows: Array<{
    raw: string[];
    host: string | undefined;
    hostCount: number;
    contentLength: string | undefined;
    chunked: boolean;
  }> = [
    {
      raw: ['Host', 'A.example:80'],
      host: 'A.example:80',
      hostCount: 1,
      contentLength: undefined,
      chunked: false,
    },
    { raw: [], host: undefined, hostCount: 0, contentLength: undefined, chunked: false },
    {
      raw: ['Host', 'a', 'Host', 'b'],
      host: 'a',
      hostCount: 2,
      contentLength: undefined,
      chunked: false,
    },
    {
      raw: ['Host', 'a', 'Content-Length', '12'],
      host: 'a',
      hostCount: 1,
      contentLength: '12',
      chunked: false,
    },
    {
      raw: ['Host', 'a', 'Transfer-Encoding', 'chunked'],
      host: 'a',
      hostCount: 1,
      contentLength: undefined,
      chunked: true,
    },
  ];
  for (const row of rows) {
    const head = forwardRequestHeaders(row.raw, CLIENT);
    assert.deepEqual(
      {
        host: head.host,
        hostCount: head.hostCount,
        contentLength: head.contentLength,
        chunked: head.chunked,
      },
      {
        host: row.host,
        hostCount: row.hostCount,
        contentLength: row.contentLength,
        chunked: row.chunked,
      },
      JSON.stringify(row.raw),
    );
  }
});

test('forwardRequestHeaders: an upgrade keeps Upgrade and says Connection: upgrade', () => {
  const raw = [
    'Host',
    'ws.example',
    'Connection',
    'Upgrade',
    'Upgrade',
    'websocket',
    'Sec-WebSocket-Key',
    'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version',
    '13',
  ];
  const got = byName(forwardRequestHeaders(raw, { ...CLIENT, upgrade: true }).headers);
  assert.deepEqual(got.get('upgrade'), ['websocket']);
  assert.deepEqual(got.get('connection'), ['upgrade']);
  assert.deepEqual(got.get('sec-websocket-key'), ['dGhlIHNhbXBsZSBub25jZQ==']);
  assert.deepEqual(got.get('sec-websocket-version'), ['13']);
  const plain = byName(forwardRequestHeaders(raw, CLIENT).headers);
  assert.equal(plain.has('upgrade'), false, 'no upgrade: Upgrade removed');
  assert.equal(plain.has('connection'), false, 'no upgrade: Connection removed');
});

test('forwardResponseHeaders', () => {
  const rows: Array<{
    name: string;
    upstream: Record<string, string | string[] | undefined>;
    setCookie?: string;
    want: Record<string, string[] | undefined>;
  }> = [
    {
      name: 'hop-by-hop removed, the rest kept',
      upstream: {
        'content-type': 'text/plain',
        'content-length': '2',
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        trailer: 'x-t',
        upgrade: 'h2c',
        'proxy-authenticate': 'Basic',
        'x-hop': 'gone',
        'x-app': 'kept',
      },
      want: {
        'content-type': ['text/plain'],
        'content-length': ['2'],
        'x-app': ['kept'],
        connection: undefined,
        'keep-alive': undefined,
        'transfer-encoding': undefined,
        trailer: undefined,
        upgrade: undefined,
        'proxy-authenticate': undefined,
        'x-hop': undefined,
      },
    },
    {
      name: 'the affinity cookie follows the upstream cookies',
      upstream: { 'set-cookie': ['a=1', 'b=2'] },
      setCookie: 'pier=abc; Path=/',
      want: { 'set-cookie': ['a=1', 'b=2', 'pier=abc; Path=/'] },
    },
    {
      name: 'the affinity cookie alone',
      upstream: {},
      setCookie: 'pier=abc',
      want: { 'set-cookie': ['pier=abc'] },
    },
  ];
  for (const row of rows) {
    const got = byName(forwardResponseHeaders(row.upstream, row.setCookie));
    for (const [name, values] of Object.entries(row.want)) {
      assert.deepEqual(got.get(name), values, `${row.name}: ${name}`);
    }
  }
});

test('connectionTokens, isHopByHop, clientAddress', () => {
  assert.equal(connectionTokens(undefined), undefined);
  assert.equal(connectionTokens('keep-alive'), undefined, 'connection options are not names');
  assert.equal(connectionTokens('Close, Upgrade'), undefined);
  assert.deepEqual(connectionTokens(['X-A, x-b', ' X-C ']), new Set(['x-a', 'x-b', 'x-c']));
  for (const name of ['connection', 'te', 'transfer-encoding', 'proxy-authorization']) {
    assert.equal(isHopByHop(name), true, name);
  }
  for (const name of ['host', 'cookie', 'x-forwarded-for', 'content-length']) {
    assert.equal(isHopByHop(name), false, name);
  }
  assert.equal(clientAddress('::ffff:198.51.100.4'), '198.51.100.4');
  assert.equal(clientAddress('2001:db8::4'), '2001:db8::4');
  assert.equal(clientAddress(undefined), '');
});
