/**
 * The CPU cost of compiling routes, in this process, no I/O: a full compile of N Ingresses
 * (one host, one Service with E endpoints each) by compileRoutes and by the incremental
 * compiler, then one EndpointSlice change and one Ingress change compiled incrementally (what
 * a revision costs the controller now) against a full recompile of the same state:
 *
 *   node --conditions=@pier/source test/bench/compile-cost.ts [ingresses=10000] [endpoints=5] [changes=200]
 *
 * Prints one JSON line of CPU milliseconds (p50 / p99 / max over `changes` changes each) and
 * writes them to docs/benchmarks.md. A change is compiled as the controller compiles it: the
 * Ingress's addresses come with its change (the allocator reports the objects whose addresses it
 * changed), not read again for every Ingress.
 */
import type { V1EndpointSlice, V1Ingress, V1Service } from '@kubernetes/client-node';
import { DEFAULT_HEALTH_CHECK, type SealedKey } from '@pier/shared';
import {
  IncrementalCompiler,
  type InputChange,
} from '../../packages/controller/src/routes/incremental-compiler.ts';
import { compileRoutes } from '../../packages/controller/src/routes/route-compiler.ts';
import { machineLine, writeBenchSection } from './bench-env.ts';

const ingresses = Number(process.argv[2] ?? 10_000);
const endpointsEach = Number(process.argv[3] ?? 5);
const changes = Number(process.argv[4] ?? 200);
if (![ingresses, endpointsEach, changes].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('usage: compile-cost.ts [ingresses] [endpoints] [changes]');
  process.exit(2);
}

const NS = 'bench';
const ADDRESS = '203.0.113.10';
const created = new Date(Date.UTC(2024, 0, 1));
const sealKey = (): SealedKey => {
  throw new Error('no TLS in this benchmark');
};

function ingressOf(i: number, path = '/'): V1Ingress {
  return {
    metadata: { namespace: NS, name: `app-${i}`, creationTimestamp: created },
    spec: {
      ingressClassName: 'pier',
      rules: [
        {
          host: `app-${i}.bench.test`,
          http: {
            paths: [
              {
                path,
                pathType: 'Prefix',
                backend: { service: { name: `app-${i}`, port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  };
}

function serviceOf(i: number): V1Service {
  return {
    metadata: { namespace: NS, name: `app-${i}` },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

function sliceOf(i: number, generation: number): V1EndpointSlice {
  const endpoints = [];
  for (let e = 0; e < endpointsEach; e++) {
    const n = i * endpointsEach + e + generation;
    endpoints.push({
      addresses: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`],
      conditions: { ready: true, serving: true, terminating: false },
    });
  }
  return {
    addressType: 'IPv4',
    metadata: {
      namespace: NS,
      name: `app-${i}-abc`,
      labels: { 'kubernetes.io/service-name': `app-${i}` },
    },
    ports: [{ name: 'http', port: 8080 }],
    endpoints,
  };
}

const objects = {
  ingresses: Array.from({ length: ingresses }, (_, i) => ingressOf(i)),
  services: Array.from({ length: ingresses }, (_, i) => serviceOf(i)),
  endpointSlices: Array.from({ length: ingresses }, (_, i) => sliceOf(i, 0)),
  secrets: [],
  policies: [],
  addressesOf: (): readonly string[] => [ADDRESS],
};
const input = { ...objects, defaultHealthCheck: DEFAULT_HEALTH_CHECK, sealKey };

/** CPU time of `run`, ms: on a shared machine wall time measures the neighbours too. */
function time(run: () => void): number {
  const started = process.cpuUsage();
  run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000;
}

function summary(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { p50: at(0.5), p99: at(0.99), max: round(sorted[sorted.length - 1] ?? 0) };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

// Warm up the JIT on a smaller table first, as a long-running controller is warm.
compileRoutes({ ...input, ingresses: objects.ingresses.slice(0, 500) });

const full: number[] = [];
for (let i = 0; i < 5; i++) full.push(time(() => compileRoutes(input)));
const compiler = new IncrementalCompiler({ defaultHealthCheck: DEFAULT_HEALTH_CHECK, sealKey });
const firstFull = time(() => compiler.compileAll(objects));

const sliceChange: number[] = [];
const ingressChange: number[] = [];
let changedKeys = 0;
for (let n = 1; n <= changes; n++) {
  const i = (n * 7919) % ingresses;
  const slice = sliceOf(i, n);
  objects.endpointSlices[i] = slice;
  const change: InputChange = {
    kind: 'EndpointSlice',
    namespace: NS,
    name: `app-${i}-abc`,
    object: slice,
  };
  sliceChange.push(
    time(() => {
      const out = compiler.update([change]);
      changedKeys += out.changed.backends.size;
    }),
  );
  const ingress = ingressOf(i, n % 2 === 0 ? '/' : '/v2');
  objects.ingresses[i] = ingress;
  const edit: InputChange = {
    kind: 'Ingress',
    namespace: NS,
    name: `app-${i}`,
    object: ingress,
    addresses: [ADDRESS],
  };
  ingressChange.push(time(() => compiler.update([edit])));
}

const figures = {
  ingresses,
  endpointsEach,
  changes,
  fullCompileRoutesMs: summary(full),
  fullIncrementalCompileAllMs: round(firstFull),
  endpointSliceChangeMs: summary(sliceChange),
  ingressChangeMs: summary(ingressChange),
  backendsChangedPerSliceChange: changedKeys / changes,
};
console.log(JSON.stringify(figures));
const row = (what: string, f: { p50: number; p99: number; max: number }): string =>
  `| ${what} | ${f.p50} | ${f.p99} | ${f.max} |`;
writeBenchSection(
  'compile-cost',
  `## Route compile: a change against the whole table

\`node --conditions=@pier/source test/bench/compile-cost.ts ${ingresses} ${endpointsEach} ${changes}\`: CPU time
(user + system) of this process, no I/O, on ${machineLine()}, ${new Date().toISOString().slice(0, 10)}.
${ingresses} Ingresses, each one host to its own Service of ${endpointsEach} endpoints. A full compile
(\`compileRoutes\`, 5 runs; the incremental compiler's first \`compileAll\` took ${figures.fullIncrementalCompileAllMs} ms),
then ${changes} EndpointSlice changes and ${changes} Ingress changes, each compiled by the incremental
compiler alone; each slice change rebuilt ${figures.backendsChangedPerSliceChange} backend(s).

| compile, ms | p50 | p99 | max |
| --- | --- | --- | --- |
${row('full table', figures.fullCompileRoutesMs)}
${row('one EndpointSlice changed', figures.endpointSliceChangeMs)}
${row('one Ingress changed (its path)', figures.ingressChangeMs)}`,
);
