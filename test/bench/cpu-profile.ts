/**
 * Summary of a V8 `.cpuprofile` (node --cpu-prof): self time by area (Node's HTTP server,
 * undici, Pier's own modules, metrics, GC...) and the functions with the most self time.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (the one process.hrtime reads). */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Node's native socket bindings that make system calls (writes mostly). */
const SOCKET_IO = new Set([
  'writev',
  'writeBuffer',
  'writeLatin1String',
  'writeUtf8String',
  'writeAsciiString',
  'readStart',
  'readStop',
  'shutdown',
  'close',
]);

export interface ProfileSummary {
  /** Sampled wall time, ms. */
  totalMs: number;
  /** False when the window given did not overlap the profile and every sample was used. */
  windowed: boolean;
  /** Share of samples in which the thread was idle (waiting in epoll). */
  idleShare: number;
  /** Self time by area, as shares of the busy (non-idle) time, largest first. */
  areas: Array<{ area: string; share: number }>;
  /** Functions with the most self time, as shares of the busy time. */
  functions: Array<{ name: string; where: string; share: number }>;
}

/** The area a frame belongs to, by its script URL. */
export function areaOf(functionName: string, url: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'V8 garbage collector';
    if (functionName === '(program)') return 'native, not attributed to JS (V8, libuv)';
    if (functionName === '(idle)') return 'idle';
    if (SOCKET_IO.has(functionName))
      return 'socket writes (native write bindings and their system calls)';
    return `native: ${functionName}`;
  }
  // After start-up, the only WebAssembly running is undici's llhttp.
  if (url.startsWith('wasm://')) return "undici's llhttp (WebAssembly response parser)";
  if (url.includes('/node_modules/undici/')) return 'undici (upstream HTTP client)';
  if (url.includes('/node_modules/prom-client/')) return 'prom-client (metrics)';
  if (url.includes('/node_modules/pino')) return 'pino (logging)';
  if (url.includes('/node_modules/ioredis/') || url.includes('/node_modules/@ioredis/')) {
    return 'ioredis';
  }
  const pier = /\/packages\/([^/]+)\/src\/(.+)$/.exec(url);
  if (pier) return `Pier: ${pier[1]}/${pier[2]}`;
  if (/^node:_http_(server|incoming|outgoing|common)$/.test(url)) {
    return 'Node HTTP server (node:_http_*)';
  }
  if (
    url === 'node:net' ||
    url.startsWith('node:internal/stream_base_commons') ||
    url.startsWith('node:internal/streams/') ||
    url === 'node:stream' ||
    url === 'node:events'
  ) {
    return 'Node sockets, streams, events';
  }
  if (url.startsWith('node:internal/timers') || url === 'node:timers') return 'Node timers';
  if (url.startsWith('node:')) return `Node other (${url})`;
  if (url.includes('/node_modules/')) return `dependency: ${url.split('/node_modules/').pop()}`;
  return `other: ${basename(url)}`;
}

/**
 * Reads and summarizes a `.cpuprofile`, counting only samples inside `window` (microseconds of
 * `process.hrtime`, the clock V8 stamps samples with) when given and overlapping the profile:
 * start-up (module loading, TypeScript stripping, certificate generation) stays out.
 */
export function summarizeCpuProfile(
  file: string,
  window?: { fromUs: number; toUs: number },
  topFunctions = 12,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const windowed =
    window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  // Self time per node: each sample is charged the time until the next one.
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (windowed && (at < (window?.fromUs ?? 0) || at > (window?.toUs ?? 0))) continue;
    const id = profile.samples[i] as number;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  let total = 0;
  let idle = 0;
  const areas = new Map<string, number>();
  const functions = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    const area = areaOf(functionName, url);
    if (area === 'idle') {
      idle += us;
      continue;
    }
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    // Regular expressions are named by their source, which can be very long.
    const full = functionName || '(anonymous)';
    const name = full.length > 60 ? `${full.slice(0, 59)}…` : full;
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    functions.set(key, entry);
  }
  const busy = Math.max(1, total - idle);
  return {
    totalMs: total / 1000,
    windowed,
    idleShare: total > 0 ? idle / total : 0,
    areas: [...areas]
      .map(([area, us]) => ({ area, share: us / busy }))
      .sort((a, b) => b.share - a.share),
    functions: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topFunctions)
      .map((f) => ({ name: f.name, where: f.where, share: f.us / busy })),
  };
}

function shortUrl(url: string): string {
  const dep = url.split('/node_modules/');
  if (dep.length > 1) return dep[dep.length - 1] as string;
  const pier = /\/(packages\/.+)$/.exec(url);
  return pier ? (pier[1] as string) : url.replace(/^file:\/\//, '');
}
