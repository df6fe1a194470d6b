/**
 * Structured logging: pino JSON lines, one logger per component, objects named by namespace and
 * name fields so log searches work the same way as kubectl.
 */

import type { DestinationStream, Level, Logger } from 'pino';
import { pino } from 'pino';
import { InvalidConfigError } from './errors.ts';
import type { ObjectRef } from './route-table.ts';

/** Levels a logger accepts, most to least severe; 'silent' logs nothing. */
export const LOG_LEVELS = Object.freeze([
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const);

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The component, e.g. `controller` or `dataplane`; every line carries it as `component`. */
  name: string;
  /** Minimum level; usually from a flag or LOG_LEVEL. Defaults to 'info'. */
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass an in-memory stream. */
  destination?: DestinationStream;
}

/** The logger type Pier passes around. */
export type PierLogger = Logger<never>;

/**
 * Creates a pino logger with base fields `{ component: name }` (no pid or hostname: the pod and
 * node are known from the log pipeline).
 *
 * @throws InvalidConfigError when the level is not one of {@link LOG_LEVELS}.
 */
export function createLogger(options: LoggerOptions): PierLogger {
  const level = options.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidConfigError(`log level '${level}' is not one of ${LOG_LEVELS.join(', ')}`, {
      details: { level },
    });
  }
  const settings = { level: level as Level | 'silent', base: { component: options.name } };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** Log fields naming a Kubernetes object: `{ namespace, name }`. */
export function objectFields(ref: ObjectRef): { namespace: string; name: string } {
  return { namespace: ref.namespace, name: ref.name };
}
