/**
 * Prometheus metrics: one registry per process, with Node's default metrics under the `pier_`
 * prefix. Components register their own metrics on the registry they are given.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A new registry with prom-client's default process and Node.js metrics, named `pier_…` (or
 * with the given prefix). A fresh registry rather than the global one, so tests and the
 * standalone mode (controller and dataplane in one process) do not collide.
 */
export function createRegistry(prefix = 'pier_'): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix });
  return registry;
}
